"""ILSVRC-2012 as distributed, read in place: no extraction, no conversion.

    ds = open_dataset("/data/imagenet", "val")     # or `ilsvrc data info /data/imagenet`
    image, label = ds[0]           # (H, W, 3) uint8, index among the sorted wnids
    ds.source(0), ds.raw(0)        # 'ILSVRC2012_val_00000001.JPEG', its encoded bytes

The folder holds the archives as downloaded, an extracted tree, or a mix of both:

    ILSVRC2012_img_train.tar        a tar of 1000 per-synset tars n01440764.tar, ...
    ILSVRC2012_img_val.tar          a flat tar of ILSVRC2012_val_00000001.JPEG .. 00050000
    ILSVRC2012_devkit_t12.tar.gz    data/meta.mat and data/ILSVRC2012_validation_ground_truth.txt
    train/<wnid>/*.JPEG             extracted training set (used instead of the train tar)
    val/*.JPEG or val/<wnid>/*.JPEG extracted validation set, flat (labels from the devkit) or by synset
    ILSVRC2012_devkit_t12/          extracted devkit (used when there is no devkit tar.gz)
    meta.bin                        torchvision's digest of the devkit (class names; val wnids), read
                                    without running code when there is no devkit

Labels are the index of the wnid among the sorted class wnids (the torchvision and Caffe
convention), never the devkit's ILSVRC2012_ID. The classes are the training synsets (the
per-synset tars or folders); without a training split, those of the devkit or the val folders.
Samples are ordered by (label, file name), whatever the storage, so the archives and the
extracted tree give the same dataset.
"""
from __future__ import annotations

import os
import re
import tarfile
import zlib
from functools import cached_property
from pathlib import Path

import numpy as np

from ilsvrc.data.base import Dataset
from ilsvrc.data.images import decode, is_image_name
from ilsvrc.data.imagenet_synsets import (Synset, ilsvrc_ids_to_labels, is_wnid, known_words, leaves,
                                          read_ground_truth, read_meta_bin, read_meta_mat)
from ilsvrc.data.tar_index import TarIndex, check_member_name, check_regular, member_names
from ilsvrc.errors import DataError

KIND = "ilsvrc2012"
SPLITS = ("train", "val")
TRAIN_TAR = "ILSVRC2012_img_train.tar"
VAL_TAR = "ILSVRC2012_img_val.tar"
DEVKIT_TAR = "ILSVRC2012_devkit_t12.tar.gz"
DEVKIT = "ILSVRC2012_devkit_t12"
META_MAT = "data/meta.mat"
VAL_GROUND_TRUTH = "data/ILSVRC2012_validation_ground_truth.txt"
META_BIN = "meta.bin"  # torchvision's ImageNet: wnid -> class names, and the val images' wnids
_ARCHIVES = {"train": TRAIN_TAR, "val": VAL_TAR}
_VAL_NAME = re.compile(r"ILSVRC2012_val_(\d{8})\.JPEG")


def detect(path: Path) -> bool:
    """A folder with any of the three archives, wnid folders under train/ or val/, or val/ plus a devkit."""
    root = Path(path)
    if not root.is_dir():
        return False
    if any((root / name).is_file() for name in (TRAIN_TAR, VAL_TAR, DEVKIT_TAR)):
        return True
    if any(wnid_folders(root / split) for split in SPLITS):
        return True
    return (root / "val").is_dir() and (Devkit.find(root) is not None or (root / META_BIN).is_file())


def splits(path: Path) -> list[str]:
    root = Path(path)
    return [s for s in SPLITS if (root / s).is_dir() or (root / _ARCHIVES[s]).is_file()]


def open(path: Path, split: str = "train", cache_index: bool = True) -> "ILSVRC2012":  # noqa: A001
    return ILSVRC2012(path, split, cache_index)


def wnid_folders(folder: Path) -> list[str]:
    """The sorted wnid-named subfolders of `folder` (none if it is not a folder)."""
    if not folder.is_dir():
        return []
    with os.scandir(folder) as entries:
        return sorted(entry.name for entry in entries if entry.is_dir() and is_wnid(entry.name))


class Devkit:
    """meta.mat and the validation ground truth, from the devkit tar.gz or its extracted folder."""

    def __init__(self, path: Path):
        self.path = path  # the .tar.gz, or the extracted ILSVRC2012_devkit_t12 folder

    @classmethod
    def find(cls, root: Path) -> "Devkit | None":
        for path in (root / DEVKIT_TAR, root / DEVKIT):
            if path.exists():
                return cls(path)
        return None

    def where(self, member: str) -> str:
        return f"{self.path}:{DEVKIT}/{member}" if self.path.is_file() else str(self.path / member)

    def read(self, member: str) -> bytes:
        if self.path.is_dir():
            try:
                return (self.path / member).read_bytes()
            except OSError as e:
                raise DataError(self.path / member, f"cannot read ({e.strerror or e})") from None
        return self._read_from_archive(f"{DEVKIT}/{member}")

    def _read_from_archive(self, name: str) -> bytes:
        try:
            with tarfile.open(self.path, "r:gz") as tar:
                member = tar.getmember(name)
                check_member_name(member.name, str(self.path))
                check_regular(member, str(self.path))
                return tar.extractfile(member).read()
        except KeyError:
            raise DataError(self.path, f"no member {name}") from None
        except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
            raise DataError(self.path, f"not a readable tar.gz ({e})") from None

    @cached_property
    def synsets(self) -> list[Synset]:
        return read_meta_mat(self.read(META_MAT), self.where(META_MAT))

    def val_ground_truth(self) -> np.ndarray:
        """ILSVRC2012_IDs of the validation images, entry k-1 for ILSVRC2012_val_<k>.JPEG."""
        text = self.read(VAL_GROUND_TRUTH).decode("ascii", errors="replace")
        return read_ground_truth(text, self.where(VAL_GROUND_TRUTH))


class Files:
    """Samples stored as files of an extracted tree; the same interface as TarIndex."""

    def __init__(self, paths: list[Path]):
        self.paths = paths
        self.names = np.array([os.fsencode(p.name) for p in paths], dtype=bytes)

    def __len__(self) -> int:
        return len(self.paths)

    def name(self, i: int) -> str:
        return self.paths[i].name

    def where(self, i: int) -> str:
        return str(self.paths[i])

    def read(self, i: int) -> bytes:
        try:
            return self.paths[i].read_bytes()
        except OSError as e:
            raise DataError(self.paths[i], f"cannot read ({e.strerror or e})") from None

    def take(self, order: np.ndarray) -> "Files":
        return Files([self.paths[k] for k in order])


def image_files(folder: Path) -> list[Path]:
    with os.scandir(folder) as entries:  # entry types come with the listing: no stat for each of 1.28M files
        return sorted(Path(entry.path) for entry in entries if entry.is_file() and is_image_name(entry.name))


class ILSVRC2012(Dataset):
    kind = KIND
    keeps_files = True

    def __init__(self, root: str | Path, split: str = "train", cache_index: bool = True):
        self.root, self.split = Path(root), split
        if split not in SPLITS:
            raise DataError(self.root, f"no split {split!r} (ILSVRC-2012 has: {', '.join(SPLITS)})")
        if split not in splits(self.root):
            raise DataError(self.root, f"no {split} split: neither {_ARCHIVES[split]} nor {split}/ is here")
        self.devkit = Devkit.find(self.root)
        self.classes = class_wnids(self.root, self.devkit)
        self.class_names = class_names(self.classes, self.devkit, self.root)
        if split == "train":
            samples, labels = train_samples(self.root, self.classes, cache_index)
        else:
            samples, labels = val_samples(self.root, self.classes, self.devkit, cache_index)
        order = np.lexsort((samples.names, labels))
        self._samples, self._labels = samples.take(order), labels[order]

    def __len__(self) -> int:
        return len(self._labels)

    def raw(self, i: int) -> bytes:
        """The encoded file as stored (JPEG, or the odd PNG named .JPEG)."""
        return self._samples.read(self._check_index(i))

    def image(self, i: int) -> np.ndarray:
        i = self._check_index(i)
        return decode(self._samples.read(i), self._samples.where(i))

    def label(self, i: int) -> int:
        return int(self._labels[self._check_index(i)])

    def labels(self) -> np.ndarray:
        return self._labels.copy()

    def source(self, i: int) -> str:
        return self._samples.name(self._check_index(i))

    def where(self, i: int) -> str:
        """The sample's full location, e.g. '.../ILSVRC2012_img_train.tar:n01440764.tar/n01440764_10026.JPEG'."""
        return self._samples.where(self._check_index(i))


def class_wnids(root: Path, devkit: Devkit | None) -> list[str]:
    """The sorted class wnids: the training synsets, else the val folders, else the devkit's leaves."""
    if (root / "train").is_dir():
        return wnid_folders(root / "train")
    if (root / TRAIN_TAR).is_file():
        archive = root / TRAIN_TAR
        return sorted(synset_tar_wnid(name, archive) for name in member_names(archive))
    if wnid_folders(root / "val"):
        return wnid_folders(root / "val")
    return sorted(leaves(_require(devkit, root).synsets).values())


def class_names(classes: list[str], devkit: Devkit | None, root: Path) -> list[str]:
    """meta.mat's words ('tench, Tinca tinca'), else torchvision's meta.bin's, else the shipped table's,
    else the wnid itself."""
    if devkit:
        words = {s.wnid: s.words for s in devkit.synsets}
    else:
        words = read_meta_bin(root / META_BIN).words if (root / META_BIN).is_file() else {}
    return [words.get(w) or known_words(w) or w for w in classes]


def synset_tar_wnid(name: str, archive: Path) -> str:
    """'n01440764.tar' -> 'n01440764'; the train tar holds nothing else."""
    stem = name[:-len(".tar")] if name.endswith(".tar") else ""
    if not is_wnid(stem):
        raise DataError(archive, f"member {name!r}: expected one tar per synset, named like n01440764.tar")
    return stem


def train_samples(root: Path, classes: list[str], cache: bool) -> tuple[Files | TarIndex, np.ndarray]:
    """The training images and their labels, from train/<wnid>/ or the tar of per-synset tars."""
    index = {wnid: k for k, wnid in enumerate(classes)}
    if (root / "train").is_dir():
        paths = [p for wnid in classes for p in image_files(root / "train" / wnid)]
        return Files(paths), np.array([index[p.parent.name] for p in paths], dtype=np.int64)
    archive = root / TRAIN_TAR
    tars = TarIndex.open(archive, nested=True, cache=cache)
    group_labels = np.array([index[synset_tar_wnid(g.decode(), archive)] for g in tars.group_names], np.int64)
    return tars, group_labels[tars.groups]


def val_samples(root: Path, classes: list[str], devkit: Devkit | None,
                cache: bool) -> tuple[Files | TarIndex, np.ndarray]:
    """The validation images and their labels: from val/<wnid>/, or flat (val/ or the tar) + the devkit."""
    folder = root / "val"
    if wnid_folders(folder):
        index = {wnid: k for k, wnid in enumerate(classes)}
        paths = [p for wnid in wnid_folders(folder) for p in image_files(folder / wnid)]
        labels = [index.get(p.parent.name, -1) for p in paths]
        if -1 in labels:
            wnid = paths[labels.index(-1)].parent.name
            raise DataError(folder / wnid, f"synset {wnid} is not among the {len(classes)} classes")
        return Files(paths), np.array(labels, dtype=np.int64)
    samples = Files(image_files(folder)) if folder.is_dir() else TarIndex.open(root / VAL_TAR, cache=cache)
    if devkit is None and (root / META_BIN).is_file():
        return samples, meta_bin_labels(samples, classes, root / META_BIN)
    return samples, devkit_labels(samples, classes, _require(devkit, root))


def meta_bin_labels(samples: Files | TarIndex, classes: list[str], path: Path) -> np.ndarray:
    """Labels of flat validation files from meta.bin's val_wnids (one per image, in file-name order)."""
    wnids = read_meta_bin(path).val_wnids
    if len(wnids) != len(samples):
        raise DataError(path, f"lists {len(wnids)} validation wnids for {len(samples)} images")
    index = {wnid: k for k, wnid in enumerate(classes)}
    order = np.argsort(samples.names, kind="stable")
    labels = np.empty(len(samples), np.int64)
    for wnid, i in zip(wnids, order):
        if wnid not in index:
            raise DataError(path, f"synset {wnid} is not among the {len(classes)} classes")
        labels[i] = index[wnid]
    return labels


def devkit_labels(samples: Files | TarIndex, classes: list[str], devkit: Devkit) -> np.ndarray:
    """Labels of flat validation files: the ground truth's line k is ILSVRC2012_val_<k>.JPEG's ID."""
    truth = devkit.val_ground_truth()
    lines = np.array([val_number(samples, i) for i in range(len(samples))], dtype=np.int64)
    if len(lines) and lines.max() > len(truth):
        name = samples.name(int(lines.argmax()))
        raise DataError(devkit.where(VAL_GROUND_TRUTH), f"has {len(truth)} lines, none for {name}")
    ids = truth[lines - 1]
    return ilsvrc_ids_to_labels(ids, leaves(devkit.synsets), classes, devkit.where(VAL_GROUND_TRUTH))


def val_number(samples: Files | TarIndex, i: int) -> int:
    """ILSVRC2012_val_00000042.JPEG -> 42."""
    match = _VAL_NAME.fullmatch(samples.name(i))
    if match is None or int(match.group(1)) == 0:
        raise DataError(samples.where(i), "not named like ILSVRC2012_val_00000001.JPEG, so it has no "
                                          "line in the devkit's ground truth")
    return int(match.group(1))


def _require(devkit: Devkit | None, root: Path) -> Devkit:
    if devkit is None:
        raise DataError(root / DEVKIT_TAR, f"missing: the validation labels come from the devkit "
                                           f"({DEVKIT_TAR} or an extracted {DEVKIT}/ folder)")
    return devkit
