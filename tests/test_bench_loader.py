"""`ilsvrc bench loader`: the reference's image tree, the timing rule, the GPU path's CPU fallback, the result."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ilsvrc.bench import loader as bench
from ilsvrc.data import open_dataset
from ilsvrc.data.prepare import PackOptions, prepare
from ilsvrc.data.synth import write_archives
from ilsvrc.engine.pipeline import Pipeline
from ilsvrc.errors import ConfigError, DataError

# torchvision 0.29 deprecates its image decoders for TorchCodec; nvJPEG batches still go through it
TORCHVISION_DECODERS = pytest.mark.filterwarnings("ignore:The image decoding:DeprecationWarning")


@pytest.fixture(scope="module")
def archives(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    write_archives(root, classes=2, train_per_class=10, val_per_class=1, seed=3)
    return root


@pytest.fixture(scope="module")
def packed(archives, tmp_path_factory):
    out = {}
    for storage in ("jpeg", "raw"):
        out[storage] = tmp_path_factory.mktemp(storage)
        prepare(archives, out[storage], options=PackOptions(storage=storage, workers=1))
    return out


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path / "home" / ".cache" / "ilsvrc" / "bench-reference"


def test_reference_tree_holds_the_original_files_by_class_once(archives, packed, cache):
    root = bench.reference_tree(packed["jpeg"], "train")
    source = open_dataset(archives, "train")
    assert root.parent == cache
    files = sorted(p for p in root.glob("*/*"))
    assert len(files) == len(source) == 20
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == sorted(source.classes)
    for i in (0, 7, 19):
        path = root / source.classes[source.label(i)] / Path(source.source(i)).name
        assert path.read_bytes() == source.raw(i)
    stamp = files[0].stat().st_mtime_ns
    assert bench.reference_tree(packed["raw"], "train") == root  # same originals, same tree, not rewritten
    assert files[0].stat().st_mtime_ns == stamp


def test_a_partial_tree_is_redone(packed, cache):
    root = bench.reference_tree(packed["jpeg"], "train")
    (root / bench.DONE).unlink()
    victim = next(root.glob("*/*"))
    victim.unlink()
    assert bench.reference_tree(packed["jpeg"], "train") == root
    assert victim.exists() and (root / bench.DONE).read_text() == "20\n"


def test_data_without_original_files_has_no_reference(tmp_path):
    from fixtures import write_split

    write_split(tmp_path / "digits", np.zeros((4, 28, 28), np.uint8), np.arange(4), "train", gz=True)
    with pytest.raises(DataError, match="has none: pass --reference-root"):
        bench.extract_tree(open_dataset(tmp_path / "digits", "train"), tmp_path / "tree")


def test_the_clock_starts_at_the_first_batch_and_counts_images():
    batches = [(torch.zeros(n), None) for n in (4, 4, 4, 3)]
    images, seconds = bench.time_batches(batches, torch.device("cpu"))
    assert images == 11 and seconds >= 0


@TORCHVISION_DECODERS
def test_device_decoding_on_the_cpu_gives_the_pipeline_s_batches(packed):
    """The GPU path's fallback: JPEG files decoded by torchvision, cropped where the loader would crop."""
    config = bench.paper_data(packed["jpeg"], workers=0)
    pipe = Pipeline.build(config, seed=5, device=torch.device("cpu"))
    pipe.lighting = None  # drawn from different generators; the rest must match exactly
    on_device = Pipeline.build(bench.paper_data(packed["jpeg"], workers=0, decode="device"), seed=5,
                               device=torch.device("cpu"))
    on_device.lighting = None
    ours = list(pipe.train_batches(2, 4))
    decoded = list(on_device.train_batches(2, 4))
    assert len(ours) == len(decoded) == 5
    for (x, y), (xd, yd) in zip(ours, decoded):
        assert x.shape == xd.shape == (4, 3, 224, 224)
        torch.testing.assert_close(xd, x, rtol=0, atol=0)
        assert torch.equal(y, yd)


def test_run_compares_both_pipelines_on_the_same_images(packed, cache):
    result = bench.run(str(packed["raw"]), batch=4, workers=0, repeats=1, device="auto", profile=True)
    assert result["ratio"] == pytest.approx(result["ours_img_s"] / result["reference_img_s"])
    assert result["ours_img_s"] > 0 and result["reference_img_s"] > 0
    assert result["images"] == result["reference_images"] == 20
    assert (result["storage"], result["decode"], result["device"].startswith("cpu")) == ("raw", "workers", True)
    stages = result["stages_ms_per_image"]
    assert list(stages["ours"]) == ["map raw pixels", "draw crop and flip", "copy crop into batch",
                                    "lighting and mean image (per batch)"]
    assert len(stages["reference"]) == 6 and all(v > 0 for v in stages["reference"].values())


def test_command_prints_json_with_the_agreed_keys(packed, cache, capsys):
    assert bench.loader_command(str(packed["jpeg"]), batch=5, workers=1, repeats=1, json=True) == 0
    result = json.loads(capsys.readouterr().out)
    assert {"ours_img_s", "reference_img_s", "ratio"} <= set(result)
    assert result["storage"] == "jpeg" and result["workers"] == 1


def test_too_few_images_for_the_batch(packed, cache):
    with pytest.raises(ConfigError, match="20 training images make fewer than 3 batches of 8"):
        bench.run(str(packed["raw"]), batch=8, workers=0)
    with pytest.raises(ConfigError, match="--workers must not be negative"):
        bench.run(str(packed["raw"]), workers=-1)


@pytest.mark.gpu
@TORCHVISION_DECODERS
def test_gpu_decoding_matches_the_cpu(packed):
    pipe = Pipeline.build(bench.paper_data(packed["jpeg"], workers=0, decode="device"), seed=5,
                          device=torch.device("cuda"))
    pipe.lighting = None
    cpu = Pipeline.build(bench.paper_data(packed["jpeg"], workers=0), seed=5, device=torch.device("cpu"))
    cpu.lighting = None
    for (x, y), (xc, yc) in zip(pipe.train_batches(0, 4), cpu.train_batches(0, 4)):
        assert x.device.type == "cuda" and torch.equal(y.cpu(), yc)
        assert (x.cpu() - xc).abs().mean() < 2  # nvJPEG's IDCT and upsampling differ from libjpeg-turbo's by a little


def test_device_decoding_needs_jpeg_storage(packed):
    with pytest.raises(ConfigError, match="data.decode=device decodes JPEG-stored large images; this data's "
                                          r"training images are stored raw \(set data.decode=cpu\)$"):
        Pipeline.build(bench.paper_data(packed["raw"], workers=0, decode="device"), seed=5, device=torch.device("cpu"))
