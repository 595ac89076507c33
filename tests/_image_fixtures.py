"""Tiny image files for reader tests, generated with Pillow in a temporary folder."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def pixels(seed: int, size: tuple[int, int] = (12, 9), channels: int = 3) -> np.ndarray:
    """A random (H, W, C) uint8 image; size is (width, height) as Pillow counts it."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)


def write_image(path: Path, seed: int = 0, size: tuple[int, int] = (12, 9), mode: str = "RGB",
                format: str | None = None) -> np.ndarray:
    """Write an image file (format from the extension unless given); returns what a decoder should read back."""
    path.parent.mkdir(parents=True, exist_ok=True)
    array = pixels(seed, size, 1 if mode == "L" else 3)
    image = Image.fromarray(array[:, :, 0] if mode == "L" else array, mode)
    image.save(path, format=format)
    with Image.open(path) as written:  # JPEG is lossy: compare with what was actually stored
        return np.asarray(written.convert("RGB"))
