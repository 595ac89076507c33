"""Named sources: the search path, checksummed atomic downloads (file:// URLs, no network), safe extraction."""
import hashlib
import io
import os
import tarfile
import urllib.request

import numpy as np
import pytest

from fixtures import random_split, write_split
from ilsvrc.cli import main
from ilsvrc.data import sources
from ilsvrc.data.readers import idx
from ilsvrc.data.sources import RemoteFile, Source
from ilsvrc.errors import ConfigError, DataError


@pytest.fixture
def roots(tmp_path, monkeypatch):
    """Isolated search roots: $ILSVRC_DATA, the system folder and the home cache, all under tmp_path."""
    env, system, home = tmp_path / "env", tmp_path / "system", tmp_path / "home"
    monkeypatch.setenv("ILSVRC_DATA", str(env))
    monkeypatch.setattr(sources, "SYSTEM_DATA", system)
    monkeypatch.setenv("HOME", str(home))
    return env, system, home / ".cache" / "ilsvrc"


@pytest.fixture
def offline(monkeypatch):
    """Any attempt to reach the network fails the test."""
    def refuse(url, *args, **kwargs):
        raise AssertionError(f"unexpected download of {url}")
    monkeypatch.setattr(urllib.request, "urlopen", refuse)


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def test_named_sources_carry_published_checksums_and_a_reader():
    assert {"mnist", "fashion-mnist", "cifar10", "cifar100"} <= set(sources.NAMED)
    assert sources.NAMED["mnist"].kind == "idx" and sources.NAMED["cifar100"].kind == "cifar"
    assert sources.NAMED["cifar10"].files[0].md5 == "c58f30108f718f92721af3b95e74349a"
    assert sources.NAMED["mnist"].files[0].urls[0] == \
        "https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz"
    for source in sources.NAMED.values():
        for remote in source.files:
            assert len(remote.md5) == 32 and int(remote.md5, 16) >= 0 and remote.urls


def test_locate_searches_env_then_system_then_cache(roots, offline):
    env, system, cache = roots
    images, labels = random_split()
    for root in (cache, system):
        write_split(root / "mnist", images, labels, "train", gz=True)
        write_split(root / "mnist", images, labels, "t10k", gz=False)  # gunzipped files count too
    assert sources.locate("mnist") == system / "mnist"
    write_split(env / "mnist", images, labels, "train")  # incomplete: no test split
    assert sources.locate("mnist") == system / "mnist"
    write_split(env / "mnist", images, labels, "t10k")
    assert sources.locate("mnist") == env / "mnist"


def test_locate_names_where_it_looked_and_never_downloads(roots, offline):
    env, system, cache = roots
    with pytest.raises(DataError) as e:
        sources.locate("cifar10")
    assert str(e.value) == (f"cifar10: not found (looked in {env / 'cifar10'}, {system / 'cifar10'}, "
                            f"{cache / 'cifar10'}); run `ilsvrc data download cifar10`")
    with pytest.raises(ConfigError, match="^unknown dataset 'imagenet'; choose one of: mnist, fashion-mnist"):
        sources.locate("imagenet")


@pytest.fixture
def tiny_idx(tmp_path, monkeypatch):
    """A named IDX source served from file:// URLs: a dead mirror first, then a good one."""
    served = tmp_path / "served"
    images, labels = random_split()
    write_split(served, images, labels, "train", gz=True)
    write_split(served, images[:2], labels[:2], "t10k", gz=True)
    md5s = {f.name: md5(f.read_bytes()) for f in served.iterdir()}
    source = sources.idx_source("tiny", ((tmp_path / "dead").as_uri() + "/", served.as_uri() + "/"), md5s)
    monkeypatch.setitem(sources.NAMED, "tiny", source)
    return source, images


def test_download_falls_back_to_a_mirror_verifies_and_opens(tmp_path, tiny_idx, roots):
    source, images = tiny_idx
    folder = sources.download("tiny")
    assert folder == roots[0] / "tiny" and sources.locate("tiny") == folder
    assert sorted(p.name for p in folder.iterdir()) == sorted(f.name for f in source.files)  # no .part left
    np.testing.assert_array_equal(idx.open(folder, "train").images[..., 0], images)


def test_download_keeps_verified_files_and_replaces_damaged_ones(tmp_path, tiny_idx, monkeypatch):
    source, _ = tiny_idx
    folder = sources.download("tiny", tmp_path / "data")
    damaged = folder / source.files[0].name
    damaged.write_bytes(b"damaged")
    fetched = []
    real_fetch = sources.fetch
    monkeypatch.setattr(sources, "fetch", lambda remote, f: fetched.append(remote.name) or real_fetch(remote, f))
    sources.download("tiny", tmp_path / "data")
    assert fetched == [damaged.name] and sources.md5_of(damaged) == source.files[0].md5


def test_checksum_mismatch_leaves_nothing(tmp_path):
    (tmp_path / "served.gz").write_bytes(b"the wrong bytes")
    url = (tmp_path / "served.gz").as_uri()
    remote = RemoteFile("file.gz", "0" * 32, (url,))
    (tmp_path / "out").mkdir()
    with pytest.raises(DataError) as e:
        sources.fetch(remote, tmp_path / "out")
    assert str(e.value) == (f"{tmp_path / 'out' / 'file.gz'}: download failed: "
                            f"{url}: MD5 {md5(b'the wrong bytes')} does not match the published {'0' * 32}")
    assert os.listdir(tmp_path / "out") == []


def test_an_interrupted_download_leaves_no_file(tmp_path, monkeypatch):
    (tmp_path / "served").write_bytes(b"x" * 100)
    remote = RemoteFile("file", md5(b"x" * 100), ((tmp_path / "served").as_uri(),))

    def interrupted(response, out, size, label):
        out.write(response.read(10))
        raise KeyboardInterrupt

    monkeypatch.setattr(sources, "copy_with_progress", interrupted)
    (tmp_path / "out").mkdir()
    with pytest.raises(KeyboardInterrupt):
        sources.fetch(remote, tmp_path / "out")
    assert os.listdir(tmp_path / "out") == []


def make_tar(path, members: dict[str, bytes], links: dict[str, str] | None = None):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return path


def test_archive_download_is_extracted(tmp_path, monkeypatch):
    archive = make_tar(tmp_path / "set.tar.gz", {"set/a.bin": b"a", "set/b.bin": b"b"})
    remote = RemoteFile("set.tar.gz", md5(archive.read_bytes()), (archive.as_uri(),))
    monkeypatch.setitem(sources.NAMED, "set", Source("set", "cifar", (remote,), (("set/a.bin",), ("set/b.bin",))))
    folder = sources.download("set", tmp_path / "data")
    assert (folder / "set" / "b.bin").read_bytes() == b"b"
    assert sorted(os.listdir(folder)) == ["set", "set.tar.gz"]  # no staging folder left
    monkeypatch.setattr(urllib.request, "urlopen", None)  # already unpacked: no second download
    assert sources.download("set", tmp_path / "data") == folder


def test_archive_without_the_expected_files_is_reported(tmp_path, monkeypatch):
    archive = make_tar(tmp_path / "set.tar.gz", {"other/a.bin": b"a"})
    remote = RemoteFile("set.tar.gz", md5(archive.read_bytes()), (archive.as_uri(),))
    monkeypatch.setitem(sources.NAMED, "set", Source("set", "cifar", (remote,), (("set/a.bin",),)))
    with pytest.raises(DataError) as e:
        sources.download("set", tmp_path / "data")
    assert str(e.value) == f"{tmp_path / 'data' / 'set'}: downloaded, but missing set/a.bin"


@pytest.mark.parametrize("links, member, problem", [
    ({}, "../escape.txt", "would be written outside the target folder"),
    ({"set/passwd": "/etc/passwd"}, "set/passwd", "is a link to an absolute path"),
    ({"set/up": "../../outside"}, "set/up", "is a link pointing outside the target folder"),
])
def test_hostile_archive_is_refused_and_leaves_nothing(tmp_path, links, member, problem):
    files = {"set/good.txt": b"fine"} | ({} if links else {member: b"gotcha"})
    archive = make_tar(tmp_path / "hostile.tar.gz", files, links)
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(DataError) as e:
        sources.extract(archive, dest)
    assert str(e.value) == f"{archive}: unsafe member {member!r}: {problem}"
    assert os.listdir(dest) == [] and not (tmp_path / "escape.txt").exists()


def test_corrupt_archive(tmp_path):
    archive = tmp_path / "broken.tar.gz"
    archive.write_bytes(b"\x1f\x8b\x08" + bytes(20))
    (tmp_path / "dest").mkdir()
    with pytest.raises(DataError, match=f"^{archive}: corrupt archive \\("):
        sources.extract(archive, tmp_path / "dest")
    assert os.listdir(tmp_path / "dest") == []


def test_download_command(tmp_path, tiny_idx, roots, capsys):
    assert main(["data", "download", "tiny"]) == 0
    assert capsys.readouterr().out == f"tiny: {roots[0] / 'tiny'}\n"
    assert main(["data", "download", "tiny", "--root", str(tmp_path / "elsewhere")]) == 0
    note = "  (not on the search path: open it by this path rather than by the name 'tiny')\n"
    assert capsys.readouterr().out == f"tiny: {tmp_path / 'elsewhere' / 'tiny'}\n" + note
    assert main(["data", "download", "nope"]) == 1
    assert capsys.readouterr().err.startswith("ilsvrc: error: unknown dataset 'nope'; choose one of: mnist,")

