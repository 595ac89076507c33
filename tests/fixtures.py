"""What the test modules share, built in temporary folders: IDX files written from the spec (independently
of the reader), the learnable toy dataset, image files, small vote tables, a tiny training config.

Test modules import from here, never from one another.
"""
from __future__ import annotations

import gzip
import os
import random
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from ilsvrc.config import load_config
from ilsvrc.data.base import ArrayDataset
from ilsvrc.data.readers import voc
from ilsvrc.label.votes import Votes

# ---- IDX files (header layout from the IDX spec) ----


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """An IDX file's bytes: magic (0x0000080D for D-dim uint8), D big-endian uint32 sizes, the values."""
    magic = 0x0800 | array.ndim if magic is None else magic
    return struct.pack(f">I{array.ndim}I", magic, *array.shape) + array.astype(np.uint8).tobytes()


def write_idx(path: Path, array: np.ndarray, magic: int | None = None) -> Path:
    """One IDX file; gzip-compressed when the name ends in .gz."""
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


# ---- the learnable toy dataset ----


def learnable_images(n: int, classes: int = 10, noise: int = 60, step: int = 19,
                     seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n 28x28 images where class c (= index mod classes) is a brightness band: noise + c * step."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % classes
    images = (rng.integers(0, noise, (n, 28, 28)) + labels[:, None, None] * step).astype(np.uint8)
    return images, labels


def write_learnable_idx(folder: Path, train: int, test: int, **options) -> Path:
    """The toy dataset as IDX files: the first `train` images are the train split, the next `test` t10k."""
    images, labels = learnable_images(train + test, **options)
    write_split(folder, images[:train], labels[:train], "train", gz=True)
    write_split(folder, images[train:], labels[train:], "t10k", gz=True)
    return folder


def packed_learnable(root: Path, train: int, test: int) -> Path:
    """The toy dataset written as IDX files under root/raw and packed into root/packed."""
    from ilsvrc.data.prepare import PackOptions, prepare

    write_learnable_idx(root / "raw", train, test)
    prepare(root / "raw", root / "packed", options=PackOptions())
    return root / "packed"


def packed_large(root: Path, classes: int = 3, train_per_class: int = 6, val_per_class: int = 3,
                 side: int = 40) -> Path:
    """Synthetic ILSVRC-2012 archives under root/archives, packed as JPEGs with a shorter side of `side`
    into root/packed: the large-image (paper) path, small enough for a CPU."""
    from ilsvrc.data.prepare import PackOptions, prepare
    from ilsvrc.data.synth import write_archives

    write_archives(root / "archives", classes=classes, train_per_class=train_per_class, val_per_class=val_per_class)
    prepare(root / "archives", root / "packed", options=PackOptions(shorter_side=side, workers=1))
    return root / "packed"


def tiny_config(packed, epochs: int, **extra):
    """LeNet-5's preset on packed toy data: a few 16-image steps on one thread."""
    sets = [f"data.path={packed}", f"train.epochs={epochs}", "optim.batch_size=16", "train.threads=1",
            "schedule.kind=plateau", "schedule.patience=1", "data.pad=2", "data.flip=true"]
    return load_config("fashion-mnist-lenet5", sets + [f"{k}={v}" for k, v in extra.items()])


# ---- image files (Pillow) ----


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


# ---- votes and in-memory datasets for the labelling tests ----


def votes_from_rows(rows: list[tuple[str, str, str]], classes: list[str]) -> Votes:
    """Votes from (task, worker, label) names, codes numbered by first appearance as read_votes does
    ("unsure" gets the code len(classes), as in a yes/no job)."""
    tasks, workers = {}, {}
    task = [tasks.setdefault(t, len(tasks)) for t, _, _ in rows]
    worker = [workers.setdefault(w, len(workers)) for _, w, _ in rows]
    label = [len(classes) if lab == "unsure" else classes.index(lab) for _, _, lab in rows]
    return Votes(np.array(task, np.int32), np.array(worker, np.int32), np.array(label, np.int32),
                 list(tasks), list(workers), list(classes))


def write_csv_text(path, text: str):
    path.write_text(text)
    return path


class Blobs(ArrayDataset):
    """A labelled in-memory dataset: class c is a 12x12 image of brightness `levels[c]` plus noise."""

    kind = "blobs"

    def __init__(self, per_class: int, levels=(20, 40, 160, 230), seed: int = 0):
        rng = np.random.default_rng(seed)
        self.targets = np.repeat(np.arange(len(levels)), per_class)
        noise = rng.integers(0, 10, (len(self.targets), 12, 12, 1))
        self.images = (np.array(levels)[self.targets][:, None, None, None] + noise).astype(np.uint8)
        self.classes = [f"c{k}" for k in range(len(levels))]
        self.class_names = list(self.classes)
        self.split = "train"

    def source(self, i: int) -> str:
        return f"blob#{i}"


def write_tiny_idx(folder, train_per_class: int = 12, test_per_class: int = 3, classes: int = 10):
    """A learnable IDX dataset (train + t10k) of 28x28 brightness bands, per_class images of each class."""
    return write_learnable_idx(folder, train_per_class * classes, test_per_class * classes, classes=classes,
                               noise=20, step=23)


# ---- Caltech-101 and PASCAL VOC trees ----

CALTECH_SIZES = {"BACKGROUND_Google": 6, "Faces_easy": 7, "accordion": 5, "water_lilly": 9}


def make_caltech(root, sizes=CALTECH_SIZES):
    folder = root / "101_ObjectCategories"
    for k, (name, n) in enumerate(sizes.items()):
        for j in range(n):
            write_image(folder / name / f"image_{j + 1:04d}.jpg", 10 * k + j, size=(8, 6))
    return folder


VOC_SPLIT_IDS = {"train": ["000005", "000007", "000009"], "val": ["000012", "000016"]}


def make_voc(root, year=2007, splits=VOC_SPLIT_IDS, seed=0):
    """VOCdevkit/VOC<year> with random flags per (image, class); returns the year folder and the flags."""
    year_folder = root / "VOCdevkit" / f"VOC{year}"
    main = year_folder / "ImageSets" / "Main"
    main.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    splits = {**splits, "trainval": [i for ids in splits.values() for i in ids]}
    flags = {i: rng.choice([1, -1, 0], size=20) for i in splits["trainval"]}
    for split, ids in splits.items():
        (main / f"{split}.txt").write_text("".join(f"{i}\n" for i in ids))
        for c, name in enumerate(voc.CLASSES):
            # The devkit pads the flag to two characters: "000005 -1", "000007  1".
            (main / f"{name}_{split}.txt").write_text("".join(f"{i} {flags[i][c]:2d}\n" for i in ids))
    for k, i in enumerate(splits["trainval"]):
        write_image(year_folder / "JPEGImages" / f"{i}.jpg", seed + k, size=(10, 8))
    return year_folder, flags


# ---- the kill -9 harness: SIGKILL a command at random moments, then let it finish ----


def ilsvrc(*args: str) -> list[str]:
    return [sys.executable, "-m", "ilsvrc", *map(str, args)]


def _start(command: list[str]) -> subprocess.Popen:
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})


def _wait_for(process: subprocess.Popen, writing) -> float:
    """Poll (every millisecond) until `writing()` or the process ends; the seconds waited."""
    began = time.perf_counter()
    while process.poll() is None and not writing():
        time.sleep(0.001)
    return time.perf_counter() - began


def reference_run(command: list[str], writing, done=None) -> tuple[float, float]:
    """An uninterrupted run: (seconds until it starts writing, seconds until `done()`, or until it
    exits: the span in which kills in the writing phase fall, the interpreter's exit left out)."""
    began = time.perf_counter()
    process = _start(command)
    first_write = _wait_for(process, writing)
    finished = first_write + _wait_for(process, done) if done else None
    assert process.wait() == 0
    return first_write, finished or time.perf_counter() - began


def kill_at(command: list[str], seconds: float, writing=None) -> bool:
    """Start `command` and SIGKILL it `seconds` later (counted from its first write when `writing` is
    given); True if it was still running then."""
    process = _start(command)
    if writing is not None:
        _wait_for(process, writing)
    try:
        process.wait(timeout=seconds)
        return False
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.wait()
        return True


def writing_into(folder: Path):
    """True once a file exists in `folder` (a temporary one, first): the command has started writing."""
    return lambda: folder.is_dir() and any(True for _ in folder.iterdir())


def kill_and_resume(command, kills: int, reference: tuple[float, float], writing, check, seed: int) -> int:
    """`kills` SIGKILLs, then a run to the end; `check()` after each kill. Even kills fall anywhere in
    the reference run's duration, odd ones anywhere in its writing phase (from its first file on), each
    in its own slice of that span. `command`: a command line, or a function giving the one to start
    now (a fresh run, or its resumption); `writing`: a predicate, or a function marked `per_start` that
    makes a fresh one for each start. Returns the kills that landed."""
    line = command if callable(command) else lambda: command
    watch = writing if getattr(writing, "per_start", False) else lambda: writing
    rng = random.Random(seed)
    first_write, total = reference
    landed = 0
    for k in range(kills):
        whole = k % 2 == 0
        slices = (kills + 1) // 2 if whole else kills // 2
        span = total if whole else total - first_write
        at = span * (k // 2 + rng.random()) / slices
        landed += kill_at(line(), at, None if whole else watch())
        check()
    subprocess.run(line(), check=True, capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return landed
