"""Crowd labels to one label per image, and packed datasets whose train split holds what the crowd kept."""
import numpy as np
import pytest
from PIL import Image

from fixtures import write_csv_text, write_tiny_idx
from ilsvrc.data import open_dataset
from ilsvrc.errors import ConfigError, DataError
from ilsvrc.label.labels_io import LabelTable, read_labels
from ilsvrc.label.relabel import apply_labels, image_labels

CLASSES = ["cat", "dog", "emu"]


def table(rows, where="labels.csv"):
    return LabelTable([r[0] for r in rows], [r[1] for r in rows], np.array([r[2] for r in rows], float), where)


def test_yes_answers_become_one_label_per_image():
    rows = [("train/0:cat", "yes", 0.9), ("train/0:dog", "yes", 0.97),  # two yes: the surer one wins
            ("train/1:cat", "yes", 0.8), ("train/1:emu", "yes", 0.8),  # a tie: dropped
            ("train/2:dog", "no", 0.99), ("train/2:emu", "no", 0.6),  # no yes: dropped
            ("train/3:emu", "yes", 0.7), ("train/3:cat", "no", 0.99),
            ("val/5:cat", "yes", 0.51)]
    kept = image_labels(table(rows), CLASSES)
    assert sorted(kept) == ["train", "val"]
    assert kept["train"].index.tolist() == [0, 3] and kept["train"].label.tolist() == [1, 2]
    assert kept["val"].index.tolist() == [5] and kept["val"].label.tolist() == [0]


def test_direct_labels_keep_every_image():
    kept = image_labels(table([("train/4", "emu", 1), ("train/1", "cat", 0.4)]), CLASSES)["train"]
    assert kept.index.tolist() == [1, 4] and kept.label.tolist() == [0, 2]


@pytest.mark.parametrize("rows, problem", [
    ([("train/1", "cow", 1)], "task 'train/1': 'cow' is not a class of the dataset"),
    ([("train/1:cow", "yes", 1)], "task 'train/1:cow': 'cow' is not a class of the dataset"),
    ([("train/1:cat", "maybe", 1)], "task 'train/1:cat': 'maybe' is not a yes/no answer (yes or no)"),
    ([("train/1", "cat", 1), ("train/1", "dog", 1)], "image train/1 is labelled twice"),
    ([("train/1", "cat", 1), ("train/2:cat", "yes", 1)],
     "mixes yes/no questions (SPLIT/INDEX:CLASS) and direct labels (SPLIT/INDEX)"),
    ([("image-17.jpg", "cat", 1)],
     "task 'image-17.jpg' does not name an image as SPLIT/INDEX or SPLIT/INDEX:CLASS (e.g. train/17 or train/17:Sandal)"),
])
def test_labels_that_cannot_be_applied_say_why(rows, problem):
    with pytest.raises(DataError) as error:
        image_labels(table(rows), CLASSES)
    assert str(error.value) == f"labels.csv: {problem}"


@pytest.fixture
def tiny(tmp_path):
    return write_tiny_idx(tmp_path / "tiny")


def test_apply_packs_the_kept_images_with_crowd_labels_and_the_test_split_untouched(tiny, tmp_path):
    source_train, source_test = open_dataset(tiny, "train"), open_dataset(tiny, "test")
    classes = list(source_train.classes)
    rows = [(f"train/{i}:{classes[(i + 1) % 10]}", "yes", 0.9) for i in (3, 7, 50)]  # relabelled on purpose
    rows += [(f"train/{i}:{classes[0]}", "no", 0.9) for i in (4, 5)]
    path = write_csv_text(tmp_path / "labels.csv", "task,label,confidence,votes\n"
                          + "".join(f"{t},{lab},{c},3\n" for t, lab, c in rows))
    index = apply_labels(read_labels(path), tiny, tmp_path / "crowd")
    assert index["splits"]["train"]["n"] == 3 and index["splits"]["train"]["storage"] == "raw"
    train = open_dataset(tmp_path / "crowd", "train")
    np.testing.assert_array_equal(train.images_array(), source_train.images[[3, 7, 50]])
    assert train.labels().tolist() == [4, 8, 1]
    assert [train.source(i) for i in range(3)] == [source_train.source(i) for i in (3, 7, 50)]
    test = open_dataset(tmp_path / "crowd", "test")
    np.testing.assert_array_equal(test.images_array(), source_test.images)
    np.testing.assert_array_equal(test.labels(), source_test.labels())


def test_apply_again_with_other_labels_refuses_to_mix_them(tiny, tmp_path):
    classes = list(open_dataset(tiny, "train").classes)
    first = table([("train/1", classes[1], 1)])
    apply_labels(first, tiny, tmp_path / "out")
    apply_labels(first, tiny, tmp_path / "out")  # the same labels: fine, resumes
    with pytest.raises(ConfigError, match="already holds a packed dataset made otherwise"):
        apply_labels(table([("train/1", classes[2], 1)]), tiny, tmp_path / "out")


def test_apply_rejects_images_and_splits_the_data_lacks(tiny, tmp_path):
    classes = list(open_dataset(tiny, "train").classes)
    with pytest.raises(DataError, match=r"image train/999 is past the end of the split \(120 images\)"):
        apply_labels(table([("train/999", classes[0], 1)]), tiny, tmp_path / "a")
    with pytest.raises(DataError, match=r"split 'val' is not in .* \(splits: train, test\)"):
        apply_labels(table([("val/1", classes[0], 1)]), tiny, tmp_path / "b")
    assert not (tmp_path / "a" / "index.json").exists()


def test_apply_reencodes_large_images_it_cannot_hold_as_one_array(tmp_path):
    rng = np.random.default_rng(1)
    for c, name in enumerate(["cat", "dog"]):
        (tmp_path / "photos" / name).mkdir(parents=True)
        for k in range(3):
            image = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
            Image.fromarray(image).save(tmp_path / "photos" / name / f"{k}.png")
    labels = table([("train/1", "dog", 1), ("train/4", "cat", 1)])
    index = apply_labels(labels, tmp_path / "photos", tmp_path / "out")
    assert index["splits"]["train"]["storage"] == "jpeg" and index["splits"]["train"]["n"] == 2
    packed = open_dataset(tmp_path / "out", "train")
    assert packed.labels().tolist() == [1, 0] and [packed.source(i) for i in range(2)] == ["cat/1.png", "dog/1.png"]
    assert packed.image(0).shape == (256, 384, 3)  # the packer's shorter side of 256
