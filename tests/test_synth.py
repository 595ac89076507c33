"""Synthetic ILSVRC-2012 archives: the real layout, a real meta.mat, reproducible, written atomically."""
import hashlib
import io
import re
import tarfile
from pathlib import Path

import pytest
import scipy.io
from PIL import Image

from ilsvrc.cli import main
from ilsvrc.data import synth
from ilsvrc.data.imagenet_synsets import (META_FIELDS, Synset, ilsvrc2012_synsets, meta_mat_bytes,
                                          read_meta_mat)
from ilsvrc.data.synth import write_archives
from ilsvrc.errors import ConfigError

WORDNET_NOUNS = Path("/usr/share/wordnet/data.noun")
DEVKIT = "ILSVRC2012_devkit_t12"


@pytest.fixture(scope="module")
def archives(tmp_path_factory):
    return write_archives(tmp_path_factory.mktemp("synth"), classes=4, train_per_class=3, val_per_class=2, seed=0)


def tar_files(path_or_bytes, mode="r:"):
    """{member name: bytes} of the regular files of a tar, in archive order."""
    if isinstance(path_or_bytes, bytes):
        path_or_bytes = io.BytesIO(path_or_bytes)
        opened = tarfile.open(fileobj=path_or_bytes, mode=mode)
    else:
        opened = tarfile.open(path_or_bytes, mode)
    with opened as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}


def inner_tars(train_tar):
    return {name: tar_files(data) for name, data in tar_files(train_tar).items()}


def devkit_file(archives, name):
    return tar_files(archives["devkit"], "r:gz")[f"{DEVKIT}/data/{name}"]


# The shipped table of the 1000 synsets


def test_table_holds_the_1000_synsets_in_devkit_id_order():
    synsets = ilsvrc2012_synsets()
    wnids = [s.wnid for s in synsets]
    assert [s.ilsvrc_id for s in synsets] == list(range(1, 1001))
    assert len(set(wnids)) == 1000
    assert wnids[:3] == ["n02119789", "n02100735", "n02110185"]  # kit fox, English setter, Siberian husky
    assert sorted(wnids)[0] == "n01440764" and sorted(wnids)[-1] == "n15075141"
    assert wnids != sorted(wnids)
    words = {s.wnid: s.words for s in synsets}
    assert words["n01440764"] == "tench, Tinca tinca"
    assert words["n15075141"] == "toilet tissue, toilet paper, bathroom tissue"
    assert all(s.gloss for s in synsets)


@pytest.mark.skipif(not WORDNET_NOUNS.exists(), reason="WordNet 3.0 (Debian wordnet-base) not installed")
def test_every_wnid_is_a_wordnet_noun_at_its_offset():
    nouns = WORDNET_NOUNS.read_bytes()
    for s in ilsvrc2012_synsets():
        offset = int(s.wnid[1:])
        line = nouns[offset:nouns.index(b"\n", offset)].decode()
        assert line.startswith(f"{s.wnid[1:]} ") and line.split(" | ", 1)[1].strip() == s.gloss, s.wnid


def test_meta_mat_round_trip_with_inner_nodes():
    synsets = [Synset(1, "n02119789", "kit fox, Vulpes macrotis", "a fox", 0, (), 0, 1300),
               Synset(2, "n02100735", "English setter", "", 0, (), 0, 7),
               Synset(1001, "n02118333", "fox", "alert carnivorous mammal", 2, (1, 2), 1, 0)]
    assert read_meta_mat(meta_mat_bytes(synsets), "meta.mat") == synsets


# The archives


def test_layout_is_that_of_the_real_archives(archives):
    inner = inner_tars(archives["train"])
    wnids = [name.removesuffix(".tar") for name in inner]
    assert list(inner) == sorted(inner) and len(wnids) == 4
    assert all(re.fullmatch(r"n\d{8}\.tar", name) for name in inner)
    for wnid, files in zip(wnids, inner.values()):
        assert len(files) == 3 and all(re.fullmatch(rf"{wnid}_\d+\.JPEG", name) for name in files)
    assert list(tar_files(archives["val"])) == [f"ILSVRC2012_val_{k:08d}.JPEG" for k in range(1, 9)]
    with tarfile.open(archives["devkit"], "r:gz") as tar:
        assert tar.getnames() == [DEVKIT, f"{DEVKIT}/data", f"{DEVKIT}/data/meta.mat",
                                  f"{DEVKIT}/data/ILSVRC2012_validation_ground_truth.txt"]


def test_meta_mat_is_a_devkit_struct_array_of_the_1000_leaves(archives):
    table = scipy.io.loadmat(io.BytesIO(devkit_file(archives, "meta.mat")), squeeze_me=True)["synsets"]
    assert table.dtype.names == META_FIELDS
    # parsed as torchvision's parse_meta_mat does: by field position, leaves = num_children == 0
    leaves = [row for row in table if row[4] == 0]
    assert [(int(r[0]), r[1], r[2]) for r in leaves] == [(s.ilsvrc_id, s.wnid, s.words) for s in ilsvrc2012_synsets()]
    used = {name.removesuffix(".tar") for name in inner_tars(archives["train"])}
    assert {r[1]: int(r[7]) for r in leaves if r[7]} == {wnid: 3 for wnid in used}


def test_ground_truth_lists_ids_of_the_chosen_synsets_in_file_order(archives):
    ids = [int(line) for line in devkit_file(archives, "ILSVRC2012_validation_ground_truth.txt").split()]
    wnid_of = {s.ilsvrc_id: s.wnid for s in ilsvrc2012_synsets()}
    used = sorted(name.removesuffix(".tar") for name in inner_tars(archives["train"]))
    assert len(ids) == 8
    assert sorted(wnid_of[i] for i in ids) == sorted(used * 2)


def test_images_have_imagenet_like_sizes(archives):
    sizes = set()
    for data in [*tar_files(archives["val"]).values(), *(d for f in inner_tars(archives["train"]).values()
                                                          for d in f.values())]:
        with Image.open(io.BytesIO(data)) as im:
            sizes.add(im.size)
    assert all(333 <= max(size) <= 500 for size in sizes)
    assert len(sizes) > 10


def test_one_png_one_cmyk_one_grayscale_file_named_jpeg(archives):
    files = {**tar_files(archives["val"]), **{n: d for f in inner_tars(archives["train"]).values()
                                               for n, d in f.items()}}
    kinds = []
    for name, data in files.items():
        assert name.endswith(".JPEG")
        with Image.open(io.BytesIO(data)) as im:
            kinds.append((im.format, im.mode))
    assert sorted(k for k in kinds if k != ("JPEG", "RGB")) == [("JPEG", "CMYK"), ("JPEG", "L"), ("PNG", "RGB")]


def digests(paths):
    return {key: hashlib.sha256(path.read_bytes()).hexdigest() for key, path in paths.items()}


def test_same_seed_same_bytes_other_seed_other_images(tmp_path):
    first = digests(write_archives(tmp_path / "a", classes=2, train_per_class=2, val_per_class=1, seed=5))
    again = digests(write_archives(tmp_path / "b", classes=2, train_per_class=2, val_per_class=1, seed=5))
    other = digests(write_archives(tmp_path / "c", classes=2, train_per_class=2, val_per_class=1, seed=6))
    assert first == again
    assert first["train"] != other["train"] and first["val"] != other["val"]


def test_interrupted_run_leaves_no_archive(tmp_path, monkeypatch):
    write_archives(tmp_path, classes=2, train_per_class=1, val_per_class=1)
    calls = []

    def failing_render(sample):
        calls.append(sample)
        if len(calls) == 2:  # the second validation image
            raise KeyboardInterrupt
        return b"\xff\xd8 not an image"

    monkeypatch.setattr(synth, "render", failing_render)
    with pytest.raises(KeyboardInterrupt):
        write_archives(tmp_path, classes=2, train_per_class=1, val_per_class=1)
    # the devkit was complete; the val tar was not, so neither it nor the earlier run's train tar remains
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ILSVRC2012_devkit_t12.tar.gz"]


@pytest.mark.parametrize("sizes, message", [
    ((0, 1, 1), "--classes must be between 1 and 1000 (ILSVRC-2012 has 1000 synsets), not 0"),
    ((1001, 1, 1), "--classes must be between 1 and 1000 (ILSVRC-2012 has 1000 synsets), not 1001"),
    ((2, 0, 1), "--train-per-class must be at least 1, not 0"),
    ((2, 1, -1), "--val-per-class must be 0 or more, not -1"),
])
def test_bad_sizes(tmp_path, sizes, message):
    with pytest.raises(ConfigError) as e:
        write_archives(tmp_path, *sizes)
    assert str(e.value) == message
    assert list(tmp_path.iterdir()) == []


def test_cli_writes_and_reports(tmp_path, capsys):
    out = tmp_path / "mini"
    assert main(["data", "synth", "--out", str(out), "--classes", "2", "--train-per-class", "1",
                 "--val-per-class", "1", "--seed", "3"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("2 synsets, 2 training and 2 validation images (seed 3):\n")
    for name in ("ILSVRC2012_img_train.tar", "ILSVRC2012_img_val.tar", "ILSVRC2012_devkit_t12.tar.gz"):
        assert (out / name).is_file() and f"{out / name}  " in printed
    assert main(["data", "synth", "--out", str(out), "--classes", "0"]) == 1
