"""Convert any reader's data into the packed format: prepare once, then reading a batch is cheap.

    ilsvrc data prepare fashion-mnist --out data/fashion-mnist
    ilsvrc data prepare /data/imagenet --out data/imagenet-256     # archives read in place
    ilsvrc data prepare /data/imagenet --out data/imagenet-raw --storage raw   # fastest to train from

Small images (readers that hold one bulk `images` array: IDX, CIFAR) are stored raw. Large ones
are resized once so the shorter side is 256 (the paper), in parallel processes, and stored as
`--storage jpeg` (default): the whole image re-encoded as JPEG, about 25 kB each; or
`--storage raw`: the paper's central 256x256 region as uint8 pixels, 196 kB each (252 GB for
ILSVRC-2012's 1.28M), read by slicing a memory map, without decoding. Each finished shard is
written atomically with its own checksum and partial statistics, so re-running resumes:
finished shards are verified and kept, the rest redone.
index.json is written last; until it exists the folder does not read as a dataset.
"""
from __future__ import annotations

import multiprocessing
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ilsvrc.data import available_splits, detect_kind, open_dataset, resolve
from ilsvrc.data.base import ArrayDataset, Dataset
from ilsvrc.data.images import decode, encode_jpeg, resize_shorter
from ilsvrc.data.pack_options import PackOptions
from ilsvrc.data.readers import packed
from ilsvrc.data.shards import Shard, write_shard
from ilsvrc.data.stats import ImageStats
from ilsvrc.errors import ConfigError, DataError
from ilsvrc import progress
from ilsvrc.files import check_output_folder, make_output_folder, parse_yaml, write_json_atomic, write_npz_atomic

CHUNK = 32  # images per task handed to a worker process
SHARD_BYTES = 100_000_000  # default shard size of large raw images: about 500 of 256x256x3


def prepare(source: str | os.PathLike, out: str | os.PathLike, kind: str | None = None,
            splits: list[str] | None = None, options: PackOptions = PackOptions(),
            reader_options: dict | None = None) -> dict:
    """Pack `source` into `out`; returns the index (also written to out/index.json).

    `reader_options` go to the reader (e.g. Caltech's train_per_class, VOC's year, CIFAR-100's label).
    """
    path = resolve(source)
    kind = kind or detect_kind(path)
    out = Path(out)
    reader_options = reader_options or {}
    recipe = {"source": str(path.resolve()), "kind": kind, "reader_options": reader_options, **options.recipe()}
    _check_existing(out, recipe)
    # Every split is opened (its files found and their headers checked) before anything is written.
    datasets = {split: open_dataset(path, split, kind, **reader_options)
                for split in splits or available_splits(path, kind, **reader_options)}
    return pack_datasets(datasets, out, recipe, options)


def pack_datasets(datasets: dict[str, Dataset], out: Path, recipe: dict, options: PackOptions) -> dict:
    """Pack opened datasets, one per split, into `out` (checked by the caller); index.json last."""
    make_output_folder(out)
    for stale in out.glob("*.tmp"):
        stale.unlink()  # left by an interrupted run: never valid
    index = {"format": packed.FORMAT, "version": packed.FORMAT_VERSION, "recipe": recipe, "splits": {}}
    for split, ds in datasets.items():
        index.update(classes=list(ds.classes), class_names=list(ds.class_names), multilabel=ds.multilabel,
                     dataset={"name": ds.name, "year": ds.year})
        index["splits"][split] = pack_split(ds, out, recipe, options)
    write_json_atomic(out / packed.INDEX, index)
    return index


def _check_existing(out: Path, recipe: dict) -> None:
    """`out` is new, a folder this command was packing (resumed), or one packed with the same recipe."""
    check_output_folder(out, own=packed.FILES)
    if not (out / packed.INDEX).exists():
        return
    old = packed.read_index(out).get("recipe")
    if old != recipe:
        raise ConfigError(f"{out} already holds a packed dataset made from {old and old.get('source')} with other "
                          "settings; choose another --out or remove it")


def _storage(ds: Dataset, options: PackOptions) -> str:
    """Small images in one bulk array are always stored raw; large ones as the options say."""
    return "raw" if isinstance(ds, ArrayDataset) else options.storage


def _default_shard_size(ds: Dataset, options: PackOptions) -> int:
    if isinstance(ds, ArrayDataset):
        return 10000
    return 2000 if options.storage == "jpeg" else SHARD_BYTES // (options.shorter_side ** 2 * 3)


def pack_split(ds: Dataset, out: Path, recipe: dict, options: PackOptions) -> dict:
    """Pack one split into `out` (resuming verified shards); returns its index entry. Also used by label.relabel."""
    size = options.shard_size or _default_shard_size(ds, options)
    ranges = [(first, min(first + size, len(ds))) for first in range(0, len(ds), size)]
    start = time.perf_counter()
    bar = progress.bar(len(ds), desc=f"{ds.split}", leave=True)
    shards, total, skipped = [], None, []
    with _Encoder(ds, options) as encoder:
        for k, (first, end) in enumerate(ranges):
            file = f"{ds.split}-{k:05d}.shard"
            shard = _reuse(out / file, recipe, first, end)
            if shard is None:
                shard = encoder.write(out / file, recipe, first, end, bar)
            else:
                bar.update(end - first)
            stats = ImageStats.from_arrays(shard.section)
            total = stats if total is None else total.merge(stats)
            shards.append({"file": file, "n": shard.header["n"], "sha256": shard.checksum(), "bytes": shard.size})
            skipped += shard.header.get("skipped", [])
    bar.close()
    seconds = time.perf_counter() - start
    return _split_entry(ds, out, options, shards, total, seconds, skipped)


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
    held = h.get("n", -1) + len(h.get("skipped", []))  # images kept and images skipped as undecodable
    if h.get("recipe") != recipe or h.get("first") != first or held != end - first:
        return None
    return shard


class _Encoder:
    """Turns samples [first, end) of a dataset into one shard, with worker processes for large images."""

    def __init__(self, ds: Dataset, options: PackOptions):
        self.ds, self.options = ds, options
        self.bulk = isinstance(ds, ArrayDataset)  # small images, copied as they are
        self.pool = None

    def __enter__(self):
        workers = self.options.workers or os.cpu_count() or 1
        if not self.bulk and workers > 1:
            context = multiprocessing.get_context("fork")
            self.pool = context.Pool(workers, initializer=_init_worker, initargs=(self.ds, self.options))
        else:
            _init_worker(self.ds, self.options)
        return self

    def __exit__(self, *exc):
        if self.pool is not None:
            self.pool.terminate() if exc[0] else self.pool.close()
            self.pool.join()
        _worker.clear()  # without a pool, this process held the dataset (and its open files)

    def write(self, path: Path, recipe: dict, first: int, end: int, bar) -> Shard:
        header = {"recipe": recipe, "split": self.ds.split, "first": first,
                  "storage": _storage(self.ds, self.options)}
        sections = self._bulk(first, end, bar) if self.bulk else self._encoded(first, end, bar)
        header["sources"] = sections.pop("sources")
        header["n"] = len(header["sources"])
        skipped = sections.pop("skipped", [])
        if skipped:  # --on-bad-image skip: what was left out, and why
            header["skipped"] = skipped
        write_shard(path, header, sections)
        return Shard(path)

    def _bulk(self, first: int, end: int, bar) -> dict:
        images = np.ascontiguousarray(self.ds.images[first:end])
        stats = ImageStats.empty(*images.shape[1:])
        stats.update(images)
        bar.update(end - first)
        return {"images": images, **_labels(self.ds, range(first, end)), **stats.to_arrays(),
                "sources": [self.ds.source(i) for i in range(first, end)]}

    def _encoded(self, first: int, end: int, bar) -> dict:
        chunks = [range(i, min(i + CHUNK, end)) for i in range(first, end, CHUNK)]
        results = self.pool.imap(_encode_chunk, chunks) if self.pool else map(_encode_chunk, chunks)
        items, sources, kept, skipped, stats = [], [], [], [], None
        for chunk in results:
            items += chunk.items
            sources += chunk.sources
            kept += chunk.kept
            skipped += chunk.skipped
            stats = chunk.stats if stats is None else stats.merge(chunk.stats)
            bar.update(len(chunk.kept) + len(chunk.skipped))
        side = self.options.shorter_side
        if self.options.storage == "raw":
            images = {"images": np.stack(items) if items else np.zeros((0, side, side, 3), np.uint8)}
        else:
            images = _concatenated(items)
        return {**images, **_labels(self.ds, kept), **stats.to_arrays(), "sources": sources, "skipped": skipped}


def _concatenated(blobs: list[bytes]) -> dict:
    """JPEG files back to back in one `data` section; image k is data[offsets[k]:offsets[k + 1]]."""
    offsets = np.zeros(len(blobs) + 1, np.int64)
    offsets[1:] = np.cumsum([len(b) for b in blobs])
    return {"offsets": offsets, "data": np.frombuffer(b"".join(blobs), np.uint8)}


def _labels(ds: Dataset, indices) -> dict:
    indices = list(indices)
    width = (len(ds.classes),) if ds.multilabel else ()  # multi-hot rows, or one class index each
    labels = np.array([ds.label(i) for i in indices], np.uint8 if ds.multilabel else np.int64)
    sections = {"labels": labels.reshape(len(indices), *width)}
    if ds.marks_difficult:
        difficult = np.array([ds.difficult(i) for i in indices], np.uint8)
        sections["difficult"] = difficult.reshape(len(indices), len(ds.classes))
    return sections


_worker: dict = {}


def _init_worker(ds: Dataset, options: PackOptions) -> None:
    _worker.update(ds=ds, options=options)


@dataclass
class EncodedChunk:
    items: list  # JPEG bytes or (side, side, 3) uint8 squares, of the kept images
    sources: list[str]
    kept: list[int]  # dataset indices of the images packed
    skipped: list[dict]  # {"index", "source", "problem"} of the undecodable ones (--on-bad-image skip)
    stats: ImageStats


def _encode_chunk(indices: range) -> EncodedChunk:
    """Decode and resize a few images to the training size, then re-encode them as JPEG (or keep the
    central square's pixels, for raw storage); accumulate their statistics."""
    ds, options = _worker["ds"], _worker["options"]
    side, raw = options.shorter_side, options.storage == "raw"
    chunk = EncodedChunk([], [], [], [], ImageStats.empty(side, side, 3))
    for i in indices:
        try:
            image = resize_shorter(_decode_sample(ds, i, side), side)
        except DataError as e:
            if options.on_bad_image == "fail":
                raise
            chunk.skipped.append({"index": i, "source": ds.source(i), "problem": e.problem})
            continue
        square = _center(image, side)
        chunk.stats.update(square[None])
        chunk.items.append(np.ascontiguousarray(square) if raw else encode_jpeg(image, options.quality))
        chunk.sources.append(ds.source(i))
        chunk.kept.append(i)
    return chunk


def _decode_sample(ds: Dataset, i: int, side: int) -> np.ndarray:
    if ds.keeps_files:  # encoded bytes: let the JPEG decoder scale down in the DCT
        image = decode(ds.raw(i), ds.where(i), draft_shorter=side)
    else:
        image = ds.image(i)
    return np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image


def _center(image: np.ndarray, side: int) -> np.ndarray:
    h, w = image.shape[:2]
    top, left = (h - side) // 2, (w - side) // 2
    return image[top:top + side, left:left + side]


def _image_shape(ds: Dataset, options: PackOptions) -> list[int] | None:
    """(H, W, C) shared by every image of raw storage; None for JPEG storage, whose sizes vary."""
    if isinstance(ds, ArrayDataset):
        return list(ds.images.shape[1:])
    return [options.shorter_side, options.shorter_side, 3] if options.storage == "raw" else None


def _split_entry(ds: Dataset, out: Path, options: PackOptions, shards: list, total: ImageStats,
                 seconds: float, skipped: list[dict]) -> dict:
    stats = total.finalize() if total is not None else {}
    stats_file = f"{ds.split}-stats.npz"
    write_npz_atomic(out / stats_file, stats)
    entry = {"n": sum(s["n"] for s in shards), "classes": len(ds.classes), "storage": _storage(ds, options),
             "image_shape": _image_shape(ds, options),
             "shards": shards, "stats_file": stats_file,
             "stats": {k: np.round(stats[k], 6).tolist() for k in ("mean", "std", "eigvals", "eigvecs") if k in stats},
             "prepare_seconds": round(seconds, 3)}
    if skipped:
        entry["skipped"] = skipped
    return entry


def parse_options(pairs: list[str] | None) -> dict:
    """`["train_per_class=15", "year=2007"]` -> {"train_per_class": 15, "year": 2007} (values read as YAML)."""
    options = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--option takes KEY=VALUE, got {pair!r}")
        options[key.replace("-", "_")] = parse_yaml(value, f"--option {key}", "not a valid value")
    return options


def prepare_command(source, out, kind=None, splits=None, option=None, **pack_options) -> int:
    """`ilsvrc data prepare`; `pack_options` are PackOptions' fields (their defaults live there alone)."""
    options = PackOptions(**pack_options)
    index = prepare(source, out, kind, splits.split(",") if splits else None, options,
                    reader_options=parse_options(option))
    for split, entry in index["splits"].items():
        rate = entry["n"] / max(entry["prepare_seconds"], 1e-9)
        print(f"{split}: {entry['n']} images, {entry['classes']} classes, {entry['storage']} storage, "
              f"{len(entry['shards'])} shard(s), {rate:,.0f} img/s")
    print(f"wrote {out}")
    return 0
