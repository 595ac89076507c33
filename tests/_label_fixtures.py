"""Small votes and datasets for the `ilsvrc.label` tests, built in memory or under tmp_path."""
from __future__ import annotations

import numpy as np

from ilsvrc.data.base import ArrayDataset
from ilsvrc.label.votes import Votes
from test_prepare import write_idx


def votes_from_rows(rows: list[tuple[str, str, str]], classes: list[str]) -> Votes:
    """Votes from (task, worker, label) names, codes numbered by first appearance as read_votes does."""
    tasks, workers = {}, {}
    task = [tasks.setdefault(t, len(tasks)) for t, _, _ in rows]
    worker = [workers.setdefault(w, len(workers)) for _, w, _ in rows]
    label = [classes.index(lab) for _, _, lab in rows]
    return Votes(np.array(task, np.int32), np.array(worker, np.int32), np.array(label, np.int32),
                 list(tasks), list(workers), list(classes))


def write_csv_text(path, text: str):
    path.write_text(text)
    return path


class Blobs(ArrayDataset):
    """A labelled in-memory dataset: class c is a 12x12 image of brightness `levels[c]` plus noise."""

    kind = "blobs"

    def __init__(self, per_class: int, levels=(20, 40, 160, 230), seed: int = 0):
        rng = np.random.default_rng(seed)
        self.targets = np.repeat(np.arange(len(levels)), per_class)
        noise = rng.integers(0, 10, (len(self.targets), 12, 12, 1))
        self.images = (np.array(levels)[self.targets][:, None, None, None] + noise).astype(np.uint8)
        self.classes = [f"c{k}" for k in range(len(levels))]
        self.class_names = list(self.classes)
        self.split = "train"

    def source(self, i: int) -> str:
        return f"blob#{i}"


def write_tiny_idx(folder, train_per_class: int = 12, test_per_class: int = 3, classes: int = 10):
    """An IDX dataset (train + t10k) of 28x28 images where class c is a brightness band; returns the folder."""
    rng = np.random.default_rng(0)
    for prefix, per_class in (("train", train_per_class), ("t10k", test_per_class)):
        labels = np.tile(np.arange(classes), per_class)
        images = (rng.integers(0, 20, (len(labels), 28, 28)) + labels[:, None, None] * 23).astype(np.uint8)
        write_idx(folder, prefix, images, labels)
    return folder
