"""What an experiment is: arms, the quantity measured, the paper's figure and where the paper gives it.

    from ilsvrc.experiment.catalogue import EXPERIMENTS, get
    get("lrn").arms          # (Arm("lrn", ...), Arm("no-lrn", ("model.options.lrn=false",)))

Every experiment has two versions: alexnet-small on small images (MNIST, CIFAR) and, on ImageNet-sized data,
the paper-scale one (the full alexnet, the `paper` preset, the PAPER budgets unless it sets its own).
Plain data only (no torch): `ilsvrc experiment --help` lists the catalogue without loading the engine.
Callables are named "module:function", as the command table names its targets, and imported when run.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from ilsvrc.errors import ConfigError

FINAL = "ilsvrc.experiment.measures:final_figures"
TRAIN_ARMS = "ilsvrc.experiment.runner:train_arms"


@dataclass(frozen=True)
class Paper:
    """The paper's claim for one comparison: its words, its number, the sign it predicts, where it says so."""

    figure: str  # as the paper states it, e.g. "-1.4 top-1 / -1.2 top-5 (ILSVRC-2010)"
    sign: int  # +1: the arm's quantity is larger than the control's; -1: smaller
    source: str  # section, table or figure of Krizhevsky, Sutskever & Hinton 2012 (or the other source named)
    effect: float | None = None  # arm - control in the measured quantity's units, where the paper gives one


@dataclass(frozen=True)
class Arm:
    """One configuration compared: config overrides (`--set` items), or the runs of another arm measured
    another way (`reuse`), each measured by `measure` ("module:function" of (run_dir, context) -> figures)."""

    name: str
    label: str
    overrides: tuple[str, ...] = ()
    reuse: str | None = None
    measure: str = FINAL
    paper_overrides: tuple[str, ...] | None = None  # at paper scale, where they differ from `overrides`

    def overrides_at(self, paper: bool) -> tuple[str, ...]:
        return self.paper_overrides if paper and self.paper_overrides is not None else self.overrides


@dataclass(frozen=True)
class Comparison:
    arm: str
    control: str
    paper: Paper


@dataclass(frozen=True)
class Budget:
    """How much each arm trains: a stratified subset of the training split, of the test split, epochs, seeds."""

    train_images: int | None  # None: the whole training split
    test_images: int | None  # None: the whole test split
    epochs: int
    seeds: int


# At paper scale: the paper's run (the whole training split, ~90 epochs) once; --quick on 100 images per class
# of ILSVRC-2012's 1000 (and 10 per class of val), a few epochs: the pipeline end to end, not the verdicts.
PAPER_BUDGET = Budget(None, None, 90, 1)
PAPER_QUICK_BUDGET = Budget(100_000, 10_000, 3, 1)


@dataclass(frozen=True)
class Quantity:
    key: str  # in each run's figures
    label: str  # for tables and axes
    unit: str = "error"  # "error": a fraction, shown in percent (points for differences); else shown as is


@dataclass(frozen=True)
class Experiment:
    name: str
    claim: str  # one line, for --help
    question: str  # what is measured and how, for the result and the report
    quantity: Quantity
    arms: tuple[Arm, ...]
    comparisons: tuple[Comparison, ...]
    full: Budget
    quick: Budget
    base: tuple[str, ...] = ()  # overrides every arm shares
    paired: bool = False  # arms measure the same trained models (a paired standard error)
    runner: str = TRAIN_ARMS
    needs_data: bool = True  # False: measures the machine, not a dataset (gpu)
    extra: dict = field(default_factory=dict)  # runner-specific settings (thresholds, sizes); "quick_", "paper_"
                                               # and "paper_quick_" keys replace a setting in those versions
    paper: Budget = PAPER_BUDGET  # the budgets of the paper-scale version
    paper_quick: Budget = PAPER_QUICK_BUDGET

    def __post_init__(self):
        names = [a.name for a in self.arms]
        for c in self.comparisons:
            if c.arm not in names or c.control not in names:
                raise ValueError(f"{self.name}: comparison {c.arm} vs {c.control} names an unknown arm")
        for a in self.arms:
            if a.reuse is not None and a.reuse not in names:
                raise ValueError(f"{self.name}: arm {a.name} reuses unknown arm {a.reuse}")

    def arm(self, name: str) -> Arm:
        return next(a for a in self.arms if a.name == name)

    def budget(self, quick: bool, paper: bool = False) -> Budget:
        if paper:
            return self.paper_quick if quick else self.paper
        return self.quick if quick else self.full

    def setting(self, key: str, quick: bool, paper: bool = False):
        """A runner setting of this version: the most specific of paper_quick_KEY, paper_KEY, quick_KEY, KEY."""
        prefixes = (["paper_quick_"] if paper and quick else []) + (["paper_"] if paper else []) + \
            (["quick_"] if quick else []) + [""]
        return next(self.extra[p + key] for p in prefixes if p + key in self.extra)

    def settings(self, quick: bool, paper: bool = False) -> dict:
        """Every runner setting of this version, by its plain name."""
        keys = sorted({k.removeprefix("paper_").removeprefix("quick_") for k in self.extra})
        return {k: self.setting(k, quick, paper) for k in keys if k in self.extra}


def resolve(target: str):
    """The function a "module:function" string names."""
    module, function = target.split(":")
    return getattr(importlib.import_module(module), function)


def lookup(experiments: dict[str, Experiment], name: str) -> Experiment:
    if name not in experiments:
        raise ConfigError(f"unknown experiment {name!r}; choose one of: {', '.join(experiments)}, or all")
    return experiments[name]
