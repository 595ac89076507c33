"""Folders written by other tools open as they are: torchvision's download roots (checked against
torchvision's own datasets where it reads them), CIFAR pickles re-written by Python 3, multi-year and
annotation-only VOC folders, a minimal meta.mat, torchvision's ImageNet meta.bin."""
import io
import pickle

import numpy as np
import pytest
import scipy.io
import torch
import torchvision
from PIL import Image

from fixtures import make_voc, random_split, write_image, write_split
from ilsvrc.data import available_splits, detect_kind, open_dataset
from ilsvrc.data.imagenet_synsets import read_meta_mat
from ilsvrc.data.info import dataset_info
from ilsvrc.data.prepare import PackOptions, prepare
from ilsvrc.data.readers import voc
from ilsvrc.errors import DataError

TORCHVISION_IDX = {"MNIST": torchvision.datasets.MNIST, "FashionMNIST": torchvision.datasets.FashionMNIST,
                   "KMNIST": torchvision.datasets.KMNIST}


@pytest.mark.parametrize("name", sorted(TORCHVISION_IDX))
def test_torchvision_idx_roots_open_given_as_root_or_its_dataset_folder(name, tmp_path):
    for stem, seed in (("train", 0), ("t10k", 1)):
        images, labels = random_split(n=6, h=28, w=28, seed=seed)
        write_split(tmp_path / name / "raw", images, labels, stem=stem)
    theirs = TORCHVISION_IDX[name](tmp_path, train=False, download=False)
    for path in (tmp_path, tmp_path / name):
        assert detect_kind(path) == "idx" and available_splits(path) == ["train", "test"]
        ours = open_dataset(path, "test")
        np.testing.assert_array_equal(ours.images[..., 0], theirs.data.numpy())
        np.testing.assert_array_equal(ours.targets, theirs.targets.numpy())
        assert ours.class_names == [c.split(" - ")[0] for c in theirs.classes]  # MNIST's "0 - zero" is our "0"
    assert open_dataset(tmp_path, "test").name == {"MNIST": "mnist", "FashionMNIST": "fashion-mnist",
                                                   "KMNIST": "kmnist"}[name]


def test_torchvision_emnist_root_opens_upright(tmp_path):
    raw = tmp_path / "EMNIST" / "raw"
    images, labels = random_split(n=6, h=28, w=28, classes=47)
    write_split(raw, images, labels, stem="test", prefix="emnist-balanced-")
    write_split(raw, images, labels, stem="train", prefix="emnist-balanced-")
    theirs = torchvision.datasets.EMNIST(tmp_path, split="balanced", train=False, download=False)
    ours = open_dataset(tmp_path, "test")
    assert ours.name == "emnist" and len(ours.classes) == 47
    # torchvision leaves EMNIST's images as stored (transposed); ilsvrc turns them upright
    np.testing.assert_array_equal(ours.images[..., 0], theirs.data.numpy().transpose(0, 2, 1))
    np.testing.assert_array_equal(ours.targets, theirs.targets.numpy())


def test_a_torchvision_root_holding_two_idx_datasets_asks_for_one(tmp_path):
    for name in ("MNIST", "FashionMNIST"):
        write_split(tmp_path / name / "raw", *random_split(), stem="train")
    with pytest.raises(DataError) as caught:
        open_dataset(tmp_path, "train")
    assert str(caught.value) == (f"{tmp_path}: holds MNIST, FashionMNIST (torchvision's folders): open one of "
                                 f"them, e.g. {tmp_path / 'MNIST'}")
    assert open_dataset(tmp_path / "FashionMNIST", "train").name == "fashion-mnist"


def _py3_pickle(obj, protocol: int) -> bytes:
    return pickle.dumps(obj, protocol=protocol)


def _write_py3_cifar10(root, protocol: int, seed: int = 0):
    """cifar-10-batches-py as Python 3 rewrites it: str keys; under protocol 2 bytes go via _codecs.encode."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    (folder / "batches.meta").write_bytes(_py3_pickle({"label_names": names, "num_vis": 3072}, protocol))
    for k, name in enumerate([f"data_batch_{b}" for b in range(1, 6)] + ["test_batch"]):
        batch = {"batch_label": f"batch {k}", "labels": rng.integers(0, 10, 3).tolist(),
                 "data": rng.integers(0, 256, (3, 3072), dtype=np.uint8),
                 "filenames": [f"img_{k}_{j}.png" for j in range(3)]}
        (folder / name).write_bytes(_py3_pickle(batch, protocol))
    return folder


@pytest.mark.parametrize("protocol", [2, 4])
def test_python3_cifar_pickles_read_as_torchvision_reads_them(protocol, tmp_path, monkeypatch):
    folder = _write_py3_cifar10(tmp_path, protocol)
    if protocol == 2:
        assert b"_codecs" in (folder / "test_batch").read_bytes()
    # torchvision checks the MD5s of the real files; these are fixtures
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "_check_integrity", lambda self: True)
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda path, md5=None: True)
    for split, train in (("train", True), ("test", False)):
        theirs = torchvision.datasets.CIFAR10(tmp_path, train=train, download=False)
        ours = open_dataset(tmp_path, split)
        np.testing.assert_array_equal(ours.images, theirs.data)
        np.testing.assert_array_equal(ours.targets, theirs.targets)
        assert ours.classes == theirs.classes
    assert open_dataset(tmp_path, "test").source(1) == "img_5_1.png"


def test_a_missing_entry_is_named_without_contradiction(tmp_path):
    folder = _write_py3_cifar10(tmp_path, 4)
    (folder / "batches.meta").write_bytes(_py3_pickle({"label_names_": ["a"], "num_vis": 3072}, 4))
    with pytest.raises(DataError) as caught:
        open_dataset(folder, "test")
    assert str(caught.value) == f"{folder / 'batches.meta'}: no 'label_names' entry (entries: label_names_, num_vis)"


def test_protocol_2_pickles_may_encode_only_latin1_text(tmp_path):
    folder = _write_py3_cifar10(tmp_path, 2)
    data = (folder / "test_batch").read_bytes()
    assert data.count(b"latin1") >= 1
    (folder / "test_batch").write_bytes(data.replace(b"latin1", b"rot_13", 1))
    with pytest.raises(DataError) as caught:
        open_dataset(folder, "test")
    assert str(caught.value) == (f"{folder / 'test_batch'}: refused to unpickle: it calls _codecs.encode with "
                                 "'rot_13', and only numpy arrays and plain data are allowed")


def test_torchvision_voc_roots(tmp_path):
    make_voc(tmp_path / "a", 2012)
    assert len(open_dataset(tmp_path / "a", "val")) == 2 and detect_kind(tmp_path / "a") == "voc"
    year_folder, flags = make_voc(tmp_path / "b" / "TrainVal", 2011)  # VOC2011's archive: TrainVal/VOCdevkit/VOC2011
    ds = open_dataset(tmp_path / "b", "train")
    assert detect_kind(tmp_path / "b") == "voc" and ds.year == 2011 and len(ds) == 3


def test_a_multi_year_devkit_opens_with_the_year_option_in_prepare_and_info(tmp_path):
    make_voc(tmp_path, 2007)
    make_voc(tmp_path, 2012, {"train": ["2008_000002"], "val": ["2008_000003", "2008_000004"]}, seed=5)
    assert available_splits(tmp_path, year=2012) == ["train", "val", "trainval"]
    info = dataset_info(str(tmp_path), options={"year": 2012})
    assert {s: v["n"] for s, v in info["splits"].items()} == {"train": 1, "val": 2, "trainval": 3}
    index = prepare(tmp_path, tmp_path / "packed", options=PackOptions(workers=1),
                    reader_options={"year": 2007})
    assert {s: v["n"] for s, v in index["splits"].items()} == {"train": 3, "val": 2, "trainval": 5}
    with pytest.raises(DataError) as caught:
        dataset_info(str(tmp_path))
    assert str(caught.value) == f"{tmp_path}: holds VOC2007, VOC2012: choose one with year= or open its folder"


def _annotation(flags_row) -> str:
    objects = "".join(f"<object><name>{name}</name><difficult>{int(flag == 0)}</difficult></object>"
                      for name, flag in zip(voc.CLASSES, flags_row) if flag != -1)
    return f"<annotation><filename>x.jpg</filename>{objects}</annotation>"


def test_a_voc_folder_without_class_files_takes_labels_from_the_annotations(tmp_path):
    year_folder, flags = make_voc(tmp_path / "with", 2007)
    expected = {split: voc.open(year_folder, split) for split in ("train", "val")}
    bare, _ = make_voc(tmp_path / "bare", 2007)
    for path in (bare / "ImageSets" / "Main").glob("*_*.txt"):
        path.unlink()
    (bare / "Annotations").mkdir()
    for image_id, row in flags.items():
        (bare / "Annotations" / f"{image_id}.xml").write_text(_annotation(row))
    assert voc.splits(bare) == ["train", "val", "trainval"]
    for split, reference in expected.items():
        ds = voc.open(bare, split)
        np.testing.assert_array_equal(ds.labels(), reference.labels())
        np.testing.assert_array_equal([ds.difficult(i) for i in range(len(ds))],
                                      [reference.difficult(i) for i in range(len(ds))])
    (bare / "Annotations" / "000005.xml").write_text('<!DOCTYPE a [<!ENTITY x "y">]><annotation/>')
    with pytest.raises(DataError) as caught:
        voc.open(bare, "train")
    assert str(caught.value) == (f"{bare / 'Annotations' / '000005.xml'}: refused: declares a DOCTYPE or "
                                 "entities (VOC annotations have none)")


def test_a_voc_image_id_that_leaves_the_folder_is_refused(tmp_path):
    year_folder, _ = make_voc(tmp_path, 2007)
    path = year_folder / "ImageSets" / "Main" / "aeroplane_val.txt"
    path.write_text("../../../etc/passwd  1\n000016 -1\n")
    with pytest.raises(DataError) as caught:
        voc.open(year_folder, "val")
    assert str(caught.value) == f"{path}:1: image id '../../../etc/passwd' is not a plain file name: refused"


def test_a_meta_mat_with_only_the_needed_fields_reads():
    fields = ("ILSVRC2012_ID", "WNID", "words", "num_children")
    table = np.zeros((3, 1), dtype=[(f, object) for f in fields])
    rows = [(1, "n02119789", "kit fox", 0), (2, "n02100735", "English setter", 0), (1001, "n00001740", "entity", 2)]
    for k, row in enumerate(rows):
        table[k, 0] = (np.uint16(row[0]), row[1], row[2], np.uint16(row[3]))
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, {"synsets": table})
    synsets = read_meta_mat(buffer.getvalue(), "meta.mat")
    assert [(s.ilsvrc_id, s.wnid, s.words, s.num_children, s.gloss) for s in synsets] == [
        (1, "n02119789", "kit fox", 0, ""), (2, "n02100735", "English setter", 0, ""), (1001, "n00001740", "entity", 2, "")]
    buffer = io.BytesIO()
    partial = np.zeros((3, 1), dtype=[("ILSVRC2012_ID", object), ("words", object)])
    for k, row in enumerate(rows):
        partial[k, 0] = (np.uint16(row[0]), row[2])
    scipy.io.savemat(buffer, {"synsets": partial})
    with pytest.raises(DataError) as caught:
        read_meta_mat(buffer.getvalue(), "meta.mat")
    assert str(caught.value) == "meta.mat: 'synsets' has no WNID, num_children field (fields: ILSVRC2012_ID, words)"


WNIDS = ["n01440764", "n01443537", "n01484850"]


def _torchvision_imagenet(root, flat_val: bool = False):
    """ImageNet as torchvision leaves it: train/<wnid>/, val/<wnid>/ and meta.bin, no archives."""
    words = {w: (f"name {k}", f"alias {k}") for k, w in enumerate(WNIDS)}
    val_wnids = [WNIDS[k % 3] for k in range(5)]
    torch.save((words, val_wnids), root / "meta.bin")
    for k, wnid in enumerate(WNIDS):
        for j in range(2):
            write_image(root / "train" / wnid / f"{wnid}_{j}.JPEG", seed=10 * k + j, format="JPEG")
    for k, wnid in enumerate(val_wnids):
        folder = root / "val" if flat_val else root / "val" / wnid
        write_image(folder / f"ILSVRC2012_val_{k + 1:08d}.JPEG", seed=100 + k, format="JPEG")
    return val_wnids


def test_torchvision_imagenet_opens_as_torchvision_reads_it(tmp_path):
    _torchvision_imagenet(tmp_path)
    assert detect_kind(tmp_path) == "ilsvrc2012"
    for split in ("train", "val"):
        theirs = torchvision.datasets.ImageNet(tmp_path, split=split)
        ours = open_dataset(tmp_path, split)
        assert ours.classes == theirs.wnids
        assert ours.class_names == [", ".join(c) for c in theirs.classes]
        assert [ours.source(i) for i in range(len(ours))] == [p.rsplit("/", 1)[1] for p, _ in theirs.samples]
        np.testing.assert_array_equal(ours.labels(), theirs.targets)
        with Image.open(theirs.samples[1][0]) as image:
            np.testing.assert_array_equal(ours.image(1), np.asarray(image.convert("RGB")))


def test_a_flat_val_folder_takes_its_labels_from_meta_bin(tmp_path):
    val_wnids = _torchvision_imagenet(tmp_path, flat_val=True)
    ds = open_dataset(tmp_path, "val")
    assert [ds.classes[ds.label(i)] for i in range(len(ds))] == sorted(val_wnids)
    by_file = {ds.source(i): ds.classes[ds.label(i)] for i in range(len(ds))}
    assert by_file == {f"ILSVRC2012_val_{k + 1:08d}.JPEG": w for k, w in enumerate(val_wnids)}


def test_a_hostile_meta_bin_is_refused_without_running(tmp_path):
    class Runs:
        def __reduce__(self):
            return (print, ("ran",))

    _torchvision_imagenet(tmp_path)
    torch.save(({"n01440764": Runs()}, []), tmp_path / "meta.bin")
    with pytest.raises(DataError) as caught:
        open_dataset(tmp_path, "train")
    assert str(caught.value).startswith(f"{tmp_path / 'meta.bin'}: not a readable torchvision meta.bin (")
    assert str(caught.value).endswith("; it holds torch.save((wnid_to_classes, val_wnids))")
    assert "\n" not in str(caught.value)
