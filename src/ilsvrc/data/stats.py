"""Dataset statistics, streamed over uint8 images and mergeable across processes and shards.

    pixels = PixelStats(); pixels.update(batch)          # (N, H, W, C) uint8, any H and W
    pixels.finalize()    # mean (C,), std (C,), cov (C, C), eigvals (C,), eigvecs (C, C), count (pixels)

    acc = ImageStats.empty(256, 256, 3); acc.update(images)   # same-size images: adds the mean image
    acc.merge(other).finalize()                               # + mean_image (H, W, C)

Sums are kept instead of running means so that partial results from parallel workers and from
already-written shards combine exactly, and 1.28M images are never held at once. All values
are on the 0..255 pixel scale. The eigenvectors (columns, by descending eigenvalue) are what
the paper's PCA colour lighting perturbs along.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np

from ilsvrc.errors import DataError


def principal_components(cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (descending, >= 0) and unit eigenvectors (columns) of a covariance matrix.

    Each eigenvector's largest component is made positive, so the result does not depend on the
    sign LAPACK happens to return.
    """
    eigvals, eigvecs = np.linalg.eigh(cov)
    order = np.argsort(eigvals)[::-1]
    eigvals, eigvecs = np.clip(eigvals[order], 0.0, None), eigvecs[:, order]
    largest = eigvecs[np.argmax(np.abs(eigvecs), axis=0), np.arange(len(eigvals))]
    return eigvals, eigvecs * np.where(largest < 0, -1.0, 1.0)


def _channel_products(pixels: np.ndarray) -> np.ndarray:
    """Sum over pixels of x x^T for (P, C) uint8 pixels, exactly, as int64."""
    channels = np.ascontiguousarray(pixels.T).astype(np.uint16)  # (C, P); 255 * 255 < 2**16
    products = np.empty((len(channels), len(channels)), np.int64)
    for i in range(len(channels)):
        for j in range(i, len(channels)):
            products[i, j] = products[j, i] = (channels[i] * channels[j]).sum(dtype=np.int64)
    return products


class PixelStats:
    """Per-channel mean, std and covariance of uint8 pixels, and the covariance's eigen-decomposition.

        stats = PixelStats()
        for batch in batches:
            stats.update(batch)        # (N, H, W, C) uint8; H and W may change between calls
        stats.finalize()               # mean (C,), std (C,), cov (C, C), eigvals (C,), eigvecs (C, C), count

    Sums are exact integers (int64 holds 1.4e14 pixels; ImageNet has about 1e11), so partial
    statistics from several workers `merge` exactly, and 1.28M images are never held at once.
    Values are on the 0..255 scale; `cov` is the population covariance (divided by the pixel
    count) and `count` the number of pixels.
    """

    def __init__(self):
        self.count = 0
        self.sum: np.ndarray | None = None  # (C,) int64
        self.products: np.ndarray | None = None  # (C, C) int64: sum over pixels of x x^T

    def update(self, batch: np.ndarray) -> None:
        """Add an (N, H, W, C) uint8 batch of images."""
        if batch.dtype != np.uint8 or batch.ndim != 4:
            raise DataError("pixel statistics", f"expected (N, H, W, C) uint8 images, got {batch.dtype} "
                                                f"{tuple(batch.shape)}")
        pixels = batch.reshape(-1, batch.shape[-1])
        self._add(len(pixels), pixels.sum(axis=0, dtype=np.int64), _channel_products(pixels))

    def merge(self, other: PixelStats) -> PixelStats:
        """Add the sums of another accumulator (e.g. from another worker) into this one."""
        if other.count:
            self._add(other.count, other.sum, other.products)
        return self

    def _add(self, count: int, sums: np.ndarray, products: np.ndarray) -> None:
        if self.sum is None:
            self.sum, self.products = np.zeros_like(sums), np.zeros_like(products)
        if sums.shape != self.sum.shape:
            raise DataError("pixel statistics", f"images with {len(sums)} channels mixed with {len(self.sum)}")
        self.count += count
        self.sum += sums
        self.products += products

    def finalize(self) -> dict[str, np.ndarray | int]:
        if not self.count:
            raise DataError("pixel statistics", "no pixels were added")
        n, sums = self.count, self.sum.astype(object)
        # n * sum(x x^T) - sum(x) sum(x)^T in Python integers is exact: the covariance is rounded
        # once, with none of the cancellation of E[x x^T] - E[x] E[x]^T in floating point.
        centred = n * self.products.astype(object) - np.outer(sums, sums)
        cov = (centred / (n * n)).astype(np.float64)
        eigvals, eigvecs = principal_components(cov)
        return {"mean": self.sum / n, "std": np.sqrt(np.diag(cov)), "cov": cov,
                "eigvals": eigvals, "eigvecs": eigvecs, "count": n}


def rgb_eigen(images: Iterable[np.ndarray]) -> dict[str, np.ndarray | int]:
    """`PixelStats.finalize()` of a stream of uint8 images (H, W, C) or batches (N, H, W, C)."""
    stats = PixelStats()
    for image in images:
        stats.update(image if image.ndim == 4 else image[None])
    return stats.finalize()


@dataclass
class ImageStats:
    """The mean image of same-size images, plus their pixel statistics."""

    count: int  # images
    image_sum: np.ndarray  # (H, W, C) float64: sum of images
    pixels: PixelStats = field(default_factory=lambda: PixelStats())

    @classmethod
    def empty(cls, height: int, width: int, channels: int) -> "ImageStats":
        return cls(0, np.zeros((height, width, channels)))

    def update(self, images: np.ndarray) -> None:
        """Add a batch of (N, H, W, C) uint8 images of the accumulator's size."""
        self.count += len(images)
        self.image_sum += images.sum(axis=0, dtype=np.float64)
        self.pixels.update(images)

    def merge(self, other: "ImageStats") -> "ImageStats":
        pixels = PixelStats().merge(self.pixels).merge(other.pixels)
        return ImageStats(self.count + other.count, self.image_sum + other.image_sum, pixels)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Shard sections holding the partial sums."""
        channels = self.image_sum.shape[-1]
        p = self.pixels
        return {"stats_count": np.array([self.count, p.count], np.int64), "stats_image_sum": self.image_sum,
                "stats_pixel_sum": p.sum if p.sum is not None else np.zeros(channels, np.int64),
                "stats_pixel_products": p.products if p.products is not None else np.zeros((channels,) * 2, np.int64)}

    @classmethod
    def from_arrays(cls, get: Callable[[str], np.ndarray]) -> "ImageStats":
        """Rebuild from `to_arrays` sections; `get(name)` returns each array."""
        count, pixel_count = (int(c) for c in get("stats_count"))
        pixels = PixelStats()
        if pixel_count:
            pixels._add(pixel_count, np.array(get("stats_pixel_sum")), np.array(get("stats_pixel_products")))
        return cls(count, np.array(get("stats_image_sum")), pixels)

    def finalize(self) -> dict[str, np.ndarray]:
        return {"mean_image": (self.image_sum / max(self.count, 1)).astype(np.float32),
                **self.pixels.finalize(), "count": np.array(self.count), "pixel_count": np.array(self.pixels.count)}
