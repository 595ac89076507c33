"""A packed folder for any dataset, and the split of it that gets scored.

    root = ensure_packed("fashion-mnist")     # packed once into the cache; a packed folder as it is
    scored_split(root, "val")                 # "test" on datasets without a val split (MNIST, CIFAR)
"""
from __future__ import annotations

import sys
from pathlib import Path

from ilsvrc.data import detect_kind, resolve
from ilsvrc.data.readers.packed import read_index
from ilsvrc.errors import ConfigError


def ensure_packed(path_or_name: str) -> Path:
    """A packed folder for any dataset: itself if packed, else packed once into the cache."""
    path = resolve(path_or_name)
    if detect_kind(path) == "packed":
        return path
    from ilsvrc.data.prepare import prepare
    from ilsvrc.data.sources import cache_root

    out = cache_root() / "packed" / (str(path_or_name) if not Path(path_or_name).exists() else path.name)
    if not (out / "index.json").exists():
        print(f"packing {path_or_name} into {out} (once)", file=sys.stderr)  # keeps --json output clean
        prepare(path, out)
    return out


def scored_split(root: str | Path, split: str) -> str:
    """`split` of a packed folder, or "test" for "val" where there is no val split (MNIST, CIFAR):
    what `ilsvrc eval`, the baseline and the report score."""
    names = list(read_index(root)["splits"])
    if split in names:
        return split
    if split == "val" and "test" in names:
        return "test"
    raise ConfigError(f"{root}: no split {split!r} (splits: {', '.join(names)})")
