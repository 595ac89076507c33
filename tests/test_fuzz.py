"""Fuzzing every input format the project reads: hypothesis mutates the bytes of a valid file (flips,
overwrites with 0x00/0xFF, truncation, insertion, deletion, mostly near the header); the only outcomes
allowed are a read that completes or the project's own error (IlsvrcError) in one line. No other
exception, no hang (SIGALRM after TIME_LIMIT_S per example), no memory blow-up (tracemalloc peak).

    pytest tests/test_fuzz.py                 # EXAMPLES per format, derandomized (the default suite)
    pytest tests/test_fuzz.py -m slow -s      # SLOW_EXAMPLES per format, random; prints the counts
"""
from __future__ import annotations

import gzip
import io
import json
import pickle
import shutil
import signal
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from fixtures import idx_bytes
from ilsvrc.config import load_config, preset_path
from ilsvrc.data import open_dataset
from ilsvrc.data.imagenet_synsets import ilsvrc2012_synsets, meta_mat_bytes, read_meta_mat
from ilsvrc.data.prepare import PackOptions, prepare
from ilsvrc.data.readers import cifar, idx, packed, voc, voc_annotations
from ilsvrc.data.readers.ilsvrc2012 import Devkit
from ilsvrc.data.shards import Shard, write_shard
from ilsvrc.data.synth import write_archives
from ilsvrc.data.tar_index import TarIndex
from ilsvrc.engine.checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from ilsvrc.errors import IlsvrcError
from ilsvrc.label.votes import read_votes
from ilsvrc.models import create_model
from ilsvrc.models.registry import config_to_dict

EXAMPLES = 25  # per format in the default suite
SLOW_EXAMPLES = 1000
TIME_LIMIT_S = 10  # a read of these few-kB files takes milliseconds; this is a hang
MEMORY_LIMIT = 256 << 20  # bytes traced at the peak of one read (numpy's arrays included)
COUNTS: dict[str, int] = {}


@st.composite
def mutated(draw, data: bytes) -> bytes:
    """1-4 mutations of `data`, positions biased to the first 128 bytes (headers, magic numbers)."""
    data = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        head = st.integers(0, min(len(data), 128) - 1)
        at = draw(st.one_of(head, st.integers(0, len(data) - 1)))
        op = draw(st.sampled_from(["flip", "zero", "ff", "truncate", "insert", "delete", "word"]))
        if op == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op in ("zero", "ff"):
            n = len(data[at:at + draw(st.integers(1, 8))])
            data[at:at + n] = bytes([0 if op == "zero" else 255]) * n
        elif op == "truncate":
            del data[at:]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del data[at:at + draw(st.integers(1, 16))]
        else:  # a 32-bit field set to an extreme value
            data[at:at + 4] = draw(st.sampled_from([b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"\0\0\0\0",
                                                    b"\x80\0\0\0"]))
    return bytes(data)


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang(f"no result after {TIME_LIMIT_S} s")


def check_outcome(read: Callable[[], object]) -> None:
    """Run one read: it completes, or raises an IlsvrcError of one line; within time and memory."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT_S)
    tracemalloc.start()
    try:
        read()
    except IlsvrcError as e:
        message = str(e)
        assert message and "\n" not in message, f"not one line: {message!r}"
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert peak < MEMORY_LIMIT, f"{peak / 2**20:.0f} MiB traced"


@dataclass
class Format:
    """A file to mutate in place (`target`, restored after each example) and the read to check."""

    target: Path
    read: Callable[[], object]


def _read_all(ds) -> None:
    for i in range(len(ds)):
        ds[i], ds.source(i)


# --- the formats ---------------------------------------------------------------------------------------

def idx_raw(root: Path) -> Format:
    rng = np.random.default_rng(0)
    folder = root / "idx"
    folder.mkdir()
    (folder / "train-images-idx3-ubyte").write_bytes(idx_bytes(rng.integers(0, 256, (4, 5, 3), dtype=np.uint8)))
    (folder / "train-labels-idx1-ubyte").write_bytes(idx_bytes(rng.integers(0, 10, 4).astype(np.uint8)))
    return Format(folder / "train-images-idx3-ubyte", lambda: _read_all(idx.open(folder, "train")))


def idx_labels(root: Path) -> Format:
    fmt = idx_raw(root)
    return Format(fmt.target.with_name("train-labels-idx1-ubyte"), fmt.read)


def idx_gz(root: Path) -> Format:
    rng = np.random.default_rng(1)
    folder = root / "idx-gz"
    folder.mkdir()
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(
        gzip.compress(idx_bytes(rng.integers(0, 256, (4, 5, 3), dtype=np.uint8))))
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.arange(4, dtype=np.uint8))))
    return Format(folder / "t10k-images-idx3-ubyte.gz", lambda: _read_all(idx.open(folder, "test")))


def _cifar10(root: Path, binary: bool, protocol: int = 2) -> Path:
    rng = np.random.default_rng(2)
    folder = root / ("cifar-10-batches-bin" if binary else "cifar-10-batches-py")
    folder.mkdir()
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    for name in [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]:
        labels, rows = rng.integers(0, 10, 2), rng.integers(0, 256, (2, 3072), dtype=np.uint8)
        if binary:
            (folder / f"{name}.bin").write_bytes(np.concatenate([labels[:, None].astype(np.uint8), rows], 1).tobytes())
        else:
            batch = {b"labels": labels.tolist(), b"data": rows, b"filenames": [b"a.png", b"b.png"]}
            (folder / name).write_bytes(pickle.dumps(batch, protocol=protocol))
    if binary:
        (folder / "batches.meta.txt").write_text("\n".join(names) + "\n\n")
    else:
        (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": [n.encode() for n in names]}, protocol))
    return folder


def cifar_binary(root: Path) -> Format:
    folder = _cifar10(root, binary=True)
    return Format(folder / "test_batch.bin", lambda: _read_all(cifar.open(folder, "test")))


def cifar_pickle(root: Path) -> Format:
    folder = _cifar10(root, binary=False)
    return Format(folder / "test_batch", lambda: _read_all(cifar.open(folder, "test")))


def cifar_meta_pickle(root: Path) -> Format:
    fmt = cifar_pickle(root)
    return Format(fmt.target.with_name("batches.meta"), fmt.read)


def _image_bytes(kind: str, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)).save(buffer, format=kind)
    return buffer.getvalue()


def _image_folder(root: Path, kind: str) -> Path:
    folder = root / f"images-{kind}"
    for k, cls in enumerate(("cat", "dog")):
        (folder / cls).mkdir(parents=True)
        (folder / cls / f"{k}.{kind.lower()}").write_bytes(_image_bytes(kind, k))
    return folder


def jpeg_in_folder(root: Path) -> Format:
    folder = _image_folder(root, "JPEG")
    return Format(folder / "cat" / "0.jpeg", lambda: _read_all(open_dataset(folder, "train", kind="folder")))


def png_in_folder(root: Path) -> Format:
    folder = _image_folder(root, "PNG")
    return Format(folder / "dog" / "1.png", lambda: _read_all(open_dataset(folder, "train", kind="folder")))


def _packed(root: Path, source: Path, name: str) -> Path:
    out = root / name
    prepare(source, out, options=PackOptions(shorter_side=8, workers=1))
    return out


def _read_packed(out: Path) -> None:
    for split in packed.read_index(out)["splits"]:
        ds = packed.PackedDataset(out, split)
        _read_all(ds)
        ds.verify()
        ds.stats


def packed_shard(root: Path) -> Format:
    out = _packed(root, idx_raw(root).target.parent, "packed-raw")
    return Format(out / "train-00000.shard", lambda: _read_packed(out))


def packed_index(root: Path) -> Format:
    out = _packed(root, idx_raw(root).target.parent, "packed-index")
    return Format(out / "index.json", lambda: _read_packed(out))


def packed_stats(root: Path) -> Format:
    out = _packed(root, idx_raw(root).target.parent, "packed-stats")
    return Format(out / "train-stats.npz", lambda: _read_packed(out))


def jpeg_in_packed_shard(root: Path) -> Format:
    """The mutation falls on a stored JPEG only; the shard is rewritten around it with a valid checksum."""
    out = _packed(root, _image_folder(root, "JPEG"), "packed-jpeg")
    path = out / "train-00000.shard"
    shard = Shard(path)
    sections = {name: np.array(shard.section(name)) for name in ("labels", "offsets", "data")}
    header = {k: v for k, v in shard.header.items() if k != "sections"}
    first = bytes(sections["data"][sections["offsets"][0]:sections["offsets"][1]])
    stored = root / "stored.jpeg"
    stored.write_bytes(first)
    index = packed.read_index(out)

    def read():
        data = stored.read_bytes()
        rest = sections["data"][sections["offsets"][1]:]
        offsets = np.array([0, len(data), len(data) + len(rest)], sections["offsets"].dtype)
        sha = write_shard(path, header, {"labels": sections["labels"], "offsets": offsets,
                                         "data": np.concatenate([np.frombuffer(data, np.uint8), rest])})
        index["splits"]["train"]["shards"][0].update(sha256=sha, bytes=path.stat().st_size)
        (out / "index.json").write_text(json.dumps(index))
        _read_all(packed.PackedDataset(out, "train"))

    return Format(stored, read)


def _ilsvrc(root: Path) -> Path:
    out = root / "imagenet"
    write_archives(out, classes=2, train_per_class=1, val_per_class=2, seed=0)
    return out


def _read_tar(archive: Path, nested: bool) -> None:
    from ilsvrc.data.images import decode

    index = TarIndex.open(archive, nested=nested, cache=False)
    for i in range(len(index)):
        decode(index.read(i), index.where(i))


def ilsvrc_val_tar(root: Path) -> Format:
    path = _ilsvrc(root) / "ILSVRC2012_img_val.tar"
    return Format(path, lambda: _read_tar(path, nested=False))


def ilsvrc_train_tar(root: Path) -> Format:
    path = _ilsvrc(root) / "ILSVRC2012_img_train.tar"
    return Format(path, lambda: _read_tar(path, nested=True))


def ilsvrc_devkit(root: Path) -> Format:
    path = _ilsvrc(root) / "ILSVRC2012_devkit_t12.tar.gz"
    return Format(path, lambda: (Devkit(path).synsets, Devkit(path).val_ground_truth()))


def meta_mat(root: Path) -> Format:
    path = root / "meta.mat"
    path.write_bytes(meta_mat_bytes(ilsvrc2012_synsets()[:3]))
    return Format(path, lambda: read_meta_mat(path.read_bytes(), str(path)))


def voc_xml(root: Path) -> Format:
    path = root / "000005.xml"
    path.write_text("<annotation><filename>000005.jpg</filename><object><name>dog</name><difficult>0"
                    "</difficult></object><object><name>cat</name><difficult>1</difficult></object></annotation>")
    return Format(path, lambda: voc_annotations.object_flags(path, voc.CLASSES))


def voc_imagesets(root: Path) -> Format:
    path = root / "dog_train.txt"
    path.write_text("000005  1\n000007 -1\n000009  0\n")
    return Format(path, lambda: voc.read_class_file(path))


def votes_csv(root: Path) -> Format:
    path = root / "votes.csv"
    path.write_text("task,worker,label,seconds\nimg1,w1,cat,2.5\nimg1,w2,dog,3\nimg2,w1,dog,1\nimg2,w3,dog,4.25\n")
    return Format(path, lambda: read_votes(path))


def yaml_config(root: Path) -> Format:
    path = root / "config.yaml"
    shutil.copy(preset_path("fashion-mnist-lenet5"), path)
    return Format(path, lambda: load_config(str(path)))


def checkpoint(root: Path) -> Format:
    path = root / "last.pt"
    model = create_model("lenet5", num_classes=3)
    save_checkpoint(path, {"model_config": config_to_dict(model), "model": model.state_dict(), "config": {},
                           "classes": ["a", "b", "c"], "class_names": ["a", "b", "c"], "data_stats": {}})
    return Format(path, lambda: model_from_checkpoint(load_checkpoint(path)))


FORMATS = {f.__name__: f for f in (
    idx_raw, idx_labels, idx_gz, cifar_binary, cifar_pickle, cifar_meta_pickle, jpeg_in_folder, png_in_folder,
    packed_shard, packed_index, packed_stats, jpeg_in_packed_shard, ilsvrc_val_tar, ilsvrc_train_tar,
    ilsvrc_devkit, meta_mat, voc_xml, voc_imagesets, votes_csv, yaml_config, checkpoint)}


def fuzz(name: str, root: Path, examples: int, derandomize: bool) -> int:
    fmt = FORMATS[name](root)
    fmt.read()  # the unmutated file reads
    original = fmt.target.read_bytes()
    count = 0

    @settings(max_examples=examples, deadline=None, derandomize=derandomize, database=None,
              suppress_health_check=list(HealthCheck))
    @given(mutated(original))
    def one(data):
        nonlocal count
        count += 1
        fmt.target.write_bytes(data)
        try:
            check_outcome(fmt.read)
        finally:
            fmt.target.write_bytes(original)

    one()
    COUNTS[name] = count
    return count


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_fuzz(name, tmp_path):
    assert fuzz(name, tmp_path, EXAMPLES, derandomize=True) > 0


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FORMATS))
def test_fuzz_many(name, tmp_path):
    count = fuzz(name, tmp_path, SLOW_EXAMPLES, derandomize=False)
    print(f"fuzz {name}: {count} examples")
