"""IDX files (MNIST, Fashion-MNIST, KMNIST, EMNIST): `open_dataset("/usr/share/datasets/fashion-mnist", "test")`.

    ds = ilsvrc.data.readers.idx.open(folder, "train")           # or name=, prefix=, classes=, transpose=
    ds.images    # (N, 28, 28, 1) uint8, read-only, the whole split in memory
    ds.targets   # (N,) int64

A folder holds `[PREFIX]{train,t10k,test}-{images-idx3,labels-idx1}-ubyte[.gz]`; EMNIST names its
sets with a prefix (`emnist-letters-train-images-idx3-ubyte.gz`), so a folder may hold several and
`prefix=` picks one. The dataset (and so its class names) is recognised from `name=`, the prefix, or
the folder's name (`fashion-mnist/`, or torchvision's `FashionMNIST/raw/`). torchvision's own paths
open as they are: its root (holding MNIST/raw/, FashionMNIST/raw/, ...) or root/MNIST.

IDX: a big-endian header (magic 0x0000080D: two zero bytes, type 0x08 = unsigned byte, D dimensions,
then D uint32 sizes), then the values in C order. EMNIST stores every image transposed (column-major
relative to MNIST); `transpose=True`, the default for EMNIST, turns them upright.
"""
from __future__ import annotations

import gzip
import math
import re
import string
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ilsvrc.data.base import ArrayDataset
from ilsvrc.errors import ConfigError, DataError

KIND = "idx"
SPLITS = ("train", "test")
OPTIONS = ("name", "prefix", "classes", "transpose")

IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions (N, H, W)
LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension (N,)

# MNIST calls its test split t10k; EMNIST calls it test.
FILE_NAME = re.compile(r"^(?P<prefix>.*?)(?P<stem>train|t10k|test)-(?P<part>images|labels)"
                       r"[-.]idx[13]-ubyte(?P<gz>\.gz)?$")
STEM_SPLIT = {"train": "train", "t10k": "test", "test": "test"}

_MERGED = set("cijklmopsuvwxyz")  # lowercase letters EMNIST merges with their uppercase form
EMNIST_CLASSES = {  # the label order of EMNIST's mapping files, as torchvision names them
    "byclass": sorted(string.digits + string.ascii_letters),
    "bymerge": sorted(set(string.digits + string.ascii_letters) - _MERGED),
    "balanced": sorted(set(string.digits + string.ascii_letters) - _MERGED),
    "letters": ["N/A", *string.ascii_lowercase],  # labels are 1..26; 0 is never used
    "digits": list(string.digits),
    "mnist": list(string.digits),
}
CLASS_NAMES = {
    "mnist": list(string.digits),
    "fashion-mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
    "kmnist": ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"],  # romanised hiragana
}
KNOWN_NAMES = (*CLASS_NAMES, "emnist")


# torchvision's folders under its root: root/<Name>/raw/ holds the files as downloaded
TORCHVISION_FOLDERS = ("MNIST", "FashionMNIST", "KMNIST", "EMNIST")


def detect(path: Path) -> bool:
    return bool(_candidate_folders(Path(path)))


def _holds_images(folder: Path) -> bool:
    return folder.is_dir() and any(p["part"] == "images" for p in _scan(folder).values())


def _candidate_folders(path: Path) -> list[Path]:
    """The folders of IDX files `path` stands for: itself, its raw/ (torchvision's root/MNIST), or
    <Name>/raw/ for each of torchvision's names (torchvision's root)."""
    if not path.is_dir():
        return []
    for folder in (path, path / "raw"):
        if _holds_images(folder):
            return [folder]
    return [path / name / "raw" for name in TORCHVISION_FOLDERS if _holds_images(path / name / "raw")]


def data_folder(path: Path) -> Path:
    """The one folder of IDX files to read at `path`."""
    found = _candidate_folders(path)
    if len(found) > 1:
        names = ", ".join(f.parent.name for f in found)
        raise DataError(path, f"holds {names} (torchvision's folders): open one of them, e.g. {found[0].parent}")
    return found[0] if found else path


def splits(path: Path) -> list[str]:
    """The splits that have both an images and a labels file, under any prefix."""
    parts = {(p["prefix"], STEM_SPLIT[p["stem"]], p["part"]) for p in _scan(data_folder(Path(path))).values()}
    return [s for s in SPLITS
            if any((pre, s, "images") in parts and (pre, s, "labels") in parts for pre, _, _ in parts)]


def open(path: Path, split: str = "train", **options) -> "IdxDataset":  # noqa: A001 (reader interface)
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ConfigError(f"unknown option(s) for IDX data: {', '.join(unknown)} (known: {', '.join(OPTIONS)})")
    return IdxDataset(path, split, **options)


@dataclass(frozen=True)
class IdxFiles:
    """The two files of one split."""

    prefix: str
    images: Path
    labels: Path


def _scan(root: Path) -> dict[str, dict[str, str]]:
    """File name -> its parsed parts, for every IDX file name in `root`."""
    try:
        names = [p.name for p in root.iterdir() if p.is_file()]
    except OSError as e:
        raise DataError(root, f"cannot list folder ({e.strerror or e})") from None
    return {n: m.groupdict() for n in sorted(names) if (m := FILE_NAME.match(n))}


def find_files(root: Path, split: str, prefix: str | None = None) -> IdxFiles:
    """The images and labels files of `split` in `root`; raw files win over .gz (no decompression)."""
    if split not in SPLITS:
        raise DataError(root, f"no split {split!r} (IDX splits: {', '.join(SPLITS)})")
    found = {n: p for n, p in _scan(root).items() if STEM_SPLIT[p["stem"]] == split}
    prefix = _choose_prefix(root, {p["prefix"] for p in found.values()}, prefix)
    by_part = {}
    for name, p in sorted(found.items(), key=lambda item: bool(item[1]["gz"])):
        if p["prefix"] == prefix:
            by_part.setdefault(p["part"], root / name)
    for part, ndim in (("images", 3), ("labels", 1)):
        if part not in by_part:
            names = " or ".join(f"{prefix}{stem}-{part}-idx{ndim}-ubyte[.gz]"
                                for stem, s in STEM_SPLIT.items() if s == split)
            raise DataError(root, f"no {split} {part} file (looked for {names})")
    return IdxFiles(prefix, by_part["images"], by_part["labels"])


def _choose_prefix(root: Path, prefixes: set[str], prefix: str | None) -> str:
    if prefix is not None:
        return prefix
    if len(prefixes) > 1:
        raise DataError(root, f"holds several IDX sets ({', '.join(map(repr, sorted(prefixes)))}); "
                              "choose one with prefix=")
    return next(iter(prefixes), "")


def read_idx(path: Path, magic: int, what: str) -> np.ndarray:
    """The uint8 array of a raw or gzip IDX file, checked against its header before any allocation; a
    .gz is inflated no further than the size its header claims (a gzip bomb stops there)."""
    try:
        if path.suffix != ".gz":
            return parse_idx(path.read_bytes(), path, magic, what)
        with gzip.open(path, "rb") as f:
            head = f.read(4 + 4 * (magic & 0xFF))
            shape, _ = parse_header(head, path, magic, what)
            claimed = math.prod(shape)
            data = head + _read_at_most(f, claimed + 1)
    except EOFError:
        raise DataError(path, "truncated gzip file") from None
    except (gzip.BadGzipFile, zlib.error) as e:
        raise DataError(path, f"corrupt gzip file ({e})") from None
    except OSError as e:
        raise DataError(path, f"cannot read ({e.strerror or e})") from None
    if len(data) - len(head) > claimed:
        raise DataError(path, f"inflates past the {claimed} bytes of {what} its header claims: refused "
                              "(a gzip bomb, or a damaged file)")
    return parse_idx(data, path, magic, what)


def _read_at_most(f, limit: int, chunk: int = 1 << 24) -> bytes:
    # in chunks: f.read(limit) would allocate `limit` bytes up front, whatever a hostile header claims
    parts, size = [], 0
    while size < limit and (part := f.read(min(chunk, limit - size))):
        parts.append(part)
        size += len(part)
    return b"".join(parts)


def parse_header(data: bytes, path: Path, magic: int, what: str) -> tuple[tuple[int, ...], int]:
    """(shape, header length) of an IDX file from its first bytes."""
    if len(data) < 4:
        raise DataError(path, f"too short for an IDX header ({len(data)} bytes)")
    found = int.from_bytes(data[:4], "big")
    ndim = magic & 0xFF
    if found != magic:
        raise DataError(path, f"wrong magic number 0x{found:08X}, expected 0x{magic:08X} "
                              f"(IDX {what}: unsigned bytes, {ndim} dimension{'s' if ndim > 1 else ''})")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(path, f"truncated IDX header ({len(data)} bytes, expected {header})")
    shape = tuple(int.from_bytes(data[4 + 4 * k: 8 + 4 * k], "big") for k in range(ndim))
    if 0 in shape[1:]:
        raise DataError(path, f"header claims zero-sized {what} of {'x'.join(map(str, shape[1:]))}")
    return shape, header


def parse_idx(data: bytes, path: Path, magic: int, what: str) -> np.ndarray:
    """The uint8 array an IDX file holds, checked against its header before any allocation."""
    shape, header = parse_header(data, path, magic, what)
    claimed, held = math.prod(shape), len(data) - header
    if claimed != held:
        size = f" of {'x'.join(map(str, shape[1:]))}" if len(shape) > 1 else ""
        raise DataError(path, f"header claims {shape[0]} {what}{size} but the file holds {held} bytes of "
                              f"{'pixels' if len(shape) > 1 else 'labels'}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def load_images(path: Path) -> np.ndarray:
    """(N, H, W, 1) uint8 from an idx3 file."""
    return read_idx(path, IMAGES_MAGIC, "images")[..., None]


def load_labels(path: Path) -> np.ndarray:
    """(N,) int64 from an idx1 file."""
    return read_idx(path, LABELS_MAGIC, "labels").astype(np.int64)


def dataset_name(root: Path, prefix: str, name: str | None = None) -> str | None:
    """Which known IDX dataset this is: `name`, else the file prefix, else the folder's name."""
    if name is not None:
        if name not in KNOWN_NAMES:
            raise ConfigError(f"unknown IDX dataset name {name!r}; choose one of: {', '.join(KNOWN_NAMES)}")
        return name
    if prefix.startswith("emnist"):
        return "emnist"
    aliases = {re.sub(r"[^a-z]", "", n): n for n in KNOWN_NAMES}
    # torchvision keeps the files in <Name>/raw/, so the parent's name counts too.
    for folder in (root.name, root.parent.name):
        if (key := re.sub(r"[^a-z]", "", folder.lower())) in aliases:
            return aliases[key]
    return None


def class_names(name: str | None, prefix: str, targets: np.ndarray, classes: Sequence[str] | None) -> list[str]:
    """Class names for a dataset: given, known, or "0".."K-1" for the labels present."""
    if classes is not None:
        return list(classes)
    if name == "emnist":
        subset = prefix.removeprefix("emnist-").rstrip("-")
        if subset not in EMNIST_CLASSES:
            raise ConfigError(f"unknown EMNIST set {subset!r} (from prefix {prefix!r}); pass classes=")
        return EMNIST_CLASSES[subset]
    if name in CLASS_NAMES:
        return CLASS_NAMES[name]
    return [str(k) for k in range(int(targets.max(initial=-1)) + 1)]


class IdxDataset(ArrayDataset):
    """One split of an IDX dataset, held in memory as `images` (N, H, W, 1) and `targets` (N,)."""

    kind = KIND

    def __init__(self, root: str | Path, split: str = "train", name: str | None = None,
                 prefix: str | None = None, classes: Sequence[str] | None = None,
                 transpose: bool | None = None):
        self.root = data_folder(Path(root))
        self.split = split
        self.files = find_files(self.root, split, prefix)
        self.name = dataset_name(self.root, self.files.prefix, name)
        self.images = load_images(self.files.images)
        self.targets = load_labels(self.files.labels)
        self._check_counts()
        if transpose is None:
            transpose = self.name == "emnist"
        if transpose:
            self.images = np.ascontiguousarray(self.images.transpose(0, 2, 1, 3))
        self.images.flags.writeable = False
        self.classes = self.class_names = class_names(self.name, self.files.prefix, self.targets, classes)
        self._check_labels()

    def _check_counts(self) -> None:
        if len(self.images) != len(self.targets):
            raise DataError(self.files.labels, f"holds {len(self.targets)} labels but "
                                               f"{self.files.images.name} holds {len(self.images)} images")

    def _check_labels(self) -> None:
        out_of_range = np.flatnonzero(self.targets >= len(self.classes))
        if out_of_range.size:
            i = int(out_of_range[0])
            raise DataError(self.files.labels, f"label {self.targets[i]} at index {i} is out of range "
                                               f"for {len(self.classes)} classes")

    def source(self, i: int) -> str:
        return f"{self.files.images.name}#{self._check_index(i)}"
