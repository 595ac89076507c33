"""The data layer: one interface (`Dataset`) over every format of the road to ImageNet.

    from ilsvrc.data import open_dataset
    ds = open_dataset("fashion-mnist", "train")    # a named source, or a path in any known format
"""
from __future__ import annotations

import os
from pathlib import Path

from ilsvrc.data.base import Dataset
from ilsvrc.data.readers import detect_kind, reader
from ilsvrc.errors import DataError

__all__ = ["Dataset", "open_dataset", "detect_kind", "resolve", "available_splits"]


def resolve(path_or_name: str | os.PathLike) -> Path:
    """A path as given, or the local copy of a named source such as 'fashion-mnist'."""
    p = Path(path_or_name)
    if p.exists():
        return p
    from ilsvrc.data import sources

    if str(path_or_name) in sources.NAMED:
        return sources.locate(str(path_or_name))
    raise DataError(p, "no such file or directory, and not a known dataset name "
                       f"({', '.join(sorted(sources.NAMED))})")


def open_dataset(path_or_name: str | os.PathLike, split: str = "train", kind: str | None = None,
                 **options) -> Dataset:
    """Open one split of a dataset given by name or path; `kind` forces the format."""
    path = resolve(path_or_name)
    kind = kind or _named_kind(path_or_name) or detect_kind(path)
    return reader(kind).open(path, split, **options)


def _named_kind(path_or_name) -> str | None:
    """The format of a named source, so that its local copy needs no detection."""
    from ilsvrc.data import sources

    name = str(path_or_name)
    return sources.NAMED[name].kind if name in sources.NAMED and not Path(name).exists() else None


def available_splits(path_or_name: str | os.PathLike, kind: str | None = None, **options) -> list[str]:
    """The splits a dataset holds; reader options that choose among several datasets in one folder
    (VOC's year=) count here as they do in open_dataset."""
    import inspect

    path = resolve(path_or_name)
    kind = kind or detect_kind(path)
    list_splits = reader(kind).splits
    accepted = inspect.signature(list_splits).parameters
    splits = list(list_splits(path, **{k: v for k, v in options.items() if k in accepted}))
    if not splits:  # a format forced with --kind that the data is not in
        raise DataError(path, f"holds no {kind} data (no split found)")
    return splits
