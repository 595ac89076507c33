"""Run one experiment: its arms over seeds on subsets of the data, measured, compared with the paper.

    result = run_experiment(get("lrn"), out="runs/experiments/lrn", quick=True)

`train_arms` is the runner of every experiment that compares configurations: each seed draws its subset
of the training split, each arm trains on it with its overrides (through `ilsvrc train`'s own `train`),
and each arm's `measure` turns the run folder into figures. `scale` and `gpu` bring runners of their own.
Small images (stored raw, up to 64 px: MNIST, CIFAR) train alexnet-small (the fashion-mnist-alexnet preset);
large ones (an ImageNet: stored encoded, or raw at a larger side) run the paper-scale version, the full
alexnet with the `paper` preset, each arm's paper-scale overrides and the experiment's paper budgets.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ilsvrc.config import load_config
from ilsvrc import progress
from ilsvrc.data.packing import ensure_packed, scored_split
from ilsvrc.data.readers.packed import PackedDataset
from ilsvrc.engine.devices import pick_device
from ilsvrc.engine.train import train
from ilsvrc.errors import ConfigError
from ilsvrc.experiment.registry import Arm, Budget, Experiment, resolve
from ilsvrc.experiment.subsets import is_large, stored_side, subset
from ilsvrc.models.registry import model_config

PRESET = "fashion-mnist-alexnet"  # the paper's design at 28x28 px, tuned for a CPU
# The preset's lr 0.1 with half an epoch of warm-up suits 60,000 images x 12 epochs; on subsets of a few
# thousand that warm-up is ~15 steps and runs can diverge to chance (seen at 4,000 x 5). 0.02 over one
# epoch of warm-up trains every arm at every budget here.
SUBSET_RECIPE = ("optim.lr=0.02", "schedule.warmup_epochs=1")
PAPER_PRESET = "paper"  # the full alexnet and the 2012 recipe: random 224x224 crops of 256x256, 90 epochs
PAPER_ON_CUDA = ("train.precision=bf16", "train.channels_last=true")  # as the `gpu` experiment times the step


@dataclass
class Context:
    """What every arm of one experiment shares."""

    experiment: Experiment
    data: str  # as given: a name or a path
    root: Path  # its packed folder
    out: Path
    budget: Budget
    seeds: list[int]
    quick: bool = False
    device: str = "auto"
    preset: str = PRESET
    train_split: str = "train"
    val_split: str = "test"
    num_classes: int = 0
    load_at_start: list = field(default_factory=lambda: [round(x, 2) for x in os.getloadavg()])
    log: Callable[[str], None] = field(default=print, repr=False)
    paper: bool = False  # the paper-scale version: the full alexnet, the paper preset
    overrides: tuple[str, ...] = ()  # the caller's, before each arm's (e.g. smaller crops in tests)
    split_sizes: tuple[int, int] = (0, 0)  # images in the whole training and test splits
    cost: dict | None = None  # what the runs will cost, said before they start (experiment/cost.py)

    @property
    def subject(self) -> str:
        return load_config(self.preset, list(self.overrides)).model.name

    def overrides_of(self, arm: Arm) -> tuple[str, ...]:
        return arm.overrides_at(self.paper)

    def train_images(self, count: int | None = None) -> int:
        """How many training images a run on `count` (the budget's if None) gets: the whole split at most."""
        count = self.budget.train_images if count is None else count
        return self.split_sizes[0] if count is None else min(count, self.split_sizes[0])

    def subset(self, seed: int, train_images: int | None = None) -> Path:
        """This seed's packed subset (train_images: this many instead of the budget's); a count that is the
        whole split or more takes the whole split (nothing is copied where neither split is cut)."""
        train, test = self.train_images(train_images), self.budget.test_images
        return subset(self.root, self.out / "data", self.train_split,
                      None if train >= self.split_sizes[0] else train, self.val_split,
                      None if test is None or test >= self.split_sizes[1] else test, seed)


def make_context(experiment: Experiment, data: str, out: Path, quick: bool, seeds: int | None, device: str,
                 log=print, overrides=()) -> Context:
    """What every arm shares; the data decides the version: small images alexnet-small, large ones paper scale.
    `overrides` (`--set` items) apply to every arm's config before its own (tests keep the full net cheap)."""
    if not experiment.needs_data:
        budget = experiment.budget(quick)
        return Context(experiment, "-", Path("-"), out, budget, list(range(seeds or budget.seeds)), quick, device,
                       log=log)
    root = ensure_packed(data)
    train_split = PackedDataset(root, load_config(PRESET).data.train_split)
    paper = is_large(train_split)
    preset = PAPER_PRESET if paper else PRESET
    config = load_config(preset, list(overrides))
    val_split = scored_split(root, config.data.val_split)
    if paper:
        check_paper_scale(data, train_split, config)
    budget = experiment.budget(quick, paper)
    return Context(experiment, data, root, out, budget, list(range(seeds or budget.seeds)), quick, device, preset,
                   train_split.split, val_split, len(train_split.classes), log=log, paper=paper,
                   overrides=tuple(overrides), split_sizes=(len(train_split), len(PackedDataset(root, val_split))))


def check_paper_scale(data: str, split: PackedDataset, config) -> None:
    """What the paper-scale version cannot run on, in one line, before any work."""
    side = stored_side(split)
    if side < config.data.crop:
        raise ConfigError(f"{data}: the paper-scale experiments train the full alexnet on {config.data.crop}x"
                          f"{config.data.crop} crops, but these images are stored at {side} px (prepare them with "
                          f"`ilsvrc data prepare --shorter-side 256`)")
    if split.multilabel:
        raise ConfigError(f"{data}: the experiments measure single-label top-1 error; this dataset is multi-label")


def arm_config(context: Context, overrides, data: Path, seed: int, epochs: int):
    """The preset with the experiment's, the caller's and the arm's overrides, on this seed's data, validated
    once at the end. Small: the subset recipe, one validation after the last epoch (what the figures are).
    Paper scale: the paper's recipe as it is (its plateau schedule validates every epoch), bf16 on a GPU."""
    fixed = [f"data.path={data}", f"train.epochs={epochs}", f"train.seed={seed}", f"train.device={context.device}"]
    if context.paper:
        recipe = PAPER_ON_CUDA if pick_device(context.device).type == "cuda" else ()
    else:
        recipe, fixed = SUBSET_RECIPE, fixed + ["train.eval_every=0"]
    return load_config(context.preset, [*recipe, *context.experiment.base, *context.overrides, *overrides, *fixed])


def check_arms(context: Context) -> None:
    """Every arm's config, model options included, validated before anything is written or trained."""
    if not context.experiment.needs_data:
        return  # the gpu experiment trains nothing
    for arm in context.experiment.arms:
        config = arm_config(context, context.overrides_of(arm), context.root, 0, 1)
        model_config(config.model.name, context.num_classes or None, **config.model.options)


def train_arms(context: Context) -> tuple[dict[str, list[dict]], list[str], None]:
    """Every arm's figures, one dict per seed (in seed order), with the run folder and seed added; notes."""
    e, figures = context.experiment, {a.name: [] for a in context.experiment.arms}
    trained = [a for a in e.arms if a.reuse is None]
    total, done = len(trained) * len(context.seeds), 0
    for seed in context.seeds:
        data = context.subset(seed)
        runs = {}
        for arm in trained:
            done += 1
            began = time.perf_counter()
            run = context.out / "runs" / arm.name / f"seed{seed}"
            with progress.silenced():
                train(arm_config(context, context.overrides_of(arm), data, seed, context.budget.epochs), run)
            runs[arm.name] = run
            context.log(f"  [{done}/{total}] {e.name}: {arm.name}, seed {seed} ({time.perf_counter() - began:.0f} s)")
        for arm in e.arms:
            run = runs[arm.reuse or arm.name]
            figures[arm.name].append(resolve(arm.measure)(run, context) | {"seed": seed, "run": str(run)})
    return figures, stall_notes(figures), None


def stall_notes(figures: dict[str, list[dict]]) -> list[str]:
    """Where any run ended with its loss still at ln(K), how many did, per arm: such figures are chance's."""
    if not any(r.get("stalled") for runs in figures.values() for r in runs):
        return []
    counts = ", ".join(f"{name} {sum(bool(r.get('stalled')) for r in runs)}/{len(runs)}" for name, runs in figures.items())
    return [f"runs whose last training loss stayed within 2% of ln(K) (stalled at chance): {counts}"]


def progress_log(to_stderr: bool):
    stream = sys.stderr if to_stderr else sys.stdout
    return lambda line: print(line, file=stream, flush=True)
