"""ILSVRC-2012 archives in the exact layout of the real ones, built from bundled natural photos.

    ilsvrc data synth --out /tmp/imagenet-mini --classes 10 --train-per-class 20 --val-per-class 5
    paths = write_archives("/tmp/imagenet-mini", classes=10)   # {"train": ..., "val": ..., "devkit": ...}

The three files are those of the real download, so every code path that reads ImageNet can be
run and tested without it:

    ILSVRC2012_img_train.tar       a tar of per-synset tars n01440764.tar holding n01440764_<k>.JPEG
    ILSVRC2012_img_val.tar         a flat tar of ILSVRC2012_val_00000001.JPEG ...
    ILSVRC2012_devkit_t12.tar.gz   data/meta.mat (the 1000 leaf synsets, numbered by ILSVRC2012_ID;
                                   the real one also lists the 860 inner nodes of the hierarchy) and
                                   data/ILSVRC2012_validation_ground_truth.txt (IDs, in file-name order)

The synsets are real ILSVRC-2012 ones, chosen at random; the images are random crops, flips and
rescalings of the photos that ship with scikit-image and scikit-learn, at ImageNet-like sizes,
JPEG quality 90. As in the real archives, one file is a PNG named .JPEG, one a CMYK JPEG and one
a grayscale JPEG. The output is the same, byte for byte, for the same arguments. Archives
already in the folder are replaced; each new one appears under its final name only once complete.
"""
from __future__ import annotations

import gzip
import io
import math
import tarfile
from dataclasses import dataclass, replace
from functools import lru_cache
from itertools import groupby
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image
from tqdm import tqdm

from ilsvrc import progress

from ilsvrc.data.images import encode_jpeg
from ilsvrc.data.imagenet_synsets import Synset, ilsvrc2012_synsets, meta_mat_bytes
from ilsvrc.data.readers.ilsvrc2012 import (DEVKIT, DEVKIT_TAR, META_MAT, TRAIN_TAR, VAL_GROUND_TRUTH,
                                          VAL_TAR)
from ilsvrc.errors import ConfigError
from ilsvrc.files import make_output_folder, written_atomically

MTIME = 1335830400  # 1 May 2012, for every tar member and the gzip header: reproducible archives
QUALITY = 90
ODD_KINDS = ("png", "cmyk", "gray")  # formats the real archives hold besides RGB JPEG
ASPECTS = (4 / 3, 4 / 3, 4 / 3, 3 / 4, 3 / 2, 2 / 3, 1.0)  # width / height; 4:3 landscape dominates ImageNet


@dataclass(frozen=True)
class Sample:
    name: str       # member name in its tar
    wnid: str
    photo: int      # which bundled photo it is cut from
    seed: int       # seeds its crop, flip and size
    kind: str       # "jpeg", or one of ODD_KINDS


@dataclass(frozen=True)
class Plan:
    synsets: list[Synset]  # the chosen ones, sorted by wnid (the order of the per-synset tars)
    train: list[Sample]
    val: list[Sample]      # in file-name order


def write_archives(out: str | Path, classes: int = 10, train_per_class: int = 20, val_per_class: int = 5,
                   seed: int = 0) -> dict[str, Path]:
    """Write the train tar, the val tar and the devkit into `out`; returns their paths."""
    check_sizes(classes, train_per_class, val_per_class)
    out = make_output_folder(out)
    remove_previous(out)
    plan = make_plan(classes, train_per_class, val_per_class, seed)
    paths = {"devkit": out / DEVKIT_TAR, "val": out / VAL_TAR, "train": out / TRAIN_TAR}
    with progress.bar(len(plan.train) + len(plan.val), desc="synth", leave=True) as bar:
        with written_atomically(paths["devkit"]) as f:
            write_devkit(f, plan, train_per_class)
        with written_atomically(paths["val"]) as f:
            write_val_tar(f, plan.val, bar)
        with written_atomically(paths["train"]) as f:
            write_train_tar(f, plan, bar)
    return paths


def synth_command(out: str, classes: int, train_per_class: int, val_per_class: int, seed: int) -> int:
    """`ilsvrc data synth`: write the archives, then say what was written."""
    paths = write_archives(out, classes, train_per_class, val_per_class, seed)
    print(f"{classes} synsets, {classes * train_per_class} training and {classes * val_per_class} "
          f"validation images (seed {seed}):")
    for path in paths.values():
        print(f"  {path}  {path.stat().st_size / 1e6:.1f} MB")
    return 0


def check_sizes(classes: int, train_per_class: int, val_per_class: int) -> None:
    if not 1 <= classes <= 1000:
        raise ConfigError(f"--classes must be between 1 and 1000 (ILSVRC-2012 has 1000 synsets), not {classes}")
    if train_per_class < 1:
        raise ConfigError(f"--train-per-class must be at least 1, not {train_per_class}")
    if val_per_class < 0:
        raise ConfigError(f"--val-per-class must be 0 or more, not {val_per_class}")


def remove_previous(out: Path) -> None:
    """Archives of an earlier run must not mix with this run's if this one is interrupted."""
    for name in (TRAIN_TAR, VAL_TAR, DEVKIT_TAR):
        (out / name).unlink(missing_ok=True)


def make_plan(classes: int, train_per_class: int, val_per_class: int, seed: int) -> Plan:
    """Which synsets, which file names, which photo, format and random seed for every image."""
    rng = np.random.default_rng(seed)
    table = ilsvrc2012_synsets()
    chosen = sorted((table[k] for k in rng.choice(len(table), classes, replace=False)), key=lambda s: s.wnid)
    train = [(f"{s.wnid}_{number}.JPEG", c) for c, s in enumerate(chosen)
             for number in _file_numbers(rng, train_per_class)]
    val_classes = rng.permutation(np.repeat(np.arange(classes), val_per_class))
    val = [(f"ILSVRC2012_val_{k + 1:08d}.JPEG", c) for k, c in enumerate(val_classes)]
    kinds = _kinds(len(train) + len(val), rng)
    photos = len(natural_photos())
    samples = [Sample(name, chosen[c].wnid, c % photos, int(rng.integers(2**32)), kind)
               for (name, c), kind in zip(train + val, kinds)]
    return Plan(chosen, samples[:len(train)], samples[len(train):])


def _file_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    # distinct numbers in archive order (not sorted), as n01440764_10026.JPEG in the real tars
    return rng.choice(max(20000, 2 * n), n, replace=False) + 1


def _kinds(n: int, rng: np.random.Generator) -> list[str]:
    """RGB JPEG everywhere but for one PNG, one CMYK and one grayscale file, at random places."""
    kinds = ["jpeg"] * n
    for kind, k in zip(ODD_KINDS, rng.choice(n, min(len(ODD_KINDS), n), replace=False)):
        kinds[k] = kind
    return kinds


@lru_cache(maxsize=1)
def natural_photos() -> tuple[np.ndarray, ...]:
    """The colour photos bundled with scikit-image and scikit-learn (no download)."""
    from skimage import data
    from sklearn.datasets import load_sample_images

    photos = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket(), data.hubble_deep_field(),
              data.stereo_motorcycle()[0]]
    return tuple(photos + list(load_sample_images().images))


def render(sample: Sample) -> bytes:
    """The encoded file of one sample."""
    image = imagenet_like(natural_photos()[sample.photo], np.random.default_rng(sample.seed))
    return encode(image, sample.kind)


def imagenet_like(photo: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random crop of `photo`, maybe mirrored, resized so its longer side is 333..500 pixels."""
    aspect = float(rng.choice(ASPECTS))
    longer = int(rng.integers(333, 501))
    size = (longer, round(longer / aspect)) if aspect >= 1 else (round(longer * aspect), longer)
    h, w = photo.shape[:2]
    crop_w = min(w, h * aspect) * math.sqrt(rng.uniform(0.4, 1.0))  # 40-100% of the largest crop's area
    crop_h = crop_w / aspect
    left, top = rng.uniform(0, w - crop_w), rng.uniform(0, h - crop_h)
    image = Image.fromarray(photo).resize(size, Image.Resampling.BICUBIC,
                                          box=(left, top, left + crop_w, top + crop_h))
    if rng.random() < 0.5:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return np.asarray(image)


def encode(image: np.ndarray, kind: str) -> bytes:
    if kind == "jpeg":
        return encode_jpeg(image, QUALITY)
    if kind == "gray":
        return encode_jpeg(np.asarray(Image.fromarray(image).convert("L"))[:, :, None], QUALITY)
    buffer = io.BytesIO()
    if kind == "png":
        Image.fromarray(image).save(buffer, format="PNG")
    else:  # cmyk: libjpeg-turbo via simplejpeg writes no CMYK, Pillow does
        Image.fromarray(image).convert("CMYK").save(buffer, format="JPEG", quality=QUALITY)
    return buffer.getvalue()


def write_devkit(f: BinaryIO, plan: Plan, train_per_class: int) -> None:
    """The devkit: meta.mat with all 1000 leaf synsets in ILSVRC2012_ID order, and the val ground truth."""
    chosen = {s.wnid for s in plan.synsets}
    synsets = [replace(s, num_train_images=train_per_class if s.wnid in chosen else 0)
               for s in ilsvrc2012_synsets()]
    ids = {s.wnid: s.ilsvrc_id for s in synsets}
    truth = "".join(f"{ids[sample.wnid]}\n" for sample in plan.val)
    with gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=MTIME) as gz, _tar_writer(gz) as tar:
        for folder in (f"{DEVKIT}/", f"{DEVKIT}/data/"):
            tar.addfile(_tar_info(folder, 0, tarfile.DIRTYPE))
        _add(tar, f"{DEVKIT}/{META_MAT}", meta_mat_bytes(synsets))
        _add(tar, f"{DEVKIT}/{VAL_GROUND_TRUTH}", truth.encode())


def write_val_tar(f: BinaryIO, samples: list[Sample], bar: tqdm) -> None:
    with _tar_writer(f) as tar:
        for sample in samples:
            _add(tar, sample.name, render(sample))
            bar.update()


def write_train_tar(f: BinaryIO, plan: Plan, bar: tqdm) -> None:
    """One inner tar per synset, built in memory one at a time, in wnid order."""
    with _tar_writer(f) as outer:
        for wnid, samples in groupby(plan.train, key=lambda s: s.wnid):  # plan.train is in wnid order
            inner = io.BytesIO()
            with _tar_writer(inner) as tar:
                for sample in samples:
                    _add(tar, sample.name, render(sample))
                    bar.update()
            _add(outer, f"{wnid}.tar", inner.getvalue())


def _tar_writer(f: BinaryIO) -> tarfile.TarFile:
    return tarfile.open(fileobj=f, mode="w", format=tarfile.GNU_FORMAT)


def _tar_info(name: str, size: int, kind: bytes = tarfile.REGTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.type, info.mtime = size, kind, MTIME
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    return info


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    tar.addfile(_tar_info(name, len(data)), io.BytesIO(data))

