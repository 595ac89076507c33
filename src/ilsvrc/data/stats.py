"""Mergeable image statistics: the mean image, per-channel mean/std and the RGB covariance's eigen-decomposition.

    acc = ImageStats.empty(height=256, width=256, channels=3)
    acc.update(images_uint8)            # (N, H, W, C); call per chunk, in any process
    acc = acc.merge(other)              # partial sums add up exactly (float64)
    stats = acc.finalize()              # mean_image, mean, std, cov, eigvals, eigvecs, count

Sums are kept instead of running means so that partial results from parallel workers and from
already-written shards combine exactly, and 1.28M images never need to be held at once.
All values are on the 0..255 pixel scale. The eigenvectors (columns, by descending eigenvalue)
are what the paper's PCA colour lighting perturbs along.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ImageStats:
    count: int  # images
    image_sum: np.ndarray  # (H, W, C) float64: sum of images
    pixel_sum: np.ndarray  # (C,) float64
    pixel_outer: np.ndarray  # (C, C) float64: sum over pixels of x x^T

    @classmethod
    def empty(cls, height: int, width: int, channels: int) -> "ImageStats":
        return cls(0, np.zeros((height, width, channels)), np.zeros(channels), np.zeros((channels, channels)))

    def update(self, images: np.ndarray) -> None:
        """Add a batch of (N, H, W, C) uint8 images of the accumulator's size."""
        self.count += len(images)
        self.image_sum += images.sum(axis=0, dtype=np.float64)
        pixels = images.reshape(-1, images.shape[-1]).astype(np.float32)
        self.pixel_sum += pixels.sum(axis=0, dtype=np.float64)
        self.pixel_outer += (pixels.T.astype(np.float64) @ pixels.astype(np.float64))

    def merge(self, other: "ImageStats") -> "ImageStats":
        return ImageStats(self.count + other.count, self.image_sum + other.image_sum,
                          self.pixel_sum + other.pixel_sum, self.pixel_outer + other.pixel_outer)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"stats_count": np.array([self.count], np.int64), "stats_image_sum": self.image_sum,
                "stats_pixel_sum": self.pixel_sum, "stats_pixel_outer": self.pixel_outer}

    @classmethod
    def from_arrays(cls, get) -> "ImageStats":
        """Rebuild from `to_arrays` sections; `get(name)` returns each array."""
        return cls(int(get("stats_count")[0]), np.array(get("stats_image_sum")),
                   np.array(get("stats_pixel_sum")), np.array(get("stats_pixel_outer")))

    def finalize(self) -> dict[str, np.ndarray]:
        pixels = self.count * self.image_sum.shape[0] * self.image_sum.shape[1]
        mean = self.pixel_sum / max(pixels, 1)
        cov = self.pixel_outer / max(pixels, 1) - np.outer(mean, mean)
        eigvals, eigvecs = np.linalg.eigh(cov)
        order = np.argsort(eigvals)[::-1]
        return {
            "count": np.array(self.count),
            "mean_image": (self.image_sum / max(self.count, 1)).astype(np.float32),
            "mean": mean, "std": np.sqrt(np.clip(np.diag(cov), 0, None)), "cov": cov,
            "eigvals": np.clip(eigvals[order], 0, None), "eigvecs": eigvecs[:, order],
        }
