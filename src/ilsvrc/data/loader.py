"""Batches for training and evaluation: seeded, multi-worker, and split across torch.distributed ranks.

    loader = make_loader(ds, batch_size=128, transform=train_crop, seed=0, num_workers=2)
    for epoch in range(epochs):
        loader.set_epoch(epoch)
        for images, labels in loader:      # images: (B, H, W, C) uint8 tensor; labels: (B,) int64
            ...

Images stay uint8 until the batch is formed; float work belongs to the training device.
Order and augmentation depend only on (seed, epoch, sample index): each sample's random
parameters come from its own generator seeded with those three numbers, so the same seed
gives the same batches whatever the number of workers. With several ranks, each epoch's
permutation is dealt out round-robin so the ranks see disjoint parts of it.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.utils.data

from ilsvrc.data.base import Dataset
from ilsvrc.errors import ConfigError, DataError

# transform(image (H, W, C) uint8, rng) -> image (h, w, C) uint8
Transform = Callable[[np.ndarray, np.random.Generator], np.ndarray]


class EpochBatches(torch.utils.data.Sampler):
    """Yields batches of (sample index, epoch) keys: one rank's share of one epoch's permutation.

    `even=True` (training) drops the permutation's tail so every rank gets the same number of
    samples and steps, as data-parallel training needs; `even=False` (evaluation) keeps every
    sample exactly once across ranks, some ranks getting one more.
    """

    def __init__(self, n: int, batch_size: int, seed: int = 0, shuffle: bool = True, drop_last: bool = False,
                 rank: int = 0, world_size: int = 1, even: bool | None = None):
        if batch_size < 1:
            raise ConfigError(f"batch size must be positive, got {batch_size}")
        if not 0 <= rank < world_size:
            raise ConfigError(f"rank {rank} is outside a world of {world_size}")
        self.n, self.batch_size, self.seed, self.shuffle = n, batch_size, seed, shuffle
        self.drop_last, self.rank, self.world_size = drop_last, rank, world_size
        self.even = shuffle if even is None else even
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def indices(self) -> np.ndarray:
        """This rank's sample indices for the current epoch, in order."""
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(self.n)
        else:
            order = np.arange(self.n)
        if self.even:
            order = order[:self.n - self.n % self.world_size]
        return order[self.rank::self.world_size]

    def __iter__(self):
        mine = self.indices()
        for start in range(0, len(mine), self.batch_size):
            batch = mine[start:start + self.batch_size]
            if self.drop_last and len(batch) < self.batch_size:
                return
            yield [(int(i), self.epoch) for i in batch]

    def __len__(self) -> int:
        share = len(self.indices())
        return share // self.batch_size if self.drop_last else -(-share // self.batch_size)


class _Samples(torch.utils.data.Dataset):
    """Maps a (sample index, epoch) key to a transformed uint8 image and its label."""

    def __init__(self, ds: Dataset, transform: Transform | None, seed: int):
        self.ds, self.transform, self.seed = ds, transform, seed

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, key: tuple[int, int]):
        i, epoch = key
        image, label = self.ds[i]
        if self.transform is not None:
            image = self.transform(image, np.random.default_rng([self.seed, epoch, i]))
        return image, label


def collate(samples) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = zip(*samples)
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        raise DataError("batch", f"images of different sizes {sorted(shapes)[:3]}: give the loader a crop transform")
    batch = torch.from_numpy(np.stack(images))  # (B, H, W, C) uint8
    return batch, torch.as_tensor(np.stack(labels) if np.ndim(labels[0]) else np.array(labels, np.int64))


def _init_worker(_: int) -> None:
    torch.set_num_threads(1)  # workers decode; the main process owns the cores for the model


def distributed_rank() -> tuple[int, int]:
    """(rank, world size) of this process: from torch.distributed when it is initialised, else (0, 1)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class Loader:
    """A DataLoader whose epochs are set explicitly, so order and augmentation are reproducible."""

    def __init__(self, ds: Dataset, sampler: EpochBatches, transform: Transform | None, num_workers: int,
                 pin_memory: bool):
        self.sampler = sampler
        self.dataloader = torch.utils.data.DataLoader(
            _Samples(ds, transform, sampler.seed), batch_sampler=sampler, num_workers=num_workers,
            collate_fn=collate, pin_memory=pin_memory, worker_init_fn=_init_worker,
            persistent_workers=num_workers > 0)

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)

    def __iter__(self):
        return iter(self.dataloader)

    def __len__(self) -> int:
        return len(self.sampler)


def make_loader(ds: Dataset, batch_size: int, transform: Transform | None = None, seed: int = 0,
                shuffle: bool = True, drop_last: bool = False, num_workers: int = 0,
                rank: int | None = None, world_size: int | None = None, pin_memory: bool = False) -> Loader:
    """A seeded loader over `ds`; rank and world size default to those of torch.distributed."""
    if rank is None or world_size is None:
        rank, world_size = distributed_rank()
    sampler = EpochBatches(len(ds), batch_size, seed, shuffle, drop_last, rank, world_size)
    return Loader(ds, sampler, transform, num_workers, pin_memory)
