"""Hostile files refused in one line, before harm: tar members that are links or devices, a gzip bomb in
an IDX .gz, an image header claiming 100000 x 100000 pixels, YAML tags that construct objects."""
import gzip
import io
import os
import signal
import struct
import tarfile
import zlib

import numpy as np
import pytest
from PIL import Image

from fixtures import idx_bytes
from ilsvrc.config import load_config
from ilsvrc.data import images, imagenet_synsets, tar_index
from ilsvrc.data.prepare import parse_options
from ilsvrc.data.readers import idx
from ilsvrc.data.readers.ilsvrc2012 import Devkit
from ilsvrc.errors import ConfigError, DataError


def _tar(path, member: tarfile.TarInfo, first: bytes = b"x"):
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo("n01440764_1.JPEG")
        info.size = len(first)
        tar.addfile(info, io.BytesIO(first))
        tar.addfile(member)
    return path


def _member(kind: bytes, name="evil", linkname=""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    if kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        info.devmajor, info.devminor = 1, 3
    return info


MEMBERS = {
    "symlink": (_member(tarfile.SYMTYPE, linkname="/etc/passwd"), "a symbolic link (to '/etc/passwd')"),
    "hardlink": (_member(tarfile.LNKTYPE, linkname="n01440764_1.JPEG"), "a hard link (to 'n01440764_1.JPEG')"),
    "char-device": (_member(tarfile.CHRTYPE), "a device"),
    "block-device": (_member(tarfile.BLKTYPE), "a device"),
    "fifo": (_member(tarfile.FIFOTYPE), "a pipe"),
}


@pytest.mark.parametrize("kind", sorted(MEMBERS))
def test_tar_members_that_are_not_files_are_refused(kind, tmp_path):
    member, what = MEMBERS[kind]
    path = _tar(tmp_path / "val.tar", member)
    expected = f"{path}: member 'evil' is {what}, not a regular file: refused"
    for read in (lambda: tar_index.TarIndex.open(path, cache=False), lambda: tar_index.member_names(path)):
        with pytest.raises(DataError) as caught:
            read()
        assert str(caught.value) == expected


def test_a_link_inside_an_inner_tar_is_refused(tmp_path):
    inner = _tar(tmp_path / "n01440764.tar", _member(tarfile.SYMTYPE, linkname="../../x"))
    outer = tmp_path / "train.tar"
    with tarfile.open(outer, "w") as tar:
        tar.add(inner, arcname="n01440764.tar")
    with pytest.raises(DataError) as caught:
        tar_index.TarIndex.open(outer, nested=True, cache=False)
    assert str(caught.value) == (f"{outer}:n01440764.tar: member 'evil' is a symbolic link (to '../../x'), "
                                 "not a regular file: refused")


def test_a_devkit_whose_meta_mat_is_a_link_is_refused(tmp_path):
    path = tmp_path / "ILSVRC2012_devkit_t12.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("secret")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"1234"))
        tar.addfile(_member(tarfile.LNKTYPE, "ILSVRC2012_devkit_t12/data/meta.mat", "secret"))
    with pytest.raises(DataError) as caught:
        Devkit(path).read("data/meta.mat")
    assert str(caught.value) == (f"{path}: member 'ILSVRC2012_devkit_t12/data/meta.mat' is a hard link "
                                 "(to 'secret'), not a regular file: refused")


class CountingGzip(gzip.GzipFile):
    inflated = 0

    def read(self, size=-1):
        data = super().read(size)
        CountingGzip.inflated += len(data)
        return data


def _bomb(path, header_images: int, inflated: int) -> bytes:
    """An images file whose header claims `header_images` 28x28 images but which inflates to `inflated`
    bytes of pixels (zeros compress ~1000:1)."""
    header = struct.pack(">IIII", 0x803, header_images, 28, 28)
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip container
    data = packer.compress(header) + b"".join(packer.compress(bytes(1 << 20)) for _ in range(inflated >> 20))
    path.write_bytes(data + packer.flush())
    return path


def test_a_gzip_bomb_is_refused_without_inflating_past_its_header(tmp_path, monkeypatch):
    path = _bomb(tmp_path / "train-images-idx3-ubyte.gz", header_images=10, inflated=64 << 20)
    assert path.stat().st_size < 100_000
    monkeypatch.setattr(idx.gzip, "open", lambda p, mode: CountingGzip(p, mode))
    with pytest.raises(DataError) as caught:
        idx.load_images(path)
    assert str(caught.value) == (f"{path}: inflates past the 7840 bytes of images its header claims: refused "
                                 "(a gzip bomb, or a damaged file)")
    assert CountingGzip.inflated <= 16 + 7840 + 1


def test_a_gzip_idx_of_the_claimed_size_still_reads(tmp_path):
    images_ = np.arange(2 * 5 * 3, dtype=np.uint8).reshape(2, 5, 3)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(images_)))
    assert np.array_equal(idx.load_images(path)[..., 0], images_)


def test_a_header_claiming_petabytes_is_not_allocated(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(struct.pack(">IIII", 0x803, 0xFFFFFFFF, 0xFFFF, 0xFFFF) + bytes(100)))
    with pytest.raises(DataError) as caught:
        idx.load_images(path)
    assert str(caught.value) == (f"{path}: header claims 4294967295 images of 65535x65535 but the file holds "
                                 "100 bytes of pixels")


def _png_header(width: int, height: int) -> bytes:
    """A PNG signature, an IHDR claiming width x height RGB, one tiny IDAT and IEND."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _jpeg_claiming(width: int, height: int) -> bytes:
    """A real 8x8 JPEG whose frame header (SOF0) is rewritten to claim width x height."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, format="JPEG")
    data = bytearray(buffer.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5: sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


@pytest.mark.parametrize("pillow_limit", ["default", "lifted"])
def test_an_image_claiming_100000_squared_pixels_is_refused_before_decoding(pillow_limit, monkeypatch):
    if pillow_limit == "lifted":  # another library may have set Image.MAX_IMAGE_PIXELS = None
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    with pytest.raises(DataError) as caught:
        images.decode(_png_header(100_000, 100_000), "bomb.png")
    assert str(caught.value).startswith("bomb.png: refused before decoding: ")
    assert "10000000000 pixels" in str(caught.value) or "100000x100000 pixels" in str(caught.value)


def test_a_jpeg_claiming_65000_squared_pixels_is_refused_by_the_packed_reader():
    from ilsvrc.data.readers.packed import _decode_jpeg

    with pytest.raises(DataError) as caught:
        _decode_jpeg(_jpeg_claiming(65_000, 65_000), "p/train-00000.shard", 3)
    assert str(caught.value) == ("p/train-00000.shard#3: refused before decoding: header claims 65000x65000 "
                                 "pixels, over the 178,956,970-pixel limit (a decompression bomb?)")
    assert _decode_jpeg(_jpeg_claiming(8, 8), "p/train-00000.shard", 3).shape == (8, 8, 3)


YAML_TAGS = ["!!python/object/apply:os.system [\"touch {marker}\"]", "!!python/name:os.system",
             "!!python/object/new:subprocess.Popen [[\"touch\", \"{marker}\"]]"]


@pytest.mark.parametrize("tag", YAML_TAGS)
def test_yaml_tags_that_construct_objects_are_refused(tag, tmp_path):
    marker = tmp_path / "ran"
    config = tmp_path / "evil.yaml"
    config.write_text("train:\n  epochs: " + tag.format(marker=marker) + "\n")
    with pytest.raises(ConfigError) as caught:
        load_config(str(config))
    name = tag.split()[0].removeprefix("!!")
    assert str(caught.value) == (f"{config}: refused: the tag 'tag:yaml.org,2002:{name}' would construct an "
                                 "object (a config holds plain values only)")
    with pytest.raises(ConfigError) as caught:
        parse_options(["year=" + tag.format(marker=marker)])
    assert str(caught.value).startswith("--option year: refused: the tag ")
    assert not marker.exists()


def test_a_bad_option_value_is_one_line():
    with pytest.raises(ConfigError) as caught:
        parse_options(["year=[2007"])
    assert str(caught.value) == "--option year: not a valid value (while parsing a flow sequence)"


def _crashes(data: bytes, where: str):
    os.kill(os.getpid(), signal.SIGSEGV)


def test_a_meta_mat_that_crashes_the_mat_reader_is_one_line():
    with pytest.raises(DataError) as caught:
        imagenet_synsets._in_child(_crashes, b"", "meta.mat")
    assert str(caught.value) == "meta.mat: unreadable meta.mat (the MAT reader crashed on it: a damaged file)"
    # a meta.mat found by fuzzing on which scipy 1.17's loadmat dies of SIGSEGV
    data = bytearray(imagenet_synsets.meta_mat_bytes(imagenet_synsets.ilsvrc2012_synsets()[:3]))
    data[944:948] = data[1329:1333] = b"\xff\xff\xff\xff"
    data[1443] = 2
    with pytest.raises(DataError) as caught:
        imagenet_synsets.read_meta_mat(bytes(data), "meta.mat")
    assert str(caught.value).startswith("meta.mat: unreadable meta.mat (")


def test_errors_of_the_mat_reader_come_back_from_its_process_as_they_are():
    with pytest.raises(DataError) as caught:
        imagenet_synsets.read_meta_mat(b"MATLAB", "meta.mat")
    assert str(caught.value) == "meta.mat: unreadable meta.mat (Mat file appears to be truncated)"
    with pytest.raises(ZeroDivisionError):
        imagenet_synsets._in_child(lambda data, where: 1 / 0, b"", "meta.mat")


def test_a_pickle_length_field_is_checked_before_the_unpickler_allocates_it(tmp_path):
    import tracemalloc

    from ilsvrc.data import safe_pickle

    path = tmp_path / "test_batch"
    for opcode in (b"B", b"X", b"T"):  # BINBYTES, BINUNICODE, BINSTRING: 4-byte lengths
        path.write_bytes(b"\x80\x02" + opcode + struct.pack("<I", 0x7FFFFFFF) + b"only a few bytes.")
        tracemalloc.start()
        try:
            with pytest.raises(DataError) as caught:
                safe_pickle.load(path)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert str(caught.value) == f"{path}: corrupt pickle (pickle data was truncated)"
        assert peak < 10 << 20



def peak_traced_bytes(work) -> int:
    import tracemalloc

    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_pickle_memo_index_is_checked_before_the_unpickler_grows_its_memo(tmp_path):
    from ilsvrc.data import safe_pickle

    path = tmp_path / "batches.meta"
    path.write_bytes(b"\x80\x02]r" + struct.pack("<I", 57_000_000) + b".")  # a list, LONG_BINPUT 57M, STOP

    def load():
        with pytest.raises(DataError) as caught:
            safe_pickle.load(path)
        assert str(caught.value) == f"{path}: corrupt pickle (memo index 57000000 out of range)"

    assert peak_traced_bytes(load) < 10 << 20
    path.write_bytes(pickle_of_a_shared_list())  # a pickle that uses its memo still reads
    assert safe_pickle.load(path) == {"a": [1, 2], "b": [1, 2]}


def pickle_of_a_shared_list() -> bytes:
    import pickle

    shared = [1, 2]
    return pickle.dumps({"a": shared, "b": shared}, protocol=2)


def test_a_checkpoint_whose_first_bytes_are_not_a_zip_entry_is_refused_unread(tmp_path):
    import torch

    from ilsvrc.engine.checkpoint import load_checkpoint

    path = tmp_path / "best.pt"
    torch.save({"format": "x"}, path)
    data = path.read_bytes()  # the zip's directory at the end still intact: zipfile.is_zipfile says yes
    path.write_bytes(b"X\xff\xff\xff\xff" + data[5:])  # torch.load would read a 4 GB legacy-pickle string

    def load():
        with pytest.raises(DataError, match="not a readable checkpoint: not a torch archive"):
            load_checkpoint(path)

    assert peak_traced_bytes(load) < 10 << 20

@pytest.mark.parametrize("damage", ["encrypted", "compression"])
def test_an_npz_zipfile_cannot_open_is_one_line(damage, tmp_path):
    """zipfile raises RuntimeError for an encrypted member and NotImplementedError for an unknown
    compression method (found by the slow fuzz run on packed statistics)."""
    from ilsvrc.files import read_npz, write_npz_atomic

    path = tmp_path / "train-stats.npz"
    data = bytearray(write_npz_atomic(path, {"mean": np.zeros(3)}))
    central = data.index(b"PK\x01\x02")  # the central directory entry zipfile trusts
    if damage == "encrypted":
        data[central + 8] |= 1  # general-purpose flag bit 0
    else:
        data[central + 10:central + 12] = struct.pack("<H", 99)  # compression method 99
    path.write_bytes(bytes(data))
    with pytest.raises(DataError) as caught:
        read_npz(path, "statistics")
    assert str(caught.value).startswith(f"{path}: unreadable statistics (")
    assert "\n" not in str(caught.value)
