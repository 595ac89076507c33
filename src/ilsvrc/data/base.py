"""The one interface every reader implements.

    ds = ilsvrc.data.open_dataset("fashion-mnist", "train")
    image, label = ds[0]      # (H, W, C) uint8 numpy array, int (or a multi-hot vector for VOC)
    ds.classes, ds.class_names, ds.source(0)
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Sequence

import numpy as np


class Dataset(ABC):
    """A labelled image collection for one split, read from one storage format.

    Subclasses set `classes` (identifiers: wnids for ImageNet, names elsewhere), `class_names`
    (human-readable, same order), `split`, and implement `__len__`, `image`, `label`, `source`.
    `multilabel` datasets (PASCAL VOC) return a multi-hot uint8 vector instead of an int label.
    The optional features below are declared here with their defaults, so that code using a dataset
    asks it, rather than sniffing for attributes.
    """

    kind: str = "?"
    multilabel: bool = False
    classes: Sequence[str] = ()
    class_names: Sequence[str] = ()
    split: str = ""
    name: str | None = None  # the dataset's own name where its files tell it (mnist, cifar100, ...)
    year: int | None = None  # PASCAL VOC's year: 2007 is scored with 11-point average precision
    storage: str | None = None  # packed data: "raw" pixels or "jpeg" files
    keeps_files: bool = False  # images are encoded files, whose bytes `raw(i)` gives
    marks_difficult: bool = False  # `difficult(i)` flags classes present only as difficult objects (VOC)

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def image(self, i: int) -> np.ndarray:
        """The i-th image as an (H, W, C) uint8 array, C = 1 or 3."""

    @abstractmethod
    def label(self, i: int) -> int | np.ndarray:
        """The i-th label, without decoding the image."""

    @abstractmethod
    def source(self, i: int) -> str:
        """Where the i-th sample came from: a file name or a record, e.g. 'ILSVRC2012_val_00000001.JPEG'."""

    def image_view(self, i: int) -> np.ndarray:
        """The i-th image, possibly a read-only view of stored pixels (the loader copies it into a batch)."""
        return self.image(i)

    def raw(self, i: int) -> bytes:
        """The i-th image's encoded file (datasets that `keeps_files`), for decoders that scale while decoding."""
        raise NotImplementedError(f"{type(self).__name__} keeps no image files")

    def difficult(self, i: int) -> np.ndarray | None:
        """(K,) flags of classes present only as difficult objects (datasets that `marks_difficult`)."""
        return None

    def where(self, i: int) -> str:
        """The i-th sample's location for an error message: its file's path where it has one."""
        return self.source(i)

    def uniform_shape(self) -> tuple[int, int, int, int] | None:
        """(N, H, W, C) when every image has one size, known without decoding them all; else None."""
        return None

    def __getitem__(self, i: int):
        i = self._check_index(i)
        return self.image(i), self.label(i)

    def labels(self) -> np.ndarray:
        """All labels as one array: (N,) int64, or (N, K) uint8 multi-hot for multi-label data."""
        if self.multilabel:
            return np.stack([self.label(i) for i in range(len(self))]).astype(np.uint8)
        return np.fromiter((self.label(i) for i in range(len(self))), dtype=np.int64, count=len(self))

    def _check_index(self, i: int) -> int:
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"index {i} out of range for a dataset of {n} samples")
        return i

    def __repr__(self) -> str:
        return f"<{type(self).__name__} kind={self.kind} split={self.split} n={len(self)} classes={len(self.classes)}>"


class ArrayDataset(Dataset):
    """A dataset held as one bulk (N, H, W, C) uint8 `images` array and (N,) int64 `targets` (MNIST, CIFAR).

    Subclasses set both arrays (read-only: they are shared) and `source`; the packer stores such
    datasets raw, and training keeps them resident in memory.
    """

    images: np.ndarray
    targets: np.ndarray

    def __len__(self) -> int:
        return len(self.targets)

    def image(self, i: int) -> np.ndarray:
        return np.array(self.images[self._check_index(i)])  # a writable copy: `images` is shared

    def label(self, i: int) -> int:
        return int(self.targets[self._check_index(i)])

    def labels(self) -> np.ndarray:
        return self.targets.copy()

    def uniform_shape(self) -> tuple[int, int, int, int]:
        return tuple(self.images.shape)
