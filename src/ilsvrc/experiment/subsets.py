"""Stratified subsets of a packed dataset's splits, packed once into the experiment's folder.

    root = subset(packed_root, out / "data", "train", 4000, "test", 2000, seed=1)   # a packed folder

Every arm of one seed trains on the same subset; each seed draws its own (the spread over seeds includes
the choice of images). The training statistics (mean image, PCA) are those of the subset, as a run on
that much data would have them. Small images are copied as one array; large ones (an ImageNet) are read
one by one and packed again at the size and in the storage they had.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ilsvrc.data.base import ArrayDataset, Dataset
from ilsvrc.data.pack_options import PackOptions
from ilsvrc.data.prepare import pack_datasets
from ilsvrc.data.readers.packed import INDEX, PackedDataset
from ilsvrc.errors import ConfigError

SMALL_SIDE = 64  # raw-stored images up to this side are small (MNIST 28, CIFAR 32); larger or encoded: large


def stored_side(split: PackedDataset) -> int:
    """The side of the stored images (of the central square, for large ones): the mean image's."""
    return min(split.stats["mean_image"].shape[:2])


def is_large(split: PackedDataset) -> bool:
    """ImageNet-sized: stored encoded, or raw at more than SMALL_SIDE pixels."""
    return split.storage != "raw" or stored_side(split) > SMALL_SIDE


def stratified(labels: np.ndarray, count: int | None, seed: int) -> np.ndarray:
    """Sorted indices of `count` samples with the class proportions of `labels` (all of them if None).

    Each class gives round(count * its share) of its images, chosen at random; rounding is settled by the
    classes with the largest remainders, so exactly `count` come back.
    """
    if count is None or count >= len(labels):
        return np.arange(len(labels))
    classes, sizes = np.unique(labels, return_counts=True)
    if count < len(classes):
        raise ConfigError(f"a subset of {count} images cannot hold all {len(classes)} classes")
    exact = sizes * count / len(labels)
    take = np.floor(exact).astype(int)
    take[np.argsort(exact - take)[::-1][:count - take.sum()]] += 1
    rng = np.random.default_rng(seed)
    chosen = [rng.choice(np.flatnonzero(labels == c), n, replace=False) for c, n in zip(classes, take)]
    return np.sort(np.concatenate(chosen))


class SubsetArrays(ArrayDataset):
    """The chosen images of a small-image split, as one array (stored raw by the packer)."""

    def __init__(self, base: PackedDataset, index: np.ndarray):
        self.base, self.index = base, index
        self.images, self.targets = base.images_array()[index], base.labels()[index]
        self.kind, self.split, self.name = "subset", base.split, getattr(base, "name", None)
        self.classes, self.class_names = base.classes, base.class_names

    def source(self, i: int) -> str:
        return self.base.source(int(self.index[self._check_index(i)]))


class SubsetView(Dataset):
    """The chosen images of a split of large (encoded) images, read one by one."""

    def __init__(self, base: PackedDataset, index: np.ndarray):
        self.base, self.index = base, index
        self.kind, self.split, self.name = "subset", base.split, getattr(base, "name", None)
        self.classes, self.class_names = base.classes, base.class_names

    def __len__(self) -> int:
        return len(self.index)

    def image(self, i: int) -> np.ndarray:
        return self.base.image(int(self.index[self._check_index(i)]))

    def label(self, i: int) -> int:
        return self.base.label(int(self.index[self._check_index(i)]))

    def source(self, i: int) -> str:
        return self.base.source(int(self.index[self._check_index(i)]))


def subset(root: Path, folder: Path, train_split: str, train_images: int | None, test_split: str,
           test_images: int | None, seed: int) -> Path:
    """A packed folder holding the chosen images of both splits (`root` itself when nothing is cut)."""
    if train_images is None and test_images is None:
        return root
    out = folder / f"{train_split}{train_images or 'all'}-{test_split}{test_images or 'all'}-seed{seed}"
    if (out / INDEX).exists():
        return out
    datasets = {}
    for split, count in ((train_split, train_images), (test_split, test_images)):
        base = PackedDataset(root, split)
        index = stratified(base.labels(), count, seed)
        datasets[split] = SubsetView(base, index) if is_large(base) else SubsetArrays(base, index)
    recipe = {"source": str(root.resolve()), "kind": "packed+subset", "seed": seed,
              "counts": {train_split: train_images, test_split: test_images}}
    train = PackedDataset(root, train_split)
    options = PackOptions(shorter_side=stored_side(train), storage=train.storage) if is_large(train) else PackOptions()
    pack_datasets(datasets, out, recipe, options)
    return out
