import numpy as np
import pytest
from torchvision.datasets import ImageFolder

from fixtures import write_image
from ilsvrc.data import detect_kind, open_dataset
from ilsvrc.data.readers import folder
from ilsvrc.errors import ConfigError, DataError


def make_tree(root):
    """Classes in mixed case, nested folders, several formats, and files that are not images."""
    write_image(root / "cat" / "b.jpg", 1)
    write_image(root / "cat" / "a.png", 2)
    write_image(root / "cat" / "sub" / "c.JPEG", 3)
    write_image(root / "cat" / "sub" / "deeper" / "d.bmp", 4)
    write_image(root / "cat" / "sub2" / "e.jpg", 5)
    write_image(root / "Dog" / "x.tif", 6)
    write_image(root / "Dog" / "y.webp", 7)
    write_image(root / "ant" / "z.ppm", 8)
    write_image(root / "ant" / "gray.jpg", 9, mode="L")
    (root / "cat" / "notes.txt").write_text("not an image")
    (root / "ant" / "Thumbs.db").write_bytes(b"\0\1")
    return root


def test_same_classes_samples_and_order_as_torchvision(tmp_path):
    root = make_tree(tmp_path / "tree")
    ours = folder.open(root, "train")
    theirs = ImageFolder(str(root))
    assert ours.classes == theirs.classes == ["Dog", "ant", "cat"]
    assert [(str(ours.path(i)), ours.label(i)) for i in range(len(ours))] == theirs.samples
    assert ours.labels().tolist() == theirs.targets
    assert ours.source(0) == "Dog/x.tif"
    assert ours.source(len(ours) - 1) == "cat/sub2/e.jpg"


def test_images_decode_to_rgb_by_content(tmp_path):
    root = tmp_path / "tree"
    expected = write_image(root / "a" / "gray.jpg", 1, mode="L")
    png = write_image(root / "b" / "really_a_png.jpg", 2, format="PNG")
    ds = folder.open(root)
    image, label = ds[0]
    assert image.shape == (9, 12, 3) and image.dtype == np.uint8 and label == 0
    np.testing.assert_array_equal(image, expected)
    np.testing.assert_array_equal(ds.image(1), png)
    assert ds.raw(1) == (root / "b" / "really_a_png.jpg").read_bytes()


def test_hidden_files_and_folders_are_skipped(tmp_path):
    root = tmp_path / "tree"
    write_image(root / "cat" / "a.jpg", 1)
    write_image(root / "cat" / ".ipynb_checkpoints" / "a-checkpoint.jpg", 2)
    (root / "cat" / "._a.jpg").write_bytes(b"\0\5\26\7 AppleDouble resource fork")
    write_image(root / ".ipynb_checkpoints" / "x" / "b.jpg", 3)
    ds = folder.open(root)
    assert ds.classes == ["cat"] and [ds.source(i) for i in range(len(ds))] == ["cat/a.jpg"]


def test_split_subfolders_choose_the_split(tmp_path):
    write_image(tmp_path / "train" / "cat" / "1.jpg", 1)
    write_image(tmp_path / "train" / "dog" / "2.jpg", 2)
    write_image(tmp_path / "val" / "cat" / "3.jpg", 3)
    assert folder.splits(tmp_path) == ["train", "val"]
    val = folder.open(tmp_path, "val")
    assert len(val) == 1 and val.classes == ["cat"] and val.source(0) == "cat/3.jpg" and val.split == "val"
    assert len(folder.open(tmp_path, "train")) == 2
    with pytest.raises(DataError) as e:
        folder.open(tmp_path, "test")
    assert str(e.value) == f"{tmp_path}: no split 'test' (splits: train, val)"


def test_a_class_may_be_called_train(tmp_path):
    write_image(tmp_path / "train" / "1.jpg", 1)
    write_image(tmp_path / "bus" / "2.jpg", 2)
    assert folder.splits(tmp_path) == ["train"]
    assert folder.open(tmp_path).classes == ["bus", "train"]


def test_a_plain_tree_is_the_train_split_only(tmp_path):
    make_tree(tmp_path)
    assert folder.splits(tmp_path) == ["train"]
    with pytest.raises(DataError) as e:
        folder.open(tmp_path, "val")
    assert str(e.value) == f"{tmp_path}: no split 'val' (splits: train)"


def test_empty_class_folder_keeps_its_index(tmp_path):
    write_image(tmp_path / "b" / "1.jpg", 1)
    (tmp_path / "a").mkdir()
    ds = folder.open(tmp_path)
    assert ds.classes == ["a", "b"] and ds.labels().tolist() == [1]
    theirs = ImageFolder(str(tmp_path), allow_empty=True)
    assert theirs.classes == ds.classes and theirs.targets == ds.labels().tolist()


def test_a_tree_without_images_is_an_error(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "readme.txt").write_text("x")
    with pytest.raises(DataError) as e:
        folder.open(tmp_path)
    assert str(e.value) == (f"{tmp_path}: no images in 2 class folders (looked for .jpg, .jpeg, .png, .bmp, .gif, "
                            ".ppm, .pgm, .tif, .tiff, .webp)")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError) as e:
        folder.open(empty)
    assert str(e.value) == f"{empty}: no class folders (expected <class>/<image> inside)"


def test_corrupt_image_names_the_file_when_read(tmp_path):
    write_image(tmp_path / "a" / "good.jpg", 1)
    bad = tmp_path / "a" / "truncated.jpg"
    bad.write_bytes((tmp_path / "a" / "good.jpg").read_bytes()[:20])
    ds = folder.open(tmp_path)
    ds.image(0)
    with pytest.raises(DataError, match=rf"^{bad}: corrupt or unreadable image \(.+\)$"):
        ds.image(1)


def test_options_are_refused(tmp_path):
    make_tree(tmp_path)
    with pytest.raises(ConfigError) as e:
        folder.open(tmp_path, "train", seed=3)
    assert str(e.value) == "unknown option(s) for image folders: seed (they take none)"


def test_detect(tmp_path):
    plain = make_tree(tmp_path / "plain")
    assert folder.detect(plain)
    write_image(tmp_path / "split" / "val" / "cat" / "1.jpg", 1)
    assert folder.detect(tmp_path / "split")
    (tmp_path / "no_images" / "cat").mkdir(parents=True)
    (tmp_path / "no_images" / "cat" / "x.txt").write_text("x")
    assert not folder.detect(tmp_path / "no_images")
    write_image(tmp_path / "flat" / "1.jpg", 1)
    assert not folder.detect(tmp_path / "flat")
    assert not folder.detect(tmp_path / "flat" / "1.jpg")
    assert not folder.detect(tmp_path / "absent")


def test_detection_leaves_caltech_and_voc_trees_to_their_readers(tmp_path):
    caltech = tmp_path / "101_ObjectCategories"
    write_image(caltech / "accordion" / "image_0001.jpg", 1)
    voc = tmp_path / "VOCdevkit" / "VOC2007"
    write_image(voc / "JPEGImages" / "000001.jpg", 2)
    (voc / "ImageSets" / "Main").mkdir(parents=True)
    assert detect_kind(caltech) == "caltech"
    assert detect_kind(voc) == detect_kind(voc.parent) == "voc"
    assert detect_kind(tmp_path) == "voc"  # a folder holding both: READERS tries VOC before Caltech
    assert folder.open(caltech).classes == ["accordion"]  # forcing the kind still works
    make_tree(tmp_path / "plain")
    kinds = {p: detect_kind(tmp_path / p) for p in ("101_ObjectCategories", "VOCdevkit", "plain")}
    assert kinds == {"101_ObjectCategories": "caltech", "VOCdevkit": "voc", "plain": "folder"}


def test_open_dataset_with_kind(tmp_path):
    make_tree(tmp_path)
    ds = open_dataset(tmp_path, "train", kind="folder")
    assert ds.kind == "folder" and len(ds) == 9 and not ds.multilabel
