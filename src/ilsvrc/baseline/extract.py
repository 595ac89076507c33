"""Images of a packed split -> feature vectors, in parallel chunks, with a progress bar.

    source = SplitImages("~/.cache/ilsvrc/packed/fashion-mnist", "train", side=28, channels=1)
    features = extract(extractor, source, indices, workers=2, desc="train features")   # (N, F) float32

Each worker process opens the packed split itself (shards are memory-mapped), reads its chunk
of images and returns only their feature vectors, so no image array crosses a process boundary.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Callable

import numpy as np

from ilsvrc import progress
from ilsvrc.augment import center_crop
from ilsvrc.baseline.features import grayscale
from ilsvrc.data.images import resize_shorter
from ilsvrc.data.readers.packed import PackedDataset
from ilsvrc.errors import ConfigError

if TYPE_CHECKING:
    from ilsvrc.baseline.extractors import Extractor

CHUNK_BYTES = 256 * 2 ** 20  # the most features a worker returns at once


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def as_channels(image: np.ndarray, channels: int) -> np.ndarray:
    """An (H, W, C) uint8 image with 1 (luminance) or 3 (replicated gray) channels."""
    if image.shape[2] == channels:
        return image
    return grayscale(image)[:, :, None] if channels == 1 else np.repeat(image, 3, axis=2)


def fit_image(image: np.ndarray, side: int, channels: int) -> np.ndarray:
    """An image as the extractor sees it: the central side x side square after resizing the shorter side."""
    return center_crop(resize_shorter(as_channels(image, channels), side), side)


@dataclass(frozen=True)
class SplitImages:
    """A packed split's images, read by index and brought to side x side x channels."""

    root: str
    split: str
    side: int
    channels: int

    def load(self, indices: np.ndarray) -> np.ndarray:
        dataset = PackedDataset(self.root, self.split)
        return np.stack([fit_image(dataset.image(int(i)), self.side, self.channels) for i in indices])


def _extract_chunk(extractor: Extractor, source: SplitImages, indices: np.ndarray) -> np.ndarray:
    return extractor.transform(source.load(indices))


def extract(extractor: Extractor, source: SplitImages, indices: np.ndarray, workers: int | None = None,
            desc: str = "features", then: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """(len(indices), F) float32 features of the source's images at `indices`, in that order.

    `then` (e.g. SVM decision values) is applied to each chunk's features as it arrives: the rows of
    its results are returned instead, and the whole matrix of features is never held.
    """
    from joblib import Parallel, delayed

    workers = workers or default_workers()
    size = int(np.clip(len(indices) // (workers * 8), 64, 2048))  # several chunks per worker: a live ETA
    size = min(size, max(1, CHUNK_BYTES // (4 * extractor.dimension)))  # 409 Fisher vectors of 163,888 floats
    chunks = np.array_split(indices, max(1, -(-len(indices) // size)))
    job = partial(_extract_chunk, extractor, source)
    parts = []
    with progress.bar(len(indices), desc=desc) as bar:
        for part in Parallel(n_jobs=workers, return_as="generator")(delayed(job)(c) for c in chunks):
            parts.append(part if then is None else then(part))
            bar.update(len(part))
    return np.concatenate(parts)


def stratified_subset(labels: np.ndarray, limit: int | None, seed: int = 0) -> np.ndarray:
    """Sorted indices of `limit` samples drawn with the class proportions of `labels` (all if None)."""
    if limit is None or limit >= len(labels):
        return np.arange(len(labels))
    from sklearn.model_selection import train_test_split

    try:
        chosen, _ = train_test_split(np.arange(len(labels)), train_size=limit, stratify=labels, random_state=seed)
    except ValueError as e:
        raise ConfigError(f"--train-limit {limit}: no stratified sample of that size ({e})") from None
    return np.sort(chosen)
