"""The paper's data augmentation (Krizhevsky et al. 2012, Sec. 4.1): pure kernels and thin samplers.

    stats = ImageStats(...).finalize()    # ilsvrc.data.stats: mean_image, eigvals, eigvecs (0..255 scale)
    train = TrainTransform(RandomCrop(224, region=256), Normalization(mean_image=stats["mean_image"]),
                           PcaLighting.from_stats(stats))
    loader = make_loader(ds, 128, transform=train.sample, seed=0)   # uint8 crops and flips, in workers
    for images, labels in loader:                                   # (B, 224, 224, C) uint8
        x = train(images.to(device), generator)                     # (B, C, 224, 224) float, on the device

    test = EvalTransform(224, region=256, views=10, normalization=train.normalization)
    x = test(images.to(device))      # (B, 10, C, 224, 224): average the softmax of the 10 views

Images stay uint8 (H, W, C) until the batch is formed: the per-sample part (crop, flip) runs in
loader workers on numpy views; the float part (lighting, mean subtraction) runs once per batch
on the training device, in place on the one float tensor each batch needs (on a CPU, every
float pass over a 128 x 224 x 224 x 3 batch costs about as much as cropping it). Random
parameters come from generators passed in (a numpy Generator per sample, a torch.Generator per
batch), so the same seeds give the same augmentation.

Pixel scale: everything here is on the 0..255 scale of the stored uint8 images: the statistics,
the means, and float batches until `normalize` has run.
"""
from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field

import numpy as np
import torch

from ilsvrc.errors import ConfigError, DataError

LAYOUTS = ("BHWC", "BCHW")

# ---- per-sample uint8 kernels on (H, W, C) numpy arrays: views, no copies ----


def _check_fits(height: int, width: int, size: int) -> None:
    if size > height or size > width:
        raise DataError("image", f"{height}x{width} pixels is too small for a {size}x{size} crop")


def crop(image: np.ndarray, top: int, left: int, size: int) -> np.ndarray:
    """The size x size window of an (H, W, C) image whose top-left pixel is (top, left); a view."""
    height, width = image.shape[:2]
    if not (0 <= top <= height - size and 0 <= left <= width - size):
        raise DataError("image", f"a {size}x{size} crop at ({top}, {left}) does not fit in {height}x{width} pixels")
    return image[top:top + size, left:left + size]


def _centre(height: int, width: int, size: int) -> tuple[int, int]:
    """Top-left of the central crop, rounded down as in Caffe (torchvision rounds half to even)."""
    _check_fits(height, width, size)
    return (height - size) // 2, (width - size) // 2


def center_crop(image: np.ndarray, size: int) -> np.ndarray:
    """The central size x size window of an (H, W, C) image; a view."""
    return crop(image, *_centre(image.shape[0], image.shape[1], size), size)


def hflip(image: np.ndarray) -> np.ndarray:
    """The mirror image (left <-> right) of an (H, W, C) image; a view with a negative stride."""
    return image[:, ::-1]


def _five_anchors(height: int, width: int, size: int) -> list[tuple[int, int]]:
    """Top-left corners of the top-left, top-right, bottom-left, bottom-right and central crops."""
    bottom, right = height - size, width - size
    return [(0, 0), (0, right), (bottom, 0), (bottom, right), _centre(height, width, size)]


def _five_crops(images, size: int) -> list:
    """Five crops of a numpy (H, W, C) image or of a torch (..., H, W) tensor."""
    if isinstance(images, torch.Tensor):
        height, width = images.shape[-2:]
        return [images[..., t:t + size, l:l + size] for t, l in _five_anchors(height, width, size)]
    return [crop(images, t, l, size) for t, l in _five_anchors(*images.shape[:2], size)]


def ten_crop(images: np.ndarray | torch.Tensor, size: int) -> np.ndarray | torch.Tensor:
    """The paper's 10 test views of each image: 5 crops, then the same 5 crops of the mirrored image.

    Order (torchvision's): top-left, top-right, bottom-left, bottom-right, centre; views 5..9 are
    those crops taken from the horizontally flipped image, so view 5 is view 1 mirrored.
    A numpy (H, W, C) image gives (10, size, size, C); a torch (B, C, H, W) batch gives
    (B, 10, C, size, size), whose `flatten(0, 1)` is the (10 * B, C, size, size) input of a model
    (sample-major: rows 10*b .. 10*b + 9 are the views of image b).
    """
    if isinstance(images, torch.Tensor):
        if images.ndim != 4:
            raise DataError("batch", f"expected a (B, C, H, W) tensor, got shape {tuple(images.shape)}")
        return torch.stack(_five_crops(images, size) + _five_crops(images.flip(-1), size), dim=1)
    return np.stack(_five_crops(images, size) + _five_crops(hflip(images), size))


# ---- per-sample random parameters, from an explicit numpy Generator ----


@dataclass(frozen=True)
class CropParams:
    top: int
    left: int
    flip: bool


@dataclass(frozen=True)
class RandomCrop:
    """Random size x size training crops, mirrored with probability 1/2; a loader transform.

        RandomCrop(224, region=256)          # the paper: within the central 256x256 of each image
        RandomCrop(32, region=None, pad=4)   # CIFAR: zero-pad by 4, crop 32x32 anywhere
        RandomCrop(28, region=None, pad=2, flip=False)   # digits: a mirrored digit is another glyph
        RandomCrop(224, random=False, flip=False)        # no augmentation: the central 224x224 of the region
        view = RandomCrop(224)(image, np.random.default_rng(seed))
    """

    size: int = 224
    region: int | None = 256  # central square the crops are taken from; None: the whole image
    pad: int = 0  # zero border added on every side before cropping
    flip: bool = True
    random: bool = True  # False: the central window every time (flips, where on, still drawn)

    def __post_init__(self):
        if self.size < 1 or self.pad < 0:
            raise ConfigError(f"crop size must be positive and padding non-negative, got {self.size}, {self.pad}")
        if self.region is not None and self.region < self.size:
            raise ConfigError(f"crop size {self.size} is larger than the {self.region}x{self.region} region")

    def sample(self, height: int, width: int, rng: np.random.Generator) -> CropParams:
        """Random parameters for a (height, width) image (after region and padding)."""
        _check_fits(height, width, self.size)
        if self.random:
            top = int(rng.integers(0, height - self.size + 1))
            left = int(rng.integers(0, width - self.size + 1))
        else:
            top, left = _centre(height, width, self.size)
        return CropParams(top, left, bool(self.flip and rng.random() < 0.5))

    def window(self, height: int, width: int, rng: np.random.Generator) -> CropParams:
        """Random parameters in the coordinates of a whole (height, width) image, region included;
        for decoders that crop by themselves (on the GPU). Same draws as `__call__`: same crops."""
        if self.pad:
            raise ConfigError("padded crops exist only as pixels: crop with RandomCrop(...)(image, rng)")
        top = left = 0
        if self.region is not None:
            top, left = _centre(height, width, self.region)
            height = width = self.region
        params = self.sample(height, width, rng)
        return CropParams(top + params.top, left + params.left, params.flip)

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if self.region is not None:
            image = center_crop(image, self.region)
        if self.pad:
            image = np.pad(image, ((self.pad, self.pad), (self.pad, self.pad), (0, 0)))
        params = self.sample(image.shape[0], image.shape[1], rng)
        view = crop(image, params.top, params.left, self.size)
        return hflip(view) if params.flip else view


# ---- per-batch float work on the device: (B, C, H, W) tensors ----


def to_float(batch: torch.Tensor, layout: str = "BHWC") -> torch.Tensor:
    """A new (B, C, H, W) float32 batch on the batch's device, values unchanged (0..255 for uint8).

    A (B, H, W, C) input is permuted, not copied before the conversion, so the result is
    channels_last in memory: the layout convolutions run fastest in on GPUs. The result never
    shares memory with the input, so the steps after it may work in place.
    """
    if layout not in LAYOUTS:
        raise ConfigError(f"unknown batch layout {layout!r}; choose one of: {', '.join(LAYOUTS)}")
    if batch.ndim != 4:
        raise DataError("batch", f"expected a 4-dimensional {layout} tensor, got shape {tuple(batch.shape)}")
    if layout == "BCHW":
        return batch.to(torch.float32, copy=True)
    return _empty_float(batch.shape, batch.device).copy_(batch).permute(0, 3, 1, 2)


class HostBatches:
    """Memory for float batches on the CPU, reused once no tensor refers to it any more.

    Writing into a fresh 77 MB batch (128 x 224 x 224 x 3) costs more than the conversion
    itself: the kernel must map and zero every page. torch's CUDA allocator keeps freed blocks
    for reuse; its CPU allocator hands such large blocks back to the kernel. Here each batch is
    a tensor over a numpy array this pool keeps. The tensor's storage, shared by all its views,
    holds one reference to the array, so an array referred to only by the pool is free. numpy
    also asks Linux for transparent huge pages, which makes the first use cheaper too.
    """

    def __init__(self, keep: int = 4):
        self.keep = keep  # a training loop holds two batches at most: the one in use, the next one
        self.arrays: list[np.ndarray] = []
        self.lock = threading.Lock()

    def empty(self, shape: tuple[int, ...]) -> torch.Tensor:
        """An uninitialised float32 tensor of `shape`."""
        with self.lock:
            for array in self.arrays:
                if array.shape == shape and sys.getrefcount(array) == _POOL_ONLY:
                    return torch.from_numpy(array)
            array = np.empty(shape, np.float32)
            self.arrays = [array] + self.arrays[:self.keep - 1]
            return torch.from_numpy(array)


_POOL_ONLY = 3  # references to an array in `HostBatches.empty`'s loop: the list, `array`, getrefcount's argument
_host_batches = HostBatches()


def _empty_float(shape: torch.Size, device: torch.device) -> torch.Tensor:
    if device.type == "cpu":
        return _host_batches.empty(tuple(shape))
    return torch.empty(shape, dtype=torch.float32, device=device)


def _per_channel(values, x: torch.Tensor, name: str) -> torch.Tensor:
    """(1, C) values for a (B, C, H, W) batch."""
    values = torch.as_tensor(values, dtype=x.dtype, device=x.device).reshape(-1)
    if len(values) != x.shape[1]:
        raise ConfigError(f"{name} has {len(values)} values for images with {x.shape[1]} channels")
    return values.reshape(1, -1)


def _channelwise_(op, x: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """op(x, values) in place, for (B or 1, C) values broadcast over the pixels of a (B, C, H, W) x.

    In channels_last memory, a (B, C, 1, 1) operand makes an inner loop of C = 3 elements; one
    (W * C) row per image, repeated down the rows, vectorises and runs four times faster.
    """
    if x.is_contiguous(memory_format=torch.channels_last):
        b, c, h, w = x.shape
        op(x.permute(0, 2, 3, 1).view(b, h, w * c), values.repeat(1, w)[:, None, :])
    else:
        op(x, values[:, :, None, None])
    return x


def _central_mean(mean_image, x: torch.Tensor) -> torch.Tensor:
    """The central part of an (H, W, C) mean image, as (C, h, w) for the batch's h x w images."""
    mean = torch.as_tensor(mean_image, dtype=x.dtype, device=x.device).permute(2, 0, 1)  # (C, H, W)
    (height, width), (h, w) = mean.shape[1:], x.shape[2:]
    if h > height or w > width or mean.shape[0] != x.shape[1]:
        raise ConfigError(f"a {height}x{width}x{mean.shape[0]} mean image cannot be subtracted from "
                          f"{h}x{w}x{x.shape[1]} images")
    top, left = (height - h) // 2, (width - w) // 2
    return mean[:, top:top + h, left:left + w]


def normalize(batch: torch.Tensor, mean=None, std=None, mean_image=None, layout: str = "BHWC") -> torch.Tensor:
    """(batch - mean) / std as a (B, C, H, W) float32 tensor, on the batch's device.

    `mean_image` (H, W, C), the paper's choice, or per-channel `mean` (C,); `std` (C,) optional.
    All on the 0..255 scale. Move the uint8 batch to the device first (4x less to copy); pass
    tensors already on the device to avoid copying the means per batch. A mean image larger
    than the images (crops of 256x256 images) contributes its central part to every crop, as
    the authors' cuda-convnet does.
    """
    _check_means(mean, mean_image)
    return _normalize_(to_float(batch, layout), mean, std, mean_image)


def _check_means(mean, mean_image) -> None:
    if mean is not None and mean_image is not None:
        raise ConfigError("give either a per-channel mean or a mean image, not both")


def _normalize_(x: torch.Tensor, mean, std, mean_image) -> torch.Tensor:
    """`normalize` in place on a float (B, C, H, W) batch."""
    if mean_image is not None:
        x.sub_(_central_mean(mean_image, x))
    if mean is not None:
        _channelwise_(torch.Tensor.sub_, x, _per_channel(mean, x, "mean"))
    if std is not None:
        _channelwise_(torch.Tensor.div_, x, _per_channel(std, x, "std"))
    return x


def sample_alphas(batch_size: int, channels: int = 3, std: float = 0.1,
                  generator: torch.Generator | None = None, device=None) -> torch.Tensor:
    """(B, C) lighting coefficients alpha ~ N(0, std), one row per image, drawn on the generator's device."""
    where = generator.device if generator is not None else None
    return (torch.randn((batch_size, channels), generator=generator, device=where) * std).to(device)


def pca_lighting(batch: torch.Tensor, eigvals, eigvecs, alphas: torch.Tensor) -> torch.Tensor:
    """Add sum_i p_i alpha_i lambda_i to every pixel of each image: the paper's PCA colour lighting.

    batch (B, C, H, W) float; eigvals (C,) and eigvecs (C, C), p_i in columns, of the pixel
    covariance on the batch's own scale; alphas (B, C).
    lambda_i enters as sqrt(eigval_i), the standard deviation along p_i, as in the first author's
    released cuda-convnet2 (its `color_stdevs`): the shift is then in pixel units on any scale,
    and alpha ~ N(0, 0.1) moves each image by a tenth of the data's spread along each component.
    Raw eigenvalues are in squared pixel units: used as they are, the same images would be lit
    255 times more strongly on the 0..255 scale than on the 0..1 scale.
    """
    return batch + lighting_shift(eigvals, eigvecs, alphas.to(batch))[:, :, None, None]


def lighting_shift(eigvals, eigvecs, alphas: torch.Tensor) -> torch.Tensor:
    """(B, C) colour added to every pixel of each image: sum_i alpha_i sqrt(eigval_i) p_i."""
    eigvals = torch.as_tensor(eigvals, dtype=alphas.dtype, device=alphas.device)
    eigvecs = torch.as_tensor(eigvecs, dtype=alphas.dtype, device=alphas.device)
    return (alphas * eigvals.sqrt()) @ eigvecs.T


@dataclass(frozen=True, eq=False)
class PcaLighting:
    """PCA lighting with fresh alphas per image per call, for (B, C, H, W) float batches on 0..255."""

    eigvals: np.ndarray | torch.Tensor  # (C,) covariance eigenvalues of 0..255 pixels
    eigvecs: np.ndarray | torch.Tensor  # (C, C) eigenvectors in columns
    alpha_std: float = 0.1

    @classmethod
    def from_stats(cls, stats: dict, alpha_std: float = 0.1) -> PcaLighting:
        return cls(stats["eigvals"], stats["eigvecs"], alpha_std)

    def __call__(self, batch: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.apply_(batch.clone(), generator)

    def apply_(self, batch: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The same, in place on `batch`."""
        alphas = sample_alphas(len(batch), batch.shape[1], self.alpha_std, generator, batch.device)
        shift = lighting_shift(self.eigvals, self.eigvecs, alphas.to(batch.dtype))
        return _channelwise_(torch.Tensor.add_, batch, shift)


@dataclass(frozen=True, eq=False)
class Normalization:
    """What `normalize` subtracts and divides by, on the 0..255 scale: a mean image, or mean and std."""

    mean: np.ndarray | torch.Tensor | None = None  # (C,)
    std: np.ndarray | torch.Tensor | None = None  # (C,)
    mean_image: np.ndarray | torch.Tensor | None = None  # (H, W, C)

    def __post_init__(self):
        _check_means(self.mean, self.mean_image)

    def __call__(self, batch: torch.Tensor, layout: str = "BHWC") -> torch.Tensor:
        return normalize(batch, self.mean, self.std, self.mean_image, layout)

    def apply_(self, x: torch.Tensor) -> torch.Tensor:
        """The same, in place on a float (B, C, H, W) batch."""
        return _normalize_(x, self.mean, self.std, self.mean_image)


# ---- the two halves of the paper's pipelines ----


@dataclass(frozen=True, eq=False)
class TrainTransform:
    """Training views: `sample` crops and flips uint8 images in the loader's workers; calling the
    transform on the (B, H, W, C) uint8 batch, on the device, adds lighting and normalises."""

    crop: RandomCrop = field(default_factory=RandomCrop)
    normalization: Normalization = field(default_factory=Normalization)
    lighting: PcaLighting | None = None

    def sample(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self.crop(image, rng)

    def __call__(self, batch: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        x = to_float(batch)  # (B, C, h, w), 0..255: a new tensor, changed in place from here on
        if self.lighting is not None:
            self.lighting.apply_(x, generator)  # a constant per image: commutes with subtracting the mean
        return self.normalization.apply_(x)


@dataclass(frozen=True, eq=False)
class EvalTransform:
    """Test views: `sample` takes the central `region` of each uint8 image in the workers; calling
    the transform on the (B, H, W, C) uint8 batch gives (B, views, C, size, size) float views:
    the 10 crops of `ten_crop`, or the central crop alone (views=1)."""

    size: int = 224
    region: int | None = 256
    views: int = 10
    normalization: Normalization = field(default_factory=Normalization)

    def __post_init__(self):
        if self.views not in (1, 10):
            raise ConfigError(f"test views must be 1 (centre crop) or 10 (ten crops), got {self.views}")
        if self.region is not None and self.region < self.size:
            raise ConfigError(f"crop size {self.size} is larger than the {self.region}x{self.region} region")

    def sample(self, image: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        return image if self.region is None else center_crop(image, self.region)

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        x = batch.permute(0, 3, 1, 2)  # (B, C, H, W) view, still uint8: crop before converting
        if self.views == 10:
            crops = ten_crop(x, self.size)  # (B, 10, C, size, size)
        else:
            top, left = _centre(x.shape[2], x.shape[3], self.size)
            crops = x[:, None, :, top:top + self.size, left:left + self.size]
        return self.normalization(crops.flatten(0, 1), layout="BCHW").unflatten(0, crops.shape[:2])
