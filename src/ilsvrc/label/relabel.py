"""From crowd labels to one label per image, then to a packed dataset that training reads.

    ilsvrc label apply labels.csv --data fashion-mnist --out data/fmnist-crowd
    ilsvrc train --config fashion-mnist-lenet5 --data data/fmnist-crowd --out runs/crowd

Every split the labels name (task "train/17" or "train/17:Sandal") holds only the images the crowd
kept, with the crowd's labels; the other splits (the test set) are copied untouched.
- Multi-class labels: every labelled image is kept with its label.
- Yes/no labels: an image is kept in class c when the question "is it a c?" was answered yes.
  Several yes answers: the most confident wins; a tie between classes drops the image. No yes at
  all: the image is dropped (an impostor, or a member nobody was sure of).
Small images (IDX, CIFAR, their packed copies) are stored raw; large ones are re-encoded as JPEG,
as `ilsvrc data prepare` does by default.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ilsvrc.data import available_splits, detect_kind, open_dataset, resolve
from ilsvrc.data.base import ArrayDataset, Dataset
from ilsvrc.data.prepare import PackOptions, pack_datasets
from ilsvrc.data.readers import packed
from ilsvrc.data.readers.packed import PackedDataset
from ilsvrc.errors import ConfigError, DataError
from ilsvrc.files import check_output_folder
from ilsvrc.label.labels_io import LabelTable
from ilsvrc.label.tasks import parse_tasks
from ilsvrc.label.votes import YESNO

SMALL = 64 * 64 * 3  # values per image up to which a split is handled as one in-memory array


@dataclass
class SplitLabels:
    """The images of one split the crowd kept: indices (increasing) and class codes."""

    index: np.ndarray
    label: np.ndarray


def image_labels(table: LabelTable, classes: list[str]) -> dict[str, SplitLabels]:
    """One label per kept image, per split named by the tasks (see the module docstring for the rules)."""
    splits, index, questions = parse_tasks(table.task, table.where)
    yesno = questions[0] is not None
    if any((q is not None) != yesno for q in questions):
        raise DataError(table.where, "mixes yes/no questions (SPLIT/INDEX:CLASS) and direct labels (SPLIT/INDEX)")
    lookup = {name: k for k, name in enumerate(classes)}
    if yesno:
        _check_names(table, table.label, set(YESNO), "a yes/no answer (yes or no)")
        _check_names(table, questions, lookup, "a class of the dataset")
        keep = np.array([name == "yes" for name in table.label])
        label = np.array([lookup[q] for q in questions], np.int64)
        return _one_per_image(splits[keep], index[keep], label[keep], table.confidence[keep])
    _check_names(table, table.label, lookup, "a class of the dataset")
    label = np.array([lookup[name] for name in table.label], np.int64)
    return _unique_images(table, splits, index, label)


def _check_names(table: LabelTable, names, allowed, what: str) -> None:
    for k, name in enumerate(names):
        if name not in allowed:
            raise DataError(table.where, f"task {table.task[k]!r}: {name!r} is not {what}")


def _one_per_image(splits, index, label, confidence) -> dict[str, SplitLabels]:
    """Per image, the most confident yes; an exact tie between classes drops the image."""
    out = {}
    for split in sorted(set(splits.tolist())):
        mine = splits == split
        i, c, p = index[mine], label[mine], confidence[mine]
        order = np.lexsort((-p, i))  # by image, most confident first
        i, c, p = i[order], c[order], p[order]
        first = np.r_[True, i[1:] != i[:-1]]
        runner_up = np.r_[~first[1:], False]  # the next row is the same image's second-best yes
        tied = runner_up & (np.r_[p[1:], 0] == p)
        best = first & ~tied
        out[split] = SplitLabels(i[best], c[best])
    return out


def _unique_images(table: LabelTable, splits, index, label) -> dict[str, SplitLabels]:
    out = {}
    for split in sorted(set(splits.tolist())):
        mine = np.flatnonzero(splits == split)
        order = mine[np.argsort(index[mine], kind="stable")]
        repeated = np.flatnonzero(index[order][1:] == index[order][:-1])
        if len(repeated):
            raise DataError(table.where, f"image {split}/{index[order][repeated[0]]} is labelled twice")
        out[split] = SplitLabels(index[order], label[order])
    return out


def apply_labels(table: LabelTable, data: str | os.PathLike, out: str | os.PathLike, kind: str | None = None,
                 ) -> dict:
    """Pack `data` into `out` with the crowd's labels on the splits they name; returns the packed index."""
    source = resolve(data)
    kind = kind or detect_kind(source)
    splits = available_splits(source, kind)
    first = open_dataset(source, splits[0], kind)
    crowd = image_labels(table, list(first.classes))
    missing = sorted(set(crowd) - set(splits))
    if missing:
        raise DataError(table.where, f"split {missing[0]!r} is not in {data} (splits: {', '.join(splits)})")
    datasets = {}
    for split in splits:
        ds = first if split == splits[0] else open_dataset(source, split, kind)
        datasets[split] = crowd_subset(ds, crowd[split] if split in crowd else _everything(ds), table.where)
    recipe = {"source": str(source.resolve()), "kind": f"{kind}+crowd-labels", "labels": table.where,
              "labels_sha256": _digest(crowd)}
    return write_packed(datasets, out, recipe)


def _everything(ds: Dataset) -> SplitLabels:
    """A split kept whole, with its own labels (so that raw images stay raw)."""
    return SplitLabels(np.arange(len(ds)), ds.labels())


def _digest(crowd: dict[str, SplitLabels]) -> str:
    """A fingerprint of the kept images and labels: a rerun with other labels never reuses old shards."""
    h = hashlib.sha256()
    for split in sorted(crowd):
        h.update(split.encode() + crowd[split].index.tobytes() + crowd[split].label.tobytes())
    return h.hexdigest()


def crowd_subset(ds: Dataset, kept: SplitLabels, where: str) -> Dataset:
    """The kept images of `ds` with the crowd's labels: raw arrays when `ds` holds them, else a view."""
    if len(kept.index) and kept.index[-1] >= len(ds):
        raise DataError(where, f"image {ds.split}/{kept.index[-1]} is past the end of the split ({len(ds)} images)")
    bulk = _bulk_images(ds)
    if bulk is not None:
        return CrowdArrays(ds, kept, bulk[kept.index])
    return CrowdView(ds, kept)


def _bulk_images(ds: Dataset) -> np.ndarray | None:
    """All images of a split of small images (IDX, CIFAR, or their packed copy) as one array, else None."""
    if isinstance(ds, ArrayDataset):
        return ds.images
    shape = ds.info.get("image_shape") if isinstance(ds, PackedDataset) and ds.storage == "raw" else None
    return ds.images_array() if shape and np.prod(shape) <= SMALL else None


class CrowdArrays(ArrayDataset):
    """Kept small images as one bulk array (stored raw by the packer)."""

    def __init__(self, base: Dataset, kept: SplitLabels, images: np.ndarray):
        self.base, self.kept = base, kept
        self.images, self.targets = images, kept.label
        self.kind, self.split, self.name = "crowd", base.split, base.name
        self.classes, self.class_names = base.classes, base.class_names

    def source(self, i: int) -> str:
        return self.base.source(int(self.kept.index[self._check_index(i)]))


class CrowdView(Dataset):
    """Kept images of a dataset of large (encoded) images, read from it one by one."""

    def __init__(self, base: Dataset, kept: SplitLabels):
        self.base, self.kept = base, kept
        self.kind, self.split, self.name = "crowd", base.split, base.name
        self.classes, self.class_names = base.classes, base.class_names

    def __len__(self) -> int:
        return len(self.kept.index)

    def image(self, i: int) -> np.ndarray:
        return self.base.image(int(self.kept.index[self._check_index(i)]))

    def label(self, i: int) -> int:
        return int(self.kept.label[self._check_index(i)])

    def source(self, i: int) -> str:
        return self.base.source(int(self.kept.index[self._check_index(i)]))


def write_packed(datasets: dict[str, Dataset], out: str | os.PathLike, recipe: dict) -> dict:
    """Pack ready-made datasets, one per split, as `ilsvrc data prepare` would; index.json last."""
    out, options = Path(out), PackOptions()
    recipe = {**recipe, **options.recipe()}
    if (out / packed.INDEX).exists() and packed.read_index(out).get("recipe") != recipe:
        raise ConfigError(f"{out} already holds a packed dataset made otherwise; choose another --out or remove it")
    check_output_folder(out, own=packed.FILES)
    return pack_datasets(datasets, out, recipe, options)
