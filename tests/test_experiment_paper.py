"""`ilsvrc experiment` at paper scale: on ImageNet-sized data (large images, stored encoded) the full alexnet
with the `paper` preset, each arm's paper-scale overrides, the paper budgets, and the cost said up front.

The data is a tiny synthetic ILSVRC-2012 (4 classes, 72 px) and every arm's config takes 64x64 crops of
72x72 (the model's adaptive pool lets them through): these tests check the wiring, never the verdicts.
"""
import dataclasses

import pytest
import torch

from ilsvrc.cli import main
from ilsvrc.engine.pipeline import Pipeline
from ilsvrc.engine.build import build_model
from ilsvrc.errors import ConfigError
from ilsvrc.experiment.catalogue import EXPERIMENTS
from ilsvrc.experiment.command import run_experiment
from ilsvrc.experiment.cost import cost_line
from ilsvrc.experiment.measures import threshold_of
from ilsvrc.experiment.registry import PAPER_BUDGET, Budget
from ilsvrc.experiment.result import read_result
from ilsvrc.experiment.runner import arm_config, make_context
from fixtures import packed_large

CHEAP = ("data.crop=64", "data.region=72", "data.workers=0", "optim.batch_size=8", "train.threads=2")
TINY = Budget(24, None, 1, 1)  # 24 of the 32 training images (a packed subset), every validation image


@pytest.fixture(scope="module")
def large(tmp_path_factory):
    return packed_large(tmp_path_factory.mktemp("paper-scale"), classes=4, train_per_class=8, val_per_class=3,
                        side=72)


def tiny(name: str):
    return dataclasses.replace(EXPERIMENTS[name], paper_quick=TINY)


def test_large_data_chooses_the_paper_scale_version(large, tmp_path):
    e = EXPERIMENTS["augmentation"]
    context = make_context(e, str(large), tmp_path, False, None, "cpu", overrides=CHEAP)
    assert context.paper and context.preset == "paper" and context.subject == "alexnet"
    assert context.budget == e.paper == PAPER_BUDGET and context.seeds == [0]
    assert (context.train_split, context.val_split, context.num_classes) == ("train", "val", 4)
    assert context.train_images() == 32  # the whole split
    crops, none = (arm_config(context, context.overrides_of(a), large, 0, 1) for a in e.arms)
    assert crops.data.random_crop and crops.data.flip and crops.data.lighting == 0.1 and crops.data.crop == 64
    assert not none.data.random_crop and not none.data.flip
    assert crops.optim.lr == 0.01 and crops.train.eval_every == 1  # the paper's recipe, not the subset one
    assert threshold_of(context) == 0.7  # training error at paper scale: the fall from chance, not 20%
    relu = make_context(EXPERIMENTS["relu-vs-tanh"], str(large), tmp_path, True, None, "cpu", overrides=CHEAP)
    assert threshold_of(relu) == 0.7 and relu.budget == EXPERIMENTS["relu-vs-tanh"].paper_quick


def test_half_width_and_pre_2012_arms_at_paper_scale(large, tmp_path):
    context = make_context(EXPERIMENTS["two-tower"], str(large), tmp_path, True, None, "cpu", overrides=CHEAP)
    config = arm_config(context, context.overrides_of(EXPERIMENTS["two-tower"].arm("half-width")), large, 0, 1)
    model = build_model(config, Pipeline.build(config.data, 0, torch.device("cpu")), 4)
    assert [getattr(model, f"conv{i}").out_channels for i in range(1, 6)] == [48, 128, 192, 192, 256]
    assert model.conv2.groups == 1 and type(model).__name__ == "AlexNet"
    together = EXPERIMENTS["together"]
    pre = arm_config(context, together.arm("pre-2012").overrides_at(True), large, 0, 1)
    assert not pre.data.random_crop and not pre.data.flip and pre.data.pad == 0
    assert pre.model.options == {"init": "paper", "activation": "tanh", "dropout": 0.0, "lrn": False,
                                 "remove_conv": "conv3", "pooling": "plain"}
    assert all("data.pad=2" not in a.overrides_at(True) for a in together.arms)


def test_what_cannot_run_at_paper_scale_is_one_line(large, tmp_path):
    with pytest.raises(ConfigError, match=r"train the full alexnet on 224x224 crops, but these images are stored "
                                          r"at 72 px \(prepare them with `ilsvrc data prepare --shorter-side 256`\)"):
        make_context(EXPERIMENTS["lrn"], str(large), tmp_path, True, None, "cpu")


def test_every_experiment_states_its_paper_budgets():
    for e in EXPERIMENTS.values():
        if not e.needs_data:
            continue
        assert e.paper.train_images is None and e.paper.seeds >= 1
        assert e.paper_quick.seeds >= 1 and (e.paper_quick.train_images or e.paper_quick.test_images)
    assert EXPERIMENTS["lrn"].paper == Budget(None, None, 90, 1)


def test_the_cost_line_multiplies_images_epochs_arms_and_seeds():
    cost = {"scale": "paper", "subject": "alexnet", "runs_per_seed": [[1_281_167, 90]] * 2, "seeds": 1,
            "image_passes": 2 * 1_281_167 * 90, "img_s": 1000.0, "rate": "measured", "estimated_seconds": 230_610.06}
    assert cost_line("lrn", cost) == ("cost (paper scale, alexnet): 1,281,167 images x 90 epochs x 2 arms x 1 seed = "
                                      "230,610,060 training images; at 1,000.0 img/s (measured) about 2.7 days "
                                      "(loading and validation not counted)")


def check_paper_record(folder, name, arms):
    result = read_result(folder)
    assert result["name"] == name and [a["name"] for a in result["arms"]] == arms
    assert result["scale"] == "paper" and result["subject"] == "alexnet" and result["budget"]["preset"] == "paper"
    cost = result["cost"]
    assert cost["scale"] == "paper" and cost["subject"] == "alexnet" and cost["img_s"] > 0
    assert cost["estimated_seconds"] == pytest.approx(cost["image_passes"] / cost["img_s"])
    assert cost["line"] in (folder / "table.txt").read_text() and "img/s" in cost["line"]
    return result


def test_augmentation_at_paper_scale_end_to_end(large, tmp_path):
    lines = []
    run_experiment(tiny("augmentation"), str(large), tmp_path / "a", quick=True, device="cpu", log=lines.append,
                   overrides=CHEAP)
    result = check_paper_record(tmp_path / "a", "augmentation", ["crops-flips", "none"])
    assert result["cost"]["image_passes"] == 24 * 1 * 2 * 1  # images x epochs x arms x seeds
    assert any(line.strip().startswith("cost (paper scale, alexnet): 24 images x 1 epochs x 2 arms") for line in lines)
    assert result["arms"][1]["overrides"] == ["data.random_crop=false", "data.flip=false"]
    for arm in result["arms"]:
        run = arm["runs"][0]
        assert run["gap"] == pytest.approx(run["top1_error"] - run["train_eval_error"])
    assert (tmp_path / "a" / "data").is_dir()  # a packed subset of the encoded split


def test_ten_crop_at_paper_scale_from_the_command_line(large, tmp_path, capsys):
    """The --quick paper budget (100 images per class: here the whole split), one seed, --set for every arm."""
    sets = [item for override in CHEAP for item in ("--set", override)]
    assert main(["experiment", "ten-crop", "--quick", "--data", str(large), "--device", "cpu",
                 "--out", str(tmp_path / "t"), *sets]) == 0
    result = check_paper_record(tmp_path / "t", "ten-crop", ["center", "10crop"])
    center, ten = result["arms"]
    assert [r["run"] for r in center["runs"]] == [r["run"] for r in ten["runs"]]
    assert result["budget"]["base_overrides"] == list(CHEAP) and result["seeds"] == [0]
    assert result["cost"]["image_passes"] == 32 * 3  # the whole split (32 < 100,000), 3 epochs, one arm, one seed
    assert not (tmp_path / "t" / "data").exists()  # nothing cut: the runs read the packed data itself
    assert "cost (paper scale, alexnet): 32 images x 3 epochs x 1 arm x 1 seed" in capsys.readouterr().out


@pytest.mark.slow  # HOG + SVM and the full alexnet at two sizes
def test_scale_at_paper_scale_compares_hog_and_alexnet(large, tmp_path):
    e = dataclasses.replace(EXPERIMENTS["scale"], paper_quick=Budget(None, None, 0, 1),
                            extra={**EXPERIMENTS["scale"].extra, "paper_quick_sizes": (12, 100),
                                   "paper_quick_image_passes": 24, "paper_quick_max_epochs": 2})
    run_experiment(e, str(large), tmp_path / "s", quick=True, device="cpu", log=lambda s: None, overrides=CHEAP)
    result = check_paper_record(tmp_path / "s", "scale", ["advantage@smallest", "advantage@largest"])
    assert [p["train_images"] for p in result["series"]["alexnet"]] == [12, 32]  # 100 is the whole split: 32
    assert result["cost"]["runs_per_seed"] == [[12, 2], [32, 2]]  # at least min_epochs (2)
