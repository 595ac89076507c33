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
on the training device. Random parameters come from generators passed in (a numpy Generator per
sample, a torch.Generator per batch), so the same seeds give the same augmentation.

Pixel scale: everything here is on the 0..255 scale of the stored uint8 images: the statistics,
the means, and float batches until `normalize` has run.
"""
from __future__ import annotations

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
        view = RandomCrop(224)(image, np.random.default_rng(seed))
    """

    size: int = 224
    region: int | None = 256  # central square the crops are taken from; None: the whole image
    pad: int = 0  # zero border added on every side before cropping
    flip: bool = True

    def __post_init__(self):
        if self.size < 1 or self.pad < 0:
            raise ConfigError(f"crop size must be positive and padding non-negative, got {self.size}, {self.pad}")
        if self.region is not None and self.region < self.size:
            raise ConfigError(f"crop size {self.size} is larger than the {self.region}x{self.region} region")

    def sample(self, height: int, width: int, rng: np.random.Generator) -> CropParams:
        """Random parameters for a (height, width) image (after region and padding)."""
        _check_fits(height, width, self.size)
        top = int(rng.integers(0, height - self.size + 1))
        left = int(rng.integers(0, width - self.size + 1))
        return CropParams(top, left, bool(self.flip and rng.random() < 0.5))

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
    """A (B, C, H, W) float32 batch on the batch's device, values unchanged (0..255 for uint8).

    A (B, H, W, C) input is permuted, not copied before the conversion, so the result is
    channels_last in memory: the layout convolutions run fastest in on GPUs.
    """
    if layout not in LAYOUTS:
        raise ConfigError(f"unknown batch layout {layout!r}; choose one of: {', '.join(LAYOUTS)}")
    if batch.ndim != 4:
        raise DataError("batch", f"expected a 4-dimensional {layout} tensor, got shape {tuple(batch.shape)}")
    return (batch.permute(0, 3, 1, 2) if layout == "BHWC" else batch).float()


def _per_channel(values, x: torch.Tensor, name: str) -> torch.Tensor:
    values = torch.as_tensor(values, dtype=x.dtype, device=x.device).reshape(-1)
    if len(values) != x.shape[1]:
        raise ConfigError(f"{name} has {len(values)} values for images with {x.shape[1]} channels")
    return values.reshape(1, -1, 1, 1)


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
    if mean is not None and mean_image is not None:
        raise ConfigError("give either a per-channel mean or a mean image, not both")
    x = to_float(batch, layout)
    if mean_image is not None:
        x = x - _central_mean(mean_image, x)
    if mean is not None:
        x = x - _per_channel(mean, x, "mean")
    if std is not None:
        x = x / _per_channel(std, x, "std")
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
    eigvals = torch.as_tensor(eigvals, dtype=batch.dtype, device=batch.device)
    eigvecs = torch.as_tensor(eigvecs, dtype=batch.dtype, device=batch.device)
    shift = (alphas.to(batch) * eigvals.sqrt()) @ eigvecs.T  # (B, C): sum_i alpha_i lambda_i p_i
    return batch + shift[:, :, None, None]


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
        alphas = sample_alphas(len(batch), batch.shape[1], self.alpha_std, generator, batch.device)
        return pca_lighting(batch, self.eigvals, self.eigvecs, alphas)


@dataclass(frozen=True, eq=False)
class Normalization:
    """What `normalize` subtracts and divides by, on the 0..255 scale: a mean image, or mean and std."""

    mean: np.ndarray | torch.Tensor | None = None  # (C,)
    std: np.ndarray | torch.Tensor | None = None  # (C,)
    mean_image: np.ndarray | torch.Tensor | None = None  # (H, W, C)

    def __call__(self, batch: torch.Tensor, layout: str = "BHWC") -> torch.Tensor:
        return normalize(batch, self.mean, self.std, self.mean_image, layout)


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
        x = to_float(batch)  # (B, C, h, w), 0..255
        if self.lighting is not None:
            x = self.lighting(x, generator)  # a constant per image: commutes with subtracting the mean
        return self.normalization(x, layout="BCHW")


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
