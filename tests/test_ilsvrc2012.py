"""The ILSVRC-2012 reader: archives read in place, extracted trees, devkit labels, hostile and broken input."""
import io
import multiprocessing
import os
import pickle
import shutil
import tarfile

import numpy as np
import pytest
import scipy.io
from PIL import Image

from ilsvrc.data import detect_kind, open_dataset
from ilsvrc.data import tar_index
from ilsvrc.data.imagenet_synsets import ilsvrc_ids_to_labels
from ilsvrc.data.readers import ilsvrc2012
from ilsvrc.data.synth import write_archives
from ilsvrc.errors import DataError

TRAIN, VAL, DEVKIT = "ILSVRC2012_img_train.tar", "ILSVRC2012_img_val.tar", "ILSVRC2012_devkit_t12.tar.gz"
META = "ILSVRC2012_devkit_t12/data/meta.mat"
TRUTH = "ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt"


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    out = tmp_path_factory.mktemp("imagenet")
    write_archives(out, classes=4, train_per_class=3, val_per_class=2, seed=0)
    return out


@pytest.fixture
def copy(root, tmp_path):
    """A private copy of the archives, for tests that alter them."""
    for name in (TRAIN, VAL, DEVKIT):
        shutil.copy(root / name, tmp_path / name)
    return tmp_path


def tar_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def read_tar(path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}


def devkit_truth(root) -> dict[str, str]:
    """Val file name -> wnid, read straight from the devkit: ground-truth line k is val image k's ILSVRC2012_ID."""
    files = read_tar(root / DEVKIT)
    table = scipy.io.loadmat(io.BytesIO(files[META]), squeeze_me=True)["synsets"]
    wnid_of_id = {int(row[0]): str(row[1]) for row in table if row[4] == 0}
    ids = files[TRUTH].split()
    return {f"ILSVRC2012_val_{k:08d}.JPEG": wnid_of_id[int(i)] for k, i in enumerate(ids, start=1)}


def as_lists(ds):
    return ds.classes, ds.class_names, list(ds.labels()), [ds.source(i) for i in range(len(ds))]


# Detection and layout


def test_detects_archives_and_extracted_trees(root, tmp_path):
    assert detect_kind(root) == "ilsvrc2012"
    assert ilsvrc2012.splits(root) == ["train", "val"]
    (tmp_path / "train" / "n01440764").mkdir(parents=True)
    assert ilsvrc2012.detect(tmp_path)
    assert not ilsvrc2012.detect(tmp_path / "train")  # class folders at the top: an image folder, not this
    other = tmp_path / "other"
    (other / "train" / "cats").mkdir(parents=True)
    assert not ilsvrc2012.detect(other)


def test_classes_are_the_sorted_training_synsets_with_devkit_words(root):
    inner = sorted(name.removesuffix(".tar") for name in read_tar(root / TRAIN))
    table = scipy.io.loadmat(io.BytesIO(read_tar(root / DEVKIT)[META]), squeeze_me=True)["synsets"]
    words = {str(row[1]): str(row[2]) for row in table}
    for split in ("train", "val"):
        ds = open_dataset(root, split)
        assert ds.classes == inner
        assert ds.class_names == [words[w] for w in inner]


def test_val_labels_are_the_devkit_wnids_in_sorted_wnid_order(root):
    ds = open_dataset(root, "val")
    truth = devkit_truth(root)
    assert sorted(ds.source(i) for i in range(len(ds))) == sorted(truth)
    for i in range(len(ds)):
        assert ds.label(i) == sorted(ds.classes).index(truth[ds.source(i)])
    assert list(ds.labels()) == sorted(ds.labels())  # ordered by (label, name)


def test_train_labels_are_the_inner_tar_synsets_and_raw_is_the_member(root):
    ds = open_dataset(root, "train")
    members = {}
    for inner_name, data in read_tar(root / TRAIN).items():
        with tarfile.open(fileobj=io.BytesIO(data)) as inner:
            members.update({m.name: (inner_name.removesuffix(".tar"), inner.extractfile(m).read()) for m in inner})
    assert len(ds) == len(members) == 12
    for i in range(len(ds)):
        wnid, data = members[ds.source(i)]
        assert ds.classes[ds.label(i)] == wnid
        assert ds.raw(i) == data


def test_png_cmyk_and_grayscale_members_decode_to_rgb(root):
    found = []
    for split in ("train", "val"):
        ds = open_dataset(root, split)
        for i in range(len(ds)):
            with Image.open(io.BytesIO(ds.raw(i))) as im:
                kind = (im.format, im.mode)
                expected = np.asarray(im.convert("RGB"))
            image = ds.image(i)
            assert image.dtype == np.uint8 and image.shape == expected.shape and image.shape[2] == 3
            if kind != ("JPEG", "RGB"):
                found.append(kind)
                np.testing.assert_array_equal(image, expected)
    assert sorted(found) == [("JPEG", "CMYK"), ("JPEG", "L"), ("PNG", "RGB")]


def test_id_to_label_mapping_goes_through_the_wnid():
    id_to_wnid = {1: "n02119789", 2: "n02100735", 3: "n01440764"}  # devkit order, not sorted
    classes = ["n01440764", "n02100735", "n02119789"]
    assert list(ilsvrc_ids_to_labels([1, 2, 3, 1, 3], id_to_wnid, classes)) == [2, 1, 0, 2, 0]
    with pytest.raises(DataError) as e:
        ilsvrc_ids_to_labels([1, 4], id_to_wnid, classes, "truth.txt")
    assert str(e.value) == "truth.txt: ILSVRC2012_ID 4 is not a leaf synset of meta.mat"
    with pytest.raises(DataError) as e:
        ilsvrc_ids_to_labels([2], id_to_wnid, classes[:1], "truth.txt")
    assert str(e.value) == "truth.txt: synset n02100735 (ILSVRC2012_ID 2) is not among the 1 classes"
    with pytest.raises(ValueError):
        ilsvrc_ids_to_labels([1], id_to_wnid, classes[::-1])


def test_matches_torchvision_imagenet(copy, monkeypatch):
    from torchvision.datasets import imagenet

    monkeypatch.setattr(imagenet, "_verify_archive", lambda *args: None)  # synthetic archives: no md5 to match
    ours = {split: open_dataset(copy, split) for split in ("train", "val")}  # before torchvision extracts
    for split, ds in ours.items():
        reference = imagenet.ImageNet(str(copy), split)
        assert ds.classes == reference.wnids
        assert [tuple(name.split(", ")) for name in ds.class_names] == reference.classes
        assert [os.path.basename(path) for path, _ in reference.samples] == [ds.source(i) for i in range(len(ds))]
        assert list(ds.labels()) == reference.targets
        for i in range(len(ds)):
            np.testing.assert_array_equal(ds.image(i), np.asarray(reference[i][0]))


# In place versus extracted


def extract(root, out, val_by_synset=False):
    """Extract the archives as a user would: train/<wnid>/, val/ (flat or by synset), the devkit folder."""
    with tarfile.open(root / TRAIN) as outer:
        for member in outer:
            with tarfile.open(fileobj=outer.extractfile(member)) as inner:
                inner.extractall(out / "train" / member.name.removesuffix(".tar"), filter="data")
    with tarfile.open(root / VAL) as tar:
        tar.extractall(out / "val", filter="data")
    if val_by_synset:
        for name, wnid in devkit_truth(root).items():
            (out / "val" / wnid).mkdir(exist_ok=True)
            (out / "val" / name).rename(out / "val" / wnid / name)
    else:
        with tarfile.open(root / DEVKIT) as tar:
            tar.extractall(out, filter="data")
    return out


@pytest.mark.parametrize("val_by_synset", [False, True])
def test_in_place_equals_extracted(root, tmp_path, val_by_synset):
    tree = extract(root, tmp_path / "tree", val_by_synset)
    assert detect_kind(tree) == "ilsvrc2012"
    for split in ("train", "val"):
        archived, extracted = open_dataset(root, split), open_dataset(tree, split)
        assert as_lists(extracted) == as_lists(archived)
        assert all(extracted.raw(i) == archived.raw(i) for i in range(len(archived)))


def test_val_only_folder_takes_classes_from_the_devkit(copy):
    (copy / TRAIN).unlink()
    ds = open_dataset(copy, "val")
    assert len(ds.classes) == 1000 and ds.classes == sorted(ds.classes)
    truth = devkit_truth(copy)
    assert [ds.classes[ds.label(i)] for i in range(len(ds))] == [truth[ds.source(i)] for i in range(len(ds))]


# Index cache and worker processes


def test_index_is_cached_next_to_the_archive_and_rebuilt_when_it_changes(copy, monkeypatch):
    first = open_dataset(copy, "train")
    assert (copy / f"{TRAIN}.index.npz").is_file()
    calls = []
    real_build = tar_index.build
    monkeypatch.setattr(tar_index, "build", lambda *args: calls.append(args) or real_build(*args))
    again = open_dataset(copy, "train")
    assert calls == [] and as_lists(again) == as_lists(first)
    os.utime(copy / TRAIN, ns=(0, 0))
    assert as_lists(open_dataset(copy, "train")) == as_lists(first)
    assert len(calls) == 1


def test_index_cache_falls_back_to_the_user_cache(copy, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (copy / f"{VAL}.index.npz").mkdir()  # the spot next to the archive cannot take a file
    open_dataset(copy, "val")
    assert len(list((tmp_path / "cache" / "ilsvrc" / "tar-index").glob(f"*-{VAL}.index.npz"))) == 1


_worker_dataset = None


def _raw_in_worker(i):
    return _worker_dataset.raw(i), os.getpid()


def test_reads_in_forked_and_spawned_workers(root):
    global _worker_dataset
    _worker_dataset = ds = open_dataset(root, "train")
    expected = [ds.raw(i) for i in range(len(ds))]  # the parent has opened its descriptor
    with multiprocessing.get_context("fork").Pool(2) as pool:
        results = pool.map(_raw_in_worker, range(len(ds)))
    assert [data for data, _ in results] == expected
    assert os.getpid() not in {pid for _, pid in results}
    clone = pickle.loads(pickle.dumps(ds))  # what spawn-started workers receive
    assert [clone.raw(i) for i in range(len(ds))] == expected


# Bad input


def test_hostile_member_names_are_refused(copy):
    val = read_tar(copy / VAL)
    for name in ("../ILSVRC2012_val_00000001.JPEG", "/tmp/ILSVRC2012_val_00000001.JPEG"):
        (copy / VAL).write_bytes(tar_bytes({name: b"x", **val}))
        with pytest.raises(DataError) as e:
            open_dataset(copy, "val", cache_index=False)
        assert str(e.value) == f"{copy / VAL}: member {name!r}: unsafe name (absolute or with '..')"


def test_hostile_name_inside_a_synset_tar_is_refused(copy):
    inner = tar_bytes({"n01440764/../../evil.JPEG": b"x"})
    (copy / TRAIN).write_bytes(tar_bytes({"n01440764.tar": inner}))
    with pytest.raises(DataError) as e:
        open_dataset(copy, "train", cache_index=False)
    assert str(e.value) == (f"{copy / TRAIN}:n01440764.tar: member 'n01440764/../../evil.JPEG': "
                            "unsafe name (absolute or with '..')")


def test_train_tar_must_hold_synset_tars(copy):
    (copy / TRAIN).write_bytes(tar_bytes({"README.txt": b"hello"}))
    with pytest.raises(DataError) as e:
        open_dataset(copy, "train", cache_index=False)
    assert str(e.value) == (f"{copy / TRAIN}: member 'README.txt': expected one tar per synset, "
                            "named like n01440764.tar")


def test_missing_devkit_names_the_missing_file(copy):
    (copy / DEVKIT).unlink()
    (copy / TRAIN).unlink()
    assert detect_kind(copy) == "ilsvrc2012"
    with pytest.raises(DataError) as e:
        open_dataset(copy, "val")
    assert str(e.value) == (f"{copy / DEVKIT}: missing: the validation labels come from the devkit "
                            "(ILSVRC2012_devkit_t12.tar.gz or an extracted ILSVRC2012_devkit_t12/ folder)")


def test_devkit_without_ground_truth(copy):
    files = read_tar(copy / DEVKIT)
    del files[TRUTH]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    (copy / DEVKIT).write_bytes(buffer.getvalue())
    with pytest.raises(DataError) as e:
        open_dataset(copy, "val")
    assert str(e.value) == f"{copy / DEVKIT}: no member {TRUTH}"


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_jpeg_member_is_named(copy, damage):
    val = read_tar(copy / VAL)
    name = "ILSVRC2012_val_00000003.JPEG"
    val[name] = b"not a jpeg at all" if damage == "garbage" else val[name][:len(val[name]) // 2]
    (copy / VAL).write_bytes(tar_bytes(val))
    ds = open_dataset(copy, "val", cache_index=False)
    i = [ds.source(k) for k in range(len(ds))].index(name)
    with pytest.raises(DataError) as e:
        ds.image(i)
    assert str(e.value).startswith(f"{copy / VAL}:{name}: corrupt or unreadable image (")


def test_truncated_archive(copy):
    data = (copy / VAL).read_bytes()
    for size in (len(data) // 2, 100):
        (copy / VAL).write_bytes(data[:size])
        with pytest.raises(DataError) as e:
            open_dataset(copy, "val", cache_index=False)
        assert str(e.value).startswith(f"{copy / VAL}: ")


def test_archive_cut_between_members_is_truncated(copy):
    val = read_tar(copy / VAL)
    complete = tar_bytes(val)
    with tarfile.open(fileobj=io.BytesIO(complete)) as tar:
        second = tar.getmembers()[1]
    (copy / VAL).write_bytes(complete[:second.offset])  # cut exactly at the second member's header
    with pytest.raises(DataError) as e:
        open_dataset(copy, "val", cache_index=False)
    assert str(e.value) == (f"{copy / VAL}: truncated: no end-of-archive blocks after the last member "
                            f"(at byte {second.offset})")


def test_unknown_and_absent_splits(copy):
    with pytest.raises(DataError) as e:
        open_dataset(copy, "test")
    assert str(e.value) == f"{copy}: no split 'test' (ILSVRC-2012 has: train, val)"
    (copy / TRAIN).unlink()
    with pytest.raises(DataError) as e:
        open_dataset(copy, "train")
    assert str(e.value) == f"{copy}: no train split: neither {TRAIN} nor train/ is here"


def test_archive_shrunk_after_indexing(copy):
    ds = open_dataset(copy, "val")
    last = int(np.argmax([ds.where(i) == f"{copy / VAL}:ILSVRC2012_val_00000008.JPEG" for i in range(len(ds))]))
    os.truncate(copy / VAL, 1024)  # keeps the first header and 512 bytes of the first file
    with pytest.raises(DataError) as e:
        ds.raw(last)
    assert str(e.value).startswith(f"{copy / VAL}:ILSVRC2012_val_00000008.JPEG: truncated: ")
