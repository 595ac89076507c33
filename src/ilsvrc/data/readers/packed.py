"""The packed format that training reads: `ilsvrc data prepare` writes it, `open_dataset(DIR, split)` reads it.

    DIR/index.json            format, version, classes, per split: count, storage, shards + checksums + sizes, stats
    DIR/<split>-00000.shard   see ilsvrc.data.shards: labels, sources, and the images
    DIR/<split>-stats.npz     mean image, per-channel mean/std, RGB covariance eigen-decomposition

Small images (MNIST, CIFAR) are stored raw as one (N, H, W, C) uint8 section per shard, so a batch
is a slice of a memory map. Large images are stored once at their training size: as JPEG bytes
of the whole image (shorter side 256) plus an offsets section, decoded with libjpeg-turbo when
read; or raw, like small ones, as the central 256x256 square (`ilsvrc data prepare --storage raw`).
"""
from __future__ import annotations

import bisect
from functools import cached_property
from pathlib import Path

import numpy as np

from ilsvrc.data.base import Dataset
from ilsvrc.data.images import check_pixels
from ilsvrc.data.shards import Shard
from ilsvrc.errors import DataError
from ilsvrc.files import read_json_record, read_npz

KIND = "packed"
INDEX = "index.json"
FILES = (INDEX, "*.shard", "*-stats.npz", "*.tmp")  # all a packed folder holds (.tmp: an interrupted write)
FORMAT = "ilsvrc-packed"
FORMAT_VERSION = 1
# The fields of index.json the readers use, checked when it is read.
INDEX_FIELDS = {"splits": dict, "classes": list, "class_names": list, "recipe": dict}
SPLIT_FIELDS = {"n": int, "classes": int, "storage": str, "shards": list, "stats_file": str, "stats": dict}
SHARD_FIELDS = {"file": str, "n": int, "sha256": str}


def detect(path: Path) -> bool:
    return (Path(path) / INDEX).is_file()


def read_index(root: str | Path) -> dict:
    path = Path(root) / INDEX
    index = read_json_record(path, FORMAT, "packed index",
                             missing="not a packed dataset (run `ilsvrc data prepare` first)")
    if index.get("version") != FORMAT_VERSION:
        raise DataError(path, f"packed format version {index.get('version')}, this ilsvrc reads {FORMAT_VERSION}")
    _check_index(path, index)
    return index


def _check_index(path: Path, index: dict) -> None:
    """Every field the readers use is there, of its type: a hand-edited or damaged index fails here, named."""
    _check_fields(path, index, INDEX_FIELDS, "")
    for split, entry in index["splits"].items():
        _check_fields(path, entry, SPLIT_FIELDS, f"splits.{split}.")
        for k, shard in enumerate(entry["shards"]):
            _check_fields(path, shard, SHARD_FIELDS, f"splits.{split}.shards[{k}].")


def _check_fields(path: Path, record, fields: dict, prefix: str) -> None:
    if not isinstance(record, dict):
        raise DataError(path, f"damaged packed index: {prefix.rstrip('.') or 'the index'} is not a mapping")
    for name, kind in fields.items():
        if not isinstance(record.get(name), kind):
            raise DataError(path, f"damaged packed index: {prefix}{name} is missing or not of type {kind.__name__}")


def splits(path: Path) -> list[str]:
    return list(read_index(path)["splits"])


def open(path: Path, split: str = "train", **options) -> "PackedDataset":  # noqa: A001 (reader interface)
    return PackedDataset(path, split, **options)


class PackedDataset(Dataset):
    kind = KIND

    def __init__(self, root: str | Path, split: str = "train"):
        self.root = Path(root)
        index = read_index(self.root)
        if split not in index["splits"]:
            raise DataError(self.root, f"no split {split!r} (splits: {', '.join(index['splits'])})")
        self.split = split
        self.info = index["splits"][split]
        self.classes = index["classes"]
        self.class_names = index["class_names"]
        self.multilabel = index.get("multilabel", False)
        self.year = index.get("dataset", {}).get("year")  # PASCAL VOC: 2007 scores with 11-point AP
        self.storage = self.info["storage"]
        self._shard_files = [s["file"] for s in self.info["shards"]]
        self._ends = list(np.cumsum([s["n"] for s in self.info["shards"]]))
        self._shards: dict[int, Shard] = {}
        self._check_shard_files()

    def _check_shard_files(self) -> None:
        """A missing or truncated shard fails when the split is opened, not when training first reaches it.
        Only sizes are compared (one stat per shard); `verify()` reads the checksums."""
        for entry in self.info["shards"]:
            path = self.root / entry["file"]
            try:
                size = path.stat().st_size
            except OSError as e:
                raise DataError(path, f"cannot open shard ({e.strerror or e})") from None
            if size != entry.get("bytes", size):
                raise DataError(path, f"truncated or damaged shard: {size} bytes, index.json says {entry['bytes']}")

    def __len__(self) -> int:
        return int(self._ends[-1]) if self._ends else 0

    # Shards are opened lazily, so a dataset handed to DataLoader workers maps files in each worker.
    def _shard(self, k: int) -> Shard:
        if k not in self._shards:
            self._shards[k] = Shard(self.root / self._shard_files[k])
        return self._shards[k]

    def _locate(self, i: int) -> tuple[Shard, int]:
        i = self._check_index(i)
        k = bisect.bisect_right(self._ends, i)
        return self._shard(k), i - (int(self._ends[k - 1]) if k else 0)

    def image(self, i: int) -> np.ndarray:
        image = self.image_view(i)
        return np.array(image) if self.storage == "raw" else image

    def image_view(self, i: int) -> np.ndarray:
        """The i-th image without a protective copy: a read-only view of the memory map (raw storage)
        or a freshly decoded array. The loader crops it straight into the batch: one copy in all."""
        shard, j = self._locate(i)
        if self.storage == "raw":
            return shard.section("images")[j]
        return _decode_jpeg(_stored_jpeg(shard, j), self.root / shard.path.name, j)

    def uniform_shape(self) -> tuple[int, int, int, int] | None:
        """Raw storage keeps every image at one size; JPEG storage keeps the shorter side alone."""
        return (len(self),) + self.image_view(0).shape if self.storage == "raw" and len(self) else None

    def encoded(self, i: int) -> bytes:
        """The stored JPEG bytes of sample i (encoded storage only), for decoders that scale in the DCT."""
        return bytes(_stored_jpeg(*self._locate(i)))

    def label(self, i: int):
        shard, j = self._locate(i)
        label = shard.section("labels")[j]
        return np.array(label) if self.multilabel else int(label)

    def labels(self) -> np.ndarray:
        parts = [self._shard(k).section("labels") for k in range(len(self._shard_files))]
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    def difficult_array(self) -> np.ndarray | None:
        """(N, K) uint8 flags of multi-label data whose reader marks difficult objects (VOC), else None."""
        shards = [self._shard(k) for k in range(len(self._shard_files))]
        if not shards or not shards[0].has("difficult"):
            return None
        return np.concatenate([s.section("difficult") for s in shards])

    def source(self, i: int) -> str:
        shard, j = self._locate(i)
        return shard.header["sources"][j]

    def images_array(self) -> np.ndarray:
        """All images of a raw-storage split as one (N, H, W, C) uint8 array in memory (small datasets)."""
        if self.storage != "raw":
            raise DataError(self.root, f"split {self.split!r} stores encoded images; decode them one by one")
        return np.concatenate([self._shard(k).section("images") for k in range(len(self._shard_files))])

    @cached_property
    def stats(self) -> dict[str, np.ndarray]:
        """mean_image, mean, std, eigvals, eigvecs (pixel scale 0..255) of this split."""
        path = self.root / self.info["stats_file"]
        stats = read_npz(path, "statistics")
        _check_stats(stats, path)
        return stats

    def verify(self) -> None:
        """Recompute every shard's checksum and compare it with the index."""
        for k, entry in enumerate(self.info["shards"]):
            if self._shard(k).verify() != entry["sha256"]:
                raise DataError(self.root / entry["file"], "checksum differs from the one in index.json")


STATS = ("mean_image", "mean", "std", "eigvals", "eigvecs")


def _check_stats(stats: dict[str, np.ndarray], path: Path) -> None:
    """The arrays training reads, with shapes that agree: C channels throughout."""
    missing = [k for k in STATS if k not in stats]
    if missing:
        raise DataError(path, f"no {', '.join(missing)} in the statistics")
    c = stats["mean"].shape[0] if stats["mean"].ndim == 1 else -1
    expected = {"mean": (c,), "std": (c,), "eigvals": (c,), "eigvecs": (c, c)}
    wrong = [k for k, shape in expected.items() if stats[k].shape != shape]
    if c < 1 or wrong or stats["mean_image"].ndim != 3 or stats["mean_image"].shape[2] != c:
        shapes = ", ".join(f"{k} {stats[k].shape}" for k in STATS)
        raise DataError(path, f"statistics of inconsistent shapes ({shapes})")
    if any(stats[k].dtype.kind not in "fiu" for k in STATS):
        raise DataError(path, "statistics that are not numbers")


def _stored_jpeg(shard: Shard, j: int) -> np.ndarray:
    """The JPEG file of a shard's j-th image, as a view of the memory map."""
    offsets = shard.section("offsets")
    return shard.section("data")[offsets[j]:offsets[j + 1]]


def _decode_jpeg(data: bytes | np.ndarray, shard_path: Path, j: int) -> np.ndarray:
    import simplejpeg

    try:
        height, width, colorspace, _ = simplejpeg.decode_jpeg_header(data)
        check_pixels(width, height, f"{shard_path}#{j}")
        if colorspace == "Gray":
            return simplejpeg.decode_jpeg(data, colorspace="GRAY")
        return simplejpeg.decode_jpeg(data, colorspace="RGB")
    except ValueError as e:
        raise DataError(f"{shard_path}#{j}", f"corrupt stored image ({e})") from None
