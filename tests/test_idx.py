"""The IDX reader: real Fashion-MNIST, tiny generated sets (raw and gz, EMNIST prefixes), every bad input."""
import gzip
import time
from pathlib import Path

import numpy as np
import pytest

from fixtures import idx_bytes, random_split, write_idx, write_split
from ilsvrc.data import open_dataset
from ilsvrc.data.readers import idx
from ilsvrc.errors import ConfigError, DataError

DEBIAN = Path("/usr/share/datasets/fashion-mnist")
needs_fashion = pytest.mark.skipif(not DEBIAN.is_dir(), reason="needs Debian's dataset-fashion-mnist")
FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


@needs_fashion
def test_real_fashion_mnist_counts_labels_and_names():
    assert idx.detect(DEBIAN) and idx.splits(DEBIAN) == ["train", "test"]
    train = idx.open(DEBIAN, "train")
    assert (len(train), train.name, train.classes, train.class_names) == (60000, "fashion-mnist", FASHION, FASHION)
    assert train.images.shape == (60000, 28, 28, 1) and train.images.dtype == np.uint8
    assert train.targets.dtype == np.int64 and train.targets[:2].tolist() == [9, 0]
    assert np.bincount(train.targets).tolist() == [6000] * 10
    test = open_dataset("fashion-mnist", "test", kind="idx")  # by name, through sources.locate
    assert len(test) == 10000 and test.source(12) == "t10k-images-idx3-ubyte.gz#12"
    image, label = test[0]
    assert image.shape == (28, 28, 1) and label == test.targets[0]


@needs_fashion
def test_real_fashion_mnist_matches_torchvision(tmp_path):
    from torchvision.datasets.mnist import read_image_file, read_label_file

    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (tmp_path / name).write_bytes(gzip.decompress((DEBIAN / f"{name}.gz").read_bytes()))
    ours = idx.open(DEBIAN, "test")
    np.testing.assert_array_equal(ours.images[..., 0], read_image_file(str(tmp_path / "t10k-images-idx3-ubyte")))
    np.testing.assert_array_equal(ours.targets, read_label_file(str(tmp_path / "t10k-labels-idx1-ubyte")))


@pytest.mark.parametrize("gz", [False, True])
def test_tiny_round_trip(tmp_path, gz):
    images, labels = random_split(n=6, h=4, w=3, classes=4)
    write_split(tmp_path, images, labels, "train", gz=gz)
    write_split(tmp_path, images[:2], labels[:2], "t10k", gz=gz)
    assert idx.splits(tmp_path) == ["train", "test"]
    ds = idx.open(tmp_path, "train")
    np.testing.assert_array_equal(ds.images, images[..., None])
    np.testing.assert_array_equal(ds.labels(), labels)
    assert ds.name is None and ds.classes == [str(k) for k in range(labels.max() + 1)]
    assert ds.image(-1).shape == (4, 3, 1) and ds.label(5) == labels[5]
    assert ds.source(3) == f"train-images-idx3-ubyte{'.gz' if gz else ''}#3"
    assert len(idx.open(tmp_path, "test")) == 2


def test_images_are_read_only_and_image_returns_a_copy(tmp_path):
    write_split(tmp_path, *random_split())
    ds = idx.open(tmp_path, "train")
    with pytest.raises(ValueError):
        ds.images[0, 0, 0, 0] = 1
    copy = ds.image(0)
    copy[:] = 0
    assert ds.images[0].any()


def test_raw_file_wins_over_gz(tmp_path):
    images, labels = random_split()
    write_split(tmp_path, images, labels, gz=True)
    write_split(tmp_path, 255 - images, labels, gz=False)
    np.testing.assert_array_equal(idx.open(tmp_path, "train").images[..., 0], 255 - images)


def test_name_from_folder_option_and_torchvision_layout(tmp_path):
    images, labels = random_split()
    write_split(tmp_path / "FashionMNIST" / "raw", images, labels)
    write_split(tmp_path / "mnist", images, labels)
    write_split(tmp_path / "other", images, labels)
    assert idx.open(tmp_path / "FashionMNIST" / "raw", "train").class_names == FASHION
    assert idx.open(tmp_path / "mnist", "train").classes == list("0123456789")
    assert idx.open(tmp_path / "other", "train", name="kmnist").classes[:3] == ["o", "ki", "su"]
    named = idx.open(tmp_path / "other", "train", classes=[f"c{k}" for k in range(10)])
    assert named.classes[9] == "c9"


def test_emnist_prefix_subset_classes_and_transpose(tmp_path):
    images, labels = random_split(n=5, h=4, w=3, classes=27)
    write_split(tmp_path, images, labels, "train", prefix="emnist-letters-", gz=True)
    write_split(tmp_path, images, labels % 10, "train", prefix="emnist-digits-", gz=True)
    with pytest.raises(DataError) as e:
        idx.open(tmp_path, "train")
    assert str(e.value) == (f"{tmp_path}: holds several IDX sets ('emnist-digits-', 'emnist-letters-'); "
                            "choose one with prefix=")
    letters = idx.open(tmp_path, "train", prefix="emnist-letters-")
    assert letters.name == "emnist" and len(letters.classes) == 27 and letters.classes[:3] == ["N/A", "a", "b"]
    np.testing.assert_array_equal(letters.images[..., 0], images.transpose(0, 2, 1))  # stored column-major
    raw = idx.open(tmp_path, "train", prefix="emnist-letters-", transpose=False)
    np.testing.assert_array_equal(raw.images[..., 0], images)
    assert not raw.images.flags.writeable and not letters.images.flags.writeable
    assert idx.open(tmp_path, "train", prefix="emnist-digits-").classes == list("0123456789")
    assert letters.source(0) == "emnist-letters-train-images-idx3-ubyte.gz#0"


def test_emnist_balanced_has_47_classes_in_mapping_order(tmp_path):
    write_split(tmp_path, *random_split(classes=47), "test", prefix="emnist-balanced-")
    classes = idx.open(tmp_path, "test").classes
    assert len(classes) == 47 and classes[9:11] == ["9", "A"] and classes[36:] == list("abdefghnqrt")


def test_detect(tmp_path):
    assert not idx.detect(tmp_path)
    (tmp_path / "readme.txt").write_text("x")
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(3, np.uint8))
    assert not idx.detect(tmp_path)  # labels alone are not a dataset
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((3, 2, 2), np.uint8))
    assert idx.detect(tmp_path) and idx.splits(tmp_path) == ["train"]
    assert not idx.detect(tmp_path / "train-images-idx3-ubyte.gz")


def test_a_huge_header_claim_is_rejected_without_allocating(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(idx_bytes(np.zeros((1, 28, 28), np.uint8))[:4] + (10**9).to_bytes(4, "big")
                     + (28).to_bytes(4, "big") * 2 + bytes(784))
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(1, np.uint8))
    start = time.perf_counter()
    with pytest.raises(DataError) as e:
        idx.open(tmp_path, "train")
    assert time.perf_counter() - start < 0.5
    assert str(e.value) == f"{path}: header claims 1000000000 images of 28x28 but the file holds 784 bytes of pixels"


def bad_images(tmp_path: Path, data: bytes, name: str = "train-images-idx3-ubyte") -> str:
    """Open a split whose images file holds `data`; the DataError's message."""
    (tmp_path / name).write_bytes(data)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(2, np.uint8))
    with pytest.raises(DataError) as e:
        idx.open(tmp_path, "train")
    return str(e.value)


GOOD = idx_bytes(np.zeros((2, 4, 3), np.uint8))


@pytest.mark.parametrize("data, problem", [
    (GOOD[:2], "too short for an IDX header (2 bytes)"),
    (idx_bytes(np.zeros(2, np.uint8)),
     "wrong magic number 0x00000801, expected 0x00000803 (IDX images: unsigned bytes, 3 dimensions)"),
    (idx_bytes(np.zeros((2, 4, 3), np.uint8), magic=0x00000D03),
     "wrong magic number 0x00000D03, expected 0x00000803 (IDX images: unsigned bytes, 3 dimensions)"),
    (GOOD[:10], "truncated IDX header (10 bytes, expected 16)"),
    (GOOD[:-1], "header claims 2 images of 4x3 but the file holds 23 bytes of pixels"),
    (GOOD + b"\0", "header claims 2 images of 4x3 but the file holds 25 bytes of pixels"),
    (idx_bytes(np.zeros((2, 0, 3), np.uint8)), "header claims zero-sized images of 0x3"),
])
def test_bad_images_file(tmp_path, data, problem):
    assert bad_images(tmp_path, data) == f"{tmp_path / 'train-images-idx3-ubyte'}: {problem}"


def test_truncated_and_corrupt_gzip(tmp_path):
    name = "train-images-idx3-ubyte.gz"
    assert bad_images(tmp_path, gzip.compress(GOOD)[:-12], name) == f"{tmp_path / name}: truncated gzip file"
    assert bad_images(tmp_path, b"not gzip at all", name).startswith(f"{tmp_path / name}: corrupt gzip file (")


def test_bad_labels(tmp_path):
    images, labels = random_split(n=5)
    write_split(tmp_path / "mnist", images, labels)
    write_idx(tmp_path / "mnist" / "train-labels-idx1-ubyte", labels[:4])
    labels_file = tmp_path / "mnist" / "train-labels-idx1-ubyte"
    with pytest.raises(DataError) as e:
        idx.open(tmp_path / "mnist", "train")
    assert str(e.value) == f"{labels_file}: holds 4 labels but train-images-idx3-ubyte holds 5 images"
    write_idx(labels_file, np.array([1, 2, 12, 3, 4], np.uint8))
    with pytest.raises(DataError) as e:
        idx.open(tmp_path / "mnist", "train")
    assert str(e.value) == f"{labels_file}: label 12 at index 2 is out of range for 10 classes"
    write_idx(labels_file, np.zeros((5, 1), np.uint8))
    with pytest.raises(DataError) as e:
        idx.open(tmp_path / "mnist", "train")
    assert str(e.value) == (f"{labels_file}: wrong magic number 0x00000802, expected 0x00000801 "
                            "(IDX labels: unsigned bytes, 1 dimension)")


def test_missing_files_split_and_options(tmp_path):
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((2, 2, 2), np.uint8))
    with pytest.raises(DataError) as e:
        idx.open(tmp_path, "train")
    assert str(e.value) == f"{tmp_path}: no train labels file (looked for train-labels-idx1-ubyte[.gz])"
    with pytest.raises(DataError) as e:
        idx.open(tmp_path, "test")
    assert str(e.value) == (f"{tmp_path}: no test images file (looked for t10k-images-idx3-ubyte[.gz] "
                            "or test-images-idx3-ubyte[.gz])")
    with pytest.raises(DataError) as e:
        idx.open(tmp_path, "val")
    assert str(e.value) == f"{tmp_path}: no split 'val' (IDX splits: train, test)"
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(2, np.uint8))
    with pytest.raises(ConfigError, match=r"^unknown option\(s\) for IDX data: colour \(known: name, prefix"):
        idx.open(tmp_path, "train", colour=True)
    with pytest.raises(ConfigError, match="^unknown IDX dataset name 'svhn'; choose one of: mnist, fashion-mnist"):
        idx.open(tmp_path, "train", name="svhn")


def test_idx_bytes_fixture_matches_the_published_header_layout():
    # MNIST's train labels file begins 00 00 08 01 00 00 EA 60 (60000 labels).
    assert idx_bytes(np.zeros(60000, np.uint8))[:8] == bytes.fromhex("00000801 0000EA60")
