import numpy as np
import pytest

from ilsvrc.data.shards import Shard, write_shard
from ilsvrc.errors import DataError


def _write(tmp_path, name="a.shard"):
    rng = np.random.default_rng(0)
    sections = {"images": rng.integers(0, 256, (5, 7, 3, 1), dtype=np.uint8),
                "labels": np.arange(5, dtype=np.int64), "odd": np.arange(3, dtype=np.float64)}
    digest = write_shard(tmp_path / name, {"split": "train", "sources": list("abcde")}, sections)
    return tmp_path / name, sections, digest


def test_round_trip_sections_and_header(tmp_path):
    path, sections, digest = _write(tmp_path)
    shard = Shard(path)
    for name, array in sections.items():
        np.testing.assert_array_equal(shard.section(name), array)
        assert shard.section(name).dtype == array.dtype
    assert shard.header["sources"] == list("abcde")
    assert shard.checksum() == digest == shard.verify()
    assert not list(tmp_path.glob("*.tmp"))


def test_truncated_shard_is_rejected_with_its_name(tmp_path):
    path, _, _ = _write(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[:-10])
    with pytest.raises(DataError, match=r"a\.shard: truncated or damaged shard"):
        Shard(path)


def test_altered_byte_fails_the_checksum(tmp_path):
    path, _, _ = _write(tmp_path)
    data = bytearray(path.read_bytes())
    data[-60] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match="checksum mismatch"):
        Shard(path).verify()


def test_wrong_magic(tmp_path):
    (tmp_path / "x.shard").write_bytes(b"not a shard at all, just text" * 4)
    with pytest.raises(DataError, match=r"x\.shard: not a packed shard \(bad magic\)"):
        Shard(tmp_path / "x.shard")


def test_sections_are_cached_read_only_views(tmp_path):
    path, sections, _ = _write(tmp_path)
    shard = Shard(path)
    labels = shard.section("labels")
    assert labels is shard.section("labels") and type(labels) is np.ndarray
    with pytest.raises(ValueError, match="read-only"):
        labels[0] = 7
