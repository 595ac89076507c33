"""Packing: round trips from IDX (raw storage) and image folders (encoded storage), resume, bad input."""
import json

import numpy as np
import pytest
from PIL import Image

from ilsvrc.cli import main
from ilsvrc.data import open_dataset
from ilsvrc.data.prepare import PackOptions, prepare
from ilsvrc.errors import ConfigError
from fixtures import make_caltech, write_image, write_split


@pytest.fixture
def idx_dir(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "digits"
    write_split(folder, rng.integers(0, 256, (50, 28, 28), dtype=np.uint8), np.arange(50) % 10, "train", gz=True)
    write_split(folder, rng.integers(0, 256, (20, 28, 28), dtype=np.uint8), np.arange(20) % 10, "t10k", gz=True)
    return folder


@pytest.fixture
def image_tree(tmp_path):
    rng = np.random.default_rng(1)
    root = tmp_path / "tree"
    for c, name in enumerate(["cat", "dog"]):
        (root / name).mkdir(parents=True)
        for k in range(5):
            array = rng.integers(0, 256, (40 + 7 * k, 60 - 3 * k, 3), dtype=np.uint8)
            Image.fromarray(array).save(root / name / f"{k}.png")
    return root


def test_raw_round_trip_keeps_pixels_labels_and_sources(idx_dir, tmp_path):
    out = tmp_path / "packed"
    prepare(idx_dir, out, options=PackOptions(shard_size=16))
    for split in ("train", "test"):
        src, dst = open_dataset(idx_dir, split), open_dataset(out, split)
        assert len(dst) == len(src) and dst.classes == list(src.classes)
        np.testing.assert_array_equal(dst.images_array(), src.images)
        np.testing.assert_array_equal(dst.labels(), src.labels())
        assert [dst.source(i) for i in range(len(dst))] == [src.source(i) for i in range(len(src))]
        image, label = dst[len(dst) - 1]
        np.testing.assert_array_equal(image, src.images[-1])
        stats = dst.stats
        np.testing.assert_allclose(stats["mean_image"], src.images.mean(0), rtol=1e-5)
        np.testing.assert_allclose(stats["mean"], [src.images.mean()])
    index = json.loads((out / "index.json").read_text())
    assert [s["n"] for s in index["splits"]["train"]["shards"]] == [16, 16, 16, 2]


def test_encoded_storage_resizes_to_the_shorter_side(image_tree, tmp_path):
    out = tmp_path / "packed"
    prepare(image_tree, out, options=PackOptions(shorter_side=32, workers=2))
    ds = open_dataset(out, "train")
    src = open_dataset(image_tree, "train")
    assert len(ds) == 10 and ds.storage == "jpeg"
    for i in range(len(ds)):
        image = ds.image(i)
        assert min(image.shape[:2]) == 32 and image.shape[2] == 3
        h, w = src.image(i).shape[:2]
        assert abs(image.shape[0] / image.shape[1] - h / w) < 0.05
        assert ds.label(i) == src.label(i) and ds.source(i) == src.source(i)
    assert ds.stats["mean_image"].shape == (32, 32, 3)
    assert ds.stats["eigvecs"].shape == (3, 3)


def test_rerun_resumes_keeping_finished_shards(idx_dir, tmp_path):
    out = tmp_path / "packed"
    prepare(idx_dir, out, options=PackOptions(shard_size=16))
    kept = out / "train-00000.shard"
    redo = out / "train-00002.shard"
    kept_mtime = kept.stat().st_mtime_ns
    redo.write_bytes(redo.read_bytes()[:-100])  # as if killed mid-write by something that skipped the rename
    (out / "index.json").unlink()
    (out / "train-00003.shard.tmp").write_bytes(b"partial")
    prepare(idx_dir, out, options=PackOptions(shard_size=16))
    assert kept.stat().st_mtime_ns == kept_mtime
    assert not list(out.glob("*.tmp"))
    ds = open_dataset(out, "train")
    ds.verify()
    np.testing.assert_array_equal(ds.images_array(), open_dataset(idx_dir, "train").images)


def test_folder_without_index_is_not_a_dataset(idx_dir, tmp_path):
    out = tmp_path / "packed"
    prepare(idx_dir, out, options=PackOptions(shard_size=16))
    (out / "index.json").unlink()
    assert main(["data", "info", str(out)]) == 1


def test_other_recipe_in_the_same_folder_is_refused(idx_dir, tmp_path):
    out = tmp_path / "packed"
    prepare(idx_dir, out, options=PackOptions(shard_size=16))
    with pytest.raises(ConfigError, match="already holds a packed dataset"):
        prepare(idx_dir, out, options=PackOptions(shard_size=8))


def test_cli_prepare_and_info_json(idx_dir, tmp_path, capsys):
    out = tmp_path / "packed"
    assert main(["data", "prepare", str(idx_dir), "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["data", "info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["splits"]["train"]["n"] == 50 and info["splits"]["test"]["n"] == 20
    assert info["splits"]["train"]["classes"] == 10 and len(info["classes"]) == 10


@pytest.mark.parametrize("flag", [["--quality", "0"], ["--shorter-side", "2"], ["--shard-size", "0"]])
def test_bad_flags_are_one_line_errors(idx_dir, tmp_path, capsys, flag):
    assert main(["data", "prepare", str(idx_dir), "--out", str(tmp_path / "o"), *flag]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("ilsvrc: error: --") and "\n" not in err



def test_reader_options_reach_the_reader(tmp_path):

    root = tmp_path / "caltech"
    make_caltech(root)
    out = tmp_path / "packed"
    assert main(["data", "prepare", str(root), "--out", str(out), "--shorter-side", "16",
                 "--option", "train_per_class=2", "--option", "seed=3"]) == 0
    expected = open_dataset(root, "train", train_per_class=2, seed=3)
    packed = open_dataset(out, "train")
    assert [packed.source(i) for i in range(len(packed))] == [expected.source(i) for i in range(len(expected))]
    assert main(["data", "prepare", str(root), "--out", str(tmp_path / "x"), "--option", "oops"]) == 1


def test_raw_storage_keeps_the_central_square_at_training_size(image_tree, tmp_path):
    from ilsvrc.data.images import resize_shorter

    out = tmp_path / "packed"
    prepare(image_tree, out, options=PackOptions(shorter_side=32, storage="raw", workers=2))
    ds, src = open_dataset(out, "train"), open_dataset(image_tree, "train")
    entry = json.loads((out / "index.json").read_text())["splits"]["train"]
    assert (entry["storage"], entry["image_shape"], len(entry["shards"])) == ("raw", [32, 32, 3], 1)
    for i in range(len(ds)):
        image = resize_shorter(src.image(i), 32)
        top, left = (image.shape[0] - 32) // 2, (image.shape[1] - 32) // 2
        np.testing.assert_array_equal(ds.image(i), image[top:top + 32, left:left + 32])
        assert ds.label(i) == src.label(i) and ds.source(i) == src.source(i)
    np.testing.assert_allclose(ds.stats["mean_image"], ds.images_array().mean(0), rtol=1e-5)


def test_image_views_are_read_only_images_copies_are_not(image_tree, tmp_path):
    prepare(image_tree, tmp_path / "raw", options=PackOptions(shorter_side=32, storage="raw"))
    prepare(image_tree, tmp_path / "jpeg", options=PackOptions(shorter_side=32))
    for storage in ("raw", "jpeg"):
        ds = open_dataset(tmp_path / storage, "train")
        view, image = ds.image_view(3), ds.image(3)
        np.testing.assert_array_equal(view, image)
        assert image.flags.writeable and view.flags.writeable == (storage == "jpeg")


def test_default_shard_sizes_are_about_100_mb(image_tree, tmp_path):
    from ilsvrc.data.prepare import _default_shard_size

    ds = open_dataset(image_tree, "train")
    assert _default_shard_size(ds, PackOptions()) == 2000
    assert _default_shard_size(ds, PackOptions(storage="raw")) == 508  # 256 x 256 x 3 bytes each


def test_unknown_storage_is_refused():
    with pytest.raises(ConfigError, match="--storage must be one of jpeg, raw, got 'png'"):
        PackOptions(storage="png")


def test_a_bad_image_fails_naming_it_or_is_skipped_and_listed(tmp_path, capsys):
    for k in range(6):
        write_image(tmp_path / "photos" / ("cat" if k % 2 else "dog") / f"{k}.jpg", k, size=(40, 30))
    bad = tmp_path / "photos" / "cat" / "3.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")
    args = ["data", "prepare", str(tmp_path / "photos"), "--shorter-side", "16", "--workers", "1"]
    assert main(args + ["--out", str(tmp_path / "a")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"ilsvrc: error: {bad}: ") and err.count("\n") == 1
    assert not (tmp_path / "a" / "index.json").exists()

    out = tmp_path / "b"
    assert main(args + ["--out", str(out), "--on-bad-image", "skip"]) == 0
    index = json.loads((out / "index.json").read_text())
    entry = index["splits"]["train"]
    assert entry["n"] == 5 and [s["source"] for s in entry["skipped"]] == ["cat/3.jpg"]
    assert entry["skipped"][0]["index"] == 1 and entry["skipped"][0]["problem"]
    ds = open_dataset(out, "train")
    assert len(ds) == 5 and "cat/3.jpg" not in [ds.source(i) for i in range(5)]
    assert ds.labels().tolist() == [0, 0, 1, 1, 1]  # cat (class 0) lost one image; labels still line up
    capsys.readouterr()
    assert main(args + ["--out", str(out), "--on-bad-image", "skip"]) == 0  # resumed: the shard is reused
    assert json.loads((out / "index.json").read_text())["splits"]["train"]["skipped"] == entry["skipped"]
    assert main(["data", "info", str(out)]) == 0
    assert "1 undecodable image(s) skipped: cat/3.jpg (" in capsys.readouterr().out
