"""Tiny IDX files for tests, written independently of the reader (header layout from the IDX spec)."""
from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """An IDX file's bytes: magic (0x0000080D for D-dim uint8), D big-endian uint32 sizes, the values."""
    magic = 0x0800 | array.ndim if magic is None else magic
    return struct.pack(f">I{array.ndim}I", magic, *array.shape) + array.astype(np.uint8).tobytes()


def write_idx(path: Path, array: np.ndarray, magic: int | None = None) -> Path:
    data = idx_bytes(array, magic)
    if path.suffix == ".gz":
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def write_split(folder: Path, images: np.ndarray, labels: np.ndarray, stem: str = "train",
                prefix: str = "", gz: bool = False) -> None:
    """images (N, H, W) and labels (N,) as PREFIXstem-images-idx3-ubyte[.gz] and PREFIXstem-labels-idx1-ubyte[.gz]."""
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    write_idx(folder / f"{prefix}{stem}-images-idx3-ubyte{suffix}", images)
    write_idx(folder / f"{prefix}{stem}-labels-idx1-ubyte{suffix}", labels)


def random_split(n: int = 5, h: int = 4, w: int = 3, classes: int = 10, seed: int = 0):
    """Non-square images, so a swapped height and width cannot pass unnoticed."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, h, w), dtype=np.uint8), rng.integers(0, classes, n).astype(np.uint8)
