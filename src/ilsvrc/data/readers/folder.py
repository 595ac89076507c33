"""ImageFolder trees, `root/<class>/<image>`: `open_dataset("photos/", "train", kind="folder")`.

    ds = ilsvrc.data.readers.folder.open(root, "val")
    ds.classes        # sorted class-folder names: torchvision's ImageFolder order
    ds.source(0)      # "cat/0001.jpg", relative to the split's root

If the only folders in `root` are `train`, `val` and/or `test`, each is a split holding class
folders; otherwise the whole tree is the one split "train". Images are found by extension (any format
Pillow reads), in class folders and any folders below them, in torchvision's order. Unlike
torchvision, hidden files and folders (".ipynb_checkpoints", macOS "._" files) are skipped, and
an empty class folder keeps its class index instead of failing.

Caltech-101 and PASCAL VOC trees also hold class-like folders of images; `readers.READERS` tries
their readers first, so detection hands such trees to them.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from ilsvrc.data.images import IMAGE_EXTENSIONS
from ilsvrc.data.readers.image_files import ImageFiles, is_image_file, visible_subfolders
from ilsvrc.errors import ConfigError, DataError

KIND = "folder"
SPLIT_FOLDERS = ("train", "val", "test")


class FolderDataset(ImageFiles):
    kind = KIND


def detect(path: Path) -> bool:
    """A tree with at least one class folder holding an image (more specific readers come first in READERS)."""
    path = Path(path)
    if not path.is_dir():
        return False
    roots = [path / s for s in _split_folders(path)] or [path]
    try:
        return any(_holds_an_image(root / c) for root in roots for c in visible_subfolders(root))
    except (DataError, OSError):  # unreadable: not for detection to report
        return False


def _holds_an_image(folder: Path) -> bool:
    with os.scandir(folder) as entries:  # stops at the first image: class folders can be huge
        return any(is_image_file(e.name) and e.is_file() for e in entries)


def _split_folders(path: Path) -> list[str]:
    """The split folders of `path`, if every folder in it is one (so a class may be called "train")."""
    try:
        folders = visible_subfolders(path)
    except DataError:
        return []
    if not folders or not set(folders) <= set(SPLIT_FOLDERS):
        return []
    return [s for s in SPLIT_FOLDERS if s in folders]


def splits(path: Path) -> list[str]:
    return _split_folders(Path(path)) or ["train"]


def open(path: Path, split: str = "train", **options) -> FolderDataset:  # noqa: A001 (reader interface)
    if options:
        raise ConfigError(f"unknown option(s) for image folders: {', '.join(sorted(options))} (they take none)")
    path = Path(path)
    available = splits(path)
    if split not in available:
        raise DataError(path, f"no split {split!r} (splits: {', '.join(available)})")
    root = path / split if _split_folders(path) else path
    classes = visible_subfolders(root)
    if not classes:
        raise DataError(root, "no class folders (expected <class>/<image> inside)")
    names, targets = list_images(root, classes)
    if not names:
        raise DataError(root, f"no images in {len(classes)} class folders "
                              f"(looked for {', '.join(IMAGE_EXTENSIONS)})")
    return FolderDataset(root, names, targets, classes, classes, split)


def list_images(root: Path, classes: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Image paths relative to `root` and their class indices, class by class in torchvision's order."""
    names, targets = [], []
    for index, name in enumerate(classes):
        found = _walk_images(root / name)
        names += found
        targets += [index] * len(found)
    prefix = len(str(root)) + 1  # every walked path starts with root + separator
    return [n[prefix:] for n in names], np.array(targets, np.int64)


def _walk_images(folder: Path) -> list[str]:
    """Image files below `folder`: folders sorted by path, then files by name (torchvision's order)."""
    found = []
    for directory, subfolders, files in os.walk(folder, onerror=_unreadable, followlinks=True):
        subfolders[:] = [d for d in subfolders if not d.startswith(".")]
        found.append((directory, sorted(f for f in files if is_image_file(f))))
    return [os.path.join(directory, f) for directory, files in sorted(found) for f in files]


def _unreadable(error: OSError):
    raise DataError(error.filename, f"cannot list folder ({error.strerror or error})")
