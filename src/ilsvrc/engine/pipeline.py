"""From a DataConfig to batches on the training device: the paper's two recipes.

    pipe = Pipeline.build(config.data, seed=0, device=device)
    for x, y in pipe.train_batches(epoch):          # x: (B, C, h, w) float on the device, normalised
    for views, y in pipe.eval_batches("test", tta):  # views: (B, V, C, h, w); average the V softmaxes
                                                     # tta: center, flip (+ mirror image), 10crop or shift

Large images (data.crop set, e.g. 224): the loader's workers crop and flip uint8 images (the central
crop instead of a random one with data.random_crop false); the device adds PCA lighting and subtracts
the mean image (augment.TrainTransform). Small images
(MNIST, CIFAR): the whole uint8 split sits in memory (on the GPU when there is one) and each
batch is padded, randomly cropped and flipped there, in one vectorised step.
With data.early_side, the first data.early_epochs epochs' batches are scaled down (progressive
resizing). Everything random derives from (seed, epoch, batch or sample index): runs and resumed runs
see the same batches. Under torch.distributed (`world`), each rank gets its round-robin share of
every batch and of every evaluation split; per-batch draws (small-image crops, PCA lighting) add
the rank to their key, per-image draws (large-image crops and flips) are those of one process.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ilsvrc.augment import EvalTransform, Normalization, PcaLighting, RandomCrop, TrainTransform, ten_crop
from ilsvrc.config import DataConfig
from ilsvrc.data.loader import EpochBatches, Loader, decode_crops, make_jpeg_loader, make_loader
from ilsvrc.data.packing import ensure_packed
from ilsvrc.data.readers.packed import PackedDataset
from ilsvrc.data.readers.packed import read_index as packed_index
from ilsvrc.engine.distributed import SINGLE, World, shard_indices
from ilsvrc.errors import ConfigError


def resized(x: torch.Tensor, side: int) -> torch.Tensor:
    """(B, C, side, side) images scaled by antialiased bilinear interpolation, as torchvision's Resize on tensors.

    Progressive resizing (fast.ai's and FFCV's ImageNet speed runs): an early epoch on smaller images
    costs about (side / full)^2 of a full-size one; the last epochs at full size set the fine features
    and the BatchNorm statistics the test images meet. Whether it pays depends on the data: on 28-px
    Fashion-MNIST a 20-px epoch costs 55% of a full one and is worth less (BENCHMARKS.md)."""
    return F.interpolate(x, size=(side, side), mode="bilinear", antialias=True, align_corners=False)


def normalization_for(config: DataConfig, stats: dict, device) -> Normalization:
    if config.normalize == "mean_image":
        return Normalization(mean_image=torch.as_tensor(stats["mean_image"], device=device))
    return Normalization(mean=torch.as_tensor(stats["mean"], dtype=torch.float32, device=device),
                         std=torch.as_tensor(stats["std"], dtype=torch.float32, device=device))

# Small images are 10-cropped from the padded image that training cropped from; a run trained
# without padding (data.pad 0) would get five identical views, so its views come from this border.
TEN_CROP_PAD = 2


@dataclass
class Pipeline:
    config: DataConfig
    root: Path
    seed: int
    device: torch.device
    stats: dict  # of the training split: mean_image, mean, std, eigvals, eigvecs (0..255)
    world: World = SINGLE  # the training processes; each rank loads its share of every batch
    _resident_splits: dict = field(default_factory=dict, repr=False)
    _loaders: dict = field(default_factory=dict, repr=False)  # one per purpose, kept with their workers

    def __post_init__(self):
        self.normalization = normalization_for(self.config, self.stats, self.device)
        self.lighting = PcaLighting.from_stats(self.stats, self.config.lighting) if self.config.lighting > 0 else None

    @classmethod
    def build(cls, config: DataConfig, seed: int, device: torch.device, stats: dict | None = None,
              world: World = SINGLE) -> "Pipeline":
        """Training (stats of the train split) or evaluation with the statistics a checkpoint saved."""
        root = ensure_packed(config.path)
        if stats is None:
            stats = PackedDataset(root, config.train_split).stats
        pipe = cls(config, root, seed, device, {k: np.asarray(v) for k, v in stats.items()}, world)
        pipe._check_recipe()
        return pipe

    @property
    def small(self) -> bool:
        return self.config.crop is None

    def _check_recipe(self):
        storage = packed_index(self.root)["splits"]
        if self.small and any(entry["storage"] != "raw" for entry in storage.values()):
            raise ConfigError(f"{self.root}: images are stored encoded (large); set data.crop (e.g. 224)")
        if self.config.decode == "device" and (self.small or storage[self.config.train_split]["storage"] != "jpeg"):
            raise ConfigError(f"{self.root}: data.decode=device decodes JPEG-stored large images; this data's "
                              "training images are stored raw (set data.decode=cpu)")
        if not self.small and self.config.crop > self.config.region:
            raise ConfigError(f"data.crop {self.config.crop} is larger than data.region {self.config.region}")
        if not self.small:
            side = min(self.stats["mean_image"].shape[:2])  # the stored size (the shorter side for large images)
            if side < self.config.crop:
                raise ConfigError(f"{self.root}: {side}x{side} images are smaller than data.crop {self.config.crop}; "
                                  "leave data.crop unset (null) for small images")

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, h, w) of the model's input."""
        if self.small:
            h, w, c = self.stats["mean_image"].shape
            return c, h, w
        return 3, self.config.crop, self.config.crop

    def background_level(self) -> float:
        """The normalised value of the training images' background: the median of the mean image's outermost
        ring after normalisation (what a model framing small images, LeNet-5's 28 -> 32, pads with)."""
        mean_image = torch.as_tensor(self.stats["mean_image"], dtype=torch.float32, device=self.device)
        x = self.normalization.apply_(mean_image.permute(2, 0, 1)[None].clone())  # (1, C, H, W)
        ring = torch.cat([x[..., 0, :], x[..., -1, :], x[..., 1:-1, 0], x[..., 1:-1, -1]], dim=-1)
        return float(ring.median())

    def dataset(self, split: str) -> PackedDataset:
        return PackedDataset(self.root, split)

    # ---- training ----
    def train_transform(self) -> TrainTransform:
        """Large images: crops and flips in the workers, then lighting and the mean image on the device."""
        return TrainTransform(RandomCrop(self.config.crop, self.config.region, flip=self.config.flip,
                                         random=self.config.random_crop), self.normalization, self.lighting)

    def batch_generator(self, epoch: int, step: int) -> torch.Generator:
        """The generator of a training batch's per-batch draws (lighting; small images' crops)."""
        return _generator(self.seed, epoch, step, self.device, self.world)

    def train_side(self, epoch: int) -> int | None:
        """The side `epoch`'s training images are scaled to (data.early_side), or None: as they come."""
        early = self.config.early_side and epoch < self.config.early_epochs
        return self.config.early_side if early else None

    def train_batches(self, epoch: int, batch_size: int, start: int = 0):
        """This rank's batches of `epoch` from step `start` on (0, unless a run resumes mid-epoch)."""
        side = self.train_side(epoch)
        for x, y in self._train_batches(epoch, batch_size, start):
            yield (x if side is None else resized(x, side)), y

    def _train_batches(self, epoch: int, batch_size: int, start: int = 0):
        if self.small:
            yield from self._small_train(epoch, batch_size, start)
            return
        if self.config.decode == "device":
            yield from self._device_decoded(epoch, batch_size, start)
            return
        loader, transform = self._train_loader(batch_size)
        loader.set_epoch(epoch, start)
        for step, (images, labels) in enumerate(loader, start):
            gen = self.batch_generator(epoch, step)
            yield transform(images.to(self.device, non_blocking=True), gen), labels.to(self.device)

    def _kept(self, key: tuple, transform, make) -> tuple[Loader, object]:
        """(loader, transform) made once for the whole run: its worker processes start once, not every epoch."""
        if key not in self._loaders:
            self._loaders[key] = (make(transform), transform)
        return self._loaders[key]

    def _train_loader(self, batch_size: int) -> tuple[Loader, TrainTransform]:
        return self._kept(("train", batch_size), self.train_transform(), lambda transform: make_loader(
            self.dataset(self.config.train_split), batch_size, transform.sample, self.seed, shuffle=True,
            drop_last=True, num_workers=self.config.workers, rank=self.world.rank, world_size=self.world.size))

    def _device_decoded(self, epoch: int, batch_size: int, start: int = 0):
        """data.decode=device: the workers send JPEG files and crop windows; the training device decodes them
        (nvJPEG on a GPU, in one batched call), crops, flips, lights and normalises."""
        loader, transform = self._kept(("train-jpeg", batch_size), self.train_transform(), lambda transform:
                                       make_jpeg_loader(self.dataset(self.config.train_split), batch_size,
                                                        transform.crop, self.seed, shuffle=True, drop_last=True,
                                                        num_workers=self.config.workers, rank=self.world.rank,
                                                        world_size=self.world.size))
        loader.set_epoch(epoch, start)
        for step, jpegs in enumerate(loader, start):
            images = decode_crops(jpegs, self.config.crop, self.device)  # (B, 224, 224, 3) uint8
            yield transform(images, self.batch_generator(epoch, step)), jpegs.labels.to(self.device)

    def _small_train(self, epoch: int, batch_size: int, start: int = 0):
        images, labels = self._resident(self.config.train_split)
        sampler = EpochBatches(len(images), batch_size, self.seed, shuffle=True, drop_last=True,
                               rank=self.world.rank, world_size=self.world.size)
        sampler.set_epoch(epoch, start)
        for step, batch in enumerate(sampler, start):
            index = torch.as_tensor([i for i, _ in batch], device=self.device)
            gen = self.batch_generator(epoch, step)
            pad = self.config.pad if self.config.random_crop else 0  # no random crop: the image unshifted
            x = random_pad_crop_flip(images[index], pad, self.config.flip, gen)
            x = x.permute(0, 3, 1, 2).float()  # (B, C, H, W), 0..255: a new tensor, worked on in place
            if self.lighting is not None:
                self.lighting.apply_(x, gen)
            yield self.normalization.apply_(x), labels[index]

    def image_sample(self, count: int) -> torch.Tensor:
        """(count, C, H, W) normalised training images drawn at random (from the run's seed): statistics for
        a model's data-dependent start (convnet-bn's whiten). Small images only."""
        if not self.small:
            raise ConfigError(f"{self.root}: a sample of training images is drawn from small images only "
                              "(model.options.whiten is for small images)")
        images, _ = self._resident(self.config.train_split)
        pick = torch.randperm(len(images), generator=torch.Generator().manual_seed(self.seed))[:count]
        return self.normalization.apply_(images[pick.to(images.device)].permute(0, 3, 1, 2).float()).cpu()

    def _resident(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """A raw split's images (N, H, W, C) uint8 and labels, held on the device once."""
        if split not in self._resident_splits:
            ds = self.dataset(split)
            self._resident_splits[split] = (torch.from_numpy(ds.images_array()).to(self.device),
                                            torch.from_numpy(ds.labels()).to(self.device))
        return self._resident_splits[split]

    # ---- evaluation ----
    def eval_batches(self, split: str, tta: str = "center", batch_size: int = 256):
        """(views (B, V, C, h, w) float, labels) over a split (this rank's share of it), in order.

        V = 1 (center), 2 (flip: the centre view and its mirror image), 10 (10crop) or, for small
        images, 10 (shift: the image and its 1-pixel shifts up, down, left and right, then all five
        mirrored: the CIFAR speed runs' test views, for nets trained with data.pad).
        """
        if tta == "shift" and not self.small:
            raise ConfigError(f"{self.root}: tta shift (1-pixel shifts) is for small images; large ones have 10crop")
        for views, labels in self._eval_views(split, tta, batch_size):
            yield (with_mirror_images(views) if tta in ("flip", "shift") else views), labels

    def _eval_views(self, split: str, tta: str, batch_size: int):
        if self.small:
            images, labels = self._resident(split)
            share = shard_indices(len(images), self.world)
            images, labels = images[share.start::share.step], labels[share.start::share.step]
            for start in range(0, len(images), batch_size):
                x = images[start:start + batch_size].permute(0, 3, 1, 2)  # (B, C, H, W) uint8
                yield self._small_views(x, tta), labels[start:start + batch_size]
            return
        views = 10 if tta == "10crop" else 1
        transform = EvalTransform(self.config.crop, self.config.region, views, self.normalization)
        loader, transform = self._kept(("eval", split, views, batch_size), transform, lambda transform: make_loader(
            self.dataset(split), batch_size, transform.sample, shuffle=False, num_workers=self.config.workers,
            rank=self.world.rank, world_size=self.world.size))
        for images, labels in loader:
            yield transform(images.to(self.device)), labels.to(self.device)

    def _small_views(self, x: torch.Tensor, tta: str) -> torch.Tensor:
        if tta == "10crop":  # the 10 views of the padded image, each the training crop size
            pad = self.config.pad or TEN_CROP_PAD
            crops = ten_crop(F.pad(x, (pad, pad, pad, pad)), x.shape[-1])
        elif tta == "shift":
            crops = shifted_views(x)
        else:
            crops = x[:, None]
        flat = self.normalization.apply_(crops.flatten(0, 1).float())  # .float() of uint8: a new tensor
        return flat.unflatten(0, crops.shape[:2])


def shifted_views(x: torch.Tensor, by: int = 1) -> torch.Tensor:
    """(B, C, H, W) -> (B, 5, C, H, W): each image, then shifted by `by` pixels up, down, left and right
    (the uncovered border zero, as data.pad's training crops)."""
    h, w = x.shape[-2:]
    padded = F.pad(x, (by, by, by, by))
    offsets = [(by, by), (2 * by, by), (0, by), (by, 2 * by), (by, 0)]  # (top, left) of each window
    return torch.stack([padded[..., top:top + h, left:left + w] for top, left in offsets], dim=1)


def with_mirror_images(views: torch.Tensor) -> torch.Tensor:
    """(B, V, C, h, w) -> (B, 2V, C, h, w): the views, then each one mirrored left-right."""
    return torch.cat([views, views.flip(-1)], dim=1)


def _generator(seed: int, epoch: int, step: int, device: torch.device, world: World = SINGLE) -> torch.Generator:
    # Under torchrun the rank joins the key (each rank draws its own); one process keeps the 3-number key.
    key = [seed, epoch, step] + ([world.rank] if world.distributed else [])
    gen = torch.Generator(device=device)
    gen.manual_seed(int(np.random.SeedSequence(key).generate_state(1)[0]))
    return gen


def random_pad_crop_flip(images: torch.Tensor, pad: int, flip: bool, gen: torch.Generator) -> torch.Tensor:
    """Zero-pad each (B, H, W, C) uint8 image by `pad`, crop a random H x W window, mirror half of them.

    One gather for the whole batch: the per-image window offsets become index grids.
    """
    b, h, w, _ = images.shape
    if pad:
        images = F.pad(images, (0, 0, pad, pad, pad, pad))
    dev = images.device
    top = torch.randint(0, 2 * pad + 1, (b, 1), generator=gen, device=dev)
    left = torch.randint(0, 2 * pad + 1, (b, 1), generator=gen, device=dev)
    cols = left + torch.arange(w, device=dev)  # (B, W)
    if flip:
        mirrored = torch.rand((b, 1), generator=gen, device=dev) < 0.5
        cols = torch.where(mirrored, cols.flip(1), cols)
    rows = top + torch.arange(h, device=dev)  # (B, H)
    batch = torch.arange(b, device=dev)[:, None, None]
    return images[batch, rows[:, :, None], cols[:, None, :]]  # (B, H, W, C)
