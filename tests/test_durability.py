"""Every file ilsvrc writes goes through files.written_atomically: fsynced before its rename, its folder
after; a full disk (ENOSPC after N bytes, simulated) is one line naming the file, leaves the previous
file intact and no temporary behind."""
import builtins
import errno
import os

import numpy as np
import pytest
import torch

from ilsvrc import files
from ilsvrc.data.shards import Shard, write_shard
from ilsvrc.engine.checkpoint import load_checkpoint, save_checkpoint
from ilsvrc.engine.run_log import RunLog
from ilsvrc.errors import DataError
from ilsvrc.label.votes import write_csv


class FullDisk:
    """open() whose files accept `room` bytes in all, then fail as a full disk does."""

    def __init__(self, room: int):
        self.room = room

    def __call__(self, path, mode="r", **options):
        real = builtins.open(path, mode, **options)
        if "w" not in mode and "a" not in mode:
            return real
        disk = self

        class Limited:
            def __init__(self):
                self._f = real

            def write(self, data):
                size = len(data.encode() if isinstance(data, str) else memoryview(data).cast("B"))
                if size > disk.room:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                disk.room -= size
                return self._f.write(data)

            def __getattr__(self, name):
                return getattr(self._f, name)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self._f.close()

        return Limited()


def _checkpoint(path, value):
    save_checkpoint(path, {"model": {"w": torch.full((64, 64), float(value))}, "model_config": {}, "config": {},
                           "classes": [], "class_names": [], "data_stats": {}})


def _shard(path, value):
    write_shard(path, {"split": "train"}, {"images": np.full((16, 32), value, np.uint8)})


def _index(path, value):
    files.write_json_atomic(path, {"format": "ilsvrc-packed", "value": value, "pad": "x" * 500})


def _metrics(path, value):
    log = RunLog.__new__(RunLog)
    log.path, log.tb = path, None
    if value == 1:
        log._rewrite([["epoch", "loss"]])
    log._rewrite(log._rows() + [[str(value), "0." + "5" * 200]])


def _labels(path, value):
    write_csv(path, ("task", "label"), [(f"t{i}", f"class{value}") for i in range(50)])


def _stats(path, value):
    files.write_npz_atomic(path, {"mean": np.full(300, value, np.float64)})


WRITERS = {"checkpoint": (_checkpoint, "last.pt"), "shard": (_shard, "train-00000.shard"),
           "index": (_index, "index.json"), "metrics": (_metrics, "metrics.csv"),
           "labels": (_labels, "labels.csv"), "stats": (_stats, "train-stats.npz")}


@pytest.mark.parametrize("kind", sorted(WRITERS))
def test_full_disk_keeps_the_previous_file_and_names_this_one(kind, tmp_path, monkeypatch):
    write, name = WRITERS[kind]
    path = tmp_path / name
    write(path, 1)
    before = path.read_bytes()
    monkeypatch.setattr(files, "open", FullDisk(room=100), raising=False)
    with pytest.raises(DataError) as caught:
        write(path, 2)
    assert str(caught.value) == f"{path}: cannot write (No space left on device)"
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]
    monkeypatch.undo()
    write(path, 2)  # room again: the same call succeeds and replaces the file
    assert path.read_bytes() != before


def test_a_full_disk_leaves_the_checkpoint_readable(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    _checkpoint(path, 1)
    monkeypatch.setattr(files, "open", FullDisk(room=5000), raising=False)
    with pytest.raises(DataError):
        _checkpoint(path, 2)
    assert torch.equal(load_checkpoint(path)["model"]["w"], torch.ones(64, 64))


def test_a_full_disk_leaves_the_shard_valid(tmp_path, monkeypatch):
    path = tmp_path / "train-00000.shard"
    _shard(path, 7)
    monkeypatch.setattr(files, "open", FullDisk(room=600), raising=False)
    with pytest.raises(DataError):
        _shard(path, 9)
    shard = Shard(path)
    shard.verify()
    assert (shard.section("images") == 7).all()


def test_the_file_is_synced_before_its_rename_and_the_folder_after(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}"))),
                                                 real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append(("rename", str(a), str(b))),
                                                     real_replace(a, b))[1])
    path = tmp_path / "summary.json"
    files.write_json_atomic(path, {"a": 1})
    tmp = str(tmp_path / "summary.json.tmp")
    assert events == [("fsync", tmp), ("rename", tmp, str(path)), ("fsync", str(tmp_path))]


def test_no_other_module_renames_files_into_place():
    """The one writer: any other os.replace/rename of a written file would bypass its fsyncs."""
    import pathlib
    import re

    root = pathlib.Path(files.__file__).parent
    offenders = [(str(p.relative_to(root)), line.strip()) for p in sorted(root.rglob("*.py")) if p.name != "files.py"
                 for line in p.read_text().splitlines() if re.search(r"os\.replace\(|os\.rename\(|\.rename\(", line)]
    # sources.extract moves whole extracted folders into place (no file content written there)
    assert offenders == [("data/sources.py", "os.replace(entry, target)")]
