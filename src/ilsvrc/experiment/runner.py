"""Run one experiment: its arms over seeds on subsets of the data, measured, compared with the paper.

    result = run_experiment(get("lrn"), out="runs/experiments/lrn", quick=True)

`train_arms` is the runner of every experiment that compares configurations: each seed draws its subset
of the training split, each arm trains on it with its overrides (through `ilsvrc train`'s own `train`),
and each arm's `measure` turns the run folder into figures. `scale` and `gpu` bring runners of their own.
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
from ilsvrc.data.packing import ensure_packed
from ilsvrc.data.readers.packed import PackedDataset
from ilsvrc.engine.train import train
from ilsvrc.errors import ConfigError
from ilsvrc.experiment.registry import Budget, Experiment, resolve
from ilsvrc.experiment.subsets import subset

PRESET = "fashion-mnist-alexnet"  # the paper's design at 28x28 px, tuned for a CPU
# The preset's lr 0.1 with half an epoch of warm-up suits 60,000 images x 12 epochs; on subsets of a few
# thousand that warm-up is ~15 steps and runs can diverge to chance (seen at 4,000 x 5). 0.02 over one
# epoch of warm-up trains every arm at every budget here.
SUBSET_RECIPE = ("optim.lr=0.02", "schedule.warmup_epochs=1")


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

    def subset(self, seed: int, train_images: int | None = None) -> Path:
        """This seed's packed subset (train_images: this many instead of the budget's)."""
        count = train_images if train_images is not None else self.budget.train_images
        return subset(self.root, self.out / "data", self.train_split, count, self.val_split,
                      self.budget.test_images, seed)


def make_context(experiment: Experiment, data: str, out: Path, quick: bool, seeds: int | None, device: str,
                 log=print) -> Context:
    budget = experiment.budget(quick)
    config = load_config(PRESET)
    seeds = list(range(seeds or budget.seeds))
    if not experiment.needs_data:
        return Context(experiment, "-", Path("-"), out, budget, seeds, quick, device, log=log)
    root = ensure_packed(data)
    train_split = PackedDataset(root, config.data.train_split)
    if train_split.storage != "raw":
        raise ConfigError(f"{data}: experiments run alexnet-small on small images (MNIST, CIFAR: 28-32 px, stored "
                          "raw); this dataset's images are large (stored encoded)")
    return Context(experiment, data, root, out, budget, seeds, quick, device, train_split=config.data.train_split,
                   val_split=config.data.val_split, num_classes=len(train_split.classes), log=log)


def arm_config(context: Context, overrides, data: Path, seed: int, epochs: int):
    """The preset with the experiment's and the arm's overrides, on this seed's data, validated once at the end."""
    fixed = [f"data.path={data}", f"train.epochs={epochs}", f"train.seed={seed}", f"train.device={context.device}",
             "train.eval_every=0"]  # one validation, after the last epoch: what the figures are
    return load_config(context.preset, [*SUBSET_RECIPE, *context.experiment.base, *overrides, *fixed])


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
                train(arm_config(context, arm.overrides, data, seed, context.budget.epochs), run)
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
