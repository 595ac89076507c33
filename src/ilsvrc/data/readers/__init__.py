"""One module per storage format. Each module exposes:

    KIND: str                  # the name used by `--kind`
    detect(path) -> bool       # does this path look like this format? (cheap: names, magic bytes)
    open(path, split, **options) -> Dataset
    splits(path) -> list[str]  # the splits this path holds

The order of READERS is the detection order: the most specific formats first.
"""
from __future__ import annotations

import importlib
from types import ModuleType

READERS = ("packed", "ilsvrc2012", "voc", "caltech", "cifar", "idx", "folder")


def reader(kind: str) -> ModuleType:
    """The reader module for a format name."""
    from ilsvrc.errors import ConfigError

    if kind not in READERS:
        raise ConfigError(f"unknown data format {kind!r}; choose one of: {', '.join(READERS)}")
    return importlib.import_module(f"ilsvrc.data.readers.{kind}")
