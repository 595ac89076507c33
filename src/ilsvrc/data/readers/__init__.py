"""One module per storage format. Each module exposes:

    KIND: str                  # the name used by `--kind`
    detect(path) -> bool       # does this path look like this format? (cheap: names, magic bytes)
    open(path, split, **options) -> Dataset
    splits(path) -> list[str]  # the splits this path holds

The order of READERS is the detection order, and the one place that decides which reader claims a
path: the most specific formats first, so a Caltech-101 or VOC tree (whose folders of images would
also pass for an image folder) goes to its own reader.
"""
from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType

READERS = ("packed", "ilsvrc2012", "voc", "caltech", "cifar", "idx", "folder")


def reader(kind: str) -> ModuleType:
    """The reader module for a format name."""
    from ilsvrc.errors import ConfigError

    if kind not in READERS:
        raise ConfigError(f"unknown data format {kind!r}; choose one of: {', '.join(READERS)}")
    return importlib.import_module(f"ilsvrc.data.readers.{kind}")


def detect_kind(path: str | os.PathLike) -> str:
    """The format of the data at `path`: the first reader in READERS that recognises it."""
    from ilsvrc.errors import DataError

    p = Path(path)
    for kind in READERS:
        if reader(kind).detect(p):
            return kind
    raise DataError(p, f"not a recognised dataset (formats: {', '.join(READERS)}); use --kind to force one")
