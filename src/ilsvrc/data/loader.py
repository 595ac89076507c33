"""Batches for training and evaluation: seeded, multi-worker, and split across data-parallel ranks.

    loader = make_loader(ds, batch_size=128, transform=train_crop, seed=0, num_workers=2)
    for epoch in range(epochs):
        loader.set_epoch(epoch)
        for images, labels in loader:      # images: (B, H, W, C) uint8 tensor; labels: (B,) int64
            ...

Images stay uint8 until the batch is formed; float work belongs to the training device. Each
worker crops straight from the stored pixels (a memory-map view, or the decoded JPEG) into one
batch in shared memory, which reaches the main process without another copy.
Order and augmentation depend only on (seed, epoch, sample index): each sample's random
parameters come from its own generator seeded with those three numbers, so the same seed
gives the same batches whatever the number of workers. With several ranks, each epoch's
permutation is dealt out round-robin so the ranks see disjoint parts of it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

import cv2
import numpy as np
import simplejpeg
import torch
import torch.utils.data

from ilsvrc.data.base import Dataset
from ilsvrc.data.images import check_pixels
from ilsvrc.errors import ConfigError, DataError

# transform(image (H, W, C) uint8, rng) -> image (h, w, C) uint8
Transform = Callable[[np.ndarray, np.random.Generator], np.ndarray]


class CropWindows(Protocol):
    """Draws a training crop's window (augment.RandomCrop does): an object with .top, .left, .flip."""

    def window(self, height: int, width: int, rng: np.random.Generator): ...


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
        self.epoch = self.start = 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """The epoch to deal, from its batch `start` on (a run resumed in the middle of an epoch)."""
        self.epoch, self.start = epoch, start

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
        for start in range(self.start * self.batch_size, len(mine), self.batch_size):
            batch = mine[start:start + self.batch_size]
            if self.drop_last and len(batch) < self.batch_size:
                return
            yield [(int(i), self.epoch) for i in batch]

    def __len__(self) -> int:
        share = len(self.indices())
        return max(0, (share // self.batch_size if self.drop_last else -(-share // self.batch_size)) - self.start)


class _Samples(torch.utils.data.Dataset):
    """Maps a (sample index, epoch) key to a transformed uint8 image (often a view) and its label."""

    def __init__(self, ds: Dataset, transform: Transform | None, seed: int):
        self.ds, self.transform, self.seed = ds, transform, seed
        # Packed datasets lend views of their memory maps: `collate` makes the only copy.
        self.read = ds.image_view

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, key: tuple[int, int]):
        i, epoch = key
        image, label = self.read(i), self.ds.label(i)
        if self.transform is not None:
            image = self.transform(image, np.random.default_rng([self.seed, epoch, i]))
        return image, label


def copy_image(out: np.ndarray, image: np.ndarray) -> None:
    """out[...] = image, for (H, W, C) arrays. OpenCV copies mirrored (negative-stride) uint8 views
    ~4x faster than numpy, which moves them one pixel (C bytes) at a time."""
    if image.dtype == np.uint8 and image.ndim == 3 and image.strides[1] < 0 and out.flags.c_contiguous:
        cv2.flip(image[:, ::-1], 1, dst=out)
    else:
        np.copyto(out, image)


def empty_batch(shape: tuple[int, ...], dtype: np.dtype) -> torch.Tensor:
    """An uninitialised tensor; in a loader worker, in shared memory, so that it reaches the main
    process without the copy torch makes of other tensors sent from workers (torch's own
    default_collate allocates its batches the same way)."""
    dtype = torch.from_numpy(np.empty(0, dtype)).dtype
    if torch.utils.data.get_worker_info() is None:
        return torch.empty(shape, dtype=dtype)
    nbytes = int(np.prod(shape)) * dtype.itemsize
    return torch.empty(0, dtype=dtype).set_(torch.UntypedStorage._new_shared(nbytes)).view(shape)


def collate(samples) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, H, W, C) images and (B,) labels (or (B, K) multi-hot) of same-size samples."""
    images, labels = zip(*samples)
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        raise DataError("batch", f"images of different sizes {sorted(shapes)[:3]}: give the loader a crop transform")
    batch = empty_batch((len(images), *images[0].shape), images[0].dtype)
    out = batch.numpy()
    for k, image in enumerate(images):
        copy_image(out[k], image)
    return batch, torch.as_tensor(np.stack(labels) if np.ndim(labels[0]) else np.array(labels, np.int64))


def _init_worker(_: int) -> None:
    torch.set_num_threads(1)  # workers decode; the main process owns the cores for the model


class Loader:
    """A DataLoader whose epochs are set explicitly, so order and augmentation are reproducible."""

    def __init__(self, samples: torch.utils.data.Dataset, sampler: EpochBatches, num_workers: int,
                 pin_memory: bool, collate_fn: Callable = collate):
        self.sampler = sampler
        self.dataloader = torch.utils.data.DataLoader(
            samples, batch_sampler=sampler, num_workers=num_workers,
            collate_fn=collate_fn, pin_memory=pin_memory, worker_init_fn=_init_worker,
            persistent_workers=num_workers > 0)

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.sampler.set_epoch(epoch, start)

    def __iter__(self):
        return iter(self.dataloader)

    def __len__(self) -> int:
        return len(self.sampler)


def make_loader(ds: Dataset, batch_size: int, transform: Transform | None = None, seed: int = 0,
                shuffle: bool = True, drop_last: bool = False, num_workers: int = 0,
                rank: int = 0, world_size: int = 1, pin_memory: bool = False) -> Loader:
    """A seeded loader over `ds`: rank `rank`'s share of each epoch among `world_size` processes
    (the training engine passes its World's; the loader never looks at torch.distributed itself)."""
    sampler = EpochBatches(len(ds), batch_size, seed, shuffle, drop_last, rank, world_size)
    return Loader(_Samples(ds, transform, seed), sampler, num_workers, pin_memory)


# ---- JPEG files to the training device, decoded there (nvJPEG on a GPU) ----


@dataclass
class JpegBatch:
    """Stored JPEG files back to back, with the training crop each one gets and its label."""

    data: torch.Tensor  # (total bytes,) uint8
    lengths: list[int]  # bytes of each file
    windows: torch.Tensor  # (B, 3) int64: top, left, mirrored, in whole-image pixels
    labels: torch.Tensor  # (B,) int64


class _JpegSamples(torch.utils.data.Dataset):
    """Maps a (sample index, epoch) key to a stored JPEG file, its crop window and its label."""

    def __init__(self, ds, crop: CropWindows, seed: int):
        self.ds, self.crop, self.seed = ds, crop, seed

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, key: tuple[int, int]):
        i, epoch = key
        data = self.ds.encoded(i)
        try:
            height, width = simplejpeg.decode_jpeg_header(data)[:2]
        except ValueError as e:
            raise DataError(f"{self.ds.root}#{i}", f"corrupt stored image ({e})") from None
        check_pixels(width, height, f"{self.ds.root}#{i}")
        window = self.crop.window(height, width, np.random.default_rng([self.seed, epoch, i]))
        return data, (window.top, window.left, window.flip), self.ds.label(i)


def collate_jpeg(samples) -> JpegBatch:
    files, windows, labels = zip(*samples)
    data = torch.frombuffer(bytearray(b"".join(files)), dtype=torch.uint8)
    return JpegBatch(data, [len(f) for f in files], torch.tensor(windows, dtype=torch.int64),
                     torch.tensor(labels, dtype=torch.int64))


def make_jpeg_loader(ds, batch_size: int, crop: CropWindows, seed: int = 0, shuffle: bool = True,
                     drop_last: bool = False, num_workers: int = 0, rank: int = 0, world_size: int = 1) -> Loader:
    """Like `make_loader` with `crop` as the transform, for JPEG-stored packed data, but the workers
    only read the files and draw the crops: `decode_crops` decodes them on the training device."""
    if ds.storage != "jpeg":
        raise ConfigError(f"decoding on the device needs JPEG storage; {getattr(ds, 'root', ds)} is not")
    sampler = EpochBatches(len(ds), batch_size, seed, shuffle, drop_last, rank, world_size)
    return Loader(_JpegSamples(ds, crop, seed), sampler, num_workers, False, collate_jpeg)


def decode_crops(batch: JpegBatch, size: int, device: torch.device) -> torch.Tensor:
    """(B, size, size, 3) uint8 on `device`: each file decoded there (in one batched call), then
    cropped and mirrored as its window says: the pixels `make_loader` would have sent."""
    from torchvision.io import ImageReadMode, decode_jpeg

    files = list(torch.split(batch.data, batch.lengths))
    images = decode_jpeg(files, mode=ImageReadMode.RGB, device=device)  # each (3, H, W)
    crops = []
    for image, (top, left, mirrored) in zip(images, batch.windows.tolist()):
        view = image[:, top:top + size, left:left + size]
        crops.append(view.flip(-1) if mirrored else view)
    return torch.stack(crops).permute(0, 2, 3, 1)
