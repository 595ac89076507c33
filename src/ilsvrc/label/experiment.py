"""`ilsvrc label experiment`: what crowd labelling costs, and what its labels are worth to a ConvNet.

    ilsvrc label experiment                  # Fashion-MNIST, <= 15 minutes on 2 cores
    ilsvrc label experiment --quick          # <= 3 minutes: fewer images and trainings (labelled so)

One ImageNet-style yes/no job is simulated with 10 answers per candidate; "k workers per image"
keeps each candidate's first k answers (the initial subset of dynamic consensus keeps its 10, and
every method sees and pays for them). For k in (1, 3, 5, 10) and every method: accuracy on the
questions, precision and recall of the kept candidates, answers used and cost; then, with one
label per image (ilsvrc.label.relabel), how many images were kept and how many are labelled right.
The labels of the `trained` methods (at `trained_workers`), and the clean labels (exactly the true
members of each class), train the same LeNet-5 for the same epochs; its test accuracy goes into
the table.
Writes experiment.json, experiment.md and experiment.png into --out.
"""
from __future__ import annotations

import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ilsvrc import progress
from ilsvrc.config import load_config
from ilsvrc.data.readers.packed import PackedDataset
from ilsvrc.data.packing import ensure_packed
from ilsvrc.engine.train import train
from ilsvrc.label.aggregate import METHODS, aggregate
from ilsvrc.label.crowd_types import crowd_type
from ilsvrc.files import check_output_folder, make_output_folder, write_json_atomic
from ilsvrc.label.dynamic_consensus import occurrence
from ilsvrc.label.experiment_report import FORMAT, VERSION, write_report
from ilsvrc.label.labels_io import LabelTable
from ilsvrc.label.metrics import DEFAULT_PRICE, score
from ilsvrc.label.relabel import apply_labels, image_labels
from ilsvrc.label.simulate import Job, JobConfig, simulate
from ilsvrc.label.votes import Votes

PRESET = "fashion-mnist-lenet5"


@dataclass(frozen=True)
class Budget:
    label: str
    per_class: int  # members per class in the job (each class's pool is ten times larger)
    epochs: int  # LeNet-5 epochs per training run
    initial_per_class: int  # dynamic consensus: initial subset per class
    workers: tuple[int, ...] = (1, 3, 5, 10)
    trained: tuple[str, ...] = ("majority", "dawid-skene")  # methods whose labels train a ConvNet
    trained_workers: tuple[int, ...] = (1, 3, 5, 10)  # ... at these numbers of workers per image


FULL = Budget("full", 2000, 4, 500)
QUICK = Budget("quick", 500, 3, 200, trained_workers=(3, 10))


def run_experiment(data: str = "fashion-mnist", out: str | Path = "runs/label-experiment", quick: bool = False,
                   seed: int = 0, budget: Budget | None = None, preset: str = "classic") -> dict:
    budget = budget or (QUICK if quick else FULL)
    if budget.label == "quick":
        print(f"--quick: {budget.per_class} members per class, {budget.epochs} epochs, ConvNets trained at "
              f"{', '.join(map(str, budget.trained_workers))} workers per image; the full study is the default")
    began, out = time.perf_counter(), Path(out)
    check_output_folder(out)
    root = ensure_packed(data)
    make_output_folder(out)
    train_split = PackedDataset(root, "train")
    config = JobConfig(per_class=budget.per_class, workers_per_task=max(budget.workers),
                       initial_per_class=budget.initial_per_class, crowd_type=crowd_type(preset), seed=seed)
    job = simulate(train_split, config)
    print(f"simulated {job.votes.n_tasks:,} candidates x {max(budget.workers)} answers ({len(job.votes):,} answers, "
          f"{job.votes.n_workers:,} workers)")
    context = Context(job, train_split.labels(), list(train_split.classes), root, out, budget, seed)
    rows = [context.clean_row()] + [row for k in budget.workers for row in context.crowd_rows(k)]
    results = {"format": FORMAT, "version": VERSION, "data": str(data), "budget": asdict(budget), "job": _job_summary(job, config), "rows": rows,
               "price": DEFAULT_PRICE, "seconds": round(time.perf_counter() - began, 1)}
    write_json_atomic(out / "experiment.json", results)
    write_report(results, out)
    print(f"wrote experiment.json, experiment.md and experiment.png in {out} ({results['seconds']:.0f} s)")
    return results


def first_answers(votes: Votes, k: int, keep_all: np.ndarray) -> Votes:
    """Each task's first k answers (file order), and every answer of the tasks in `keep_all` (T,)."""
    return votes.select(np.flatnonzero((occurrence(votes.task) <= k) | keep_all[votes.task]))


@dataclass
class Context:
    job: Job
    truth: np.ndarray  # (N,) true class of every training image
    classes: list[str]
    root: Path  # the packed dataset
    out: Path
    budget: Budget
    seed: int

    def clean_row(self) -> dict:
        table = LabelTable.from_gold(self.job.votes, self.job.gold)
        row = {"workers": 0, "method": "clean", "votes_used": 0, "cost": 0.0, **self._image_metrics(table)}
        return self._trained(row, table, "clean")

    def crowd_rows(self, k: int) -> list[dict]:
        """One row per method, on the first k answers of every candidate."""
        votes = first_answers(self.job.votes, k, self.job.initial)
        return [self.crowd_row(k, votes, method) for method in METHODS]

    def crowd_row(self, k: int, votes: Votes, method: str) -> dict:
        began = time.perf_counter()
        result = aggregate(votes, method, initial_per_class=self.budget.initial_per_class, seed=self.seed)
        metrics = score(votes, result, self.job.gold)
        table = LabelTable.from_aggregate(votes, result)
        row = {"workers": k, "method": method, "seconds": round(time.perf_counter() - began, 2),
               **{key: metrics[key] for key in ("votes_used", "votes_per_task", "cost", "accuracy", "precision",
                                                "recall")},
               **self._image_metrics(table)}
        row["cost_per_image"] = row["cost"] / max(row["images_kept"], 1)
        print(f"k={k:>2} {method:<18} precision {row['precision'] or 0:.4f}  recall {row['recall'] or 0:.4f}  "
              f"{row['votes_per_task']:.2f} answers/candidate  {row['images_kept']:,} images kept")
        if method in self.budget.trained and k in self.budget.trained_workers:
            return self._trained(row, table, f"k{k}-{method}")
        return row

    def _image_metrics(self, table: LabelTable) -> dict:
        kept = image_labels(table, self.classes).get("train")
        index = kept.index if kept else np.zeros(0, np.int64)
        right = self.truth[index] == kept.label if kept else np.zeros(0, bool)
        members = int((self.job.gold == 1).sum())
        return {"images_kept": len(index), "image_label_accuracy": float(right.mean()) if len(right) else None,
                "members_kept": int(right.sum()) / max(members, 1)}

    def _trained(self, row: dict, table: LabelTable, name: str) -> dict:
        """Train LeNet-5 on these labels; add its test accuracy to the row."""
        run = self.out / "runs" / name
        data = run / "data"
        shutil.rmtree(data, ignore_errors=True)  # labels differ from run to run: pack afresh
        with progress.silenced():
            apply_labels(table, self.root, data)
        began = time.perf_counter()
        overrides = [f"data.path={data}", f"train.epochs={self.budget.epochs}", f"train.seed={self.seed}"]
        with progress.silenced():
            last = train(load_config(PRESET, overrides), run / "train")
        shutil.rmtree(data)  # a copy of the images: the labels and the run are what matter
        row.update(test_accuracy=1 - last["val_top1_error"], train_seconds=round(time.perf_counter() - began, 1))
        print(f"  trained LeNet-5 on {row['images_kept']:,} images ({name}): test accuracy "
              f"{row['test_accuracy'] * 100:.2f}% ({row['train_seconds']:.0f} s)")
        return row


def _job_summary(job: Job, config: JobConfig) -> dict:
    return {"candidates": job.votes.n_tasks, "answers": len(job.votes), "workers": job.votes.n_workers,
            "candidate_precision": float((job.gold == 1).mean()), "crowd": job.crowd.counts(),
            "config": asdict(config)}
