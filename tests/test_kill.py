"""Kill -9 anywhere: `ilsvrc data prepare` and `ilsvrc label aggregate` are killed with SIGKILL at
random moments (half anywhere in an uninterrupted run's duration, half in its writing phase), then
rerun; after every kill each file on disk with a final name reads back (temporaries aside), and the
finished result is byte for byte the uninterrupted run's. 3 kills per command in the default suite,
20 under `slow`."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fixtures import ilsvrc, kill_and_resume, reference_run, writing_into, write_split
from ilsvrc.data.readers import packed
from ilsvrc.data.shards import Shard
from ilsvrc.files import read_npz
from ilsvrc.label.labels_io import read_labels, workers_path
from ilsvrc.label.votes import read_table

VOLATILE = {"prepare_seconds"}  # index fields that time the run


# --- data prepare --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def idx_source(tmp_path_factory):
    root = tmp_path_factory.mktemp("kill-source")
    rng = np.random.default_rng(0)
    write_split(root, rng.integers(0, 256, (40_000, 28, 28), dtype=np.uint8),
                rng.integers(0, 10, 40_000).astype(np.uint8))
    return root


def prepare_command(source: Path, out: Path) -> list[str]:
    return ilsvrc("data", "prepare", source, "--out", out, "--shard-size", 5000, "--workers", 1)


def check_packed_files(out: Path, reference: Path) -> None:
    """Every file with a final name reads (index.json, each shard's checksum, the statistics) and is
    the reference run's file: complete, never a half-written one that happens to parse."""
    if (out / packed.INDEX).exists():
        packed.read_index(out)
    for path in out.glob("*.shard"):
        Shard(path).verify()
    for path in out.glob("*.npz"):
        read_npz(path, "statistics")
    done = packed_result(out, partial=True)
    expected = packed_result(reference)
    assert all(data == expected["files"][name] for name, data in done["files"].items())
    assert done["index"] in (None, expected["index"])


def packed_result(out: Path, partial: bool = False) -> dict:
    """index.json without its timings, and every other file's bytes (temporaries aside when `partial`)."""
    index = None
    if partial and not out.exists():
        return {"index": None, "files": {}}
    if not partial or (out / packed.INDEX).exists():
        index = json.loads((out / packed.INDEX).read_text())
        for entry in index["splits"].values():
            for key in VOLATILE:
                entry.pop(key)
    files = {p.name: p.read_bytes() for p in sorted(out.iterdir())
             if p.name != packed.INDEX and not (partial and p.name.endswith(".tmp"))}
    return {"index": index, "files": files}


def prepare_kills(source: Path, tmp_path: Path, kills: int, seed: int) -> int:
    reference = tmp_path / "reference"
    timing = reference_run(prepare_command(source, reference), writing_into(reference),
                           lambda: (reference / packed.INDEX).exists())
    out = tmp_path / "killed"
    landed = kill_and_resume(prepare_command(source, out), kills, timing, writing_into(out),
                             lambda: check_packed_files(out, reference), seed)
    resumed, expected = packed_result(out), packed_result(reference)
    assert resumed["index"]["splits"]["train"]["shards"] == expected["index"]["splits"]["train"]["shards"]
    assert resumed["index"]["recipe"] == {**expected["index"]["recipe"]}
    assert resumed == expected
    assert not list(out.glob("*.tmp"))
    return landed


def test_prepare_survives_3_kills(idx_source, tmp_path):
    assert prepare_kills(idx_source, tmp_path, kills=3, seed=0) >= 1


@pytest.mark.slow
def test_prepare_survives_20_kills(idx_source, tmp_path):
    landed = prepare_kills(idx_source, tmp_path, kills=20, seed=1)
    print(f"data prepare: {landed} of 20 kills landed; result identical")
    assert landed >= 10


# --- label aggregate -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def votes_file(tmp_path_factory):
    """100,000 answers: 20,000 images, 300 workers, 5 classes, one answer per (image, worker)."""
    path = tmp_path_factory.mktemp("kill-votes") / "votes.csv"
    rng = np.random.default_rng(0)
    tasks = np.repeat(np.arange(20_000), 5)
    workers = np.concatenate([rng.choice(300, 5, replace=False) for _ in range(20_000)])
    truth = rng.integers(0, 5, 20_000)
    right = rng.random(len(tasks)) < 0.7
    labels = np.where(right, truth[tasks], rng.integers(0, 5, len(tasks)))
    rows = "".join(f"t{t},w{w},c{c}\n" for t, w, c in zip(tasks, workers, labels))
    path.write_text("task,worker,label\n" + rows)
    return path


def aggregate_command(votes: Path, out: Path) -> list[str]:
    return ilsvrc("label", "aggregate", votes, "--method", "dawid-skene", "--out", out)


def check_label_files(out: Path, reference: Path) -> None:
    """Each output that exists reads and is the reference run's, whole."""
    for path, expected in ((out, reference), (workers_path(out), workers_path(reference))):
        if path.exists():
            if path == out:
                read_labels(path)
            else:
                read_table(path, ("worker", "skill", "votes"), ())
            assert path.read_bytes() == expected.read_bytes()


def aggregate_kills(votes: Path, tmp_path: Path, kills: int, seed: int) -> int:
    reference = tmp_path / "reference" / "labels.csv"
    reference.parent.mkdir()
    timing = reference_run(aggregate_command(votes, reference), writing_into(reference.parent),
                           lambda: workers_path(reference).exists())
    out = tmp_path / "killed" / "labels.csv"
    out.parent.mkdir()
    landed = kill_and_resume(aggregate_command(votes, out), kills, timing, writing_into(out.parent),
                             lambda: check_label_files(out, reference), seed)
    assert out.read_bytes() == reference.read_bytes()
    assert workers_path(out).read_bytes() == workers_path(reference).read_bytes()
    assert sorted(p.name for p in out.parent.iterdir()) == ["labels.csv", "labels.workers.csv"]
    return landed


def test_aggregate_survives_3_kills(votes_file, tmp_path):
    assert aggregate_kills(votes_file, tmp_path, kills=3, seed=0) >= 1


@pytest.mark.slow
def test_aggregate_survives_20_kills(votes_file, tmp_path):
    landed = aggregate_kills(votes_file, tmp_path, kills=20, seed=1)
    print(f"label aggregate: {landed} of 20 kills landed; result identical")
    assert landed >= 10
