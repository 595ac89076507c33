"""`ilsvrc experiment`: the verdict rule by hand, every experiment's wiring, and tiny end-to-end runs.

The budgets here are tiny: these tests check what is trained, measured, compared and written, never
the verdicts themselves.
"""
import dataclasses
import json
import math

import numpy as np
import pytest
import torch

from ilsvrc.cli import main
from ilsvrc.engine.train import build_model
from ilsvrc.engine.pipeline import Pipeline
from ilsvrc.experiment.catalogue import EXPERIMENTS
from ilsvrc.experiment.command import run_experiment
from ilsvrc.experiment.registry import Budget, Experiment
from ilsvrc.experiment.result import read_result
from ilsvrc.experiment.runner import arm_config, make_context
from ilsvrc.experiment.subsets import stratified
from ilsvrc.experiment.verdict import (NOT_MEASURED, NOT_SIGNIFICANT, OPPOSITE, REPRODUCED, VERDICTS, difference,
                                       verdict)
from fixtures import packed_learnable

TINY = Budget(40, 20, 1, 2)


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    return packed_learnable(tmp_path_factory.mktemp("experiment"), train=90, test=30)


def tiny(name: str, **extra) -> Experiment:
    e = EXPERIMENTS[name]
    return dataclasses.replace(e, quick=TINY, extra={**e.extra, **extra})


# ---- the verdict rule ----

def test_welch_difference_by_hand():
    diff, se = difference([0.30, 0.32, 0.34], [0.20, 0.21, 0.22])
    assert diff == pytest.approx(0.11)
    assert se == pytest.approx(math.sqrt(0.02 ** 2 / 3 + 0.01 ** 2 / 3))


def test_paired_difference_uses_the_per_seed_differences():
    diff, se = difference([0.30, 0.40, 0.50], [0.29, 0.38, 0.47], paired=True)
    assert diff == pytest.approx(0.02) and se == pytest.approx(0.01 / math.sqrt(3))


@pytest.mark.parametrize("diff, se, sign, expected", [
    (0.05, 0.02, +1, REPRODUCED),       # 2.5 standard errors, the paper's sign
    (0.03, 0.02, +1, NOT_SIGNIFICANT),  # 1.5 standard errors
    (0.04, 0.02, +1, NOT_SIGNIFICANT),  # exactly 2: not more than 2
    (-0.05, 0.02, +1, OPPOSITE),
    (-0.05, 0.02, -1, REPRODUCED),
    (0.05, math.nan, +1, NOT_SIGNIFICANT),  # one seed: no standard error, nothing significant
    (math.nan, math.nan, +1, NOT_MEASURED),
])
def test_verdict_rule(diff, se, sign, expected):
    assert verdict(diff, se, sign) == expected


def test_one_seed_has_no_standard_error():
    diff, se = difference([0.3], [0.2])
    assert diff == pytest.approx(0.1) and math.isnan(se)
    assert math.isnan(difference([], [0.2])[0])


def test_stratified_subsets_keep_the_class_proportions():
    labels = np.repeat(np.arange(3), [50, 30, 20])
    chosen = stratified(labels, 10, seed=1)
    assert len(chosen) == 10 and list(np.bincount(labels[chosen])) == [5, 3, 2]
    assert not np.array_equal(chosen, stratified(labels, 10, seed=2))
    assert np.array_equal(stratified(labels, None, 0), np.arange(100))


# ---- the catalogue ----

def test_the_catalogue_holds_the_thirteen_claims():
    assert list(EXPERIMENTS) == ["scale", "depth", "relu-vs-tanh", "dropout", "augmentation", "pca-lighting", "lrn",
                                 "overlapping-pooling", "ten-crop", "two-tower", "bias-init", "gpu", "together"]
    for e in EXPERIMENTS.values():
        assert e.comparisons and all(c.paper.source and c.paper.sign in (1, -1) for c in e.comparisons)
        assert e.quick.seeds >= 2 and e.full.seeds >= 3


WIRING = {  # experiment -> arm -> what its model or data config must show
    "depth": {"no-conv3": lambda m, c: m.conv3 is None, "no-conv4": lambda m, c: m.conv4 is None},
    "relu-vs-tanh": {"tanh": lambda m, c: m.act is torch.tanh, "relu": lambda m, c: m.act is not torch.tanh},
    "dropout": {"dropout": lambda m, c: m.drop.p == 0.5, "no-dropout": lambda m, c: m.drop.p == 0.0},
    "augmentation": {"crops-flips": lambda m, c: c.data.pad == 2 and c.data.flip,
                     "none": lambda m, c: c.data.pad == 0 and not c.data.flip},
    "pca-lighting": {"lighting": lambda m, c: c.data.lighting == 0.1, "no-lighting": lambda m, c: c.data.lighting == 0},
    "lrn": {"lrn": lambda m, c: type(m.norm).__name__ == "LocalResponseNorm",
            "no-lrn": lambda m, c: isinstance(m.norm, torch.nn.Identity)},
    "overlapping-pooling": {"overlap": lambda m, c: m.pool.kernel_size == 3, "plain": lambda m, c: m.pool.kernel_size == 2},
    "ten-crop": {"center": lambda m, c: c.data.pad == 2},
    "two-tower": {"two-tower": lambda m, c: m.conv2.groups == 2 and m.conv1.out_channels == 32,
                  "half-width": lambda m, c: m.conv2.groups == 1 and m.conv1.out_channels == 16
                  and m.conv5.out_channels == 64},
    "bias-init": {"bias-1": lambda m, c: bool((m.conv2.bias == 1).all()) and c.data.normalize == "mean_image",
                  "bias-0.1": lambda m, c: torch.allclose(m.fc6.bias, torch.tensor(0.1)),
                  "bias-0": lambda m, c: bool((m.fc7.bias == 0).all())},
    "together": {"full": lambda m, c: c.data.pad == 2 and m.conv3 is not None and m.drop.p > 0,
                 "pre-2012": lambda m, c: (m.act is torch.tanh and m.drop.p == 0 and c.data.pad == 0
                                           and isinstance(m.norm, torch.nn.Identity) and m.conv3 is None
                                           and m.pool.kernel_size == 2)},
}


@pytest.mark.parametrize("name", list(WIRING))
def test_every_arm_builds_the_model_it_claims(name, packed, tmp_path):
    e = tiny(name)
    context = make_context(e, str(packed), tmp_path, True, None, "cpu")
    assert set(WIRING[name]) <= {a.name for a in e.arms if a.reuse is None}
    for arm in e.arms:
        if arm.reuse is not None:
            continue
        config = arm_config(context, arm.overrides, packed, 0, 1)
        model = build_model(config, Pipeline.build(config.data, 0, torch.device("cpu")), 10)
        check = WIRING[name].get(arm.name)
        assert check is None or check(model, config), arm.name


# ---- tiny runs end to end ----

def check_record(folder, name, arms, seeds=2):
    result = read_result(folder)
    assert result["format"] == "ilsvrc-experiment" and result["version"] == 1 and result["name"] == name
    assert [a["name"] for a in result["arms"]] == arms and result["quick"] is True
    assert all(len(a["values"]) == len(a["runs"]) == seeds for a in result["arms"] if a["values"])
    assert result["verdict"] in VERDICTS and result["comparisons"][0]["paper"]["source"]
    assert {"cpu", "cores", "device"} <= set(result["machine"]) and result["date"] and result["wall_seconds"] >= 0
    assert (folder / "figure.png").read_bytes()[:4] == b"\x89PNG"
    assert "QUICK" in (folder / "table.txt").read_text()
    return result


def test_lrn_end_to_end(packed, tmp_path):
    result = run_experiment(tiny("lrn"), str(packed), tmp_path / "lrn", quick=True, device="cpu", log=lambda s: None)
    saved = check_record(tmp_path / "lrn", "lrn", ["lrn", "no-lrn"])
    assert saved == json.loads(json.dumps(result))
    lrn, off = saved["arms"]
    assert lrn["values"] == [r["top1_error"] for r in lrn["runs"]] and lrn["mean"] == pytest.approx(np.mean(lrn["values"]))
    c = saved["comparisons"][0]
    assert c["diff"] == pytest.approx(off["mean"] - lrn["mean"])
    assert c["verdict"] == verdict(c["diff"], c["se"] if c["se"] is not None else math.nan, +1)
    assert sorted(p.name for p in (tmp_path / "lrn" / "runs").iterdir()) == ["lrn", "no-lrn"]


def test_ten_crop_scores_the_same_models_two_ways(packed, tmp_path):
    run_experiment(tiny("ten-crop"), str(packed), tmp_path / "t", quick=True, device="cpu", log=lambda s: None)
    result = check_record(tmp_path / "t", "ten-crop", ["center", "10crop"])
    center, ten = result["arms"]
    assert [r["run"] for r in center["runs"]] == [r["run"] for r in ten["runs"]]  # one training per seed
    assert result["comparisons"][0]["paired"] and not (tmp_path / "t" / "runs" / "10crop").exists()


def test_dropout_measures_the_gap_on_the_training_images(packed, tmp_path):
    run_experiment(tiny("dropout"), str(packed), tmp_path / "d", quick=True, device="cpu", log=lambda s: None)
    result = check_record(tmp_path / "d", "dropout", ["dropout", "no-dropout"])
    for arm in result["arms"]:
        for r in arm["runs"]:
            assert r["gap"] == pytest.approx(r["top1_error"] - r["train_eval_error"])


def test_scale_compares_hog_and_the_convnet_per_size(packed, tmp_path):
    e = tiny("scale", quick_sizes=(20, 40), quick_image_passes=40, max_epochs=2, min_epochs=1)
    run_experiment(e, str(packed), tmp_path / "s", quick=True, device="cpu", log=lambda s: None)
    result = check_record(tmp_path / "s", "scale", ["advantage@smallest", "advantage@largest"])
    for arm in result["arms"]:
        for r in arm["runs"]:
            assert r["advantage"] == pytest.approx(r["hog_error"] - r["convnet_error"])
    assert [p["train_images"] for p in result["series"]["HOG + linear SVM"]] == [20, 40]


def test_gpu_without_a_gpu_is_not_measured(tmp_path, packed, monkeypatch):
    import ilsvrc.experiment.gpu as gpu

    monkeypatch.setattr(gpu, "step_rate", lambda device, batch, steps=2: 10.0)
    e = tiny("gpu", batch={"cpu": 1, "cuda": 1}, matmul=64)
    run_experiment(e, "no-such-dataset", tmp_path / "g", quick=True, device="cpu", log=lambda s: None)  # needs none
    result = check_record(tmp_path / "g", "gpu", ["cpu", "cuda"], seeds=2)
    assert result["verdict"] == NOT_MEASURED and result["arms"][1]["values"] == []
    assert result["arms"][0]["runs"][0]["days_for_90_epochs"] == pytest.approx(90 * 1_281_167 / 10 / 86400)


# ---- the command ----

def test_help_lists_every_experiment(capsys):
    with pytest.raises(SystemExit):
        main(["experiment", "--help"])
    out = capsys.readouterr().out
    assert all(f"  {name} " in out for name in EXPERIMENTS) and "all" in out


def test_an_unknown_experiment_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as e:
        main(["experiment", "nonsense"])
    assert e.value.code == 2 and "invalid choice: 'nonsense'" in capsys.readouterr().err


def test_a_foreign_output_folder_is_refused_before_any_work(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["experiment", "lrn", "--quick", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"ilsvrc: error: {tmp_path}: holds files this command did not write (notes.txt)")



def test_a_bad_model_option_is_one_line_before_the_folder_is_made(tmp_path, packed, capsys):
    out = tmp_path / "lrn"
    args = ["experiment", "lrn", "--quick", "--data", str(packed), "--out", str(out)]
    assert main(args + ["--set", "model.options.lrn=maybe"]) == 1
    assert capsys.readouterr().err == "ilsvrc: error: alexnet-small: lrn must be true or false, got 'maybe'\n"
    assert not out.exists()

def test_report_turns_experiment_folders_into_what_made_it_work(tmp_path, packed, monkeypatch):
    import ilsvrc.experiment.gpu as gpu

    monkeypatch.setattr(gpu, "step_rate", lambda device, batch, steps=2: 10.0)
    run_experiment(tiny("gpu", batch={"cpu": 1, "cuda": 1}, matmul=64), str(packed), tmp_path / "all" / "gpu",
                   quick=True, device="cpu", log=lambda s: None)
    (tmp_path / "all" / "unrelated").mkdir()
    assert main(["report", str(tmp_path / "all"), "--out", str(tmp_path / "report")]) == 0
    md = (tmp_path / "report" / "report.md").read_text()
    assert "## What made it work" in md
    row = next(line for line in md.splitlines() if line.startswith("| gpu (QUICK)"))
    assert "cuda vs cpu" in row and "not measured" in row and "Sec. 1 and Sec. 5" in row
    assert (tmp_path / "report" / "figures" / "experiment-gpu.png").read_bytes()[:4] == b"\x89PNG"


def test_runs_stalled_at_chance_are_counted_in_a_note():
    from ilsvrc.experiment.runner import stall_notes

    figures = {"bias-1": [{"stalled": True}, {"stalled": True}], "bias-0": [{"stalled": False}, {"stalled": True}]}
    assert stall_notes(figures) == ["runs whose last training loss stayed within 2% of ln(K) (stalled at chance): "
                                    "bias-1 2/2, bias-0 1/2"]
    assert stall_notes({"a": [{"stalled": False}]}) == []
