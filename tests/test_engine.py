"""The training engine: resume equivalence, checkpoints that rebuild their model, evaluation, CLI."""
import csv
import json

import numpy as np
import pytest
import torch

from ilsvrc.cli import main
from ilsvrc.config import load_config
from ilsvrc.data.prepare import PackOptions, prepare
from ilsvrc.engine.checkpoint import load_checkpoint, model_from_checkpoint
from ilsvrc.engine.pipeline import Pipeline, random_pad_crop_flip
from ilsvrc.engine.train import build_model, train
from ilsvrc.errors import ConfigError, DataError
from ilsvrc.engine.evaluation import evaluate, predict_scores
from ilsvrc.scoring import run_scores
from ilsvrc.models import create_model
from fixtures import make_voc, packed_large, packed_learnable, tiny_config, write_split


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    return packed_learnable(tmp_path_factory.mktemp("engine"), train=64, test=32)


def test_lenet5_frames_28_pixel_images_with_the_normalised_background(tmp_path):
    # Black (0) background, one bright pixel per image in the middle: the frame must be black once normalised,
    # (0 - mean) / std, not 0, which is the mean grey.
    images = np.zeros((20, 28, 28), np.uint8)
    images[:, 14, 14] = 200
    write_split(tmp_path / "raw", images, np.arange(20) % 10, "train")
    write_split(tmp_path / "raw", images[:10], np.arange(10), "t10k")
    prepare(tmp_path / "raw", tmp_path / "packed", options=PackOptions())
    config = load_config("fashion-mnist-lenet5", [f"data.path={tmp_path / 'packed'}"])
    pipe = Pipeline.build(config.data, 0, torch.device("cpu"))
    mean, std = 200 / 784, np.sqrt(200 ** 2 / 784 - (200 / 784) ** 2)
    model = build_model(config, pipe, 10)
    assert model.config.pad_value == pytest.approx(-mean / std, rel=1e-4)
    x, _ = next(pipe.train_batches(0, 4))
    assert x[0, 0, 0, 0].item() == pytest.approx(model.config.pad_value, rel=1e-5)  # the image's own background


def test_resume_gives_identical_weights(packed, tmp_path):
    straight = tmp_path / "straight"
    train(tiny_config(packed, 3), straight)
    split = tmp_path / "split"
    train(tiny_config(packed, 1), split)
    assert main(["train", "--resume", str(split), "--epochs", "3", "--quiet"]) == 0
    a = load_checkpoint(straight, "last")
    b = load_checkpoint(split, "last")
    assert a["epoch"] == b["epoch"] == 3
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    rows = (split / "metrics.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["1", "2", "3"]


def test_checkpoint_alone_rebuilds_the_model_and_eval_matches(packed, tmp_path, capsys):
    run = tmp_path / "run"
    config = tiny_config(packed, 2)
    train(config, run)
    state = load_checkpoint(run / "checkpoints" / "best.pt")
    model = model_from_checkpoint(state)
    pipe = Pipeline.build(config.data, 0, torch.device("cpu"), stats={k: v.numpy() for k, v in state["data_stats"].items()})
    result = evaluate(model, pipe, "test")
    assert main(["eval", str(run), "--split", "test", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["top1_error"] == pytest.approx(result["top1_error"]) == pytest.approx(state["metrics"]["val_top1_error"])
    assert printed["n"] == 32 and printed["tta"] == "center"


def test_eval_errors_follow_known_scores(packed):
    """A model whose scores are fixed per test image gives exactly the errors computed by hand."""
    class Table(torch.nn.Module):
        def __init__(self, table):
            super().__init__()
            self.table, self.calls = table, 0

        def forward(self, x):
            out = self.table[self.calls:self.calls + len(x)]
            self.calls += len(x)
            return out

    config = load_config("fashion-mnist-lenet5", [f"data.path={packed}"])
    pipe = Pipeline.build(config.data, 0, torch.device("cpu"))
    labels = torch.as_tensor(pipe.dataset("test").labels())
    scores = torch.full((32, 10), -5.0)
    scores[torch.arange(32), labels] = 1.0  # right at top-1 ...
    scores[:8, :] = torch.arange(10, dtype=torch.float)  # ... except 8 images ranked 9, 8, ..., 0
    result = evaluate(Table(scores), pipe, "test")
    expected_top1 = sum(labels[i].item() != 9 for i in range(8)) / 32
    expected_top5 = sum(labels[i].item() < 5 for i in range(8)) / 32
    assert result["top1_error"] == pytest.approx(expected_top1)
    assert result["top5_error"] == pytest.approx(expected_top5)
    assert np.trace(np.array(result["confusion"])) == 32 - round(expected_top1 * 32)


def test_random_pad_crop_flip_windows_are_shifted_views():
    images = torch.arange(2 * 4 * 5, dtype=torch.uint8).reshape(2, 4, 5, 1)
    gen = torch.Generator().manual_seed(3)
    out = random_pad_crop_flip(images, pad=1, flip=True, gen=gen)
    padded = torch.nn.functional.pad(images, (0, 0, 1, 1, 1, 1))
    for b in range(2):
        matches = [(t, l, f) for t in range(3) for l in range(3) for f in (False, True)
                   if torch.equal(out[b], (padded[b, t:t + 4, l:l + 5].flip(1) if f else padded[b, t:t + 4, l:l + 5]))]
        assert matches, f"image {b} is not a window of its padded self"


def test_bad_config_values_are_one_line_errors(tmp_path, capsys):
    with pytest.raises(ConfigError, match="train.precision must be fp32 or bf16"):
        load_config("fashion-mnist-lenet5", ["train.precision=fp8"])
    with pytest.raises(ConfigError, match="unknown field"):
        load_config("fashion-mnist-lenet5", ["optim.learning_rate=1"])
    with pytest.raises(ConfigError, match="unknown config"):
        load_config("no-such-preset")
    assert main(["train", "--config", "paper", "--out", str(tmp_path / "x"), "--set", "nonsense"]) == 1
    assert "--set takes SECTION.FIELD=VALUE" in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "nothing")]) == 1


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_corrupt_checkpoint_is_named(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x80\x04 definitely not a checkpoint")
    with pytest.raises(DataError, match="bad.pt: not a readable checkpoint"):
        load_checkpoint(bad)


def test_every_preset_loads():
    from ilsvrc.config import presets

    assert {"paper", "fashion-mnist-lenet5"} <= set(presets())
    for name in presets():
        load_config(name)


def test_predict_names_the_top_classes(packed, tmp_path, capsys):
    from PIL import Image

    run = tmp_path / "run"
    train(tiny_config(packed, 1), run)
    capsys.readouterr()  # the run's epoch lines
    image = tmp_path / "shirt.png"
    Image.fromarray(np.full((40, 30, 3), 180, np.uint8)).save(image)  # any size, RGB: brought to 28x28 gray
    assert main(["predict", str(run), str(image), "--json"]) == 0
    (result,) = json.loads(capsys.readouterr().out)
    probabilities = [entry["probability"] for entry in result["top"]]
    assert len(probabilities) == 5 and probabilities == sorted(probabilities, reverse=True)
    assert 0 < sum(probabilities) <= 1 + 1e-6
    assert all(entry["name"] == entry["class"] for entry in result["top"])  # digits: names are the ids
    assert main(["predict", str(run), str(tmp_path / "missing.png")]) == 1
    assert "missing.png: cannot read" in capsys.readouterr().err


def test_voc_is_scored_by_mean_average_precision(tmp_path):

    from ilsvrc import metrics

    make_voc(tmp_path / "voc")
    out = tmp_path / "packed"
    prepare(tmp_path / "voc", out, options=PackOptions(shorter_side=16))
    config = load_config("paper", [f"data.path={out}", "data.crop=8", "data.region=16", "data.val_split=val",
                                   "data.workers=0"])
    pipe = Pipeline.build(config.data, 0, torch.device("cpu"))
    ds = pipe.dataset("val")
    scores = torch.tensor(np.random.default_rng(4).normal(size=(len(ds), 20)), dtype=torch.float32)

    class Fixed(torch.nn.Module):
        def forward(self, x):  # one view per image (centre crop): the rows of `scores`, in order
            return scores[:len(x)]

    result = evaluate(Fixed(), pipe, "val")
    expected = metrics.mean_average_precision(scores.numpy(), ds.labels(), ds.difficult_array(), eleven_point=True)
    assert result["eleven_point"] and result["n"] == len(ds) == 2
    assert result["mAP"] == pytest.approx(expected)


@pytest.mark.slow  # the full-size AlexNet at 224 px
def test_paper_recipe_runs_end_to_end_on_synthetic_ilsvrc(tmp_path):
    """The 2012 network and recipe on ILSVRC-2012-format archives: prepare, a few SGD steps, 10-crop eval."""
    from ilsvrc.data.synth import write_archives

    write_archives(tmp_path / "archives", classes=3, train_per_class=4, val_per_class=1)
    prepare(tmp_path / "archives", tmp_path / "packed")
    run = tmp_path / "run"
    assert main(["train", "--config", "paper", "--data", str(tmp_path / "packed"), "--out", str(run),
                 "--epochs", "1", "--batch-size", "4", "--quiet", "--set", "data.workers=0"]) == 0
    state = load_checkpoint(run)
    fc8_for_1000 = 4096 * 1000 + 1000
    assert state["model_config"]["name"] == "alexnet"
    assert sum(p.numel() for p in state["model"].values()) == 60_965_224 - fc8_for_1000 + 4096 * 3 + 3
    assert state["data_stats"]["mean_image"].shape == (256, 256, 3)
    result = evaluate(model_from_checkpoint(state), Pipeline.build(
        load_config("paper", [f"data.path={tmp_path / 'packed'}", "data.workers=0"]).data, 0,
        torch.device("cpu")), "val", tta="10crop")
    assert result["n"] == 3 and result["tta"] == "10crop" and 0 <= result["top1_error"] <= 1


@pytest.mark.slow  # the full-size two-tower AlexNet at 224 px
def test_the_two_tower_net_trains_from_the_command_line_and_reloads(tmp_path):
    """The paper's model-parallel AlexNet, each tower on its own device (here both on the CPU)."""
    from ilsvrc.data.synth import write_archives

    write_archives(tmp_path / "archives", classes=3, train_per_class=4, val_per_class=1)
    prepare(tmp_path / "archives", tmp_path / "packed")
    run = tmp_path / "run"
    assert main(["train", "--config", "paper", "--data", str(tmp_path / "packed"), "--out", str(run), "--epochs", "1",
                 "--batch-size", "4", "--quiet", "--set", "data.workers=0", "--set", "model.name=alexnet-two-tower",
                 "--set", "model.options={devices: [cpu, cpu]}"]) == 0
    state = load_checkpoint(run)
    assert state["model_config"]["name"] == "alexnet-two-tower"
    assert sum(p.numel() for p in state["model"].values()) == 60_965_224 - (4096 * 1000 + 1000) + 4096 * 3 + 3
    result = run_scores(str(run), split="val", tta="10crop").result()
    assert result["n"] == 3 and result["tta"] == "10crop"


def test_without_random_crops_large_images_train_on_the_central_crop(tmp_path):
    """data.random_crop=false, data.flip=false: every training view is the central crop of the region,
    the view centre evaluation takes, whatever the epoch (the "no augmentation" arm at paper scale)."""
    data = packed_large(tmp_path, classes=2, train_per_class=4, val_per_class=1, side=40)
    sets = [f"data.path={data}", "data.crop=24", "data.region=32", "data.workers=0", "data.lighting=0"]
    still = Pipeline.build(load_config("paper", sets + ["data.random_crop=false", "data.flip=false"]).data, 0,
                           torch.device("cpu"))
    moving = Pipeline.build(load_config("paper", sets).data, 0, torch.device("cpu"))
    assert not still.train_transform().crop.random and moving.train_transform().crop.random
    centre = torch.cat([views[:, 0] for views, _ in still.eval_batches("train")])  # (N, 3, 24, 24) in order
    labels = still.dataset("train").labels()
    for epoch in range(2):
        for x, y in still.train_batches(epoch, 4):
            for view, label in zip(x, y):  # each one is the centre view of an image of its class
                assert any(torch.allclose(view, c) for c in centre[torch.as_tensor(labels) == label])
    shifted = torch.cat([x for x, _ in moving.train_batches(0, 4)])
    assert not all(any(torch.allclose(view, c) for c in centre) for view in shifted)


def test_flip_views_are_the_centre_view_and_its_mirror_image(packed):
    config = load_config("fashion-mnist-fast", [f"data.path={packed}"])
    pipe = Pipeline.build(config.data, 0, torch.device("cpu"))
    (centre, labels), (flipped, same_labels) = (next(pipe.eval_batches("test", tta)) for tta in ("center", "flip"))
    assert centre.shape == (32, 1, 1, 28, 28) and flipped.shape == (32, 2, 1, 28, 28)
    assert torch.equal(labels, same_labels)
    assert torch.equal(flipped[:, 0], centre[:, 0]) and torch.equal(flipped[:, 1], centre[:, 0].flip(-1))


def test_flip_tta_averages_the_softmax_of_both_views(packed):
    config = load_config("fashion-mnist-fast", [f"data.path={packed}"])
    pipe = Pipeline.build(config.data, 0, torch.device("cpu"))
    torch.manual_seed(0)
    model = create_model("convnet-bn", widths=(8, 16), depth=1).eval()
    (x, _), = pipe.eval_batches("test", "center")
    x = x[:, 0]
    with torch.no_grad():
        expected = (model(x).softmax(-1) + model(x.flip(-1)).softmax(-1)) / 2
    scores, _ = predict_scores(model, pipe.eval_batches("test", "flip"))
    assert torch.allclose(scores, expected, atol=1e-6)
    assert not torch.allclose(scores, predict_scores(model, pipe.eval_batches("test", "center"))[0], atol=1e-4)


@pytest.mark.parametrize("every, validated", [(1, [1, 2, 3]), (2, [2, 3]), (0, [3])])
def test_eval_every_validates_those_epochs_and_the_last(packed, tmp_path, every, validated):
    run = tmp_path / "run"
    train(tiny_config(packed, 3, **{"schedule.kind": "onecycle", "train.eval_every": every}), run)
    rows = list(csv.DictReader(open(run / "metrics.csv")))
    assert [int(r["epoch"]) for r in rows if r["val_top1_error"] != "nan"] == validated
    assert all(r["val_top5_error"] == "nan" for r in rows if int(r["epoch"]) not in validated)
    best = load_checkpoint(run, "best")
    assert best["epoch"] in validated
    assert json.loads((run / "summary.json").read_text())["best_epoch"] == best["epoch"]


def test_plateau_needs_every_epoch_validated(packed):
    with pytest.raises(ConfigError, match="schedule.kind plateau .* needs train.eval_every=1"):
        tiny_config(packed, 3, **{"train.eval_every": 2})
    with pytest.raises(ConfigError, match="train.eval_every must not be negative"):
        tiny_config(packed, 3, **{"schedule.kind": "cosine", "train.eval_every": -1})
    with pytest.raises(ConfigError, match="train.eval_tta must be one of center, flip, 10crop"):
        tiny_config(packed, 3, **{"train.eval_tta": "mirror"})


def test_fast_preset_trains_and_its_flip_evaluation_is_reproduced(packed, tmp_path):
    run = tmp_path / "fast"
    config = load_config("fashion-mnist-fast", [f"data.path={packed}", "train.epochs=2", "optim.batch_size=16"])
    train(config, run)
    state = load_checkpoint(run)
    assert state["model_config"]["name"] == "convnet-bn" and state["config"]["train"]["eval_tta"] == "flip"
    again = run_scores(str(run), split="test").result()  # by default, the views the run validated with
    assert again["tta"] == "flip" and again["top1_error"] == pytest.approx(state["metrics"]["val_top1_error"])
    assert run_scores(str(run), split="test", tta="center").result()["tta"] == "center"


def test_optimizers_use_the_fused_kernel_where_torch_has_one():
    from ilsvrc.engine.build import fused_if_supported, make_optimizer

    config = load_config("fashion-mnist-lenet5")
    assert make_optimizer(config, torch.nn.Linear(3, 2)).defaults["fused"] is True

    class CudaOnlyFused(torch.optim.SGD):  # as torch < 2.4 answers for CPU tensors
        def __init__(self, params, fused=None, **options):
            if fused:
                raise RuntimeError("`fused=True` requires all the params to be floating point Tensors of "
                                   "supported devices: ['cuda']")
            super().__init__(params, **options)

    fallback = fused_if_supported(CudaOnlyFused, [torch.nn.Parameter(torch.zeros(3))], lr=0.1, momentum=0.9)
    assert not fallback.defaults["fused"] and fallback.defaults["momentum"] == 0.9


def test_train_refuses_a_folder_holding_a_run_or_a_file_before_any_work(packed, tmp_path, capsys):
    run = tmp_path / "run"
    train(tiny_config(packed, 1), run)
    metrics = (run / "metrics.csv").read_text()
    args = ["train", "--config", "fashion-mnist-lenet5", "--data", str(packed), "--epochs", "1", "--quiet"]
    assert main(args + ["--out", str(run)]) == 1
    assert capsys.readouterr().err.strip() == (f"ilsvrc: error: {run}: already holds a run (checkpoints/last.pt); "
                                               "continue it with --resume RUN_DIR, or choose another --out")
    assert (run / "metrics.csv").read_text() == metrics  # nothing overwritten
    (tmp_path / "file").write_text("x")
    assert main(args + ["--out", str(tmp_path / "file")]) == 1
    assert "file: exists and is not a folder; choose another --out" in capsys.readouterr().err


def test_a_bad_validation_split_or_crop_fails_before_the_first_epoch_and_writes_nothing(packed, tmp_path):
    with pytest.raises(DataError, match=r"packed: no split 'nosuch' \(splits: train, test\)"):
        train(tiny_config(packed, 1, **{"data.val_split": "nosuch"}), tmp_path / "a")
    with pytest.raises(ConfigError, match=f"{packed}: 28x28 images are smaller than data.crop 64; leave data.crop"):
        train(tiny_config(packed, 1, **{"data.crop": 64, "data.region": 64}), tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_resuming_a_finished_run_says_there_is_nothing_to_do(packed, tmp_path, capsys):
    run = tmp_path / "run"
    train(tiny_config(packed, 1), run)
    assert main(["train", "--resume", str(run)]) == 0
    assert f"nothing to do: {run} already trained 1 epochs (raise --epochs to continue)" in capsys.readouterr().out


def test_scoring_counts_every_image_on_its_progress_bar(packed):
    import io

    from tqdm import tqdm

    config = load_config("fashion-mnist-lenet5", [f"data.path={packed}"])
    pipe = Pipeline.build(config.data, 0, torch.device("cpu"))
    model = build_model(config, pipe, 10)
    out = io.StringIO()
    bar = tqdm(total=32, file=out, unit="img")
    scores, labels = predict_scores(model, pipe.eval_batches("test", "10crop", batch_size=8), bar=bar)
    assert scores.shape == (32, 10) and bar.n == 32 and "32/32" in out.getvalue()


def test_early_epochs_train_on_images_resized_as_torchvision_resizes_them(packed):
    from torchvision.transforms.v2 import functional as TF

    sets = [f"data.path={packed}", "data.early_side=20", "data.early_epochs=2"]
    early = Pipeline.build(load_config("fashion-mnist-fast", sets).data, 0, torch.device("cpu"))
    full = Pipeline.build(load_config("fashion-mnist-fast", [f"data.path={packed}"]).data, 0, torch.device("cpu"))
    for epoch in (0, 1):
        (x, y), (x_full, y_full) = next(early.train_batches(epoch, 16)), next(full.train_batches(epoch, 16))
        assert x.shape == (16, 1, 20, 20) and torch.equal(y, y_full)  # the same batch, scaled
        torch.testing.assert_close(x, TF.resize(x_full, [20, 20], antialias=True), atol=1e-5, rtol=1e-5)
    assert torch.equal(next(early.train_batches(2, 16))[0], next(full.train_batches(2, 16))[0])  # then full size
    assert [early.train_side(e) for e in range(3)] == [20, 20, None]


def test_a_run_with_early_small_epochs_trains_and_says_so_on_its_progress_bars(packed, tmp_path, monkeypatch):
    from ilsvrc import progress

    shapes, titles, bar = [], [], progress.bar
    monkeypatch.setattr(progress, "bar", lambda total, desc="", **kw: titles.append(desc) or bar(total, desc, **kw))
    config = load_config("fashion-mnist-fast", [f"data.path={packed}", "optim.batch_size=16", "train.epochs=3",
                                                "data.early_side=20", "data.early_epochs=2"])
    run = tmp_path / "run"
    original = Pipeline.train_batches
    monkeypatch.setattr(Pipeline, "train_batches", lambda self, epoch, *a: (
        shapes.append((epoch, tuple(x.shape[-2:]))) or (x, y) for x, y in original(self, epoch, *a)))
    train(config, run)
    assert [t for t in titles if t.startswith("epoch")] == ["epoch 1/3 at 20 px", "epoch 2/3 at 20 px", "epoch 3/3"]
    assert sorted(set(shapes)) == [(0, (20, 20)), (1, (20, 20)), (2, (28, 28))]
    assert load_checkpoint(run)["epoch"] == 3


def test_early_side_needs_a_model_that_takes_that_size(packed, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--config", "fashion-mnist-lenet5", "--out", str(run), "--set", f"data.path={packed}",
                 "--set", "data.early_side=20", "--set", "data.early_epochs=1"]) != 0
    err = capsys.readouterr().err.strip()
    assert err.startswith("ilsvrc: error: data.early_side 20: model lenet5 does not take 20x20 images (") and \
        "progressive resizing needs a model that pools globally" in err and len(err.splitlines()) == 1
    assert not run.exists()  # refused before the run folder is made


@pytest.mark.parametrize("sets, message", [
    (["data.early_side=20"], r"data.early_side \(20\) and data.early_epochs \(0\) go together"),
    (["data.early_epochs=3"], r"data.early_side \(0\) and data.early_epochs \(3\) go together"),
    (["data.early_side=-1", "data.early_epochs=2"], "must not be negative")])
def test_early_side_and_epochs_are_set_together(sets, message):
    with pytest.raises(ConfigError, match=message):
        load_config("fashion-mnist-fast", sets)


def test_shift_views_are_the_image_its_four_one_pixel_shifts_and_their_mirror_images(packed):
    config = load_config("fashion-mnist-fast", [f"data.path={packed}"])
    pipe = Pipeline.build(config.data, 0, torch.device("cpu"))
    (centre, labels), (views, same_labels) = (next(pipe.eval_batches("test", tta)) for tta in ("center", "shift"))
    assert views.shape == (32, 10, 1, 28, 28) and torch.equal(labels, same_labels)
    image, background = centre[:, 0], pipe.normalization.apply_(torch.zeros(1, 1, 1, 1))  # black, normalised
    assert torch.equal(views[:, 0], image) and torch.equal(views[:, 5:], views[:, :5].flip(-1))
    up, down, left, right = views[:, 1], views[:, 2], views[:, 3], views[:, 4]  # the content moves that way
    assert torch.equal(up[..., :-1, :], image[..., 1:, :]) and torch.equal(down[..., 1:, :], image[..., :-1, :])
    assert torch.equal(left[..., :-1], image[..., 1:]) and torch.equal(right[..., 1:], image[..., :-1])
    assert torch.equal(up[..., -1, :], torch.full_like(up[..., -1, :], background.item()))


def test_shift_views_are_refused_for_large_images_before_training():
    with pytest.raises(ConfigError, match="train.eval_tta shift .* is for small images"):
        load_config("paper", ["train.eval_tta=shift"])


def test_a_whitened_convnet_starts_from_its_training_images_and_large_images_are_refused(packed, tmp_path):
    config = load_config("fashion-mnist-fast", [f"data.path={packed}", "model.options.whiten=true"])
    pipe = Pipeline.build(config.data, 0, torch.device("cpu"))
    torch.manual_seed(0)
    model = build_model(config, pipe, 10)
    sample = pipe.image_sample(5000)
    assert sample.shape == (64, 1, 28, 28)  # every training image of the fixture, normalised
    expected = create_model("convnet-bn", in_channels=1, whiten=True)
    expected.init_whitening(sample)
    assert torch.equal(model.first_conv().weight[:18], expected.first_conv().weight[:18])
    pipe.config.crop = 224  # what a large-image recipe sets
    with pytest.raises(ConfigError, match="whiten is for small images"):
        pipe.image_sample(10)
