import os

import numpy as np
import pytest

from fixtures import CALTECH_SIZES, make_caltech, write_image
from ilsvrc.data import open_dataset
from ilsvrc.data.readers import caltech
from ilsvrc.errors import ConfigError, DataError

def sources(ds):
    return [ds.source(i) for i in range(len(ds))]


def test_counts_classes_and_labels_of_the_protocol(tmp_path):
    folder = make_caltech(tmp_path)
    train = caltech.open(folder, "train", train_per_class=2)
    test = caltech.open(folder, "test", train_per_class=2)
    assert train.classes == ["Faces_easy", "accordion", "water_lilly"]
    assert train.class_names == ["Faces easy", "accordion", "water lilly"]
    assert train.labels().tolist() == [0, 0, 1, 1, 2, 2]
    assert np.bincount(test.labels()).tolist() == [5, 3, 7]
    for ds in (train, test):
        for i in range(len(ds)):
            assert ds.source(i).split("/")[0] == ds.classes[ds.label(i)]


def test_train_and_test_are_disjoint_and_cover_every_image(tmp_path):
    folder = make_caltech(tmp_path)
    train = set(sources(caltech.open(folder, "train", train_per_class=3)))
    test = set(sources(caltech.open(folder, "test", train_per_class=3)))
    everything = {f"{c}/{f}" for c in CALTECH_SIZES if c != "BACKGROUND_Google" for f in os.listdir(folder / c)}
    assert not train & test and train | test == everything


def test_test_per_class_caps_the_test_images(tmp_path):
    folder = make_caltech(tmp_path)
    test = caltech.open(folder, "test", train_per_class=2, test_per_class=3)
    assert np.bincount(test.labels()).tolist() == [3, 3, 3]
    uncapped = set(sources(caltech.open(folder, "test", train_per_class=2)))
    assert set(sources(test)) <= uncapped


def test_background_is_a_class_only_when_asked(tmp_path):
    folder = make_caltech(tmp_path)
    ds = caltech.open(folder, "train", train_per_class=2, include_background=True)
    assert ds.classes[0] == "BACKGROUND_Google" and len(ds.classes) == 4
    without = caltech.open(folder, "train", train_per_class=2)
    # A class's draw depends on its name, not its index: the other classes keep their images.
    assert set(sources(without)) < set(sources(ds))


def test_split_is_deterministic_and_independent_of_listing_order(tmp_path, monkeypatch):
    folder = make_caltech(tmp_path)
    first = sources(caltech.open(folder, "train", train_per_class=3, seed=5))
    real_scandir = os.scandir

    def reversed_scandir(path):
        return iter(sorted(real_scandir(path), key=lambda e: e.name, reverse=True))

    monkeypatch.setattr(os, "scandir", reversed_scandir)
    assert sources(caltech.open(folder, "train", train_per_class=3, seed=5)) == first
    monkeypatch.undo()
    other_seeds = {tuple(sources(caltech.open(folder, "train", train_per_class=3, seed=s))) for s in range(6)}
    assert len(other_seeds) > 1


def test_images_are_rgb_including_grayscale_jpegs(tmp_path):
    folder = tmp_path / "101_ObjectCategories"
    expected = {f"gray/{j}.jpg": write_image(folder / "gray" / f"{j}.jpg", j, size=(10, 7), mode="L")
                for j in range(3)}
    ds = caltech.open(folder, "train", train_per_class=2)
    assert len(ds) == 2
    for i in range(len(ds)):
        image, label = ds[i]
        assert image.shape == (7, 10, 3) and label == 0
        np.testing.assert_array_equal(image, expected[ds.source(i)])


def test_accepts_the_folder_its_parent_and_torchvision_root(tmp_path):
    make_caltech(tmp_path / "caltech101")
    for path in (tmp_path / "caltech101" / "101_ObjectCategories", tmp_path / "caltech101", tmp_path):
        assert caltech.detect(path)
        assert caltech.splits(path) == ["train", "test"]
        assert len(caltech.open(path, "train", train_per_class=2)) == 6
    assert open_dataset(tmp_path, "test", kind="caltech", train_per_class=2).kind == "caltech"


def test_detect_rejects_other_trees(tmp_path):
    write_image(tmp_path / "photos" / "cat" / "1.jpg", 1)
    assert not caltech.detect(tmp_path / "photos")
    assert not caltech.detect(tmp_path / "absent")
    with pytest.raises(DataError) as e:
        caltech.open(tmp_path / "photos", "train")
    assert str(e.value) == (f"{tmp_path / 'photos'}: no Caltech-101 data "
                            "(expected 101_ObjectCategories/<class>/*.jpg, here or inside)")


def test_a_class_too_small_for_the_protocol(tmp_path):
    folder = make_caltech(tmp_path)
    with pytest.raises(DataError) as e:
        caltech.open(folder, "train")
    assert str(e.value) == (f"{folder / 'Faces_easy'}: 7 images, too few to keep 30 for training "
                            "and test on the rest")


def test_bad_split_and_options(tmp_path):
    folder = make_caltech(tmp_path)
    with pytest.raises(DataError) as e:
        caltech.open(folder, "val")
    assert str(e.value) == f"{folder}: no split 'val' (Caltech-101 splits: train, test)"
    with pytest.raises(ConfigError, match=r"^train_per_class must be at least 1, got 0$"):
        caltech.open(folder, "train", train_per_class=0)
    with pytest.raises(ConfigError, match=r"^test_per_class must be at least 1 \(or None for all\), got 0$"):
        caltech.open(folder, "test", test_per_class=0)
    with pytest.raises(ConfigError, match=r"^unknown option\(s\) for Caltech-101: label \(known: "):
        caltech.open(folder, "train", label="fine")
