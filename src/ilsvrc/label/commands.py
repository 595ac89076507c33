"""The `ilsvrc label` commands: simulate a job, aggregate votes, apply labels, run the experiment.

    ilsvrc label simulate --data fashion-mnist --out job/votes.csv            # + job/gold.csv
    ilsvrc label aggregate job/votes.csv --method dawid-skene --out job/labels.csv --gold job/gold.csv
    ilsvrc label apply job/labels.csv --data fashion-mnist --out data/fmnist-crowd
    ilsvrc label experiment --quick
"""
from __future__ import annotations

import json as jsonlib
import sys
import time
from pathlib import Path

import numpy as np

from ilsvrc.data import open_dataset
from ilsvrc.errors import ConfigError, DataError
from ilsvrc.label.aggregate import aggregate
from ilsvrc.label.crowd_types import DEFAULT_PRESET, crowd_type
from ilsvrc.label.labels_io import read_labels, workers_path, write_labels, write_workers
from ilsvrc.label.metrics import DEFAULT_PRICE, score, votes_by_class
from ilsvrc.label.metrics import by_class as class_breakdown
from ilsvrc.label.relabel import apply_labels
from ilsvrc.label.simulate import JobConfig, simulate
from ilsvrc.label.votes import Votes, check_output_file, read_gold, read_votes, write_csv, write_votes


def simulate_command(data: str, out: str, gold: str | None = None, split: str = "train", kind: str | None = None,
                     job: str = "yesno", per_class: int | None = None, precision: float = 0.1, hard: float = 0.5,
                     workers: int = 3, initial_per_class: int = 500, initial_votes: int = 10,
                     preset: str = DEFAULT_PRESET, mix: str | None = None, activity: float | None = None,
                     difficulty: float | None = None, multilabel: float | None = None, unsure: float | None = None,
                     crowd: int | None = None, price: float = DEFAULT_PRICE, seed: int = 0) -> int:
    people = crowd_type(preset, mix, job, activity=activity, difficulty=difficulty, multilabel=multilabel, unsure=unsure)
    config = JobConfig(job=job, per_class=per_class, precision=precision, hard=hard, workers_per_task=workers,
                       initial_per_class=initial_per_class, initial_votes=initial_votes, crowd_type=people,
                       crowd=crowd, seed=seed)
    _check_price(price)
    gold_path = Path(gold) if gold else Path(out).with_name("gold.csv")
    check_output_file(out)
    check_output_file(gold_path)
    result = simulate(open_dataset(data, split, kind), config)
    write_votes(out, result.votes)
    classes = result.votes.classes
    write_csv(gold_path, ("task", "label"), ((t, classes[g]) for t, g in zip(result.votes.task_names, result.gold)))
    _print_job(result, config, price)
    print(f"wrote {out} and {gold_path}")
    return 0


def _print_job(result, config: JobConfig, price: float) -> None:
    votes, gold = result.votes, result.gold
    members = f", {gold.mean() * 100:.1f}% of them truly belong" if votes.yesno else ""
    kinds = ", ".join(f"{n} {kind}" for kind, n in result.crowd.counts().items() if n)
    print(f"{config.job} job: {votes.n_tasks:,} candidates{members}; {len(votes):,} answers "
          f"({len(votes) / votes.n_tasks:.2f} per candidate) from {votes.n_workers:,} workers ({kinds})")
    per_worker = votes.votes_per_worker()
    print(f"crowd: {config.crowd_type.describe()}; answers per worker: median {np.median(per_worker):g}, "
          f"most {per_worker.max():,}; {result.ambiguous.mean() * 100:.1f}% ambiguous questions, "
          f"{result.second.sum():,} impostors showing the asked class too, {votes.unsure().sum():,} unsure answers")
    print(f"cost ${len(votes) * price:,.2f} at ${price:.4f} per answer")


def aggregate_command(votes: str, method: str, out: str, gold: str | None = None, classes: str | None = None,
                      price: float = DEFAULT_PRICE, threshold: float = 0.95, initial_votes: int = 10,
                      initial_per_class: int = 500, seed: int = 0, json: bool = False,
                      by_class: str | None = None) -> int:
    _check_price(price)
    check_output_file(out)
    if by_class:
        check_output_file(by_class)
    began = time.perf_counter()
    answers = read_votes(votes, parse_classes(classes))
    truth = read_gold(gold, answers) if gold else None
    read_seconds = time.perf_counter() - began
    options = dict(threshold=threshold, initial_votes=initial_votes, initial_per_class=initial_per_class, seed=seed)
    result = aggregate(answers, method, **options)  # the options tune dynamic consensus; others ignore them
    aggregate_seconds = time.perf_counter() - began - read_seconds
    write_labels(out, answers, result)
    write_workers(workers_path(out), answers, result)
    metrics = score(answers, result, truth, price)
    if by_class:
        write_csv(by_class, *class_breakdown(answers, result, truth))
        metrics["by_class"] = str(by_class)
    metrics["seconds"] = {"read": round(read_seconds, 3), "aggregate": round(aggregate_seconds, 3)}
    if json:
        print(jsonlib.dumps(metrics))
    else:
        _print_metrics(metrics, answers, result, out)
    return 0


def _print_metrics(m: dict, votes: Votes, result, out: str) -> None:
    print(f"{m['method']}: {m['tasks']:,} tasks, {m['workers']:,} workers, {m['votes_used']:,} of "
          f"{m['votes_total']:,} answers used ({m['votes_per_task']:.2f} per task), cost ${m['cost']:,.2f}")
    if "accuracy" in m:
        line = f"  accuracy {_pct(m['accuracy'])} on {m['gold_tasks']:,} gold tasks; {m['kept']:,} kept"
        if votes.yesno:
            line += f": precision {_pct(m['precision'])}, recall {_pct(m['recall'])}"
        print(line)
    if m["method"] == "dynamic-consensus" and votes.yesno:
        spent = votes_by_class(votes, result.votes_used)
        if 1 < len(spent) <= 30:
            print("  answers per candidate by class: " + ", ".join(f"{c or '?'} {v:.2f}" for c, v in spent.items()))
    if "by_class" in m:
        print(f"  per-class breakdown in {m['by_class']}")
    single_tasks, single_workers = (votes.votes_per_task() == 1).sum(), (votes.votes_per_worker() == 1).sum()
    if single_tasks or single_workers:
        print(f"  note: {single_tasks:,} task(s) and {single_workers:,} worker(s) have a single answer: "
              "their confidence and skill rest on one vote", file=sys.stderr)
    print(f"wrote {out} and {workers_path(out)}")


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.2f}%"


def parse_classes(classes: str | None) -> list[str] | None:
    """--classes: a file with one class per line, or a comma-separated list."""
    if classes is None:
        return None
    path = Path(classes)
    if path.is_dir():
        raise DataError(path, "is a folder; --classes takes a file (one class per line) or a,b,c")
    names = _read_lines(path) if path.is_file() else classes.split(",")
    names = [n.strip() for n in names if n.strip()]
    if not names or len(set(names)) != len(names):
        raise ConfigError(f"--classes must name distinct classes, got {classes!r}")
    return names


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8-sig").splitlines()
    except OSError as e:
        raise DataError(path, f"cannot read ({e.strerror or e})") from None
    except UnicodeDecodeError as e:
        raise DataError(path, f"not UTF-8 text ({e.reason} at byte {e.start})") from None


def _check_price(price: float) -> None:
    if price < 0:
        raise ConfigError(f"--price must not be negative, got {price}")


def apply_command(labels: str, data: str, out: str, kind: str | None = None) -> int:
    index = apply_labels(read_labels(labels), data, out, kind)
    for split, entry in index["splits"].items():
        print(f"{split}: {entry['n']:,} images, {entry['storage']} storage")
    print(f"wrote {out}")
    return 0


def experiment_command(data: str = "fashion-mnist", out: str | None = None, quick: bool = False,
                       seed: int = 0, crowds: bool = False, seeds: int = 3) -> int:
    if crowds:
        from ilsvrc.label.experiment_crowds import run_crowd_sweep

        if seeds < 1:
            raise ConfigError(f"--seeds must be at least 1, got {seeds}")
        run_crowd_sweep(data, out or "runs/label-crowds", tuple(range(seed, seed + seeds)))
        return 0
    from ilsvrc.label.experiment import run_experiment

    run_experiment(data, out or "runs/label-experiment", quick, seed)
    return 0
