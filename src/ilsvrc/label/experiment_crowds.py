"""`ilsvrc label experiment --crowds`: which method to use, crowd type by crowd type (labels only).

    ilsvrc label experiment --crowds                 # 5 crowd types x 3 seeds, <= 10 minutes on 2 cores
    run_crowd_sweep("fashion-mnist", "runs/label-crowds", seeds=(0, 1, 2))

For every preset of ilsvrc.label.crowd_types and every seed, one yes/no job is simulated on the
training split (`per_class` members per class, 10 answers per candidate); as in the main experiment,
"k workers per image" keeps each candidate's first k answers (the initial subset of dynamic
consensus keeps its 10). Every method then labels the questions; no ConvNet is trained (that is the
main experiment's part, and five crowds x three seeds of trainings would not fit its budget).
Per crowd type, k and method: accuracy against gold and the cost per kept image (answers paid /
images kept with one label each), mean and spread (standard deviation) over the seeds, and the
accuracy gain over majority vote on the same job (paired by seed). A gain whose mean is not above
its spread is reported as "no gain". Writes crowds.json and crowds.md into the output folder.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ilsvrc.data.packing import ensure_packed
from ilsvrc.data.readers.packed import PackedDataset
from ilsvrc.files import (check_output_folder, make_output_folder, read_json_record, write_json_atomic,
                          write_text_atomic)
from ilsvrc.label.aggregate import METHODS
from ilsvrc.label.crowd_types import PRESETS
from ilsvrc.label.experiment import Budget, Context, first_answers
from ilsvrc.label.simulate import JobConfig, simulate

SWEEP = Budget("crowds", per_class=200, epochs=0, initial_per_class=100, trained=())
FORMAT = "ilsvrc-label-crowds"


def run_crowd_sweep(data: str = "fashion-mnist", out: str | Path = "runs/label-crowds", seeds=(0, 1, 2),
                    presets=tuple(PRESETS), budget: Budget = SWEEP) -> dict:
    began, out = time.perf_counter(), Path(out)
    check_output_folder(out)
    root = ensure_packed(data)
    make_output_folder(out)
    split = PackedDataset(root, "train")
    rows = []
    for preset in presets:
        for seed in seeds:
            rows += _job_rows(split, root, out, preset, seed, budget)
    results = {"format": FORMAT, "version": 1, "data": str(data), "seeds": list(seeds), "per_class": budget.per_class,
               "rows": rows, "summary": summarize(rows), "seconds": round(time.perf_counter() - began, 1)}
    write_json_atomic(out / "crowds.json", results)
    write_text_atomic(out / "crowds.md", markdown(results))
    print(f"wrote crowds.json and crowds.md in {out} ({results['seconds']:.0f} s)")
    return results


def _job_rows(split, root, out, preset: str, seed: int, budget: Budget) -> list[dict]:
    config = JobConfig(per_class=budget.per_class, workers_per_task=max(budget.workers),
                       initial_per_class=budget.initial_per_class, crowd_type=PRESETS[preset], seed=seed)
    job = simulate(split, config)
    context = Context(job, split.labels(), list(split.classes), root, out, budget, seed)
    rows = []
    for k in budget.workers:
        votes = first_answers(job.votes, k, job.initial)
        for method in METHODS:
            row = context.crowd_row(k, votes, method)
            rows.append({"crowd": preset, "seed": seed, "workers": k, "method": method,
                         "accuracy": row["accuracy"], "cost_per_image": row["cost_per_image"]})
    return rows


def summarize(rows: list[dict]) -> list[dict]:
    """Mean and spread over seeds per (crowd, workers, method), and the paired gain over majority."""
    by_key: dict[tuple, dict[int, dict]] = {}
    for row in rows:
        by_key.setdefault((row["crowd"], row["workers"], row["method"]), {})[row["seed"]] = row
    summary = []
    for (crowd, k, method), runs in by_key.items():
        seeds = sorted(runs)
        accuracy = np.array([runs[s]["accuracy"] for s in seeds])
        cost = np.array([runs[s]["cost_per_image"] for s in seeds])
        gain = accuracy - np.array([by_key[(crowd, k, "majority")][s]["accuracy"] for s in seeds])
        summary.append({"crowd": crowd, "workers": k, "method": method,
                        "accuracy": _spread(accuracy), "cost_per_image": _spread(cost), "gain": _spread(gain)})
    return summary


def _spread(values: np.ndarray) -> list[float]:
    return [float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0]


def best_methods(summary: list[dict]) -> list[dict]:
    """Per crowd and k: the most accurate method, and its gain over majority."""
    best: dict[tuple, dict] = {}
    for row in summary:
        key = (row["crowd"], row["workers"])
        if key not in best or row["accuracy"][0] > best[key]["accuracy"][0]:
            best[key] = row
    return list(best.values())


SUMMARY_HEADER = ["crowd", "workers / image", "method", "question accuracy", "cost / kept image",
                  "gain over majority"]
BEST_HEADER = ["crowd", "workers / image", "best method", "accuracy", "gain over majority"]


def _gain(gain: float, spread: float) -> str:
    return f"{gain * 100:+.2f} +- {spread * 100:.2f} pt" + ("" if gain > spread else " (no gain)")


def summary_rows(results: dict) -> list[list[str]]:
    """Every crowd, k and method: accuracy and cost (mean +- spread) and the paired gain over majority."""
    rows = []
    for row in results["summary"]:
        (acc, acc_sd), (cost, cost_sd), gain = row["accuracy"], row["cost_per_image"], row["gain"]
        rows.append([row["crowd"], str(row["workers"]), row["method"], f"{acc:.2%} +- {acc_sd:.2%}",
                     f"${cost:.3f} +- {cost_sd:.3f}", "-" if row["method"] == "majority" else _gain(*gain)])
    return rows


def best_rows(results: dict) -> list[list[str]]:
    """Per crowd and k, the most accurate method and its gain over majority."""
    return [[row["crowd"], str(row["workers"]), row["method"], f"{row['accuracy'][0]:.2%}", _gain(*row["gain"])]
            for row in best_methods(results["summary"])]


def description(results: dict) -> str:
    return (f"Crowd types x methods, labels only: {results['data']}, {results['per_class']} members per class, "
            f"seeds {', '.join(map(str, results['seeds']))}; mean +- spread (standard deviation) over seeds.")


def markdown(results: dict) -> str:
    def table(header, rows):
        return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + \
               ["| " + " | ".join(r) + " |" for r in rows]

    lines = [description(results), ""] + table(SUMMARY_HEADER, summary_rows(results))
    lines += ["", "Best method per crowd and workers per image:", ""] + table(BEST_HEADER, best_rows(results))
    return "\n".join(lines) + "\n"


def is_crowds_folder(path: Path) -> bool:
    return (Path(path) / "crowds.json").is_file()


def read_crowds(folder: Path) -> dict:
    """The results `ilsvrc label experiment --crowds` saved in `folder`."""
    return read_json_record(Path(folder) / "crowds.json", FORMAT, "crowd sweep record",
                            "not a folder written by `ilsvrc label experiment --crowds`")
