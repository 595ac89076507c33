"""Caltech-101 with its standard protocol: `open_dataset("data/101_ObjectCategories", "train")`.

    ds = ilsvrc.data.readers.caltech.open(folder, "test", train_per_class=30, test_per_class=50, seed=0)

`folder` is 101_ObjectCategories (one folder of JPEGs per class), the folder holding it, or
torchvision's root (caltech101/101_ObjectCategories inside). The protocol of the papers that
report on Caltech-101: leave out the BACKGROUND_Google clutter class (include_background=True
keeps it), draw `train_per_class` training images per class at random with a fixed seed, and test
on the rest (`test_per_class` caps them; 50 is the common cap). The draw depends only on the seed,
the class name and the class's sorted file names: not on listing order, nor on which other
classes are present.
"""
from __future__ import annotations

import os
import zlib
from pathlib import Path

import numpy as np

from ilsvrc.data.readers.image_files import ImageFiles, is_image_file, visible_subfolders
from ilsvrc.errors import ConfigError, DataError

KIND = "caltech"
SPLITS = ("train", "test")
OPTIONS = ("train_per_class", "test_per_class", "seed", "include_background")
FOLDER = "101_ObjectCategories"
BACKGROUND = "BACKGROUND_Google"
PLACES = (".", FOLDER, f"caltech101/{FOLDER}")  # where the class folders may be, relative to the path given


def detect(path: Path) -> bool:
    return _find(Path(path)) is not None


def _find(path: Path) -> Path | None:
    """The folder of class folders: named 101_ObjectCategories or holding BACKGROUND_Google."""
    for place in PLACES:
        folder = path / place
        if folder.is_dir() and (folder.absolute().name == FOLDER or (folder / BACKGROUND).is_dir()):
            return folder
    return None


def splits(path: Path) -> list[str]:
    locate(Path(path))
    return list(SPLITS)


def locate(path: Path) -> Path:
    folder = _find(path)
    if folder is None:
        raise DataError(path, f"no Caltech-101 data (expected {FOLDER}/<class>/*.jpg, here or inside)")
    return folder


def open(path: Path, split: str = "train", **options) -> "CaltechDataset":  # noqa: A001 (reader interface)
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ConfigError(f"unknown option(s) for Caltech-101: {', '.join(unknown)} (known: {', '.join(OPTIONS)})")
    return CaltechDataset.from_folder(Path(path), split, **options)


class CaltechDataset(ImageFiles):
    kind = KIND

    @classmethod
    def from_folder(cls, path: Path, split: str = "train", train_per_class: int = 30,
                    test_per_class: int | None = None, seed: int = 0,
                    include_background: bool = False) -> "CaltechDataset":
        _check_options(train_per_class, test_per_class, seed)
        root = locate(path)
        if split not in SPLITS:
            raise DataError(root, f"no split {split!r} (Caltech-101 splits: {', '.join(SPLITS)})")
        classes = [c for c in visible_subfolders(root) if include_background or c != BACKGROUND]
        if not classes:
            raise DataError(root, "no class folders")
        names, targets = [], []
        for index, name in enumerate(classes):
            chosen = class_split(root / name, seed, train_per_class, test_per_class)[split]
            names += [f"{name}/{f}" for f in chosen]
            targets += [index] * len(chosen)
        class_names = [c.replace("_", " ") for c in classes]
        return cls(root, names, np.array(targets, np.int64), classes, class_names, split)


def _check_options(train_per_class: int, test_per_class: int | None, seed: int) -> None:
    if train_per_class < 1:
        raise ConfigError(f"train_per_class must be at least 1, got {train_per_class}")
    if test_per_class is not None and test_per_class < 1:
        raise ConfigError(f"test_per_class must be at least 1 (or None for all), got {test_per_class}")
    if seed < 0:
        raise ConfigError(f"seed must be non-negative, got {seed}")


def class_files(folder: Path) -> list[str]:
    """The sorted image file names of one class folder."""
    try:
        return sorted(e.name for e in os.scandir(folder) if is_image_file(e.name) and e.is_file())
    except OSError as e:
        raise DataError(folder, f"cannot list folder ({e.strerror or e})") from None


def class_split(folder: Path, seed: int, train_per_class: int, test_per_class: int | None) -> dict[str, list[str]]:
    files = class_files(folder)
    if len(files) <= train_per_class:
        raise DataError(folder, f"{len(files)} images, too few to keep {train_per_class} for training "
                                "and test on the rest")
    return draw(files, folder.name, seed, train_per_class, test_per_class)


def draw(files: list[str], class_name: str, seed: int, train_per_class: int,
         test_per_class: int | None) -> dict[str, list[str]]:
    """One class's fixed-seed split of its sorted files into "train" and "test", each kept sorted."""
    # Seeding with the class name keeps a class's draw unchanged when other classes come or go.
    rng = np.random.default_rng([seed, zlib.crc32(class_name.encode())])
    order = rng.permutation(len(files))
    test_end = None if test_per_class is None else train_per_class + test_per_class
    picked = {"train": order[:train_per_class], "test": order[train_per_class:test_end]}
    return {split: [files[k] for k in sorted(indices)] for split, indices in picked.items()}
