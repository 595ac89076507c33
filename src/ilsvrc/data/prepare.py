"""Convert any reader's data into the packed format: prepare once, then reading a batch is cheap.

    ilsvrc data prepare fashion-mnist --out data/fashion-mnist
    ilsvrc data prepare /data/imagenet --out data/imagenet-256     # archives read in place

Small images (readers that hold one bulk `images` array: IDX, CIFAR) are stored raw. Large ones
are resized once so the shorter side is 256 (the paper) and re-encoded as JPEG, in parallel
processes. Each finished shard is written atomically with its own checksum and partial
statistics, so re-running resumes: finished shards are verified and kept, the rest redone.
index.json is written last; until it exists the folder does not read as a dataset.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ilsvrc.data import available_splits, detect_kind, open_dataset, resolve
from ilsvrc.data.base import ArrayDataset, Dataset
from ilsvrc.data.images import decode, encode_jpeg, resize_shorter
from ilsvrc.data.readers import packed
from ilsvrc.data.shards import Shard, write_shard
from ilsvrc.data.stats import ImageStats
from ilsvrc.errors import ConfigError, DataError

CHUNK = 32  # images per task handed to a worker process


@dataclass(frozen=True)
class PackOptions:
    shorter_side: int = 256  # encoded storage: resize so the shorter side is this (the paper's 256)
    quality: int = 90  # JPEG quality of re-encoded images
    shard_size: int | None = None  # samples per shard; None: 10000 raw, 2000 encoded
    workers: int | None = None  # decoding processes; None: all cores

    def __post_init__(self):
        if self.shorter_side < 8:
            raise ConfigError(f"--shorter-side must be at least 8, got {self.shorter_side}")
        if not 1 <= self.quality <= 100:
            raise ConfigError(f"--quality must be in 1..100, got {self.quality}")
        if self.shard_size is not None and self.shard_size < 1:
            raise ConfigError(f"--shard-size must be positive, got {self.shard_size}")
        if self.workers is not None and self.workers < 1:
            raise ConfigError(f"--workers must be positive, got {self.workers}")


def prepare(source: str | os.PathLike, out: str | os.PathLike, kind: str | None = None,
            splits: list[str] | None = None, options: PackOptions = PackOptions(), progress: bool = True,
            reader_options: dict | None = None) -> dict:
    """Pack `source` into `out`; returns the index (also written to out/index.json).

    `reader_options` go to the reader (e.g. Caltech's train_per_class, VOC's year, CIFAR-100's label).
    """
    path = resolve(source)
    kind = kind or detect_kind(path)
    out = Path(out)
    reader_options = reader_options or {}
    recipe = {"source": str(path.resolve()), "kind": kind, "reader_options": reader_options, **asdict(options)}
    recipe.pop("workers")
    _check_existing(out, recipe)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.tmp"):
        stale.unlink()  # left by an interrupted run: never valid
    index = {"format": packed.FORMAT, "version": packed.FORMAT_VERSION, "recipe": recipe, "splits": {}}
    for split in splits or available_splits(path, kind):
        ds = open_dataset(path, split, kind, **reader_options)
        index.update(classes=list(ds.classes), class_names=list(ds.class_names), multilabel=ds.multilabel,
                     dataset={"name": getattr(ds, "name", None), "year": getattr(ds, "year", None)})
        index["splits"][split] = _pack_split(ds, out, recipe, options, progress)
    _write_json_atomic(out / packed.INDEX, index)
    return index


def _check_existing(out: Path, recipe: dict) -> None:
    if not (out / packed.INDEX).exists():
        return
    old = packed.read_index(out).get("recipe")
    if old != recipe:
        raise ConfigError(f"{out} already holds a packed dataset made from {old and old.get('source')} with other "
                          "settings; choose another --out or remove it")


def _pack_split(ds: Dataset, out: Path, recipe: dict, options: PackOptions, progress: bool) -> dict:
    raw = isinstance(ds, ArrayDataset)  # small images in one bulk array: stored raw
    size = options.shard_size or (10000 if raw else 2000)
    ranges = [(first, min(first + size, len(ds))) for first in range(0, len(ds), size)]
    start = time.perf_counter()
    bar = tqdm(total=len(ds), desc=f"{ds.split}", unit="img", disable=not progress, dynamic_ncols=True)
    shards, total = [], None
    with _Encoder(ds, options, raw) as encoder:
        for k, (first, end) in enumerate(ranges):
            file = f"{ds.split}-{k:05d}.shard"
            shard = _reuse(out / file, recipe, first, end)
            if shard is None:
                shard = encoder.write(out / file, recipe, first, end, bar)
            else:
                bar.update(end - first)
            stats = ImageStats.from_arrays(shard.section)
            total = stats if total is None else total.merge(stats)
            shards.append({"file": file, "n": end - first, "sha256": shard.checksum()})
    bar.close()
    seconds = time.perf_counter() - start
    return _split_entry(ds, out, raw, shards, total, seconds)


def _reuse(path: Path, recipe: dict, first: int, end: int) -> Shard | None:
    """A shard finished by an earlier run with the same recipe, verified; else None."""
    if not path.exists():
        return None
    try:
        shard = Shard(path)
        shard.verify()
    except DataError:
        return None
    h = shard.header
    if h.get("recipe") != recipe or h.get("first") != first or h.get("n") != end - first:
        return None
    return shard


class _Encoder:
    """Turns samples [first, end) of a dataset into one shard, with worker processes for encoded storage."""

    def __init__(self, ds: Dataset, options: PackOptions, raw: bool):
        self.ds, self.options, self.raw = ds, options, raw
        self.pool = None

    def __enter__(self):
        workers = self.options.workers or os.cpu_count() or 1
        if not self.raw and workers > 1:
            context = multiprocessing.get_context("fork")
            self.pool = context.Pool(workers, initializer=_init_worker, initargs=(self.ds, self.options))
        else:
            _init_worker(self.ds, self.options)
        return self

    def __exit__(self, *exc):
        if self.pool is not None:
            self.pool.terminate() if exc[0] else self.pool.close()
            self.pool.join()

    def write(self, path: Path, recipe: dict, first: int, end: int, bar) -> Shard:
        header = {"recipe": recipe, "split": self.ds.split, "first": first, "n": end - first,
                  "storage": "raw" if self.raw else "jpeg"}
        sections = self._raw(first, end, bar) if self.raw else self._encoded(first, end, bar)
        header["sources"] = sections.pop("sources")
        write_shard(path, header, sections)
        return Shard(path)

    def _raw(self, first: int, end: int, bar) -> dict:
        images = np.ascontiguousarray(self.ds.images[first:end])
        stats = ImageStats.empty(*images.shape[1:])
        stats.update(images)
        bar.update(end - first)
        return {"images": images, **_labels(self.ds, first, end), **stats.to_arrays(),
                "sources": [self.ds.source(i) for i in range(first, end)]}

    def _encoded(self, first: int, end: int, bar) -> dict:
        chunks = [range(i, min(i + CHUNK, end)) for i in range(first, end, CHUNK)]
        results = self.pool.imap(_encode_chunk, chunks) if self.pool else map(_encode_chunk, chunks)
        blobs, sources, stats = [], [], None
        for chunk_blobs, chunk_sources, chunk_stats in results:
            blobs += chunk_blobs
            sources += chunk_sources
            stats = chunk_stats if stats is None else stats.merge(chunk_stats)
            bar.update(len(chunk_blobs))
        offsets = np.zeros(len(blobs) + 1, np.int64)
        offsets[1:] = np.cumsum([len(b) for b in blobs])
        data = np.frombuffer(b"".join(blobs), np.uint8)
        return {"offsets": offsets, "data": data, **_labels(self.ds, first, end), **stats.to_arrays(),
                "sources": sources}


def _labels(ds: Dataset, first: int, end: int) -> dict:
    labels = [ds.label(i) for i in range(first, end)]
    sections = {"labels": np.array(labels, np.uint8 if ds.multilabel else np.int64)}
    if hasattr(ds, "difficult"):
        sections["difficult"] = np.array([ds.difficult(i) for i in range(first, end)], np.uint8)
    return sections


_worker: dict = {}


def _init_worker(ds: Dataset, options: PackOptions) -> None:
    _worker.update(ds=ds, options=options)


def _encode_chunk(indices: range) -> tuple[list[bytes], list[str], ImageStats]:
    """Decode, resize to the training size and re-encode a few images; accumulate their statistics."""
    ds, options = _worker["ds"], _worker["options"]
    side = options.shorter_side
    stats = ImageStats.empty(side, side, 3)
    blobs, sources = [], []
    for i in indices:
        image = resize_shorter(_decode_sample(ds, i, side), side)
        stats.update(_center(image, side)[None])
        blobs.append(encode_jpeg(image, options.quality))
        sources.append(ds.source(i))
    return blobs, sources, stats


def _decode_sample(ds: Dataset, i: int, side: int) -> np.ndarray:
    if hasattr(ds, "raw"):  # encoded bytes: let the JPEG decoder scale down in the DCT
        where = str(ds.path(i)) if hasattr(ds, "path") else ds.source(i)
        image = decode(ds.raw(i), where, draft_shorter=side)
    else:
        image = ds.image(i)
    return np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image


def _center(image: np.ndarray, side: int) -> np.ndarray:
    h, w = image.shape[:2]
    top, left = (h - side) // 2, (w - side) // 2
    return image[top:top + side, left:left + side]


def _split_entry(ds: Dataset, out: Path, raw: bool, shards: list, total: ImageStats, seconds: float) -> dict:
    stats = total.finalize() if total is not None else {}
    stats_file = f"{ds.split}-stats.npz"
    _save_npz_atomic(out / stats_file, stats)
    entry = {"n": len(ds), "classes": len(ds.classes), "storage": "raw" if raw else "jpeg",
             "image_shape": list(ds.images.shape[1:]) if raw else None,
             "shards": shards, "stats_file": stats_file,
             "stats": {k: np.round(stats[k], 6).tolist() for k in ("mean", "std", "eigvals", "eigvecs") if k in stats},
             "prepare_seconds": round(seconds, 3)}
    return entry


def _write_json_atomic(path: Path, obj) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1))
    os.replace(tmp, path)


def _save_npz_atomic(path: Path, arrays: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    os.replace(tmp, path)


def parse_options(pairs: list[str] | None) -> dict:
    """`["train_per_class=15", "year=2007"]` -> {"train_per_class": 15, "year": 2007} (values read as YAML)."""
    import yaml

    options = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--option takes KEY=VALUE, got {pair!r}")
        options[key.replace("-", "_")] = yaml.safe_load(value)
    return options


def prepare_command(source, out, kind=None, splits=None, shorter_side=256, quality=90, shard_size=None,
                    workers=None, option=None) -> int:
    options = PackOptions(shorter_side, quality, shard_size, workers)
    index = prepare(source, out, kind, splits.split(",") if splits else None, options,
                    reader_options=parse_options(option))
    for split, entry in index["splits"].items():
        rate = entry["n"] / max(entry["prepare_seconds"], 1e-9)
        print(f"{split}: {entry['n']} images, {entry['classes']} classes, {entry['storage']} storage, "
              f"{len(entry['shards'])} shard(s), {rate:,.0f} img/s")
    print(f"wrote {out}")
    return 0
