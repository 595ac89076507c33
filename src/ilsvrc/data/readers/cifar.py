"""CIFAR-10 and CIFAR-100, binary or python version: `open_dataset("data/cifar-10-batches-bin", "test")`.

    ds = ilsvrc.data.readers.cifar.open(folder, "train")     # CIFAR-100: label="fine" (default) or "coarse"
    ds.images    # (N, 32, 32, 3) uint8, read-only, the whole split in memory
    ds.targets   # (N,) int64

`folder` is an extracted archive (cifar-10-batches-bin, cifar-10-batches-py, cifar-100-binary,
cifar-100-python) or the folder holding it; where both versions of one dataset are present the
binary one is read (same arrays, no unpickling).

Binary version: records of <label byte(s)><1024 red><1024 green><1024 blue> bytes, each plane a
32x32 image in row order; CIFAR-100 records carry two label bytes, coarse then fine. Python
version: pickled dicts with a (N, 3072) uint8 b"data" array in the same order, label lists and
b"filenames", read with the restricted unpickler of ilsvrc.data.safe_pickle. Pickles re-written by
Python 3 (str keys; protocol 2, whose bytes go through _codecs.encode) read the same.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ilsvrc.data import safe_pickle
from ilsvrc.data.base import ArrayDataset
from ilsvrc.errors import ConfigError, DataError

KIND = "cifar"
SPLITS = ("train", "test")
OPTIONS = ("label",)
SIDE = 32
PIXELS = SIDE * SIDE * 3  # bytes of one image


@dataclass(frozen=True)
class Layout:
    """One of the four official archives, once extracted."""

    folder: str  # the archive's folder name
    classes: int  # 10 or 100
    binary: bool
    files: dict[str, tuple[str, ...]]  # split -> its batch files, in order
    markers: tuple[str, ...]  # files that identify the layout whatever the folder is called

    @property
    def name(self) -> str:
        return f"CIFAR-{self.classes}"


TEN_BATCHES = tuple(f"data_batch_{k}" for k in range(1, 6))
LAYOUTS = (  # binary first: preferred when both versions of a dataset are present
    Layout("cifar-10-batches-bin", 10, True,
           {"train": tuple(f"{b}.bin" for b in TEN_BATCHES), "test": ("test_batch.bin",)},
           ("data_batch_1.bin", "batches.meta.txt")),
    Layout("cifar-100-binary", 100, True, {"train": ("train.bin",), "test": ("test.bin",)},
           ("train.bin", "fine_label_names.txt")),
    Layout("cifar-10-batches-py", 10, False, {"train": TEN_BATCHES, "test": ("test_batch",)},
           ("batches.meta", "data_batch_1")),
    Layout("cifar-100-python", 100, False, {"train": ("train",), "test": ("test",)},
           ("meta", "train", "test")),
)


def detect(path: Path) -> bool:
    return bool(_candidates(Path(path)))


def splits(path: Path) -> list[str]:
    folder, layout = locate(Path(path))
    return [s for s in SPLITS if all((folder / f).is_file() for f in layout.files[s])]


def open(path: Path, split: str = "train", **options) -> "CifarDataset":  # noqa: A001 (reader interface)
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ConfigError(f"unknown option(s) for CIFAR data: {', '.join(unknown)} (known: {', '.join(OPTIONS)})")
    return CifarDataset(path, split, **options)


def _candidates(path: Path) -> list[tuple[Path, Layout]]:
    """(folder, layout) for `path` itself if it is an extracted archive, else for its archive subfolders."""
    found = [(path, layout) for layout in LAYOUTS if _matches(path, layout)]
    return found or [(path / layout.folder, layout) for layout in LAYOUTS if _matches(path / layout.folder, layout)]


def _matches(folder: Path, layout: Layout) -> bool:
    if not all((folder / m).is_file() for m in layout.markers):
        return False
    return layout.binary or _starts_like_pickle(folder / layout.markers[0])


def _starts_like_pickle(path: Path) -> bool:
    """Protocol 2+ pickles open with the PROTO opcode (0x80); CIFAR's are protocol 2."""
    try:
        with path.open("rb") as f:
            return f.read(1) == b"\x80"
    except OSError:
        return False


def locate(path: Path) -> tuple[Path, Layout]:
    """The extracted archive to read at `path`: the folder itself or one inside it."""
    found = _candidates(path)
    if not found:
        names = ", ".join(layout.folder for layout in LAYOUTS)
        raise DataError(path, f"no CIFAR data (expected one of {names}, or the files inside one)")
    datasets = sorted({layout.name for _, layout in found})
    if len(datasets) > 1:
        folders = ", ".join(folder.name for folder, _ in found)
        raise DataError(path, f"holds both {' and '.join(datasets)} ({folders}); open one of those folders")
    return found[0]


# Per dataset, its label sets: name -> (key in the python version, number of classes). Binary
# records carry one byte per set in this order: CIFAR-100's coarse label comes first.
LABEL_SETS = {10: {"fine": (b"labels", 10)},
              100: {"coarse": (b"coarse_labels", 20), "fine": (b"fine_labels", 100)}}


@dataclass
class Batches:
    """The concatenated content of one split's batch files."""

    images: np.ndarray  # (N, 32, 32, 3) uint8
    labels: dict[str, np.ndarray]  # label set -> (N,) int64
    sources: list[str]


def to_hwc(rows: np.ndarray) -> np.ndarray:
    """(N, 3072) planar rows (all red, all green, all blue) -> (N, 32, 32, 3) images."""
    return np.ascontiguousarray(rows.reshape(-1, 3, SIDE, SIDE).transpose(0, 2, 3, 1))


def read_binary_batch(path: Path, classes: int) -> Batches:
    """One binary batch file: records of one label byte per label set, then 3072 pixel bytes."""
    data = _read_bytes(path)
    sets = LABEL_SETS[classes]
    size = len(sets) + PIXELS
    if not data:
        raise DataError(path, "empty file")
    if len(data) % size:
        raise DataError(path, f"{len(data)} bytes is not a whole number of {size}-byte records "
                              f"(truncated? the last record has {len(data) % size} bytes)")
    records = np.frombuffer(data, np.uint8).reshape(-1, size)
    labels = {name: check_range(records[:, k].astype(np.int64), count, path, key.decode())
              for k, (name, (key, count)) in enumerate(sets.items())}
    sources = [f"{path.name}#{j}" for j in range(len(records))]
    return Batches(to_hwc(records[:, len(sets):]), labels, sources)


def check_range(labels: np.ndarray, classes: int, path: Path, what: str) -> np.ndarray:
    """`labels`, once every one is known to lie in 0..classes-1."""
    bad = np.flatnonzero((labels < 0) | (labels >= classes))
    if bad.size:
        j = int(bad[0])
        raise DataError(path, f"record {j}: {what} value {labels[j]} is out of range 0..{classes - 1}")
    return labels


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise DataError(path, "missing") from None
    except OSError as e:
        raise DataError(path, f"cannot read ({e.strerror or e})") from None


def read_python_batch(path: Path, classes: int) -> Batches:
    """One pickled batch: a dict of b"data" (N, 3072) uint8, label lists and b"filenames"."""
    batch = safe_pickle.load(path)
    if not isinstance(batch, dict):
        raise DataError(path, f"not a CIFAR batch (a pickled {type(batch).__name__}, expected a dict)")
    rows = _entry(batch, b"data", path)
    if not isinstance(rows, np.ndarray) or rows.dtype != np.uint8 or rows.ndim != 2 or rows.shape[1] != PIXELS:
        found = f"{rows.dtype} array of shape {rows.shape}" if isinstance(rows, np.ndarray) else type(rows).__name__
        raise DataError(path, f"'data' is a {found}, expected an (N, {PIXELS}) uint8 array")
    n = len(rows)
    if not n:
        raise DataError(path, "holds no images")
    labels = {name: check_range(_label_list(batch, key, n, path), count, path, key.decode())
              for name, (key, count) in LABEL_SETS[classes].items()}
    names = _entry(batch, b"filenames", path)
    if not isinstance(names, list) or len(names) != n:
        raise DataError(path, f"'filenames' is not a list of {n} names")
    return Batches(to_hwc(rows), labels, [_text(name) for name in names])


def _entry(mapping: dict, key: bytes, path: Path):
    """mapping[key], whether the pickle's keys are Python 2 byte strings or Python 3 str."""
    for candidate in (key, key.decode()):
        if candidate in mapping:
            return mapping[candidate]
    # both spellings were tried, so listing the keys as text cannot contradict the message
    entries = ", ".join(sorted(_text(k) if isinstance(k, (bytes, str)) else repr(k) for k in mapping)) or "none"
    raise DataError(path, f"no {key.decode()!r} entry (entries: {entries})")


def _label_list(batch: dict, key: bytes, n: int, path: Path) -> np.ndarray:
    labels = np.asarray(_entry(batch, key, path))
    if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(path, f"{key.decode()!r} holds {labels.size} {labels.dtype} values, "
                              f"expected {n} integer labels")
    return labels.astype(np.int64)


def _text(value: bytes | str) -> str:
    """Python 2 strings unpickle as bytes under encoding="bytes"."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


# Where each label set's class names live: (binary version's file, python version's file, its key).
NAMES = {
    (10, "fine"): ("batches.meta.txt", "batches.meta", b"label_names"),
    (100, "fine"): ("fine_label_names.txt", "meta", b"fine_label_names"),
    (100, "coarse"): ("coarse_label_names.txt", "meta", b"coarse_label_names"),
}


def read_class_names(folder: Path, layout: Layout, label: str) -> list[str]:
    """The class names of one label set, checked against its number of classes."""
    text_file, meta_file, key = NAMES[(layout.classes, label)]
    path = folder / (text_file if layout.binary else meta_file)
    names = _listed_names(path) if layout.binary else _pickled_names(path, key)
    sets = LABEL_SETS[layout.classes]
    count = sets[label][1]
    if len(names) != count:
        what = f"{label} class names" if len(sets) > 1 else "class names"
        raise DataError(path, f"{len(names)} {what}, {layout.name} has {count}")
    return names


def _listed_names(path: Path) -> list[str]:
    """One name per line; the official files end with blank lines."""
    lines = _read_bytes(path).decode("utf-8", "replace").splitlines()
    return [line.strip() for line in lines if line.strip()]


def _pickled_names(path: Path, key: bytes) -> list[str]:
    meta = safe_pickle.load(path)
    if not isinstance(meta, dict):
        raise DataError(path, f"not a CIFAR meta file (a pickled {type(meta).__name__}, expected a dict)")
    return [_text(name) for name in _entry(meta, key, path)]


def read_split(folder: Path, layout: Layout, split: str) -> Batches:
    read = read_binary_batch if layout.binary else read_python_batch
    batches = [read(folder / f, layout.classes) for f in layout.files[split]]
    return Batches(np.concatenate([b.images for b in batches]),
                   {s: np.concatenate([b.labels[s] for b in batches]) for s in LABEL_SETS[layout.classes]},
                   [s for b in batches for s in b.sources])


class CifarDataset(ArrayDataset):
    """One split of CIFAR-10 or CIFAR-100, held in memory as `images` (N, 32, 32, 3) and `targets` (N,)."""

    kind = KIND

    def __init__(self, root: str | Path, split: str = "train", label: str = "fine"):
        self.root = Path(root)
        self.folder, self.layout = locate(self.root)
        self.name = self.layout.name
        _check_label_option(label, self.layout)
        if split not in SPLITS:
            raise DataError(self.folder, f"no split {split!r} ({self.name} splits: {', '.join(SPLITS)})")
        self.split = split
        self.label_set = label
        self.classes = read_class_names(self.folder, self.layout, label)
        self.class_names = [c.replace("_", " ") for c in self.classes]
        batches = read_split(self.folder, self.layout, split)
        self.images = batches.images
        self.images.flags.writeable = False
        self.targets = batches.labels[label]
        self._sources = batches.sources

    def source(self, i: int) -> str:
        return self._sources[self._check_index(i)]


def _check_label_option(label: str, layout: Layout) -> None:
    if label not in ("fine", "coarse"):
        raise ConfigError(f"label must be 'fine' or 'coarse', got {label!r}")
    if label not in LABEL_SETS[layout.classes]:
        raise ConfigError(f"label={label!r} needs CIFAR-100; {layout.name} has one label set")

