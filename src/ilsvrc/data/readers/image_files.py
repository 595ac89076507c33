"""A dataset of image files under one root, each with a class index or a multi-hot vector.

    ImageFiles(root, names, targets, classes, class_names, split)

What the image-folder, Caltech-101 and PASCAL VOC readers open, with the folder-listing rules they
share: hidden files and folders are skipped, images are found by extension.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from ilsvrc.data.base import Dataset
from ilsvrc.data.images import is_image_name, read_image
from ilsvrc.errors import DataError


class ImageFiles(Dataset):
    """Image files under `root`, each with a class index (N,) or a multi-hot vector (N, K)."""

    keeps_files = True

    def __init__(self, root: Path, names: list[str], targets: np.ndarray, classes: Sequence[str],
                 class_names: Sequence[str], split: str):
        self.root = root
        self.names = names  # paths relative to root
        self.targets = targets
        self.multilabel = targets.ndim == 2
        self.classes = list(classes)
        self.class_names = list(class_names)
        self.split = split

    def __len__(self) -> int:
        return len(self.names)

    def path(self, i: int) -> Path:
        return self.root / self.names[self._check_index(i)]

    def image(self, i: int) -> np.ndarray:
        return read_image(self.path(i))

    def where(self, i: int) -> str:
        return str(self.path(i))

    def raw(self, i: int) -> bytes:
        """The file's encoded bytes, for decoders that scale a JPEG down while decoding it."""
        path = self.path(i)
        try:
            return path.read_bytes()
        except OSError as e:
            raise DataError(path, f"cannot read ({e.strerror or e})") from None

    def label(self, i: int) -> int | np.ndarray:
        target = self.targets[self._check_index(i)]
        return target.copy() if self.multilabel else int(target)

    def labels(self) -> np.ndarray:
        return self.targets.copy()

    def source(self, i: int) -> str:
        return self.names[self._check_index(i)]


def visible_subfolders(folder: Path) -> list[str]:
    """Sorted names of the folders in `folder`, hidden ones left out."""
    try:
        return sorted(e.name for e in os.scandir(folder) if e.is_dir() and not e.name.startswith("."))
    except OSError as e:
        raise DataError(folder, f"cannot list folder ({e.strerror or e})") from None


def is_image_file(name: str) -> bool:
    return is_image_name(name) and not name.startswith(".")
