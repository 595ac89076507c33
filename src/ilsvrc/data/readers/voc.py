"""PASCAL VOC 2007 / 2012 classification: `open_dataset("data/VOCdevkit/VOC2007", "trainval")`.

    ds = ilsvrc.data.readers.voc.open(path, "test")     # path: the parent, VOCdevkit/ or VOCdevkit/VOC2007
    ds.label(i)        # (20,) uint8 multi-hot: 1 where the class is present
    ds.difficult(i)    # (20,) bool: the class is there only as "difficult" objects
    ds.year            # 2007 or 2012, from the folder's name or year= (VOC2007 is scored with 11-point AP)

The devkit's ImageSets/Main/<class>_<split>.txt files give, for every image of a split, one line
"<image id> <flag>": 1 the class is present, -1 absent, 0 present only as difficult objects. As in
the devkit's evaluation, a difficult class is neither a positive nor a negative: its label is 0
and `difficult` marks it so that scoring can ignore it. Images are JPEGImages/<image id>.jpg.
When VOCdevkit holds several years, `year=` picks one. A folder without the per-class files (only
ImageSets/Main/<split>.txt) takes the same flags from Annotations/<image id>.xml, as the devkit derives
them: 1 a non-difficult object of the class, 0 only difficult ones, -1 none.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ilsvrc.data.readers import voc_annotations as annotations
from ilsvrc.data.readers.image_files import ImageFiles
from ilsvrc.errors import ConfigError, DataError

KIND = "voc"
OPTIONS = ("year",)
SPLITS = ("train", "val", "trainval", "test")
CLASSES = ("aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
           "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
           "tvmonitor")
CLASS_NAMES = tuple({"diningtable": "dining table", "pottedplant": "potted plant",
                     "tvmonitor": "tv monitor"}.get(c, c) for c in CLASSES)
FLAGS = {"1": 1, "-1": -1, "0": 0}


def detect(path: Path) -> bool:
    return bool(year_folders(Path(path)))


def _is_year_folder(folder: Path) -> bool:
    return (folder / "ImageSets" / "Main").is_dir() and (folder / "JPEGImages").is_dir()


def year_folders(path: Path) -> list[Path]:
    """VOC<year> folders at `path`: the folder itself, or those in it, in its VOCdevkit, or in
    TrainVal/VOCdevkit (VOC2011's archive, as torchvision extracts it)."""
    if _is_year_folder(path):
        return [path]
    for devkit in (path / "VOCdevkit", path / "TrainVal" / "VOCdevkit", path):
        if devkit.is_dir() and (found := sorted(p for p in devkit.glob("VOC*") if _is_year_folder(p))):
            return found
    return []


def folder_year(folder: Path) -> int | None:
    match = re.fullmatch(r"VOC(\d{4})", folder.absolute().name)
    return int(match[1]) if match else None


def locate(path: Path, year: int | None = None) -> Path:
    """The one VOC<year> folder to read at `path`."""
    found = year_folders(path)
    if not found:
        raise DataError(path, "no PASCAL VOC data (expected VOCdevkit/VOC<year>/ with ImageSets/Main "
                              "and JPEGImages, here or inside)")
    names = ", ".join(f.name for f in found)
    if year is not None:  # a renamed folder (no year in its name) is taken to be of the year given
        found = [f for f in found if folder_year(f) in (year, None)]
        if not found:
            raise DataError(path, f"no VOC{year} (found: {names})")
    if len(found) > 1:
        raise DataError(path, f"holds {names}: choose one with year= or open its folder")
    return found[0]


def _class_file(folder: Path, name: str, split: str) -> Path:
    return folder / "ImageSets" / "Main" / f"{name}_{split}.txt"


def splits(path: Path, year: int | None = None) -> list[str]:
    """The splits with classification labels: those that have <class>_<split>.txt files, or a list of
    image ids <split>.txt and the Annotations/ to take the labels from."""
    folder = locate(Path(path), year)
    return [s for s in SPLITS if _has_class_files(folder, s) or annotations.has_split(folder, s)]


def _has_class_files(folder: Path, split: str) -> bool:
    return any(_class_file(folder, c, split).is_file() for c in CLASSES)


def open(path: Path, split: str = "train", **options) -> "VocDataset":  # noqa: A001 (reader interface)
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ConfigError(f"unknown option(s) for PASCAL VOC: {', '.join(unknown)} (known: {', '.join(OPTIONS)})")
    return VocDataset.from_folder(Path(path), split, **options)


def read_class_file(path: Path) -> tuple[list[str], np.ndarray]:
    """Image ids and their flags (1, -1 or 0) from one <class>_<split>.txt file."""
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        raise DataError(path, "missing") from None
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(path, f"cannot read ({getattr(e, 'strerror', None) or e})") from None
    ids, flags = [], []
    for number, line in enumerate(lines, 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or fields[1] not in FLAGS:
            raise DataError(f"{path}:{number}", f"expected '<image id> <1|-1|0>', got {line!r}")
        ids.append(annotations.check_id(fields[0], f"{path}:{number}"))
        flags.append(FLAGS[fields[1]])
    if not ids:
        raise DataError(path, "lists no images")
    return ids, np.array(flags, np.int8)


def read_flags(folder: Path, split: str) -> tuple[list[str], np.ndarray]:
    """The split's image ids and their (N, 20) flags, checking that every class file lists the same images."""
    first = _class_file(folder, CLASSES[0], split)
    ids, flags = read_class_file(first)
    columns = [flags]
    for name in CLASSES[1:]:
        path = _class_file(folder, name, split)
        other, flags = read_class_file(path)
        _check_same_images(other, ids, path, first)
        columns.append(flags)
    return ids, np.stack(columns, axis=1)


def _check_same_images(ids: list[str], expected: list[str], path: Path, reference: Path) -> None:
    if ids == expected:
        return
    for k, (found, wanted) in enumerate(zip(ids, expected)):
        if found != wanted:
            raise DataError(path, f"image {k + 1} is {found!r} where {reference.name} has {wanted!r}")
    raise DataError(path, f"lists {len(ids)} images where {reference.name} lists {len(expected)}")


class VocDataset(ImageFiles):
    """One split of a VOC year: labels (N, 20) uint8 multi-hot, `difficult` (N, 20) bool."""

    kind = KIND
    marks_difficult = True

    def __init__(self, root: Path, names: list[str], targets: np.ndarray, difficult: np.ndarray, split: str,
                 year: int | None):
        super().__init__(root, names, targets, CLASSES, CLASS_NAMES, split)
        self._difficult = difficult
        self.year = year

    @classmethod
    def from_folder(cls, path: Path, split: str = "train", year: int | None = None) -> "VocDataset":
        folder = locate(path, year)
        available = splits(folder)
        if split not in available:
            raise DataError(folder, f"no split {split!r} (splits: {', '.join(available) or 'none'})")
        images = folder / "JPEGImages"
        ids, flags = (read_flags(folder, split) if _has_class_files(folder, split)
                      else annotations.read_flags(folder, split, CLASSES))
        targets = (flags == 1).astype(np.uint8)
        return cls(images, [f"{i}.jpg" for i in ids], targets, flags == 0, split, folder_year(folder) or year)

    def difficult(self, i: int) -> np.ndarray:
        """(20,) bool: classes present only as difficult objects, to be ignored when scoring."""
        return self._difficult[self._check_index(i)].copy()
