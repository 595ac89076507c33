import numpy as np
import pytest
from PIL import Image

from fixtures import VOC_SPLIT_IDS, make_voc, write_image
from ilsvrc.data import detect_kind, open_dataset
from ilsvrc.data.prepare import PackOptions, prepare
from ilsvrc.data.readers import voc
from ilsvrc.errors import ConfigError, DataError

def test_multi_hot_labels_and_difficult_flags(tmp_path):
    year_folder, flags = make_voc(tmp_path)
    ds = voc.open(year_folder, "train")
    assert ds.multilabel and ds.year == 2007 and len(ds) == 3
    assert ds.classes == list(voc.CLASSES) and ds.class_names[10] == "dining table"
    expected = np.stack([flags[i] for i in VOC_SPLIT_IDS["train"]])
    np.testing.assert_array_equal(ds.labels(), (expected == 1).astype(np.uint8))
    for i in range(len(ds)):
        label = ds.label(i)
        assert label.dtype == np.uint8 and label.shape == (20,)
        np.testing.assert_array_equal(label, expected[i] == 1)
        np.testing.assert_array_equal(ds.difficult(i), expected[i] == 0)
    assert expected.min() == -1 and (expected == 0).any()  # the fixture has all three flags


def test_images_and_sources(tmp_path):
    year_folder, _ = make_voc(tmp_path)
    ds = voc.open(year_folder, "val")
    assert ds.source(1) == "000016.jpg"
    image, label = ds[1]
    assert image.shape == (8, 10, 3) and image.dtype == np.uint8 and label.shape == (20,)
    with Image.open(year_folder / "JPEGImages" / "000016.jpg") as expected:
        np.testing.assert_array_equal(image, np.asarray(expected.convert("RGB")))


def test_splits_are_those_with_class_files(tmp_path):
    year_folder, _ = make_voc(tmp_path)
    assert voc.splits(year_folder) == ["train", "val", "trainval"]
    assert len(voc.open(year_folder, "trainval")) == 5
    with pytest.raises(DataError) as e:
        voc.open(year_folder, "test")
    assert str(e.value) == f"{year_folder}: no split 'test' (splits: train, val, trainval)"


def test_accepts_the_year_folder_the_devkit_or_its_parent(tmp_path):
    year_folder, _ = make_voc(tmp_path)
    for path in (year_folder, year_folder.parent, tmp_path):
        assert voc.detect(path)
        assert len(voc.open(path, "val")) == 2
    assert open_dataset(tmp_path, "val", kind="voc").kind == "voc"


def test_several_years_need_a_choice(tmp_path):
    make_voc(tmp_path, 2007)
    make_voc(tmp_path, 2012, {"train": ["2008_000002"], "val": ["2008_000003"]})
    devkit = tmp_path / "VOCdevkit"
    with pytest.raises(DataError) as e:
        voc.open(tmp_path, "train")
    assert str(e.value) == f"{tmp_path}: holds VOC2007, VOC2012: choose one with year= or open its folder"
    ds = voc.open(tmp_path, "train", year=2012)
    assert ds.year == 2012 and ds.source(0) == "2008_000002.jpg"
    with pytest.raises(DataError) as e:
        voc.open(devkit, "train", year=2010)
    assert str(e.value) == f"{devkit}: no VOC2010 (found: VOC2007, VOC2012)"


def test_renamed_folder_takes_the_year_given(tmp_path):
    year_folder, _ = make_voc(tmp_path)
    renamed = year_folder.rename(tmp_path / "pascal")
    assert voc.open(renamed, "train").year is None
    assert voc.open(renamed, "train", year=2007).year == 2007


def test_class_files_must_list_the_same_images(tmp_path):
    year_folder, _ = make_voc(tmp_path)
    path = year_folder / "ImageSets" / "Main" / "cat_train.txt"
    path.write_text("000005 1\n000008 -1\n000009 -1\n")
    with pytest.raises(DataError) as e:
        voc.open(year_folder, "train")
    assert str(e.value) == f"{path}: image 2 is '000008' where aeroplane_train.txt has '000007'"
    path.write_text("000005 1\n000007 -1\n")
    with pytest.raises(DataError) as e:
        voc.open(year_folder, "train")
    assert str(e.value) == f"{path}: lists 2 images where aeroplane_train.txt lists 3"


def test_bad_lines_and_missing_files(tmp_path):
    year_folder, _ = make_voc(tmp_path)
    path = year_folder / "ImageSets" / "Main" / "dog_val.txt"
    path.write_text("000012 1\n000016 2\n")
    with pytest.raises(DataError) as e:
        voc.open(year_folder, "val")
    assert str(e.value) == f"{path}:2: expected '<image id> <1|-1|0>', got '000016 2'"
    path.unlink()
    with pytest.raises(DataError) as e:
        voc.open(year_folder, "val")
    assert str(e.value) == f"{path}: missing"
    path.write_text("\n")
    with pytest.raises(DataError) as e:
        voc.open(year_folder, "val")
    assert str(e.value) == f"{path}: lists no images"


def test_missing_image_is_reported_when_read(tmp_path):
    year_folder, _ = make_voc(tmp_path)
    (year_folder / "JPEGImages" / "000007.jpg").unlink()
    ds = voc.open(year_folder, "train")
    with pytest.raises(DataError) as e:
        ds.image(1)
    assert str(e.value) == f"{year_folder / 'JPEGImages' / '000007.jpg'}: cannot read (No such file or directory)"


def test_detect_and_errors_outside_voc(tmp_path):
    write_image(tmp_path / "photos" / "cat" / "1.jpg", 1)
    assert not voc.detect(tmp_path / "photos") and not voc.detect(tmp_path / "absent")
    with pytest.raises(DataError) as e:
        voc.open(tmp_path / "photos", "train")
    assert str(e.value) == (f"{tmp_path / 'photos'}: no PASCAL VOC data (expected VOCdevkit/VOC<year>/ with "
                            "ImageSets/Main and JPEGImages, here or inside)")
    with pytest.raises(ConfigError, match=r"^unknown option\(s\) for PASCAL VOC: seed \(known: year\)$"):
        voc.open(tmp_path / "photos", "train", seed=1)


def test_detection_leaves_voc_to_its_reader(tmp_path):
    year_folder, _ = make_voc(tmp_path)
    assert detect_kind(year_folder) == detect_kind(tmp_path) == "voc"


def test_packs_with_its_multi_hot_labels(tmp_path):
    year_folder, _ = make_voc(tmp_path)
    prepare(year_folder, tmp_path / "packed", options=PackOptions(shorter_side=8, workers=1))
    for split in ("train", "val", "trainval"):
        original, packed = voc.open(year_folder, split), open_dataset(tmp_path / "packed", split)
        assert packed.multilabel and packed.classes == list(voc.CLASSES)
        np.testing.assert_array_equal(packed.labels(), original.labels())
        assert [packed.source(i) for i in range(len(packed))] == [original.source(i) for i in range(len(original))]
        assert min(packed.image(0).shape[:2]) == 8
