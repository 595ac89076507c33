"""`ilsvrc experiment NAME`: one of the paper's claims run for real, the paper's figure beside ours.

    ilsvrc experiment lrn                       # 3 seeds, Fashion-MNIST subsets, <= 15 minutes on 2 cores
    ilsvrc experiment dropout --quick           # <= 3 minutes, labelled QUICK everywhere
    ilsvrc experiment all --quick --out runs/experiments
    ilsvrc experiment --help                    # the catalogue
    ilsvrc experiment lrn --data data/imagenet-256 --device cuda   # paper scale: the full alexnet, 90 epochs

Writes result.json, figure.png and table.txt into --out (default runs/experiments/NAME; for `all`,
one folder per experiment under it) and prints the table, or with --json the result.
"""
from __future__ import annotations

import json as jsonlib
import time
from pathlib import Path

from ilsvrc.experiment.catalogue import EXPERIMENTS
from ilsvrc.experiment.cost import estimate
from ilsvrc.experiment.figure import plot_png
from ilsvrc.experiment.registry import Experiment, lookup, resolve
from ilsvrc.experiment.result import FIGURE, RECORD, build_result, format_table, write_result
from ilsvrc.experiment.runner import check_arms, make_context, progress_log
from ilsvrc.errors import ConfigError
from ilsvrc.files import check_output_folder, make_output_folder, write_bytes_atomic, write_text_atomic

OWN = (RECORD, FIGURE, "table.txt", "runs", "data", "*.tmp")  # what an experiment's folder holds
DEFAULT_OUT = Path("runs/experiments")


def run_experiment(experiment: Experiment, data: str = "fashion-mnist", out: str | Path | None = None,
                   seeds: int | None = None, quick: bool = False, device: str = "auto", log=print,
                   overrides=()) -> dict:
    """Run, measure, judge and record one experiment; returns its result (also in OUT/result.json).
    `overrides`: `--set` items every arm's config takes before its own."""
    out = Path(out or DEFAULT_OUT / experiment.name)
    check_output_folder(out, own=OWN)
    began = time.perf_counter()
    context = make_context(experiment, data, out, quick, seeds, device, log, overrides)
    check_arms(context)  # a bad --set or option fails here, before the folder is made
    make_output_folder(out)
    log(f"{experiment.name}{' (QUICK)' if quick else ''}{' at paper scale' if context.paper else ''}: "
        f"{experiment.claim}")
    context.cost = estimate(context)
    log("  " + context.cost["line"])
    figures, notes, series = resolve(experiment.runner)(context)  # series: curves a runner draws (scale)
    result = build_result(context, figures, time.perf_counter() - began, notes)
    if series:
        result["series"] = series
    write_result(out, result)
    write_bytes_atomic(out / FIGURE, plot_png(result))
    write_text_atomic(out / "table.txt", format_table(result) + "\n")
    return result


def experiment_command(name: str, data: str = "fashion-mnist", seeds: int | None = None, quick: bool = False,
                       device: str = "auto", out: str | None = None, json: bool = False,
                       set: list[str] | None = None) -> int:
    if seeds is not None and seeds < 1:
        raise ConfigError(f"--seeds must be at least 1, got {seeds}")
    chosen = list(EXPERIMENTS.values()) if name == "all" else [lookup(EXPERIMENTS, name)]
    root = Path(out) if out else DEFAULT_OUT
    for experiment in chosen:  # every output folder is checked before hours of training, not after
        check_output_folder(root / experiment.name if name == "all" or not out else root, own=OWN)
    log = progress_log(to_stderr=json)
    results = []
    for experiment in chosen:
        folder = root / experiment.name if name == "all" or not out else root
        result = run_experiment(experiment, data, folder, seeds, quick, device, log, tuple(set or ()))
        results.append(result)
        if not json:
            print(format_table(result) + f"\n  -> {folder}\n", flush=True)
    if json:
        print(jsonlib.dumps(results[0] if name != "all" else results, indent=1))
    elif len(results) > 1:
        print(summary_table(results))
    return 0


def summary_table(results: list[dict]) -> str:
    """One line per experiment: its main comparison, the paper's figure and the verdict."""
    from ilsvrc.experiment.result import show

    lines = ["experiment            effect (ours)       verdict                          paper"]
    for r in results:
        c, unit = r["comparisons"][0], r["quantity"]["unit"]
        lines.append(f"{r['name']:<21} {show(c['diff'], unit, True):>8} +- {show(c['se'], unit, difference=True):<6}"
                     f" {c['verdict']:<32} {c['paper']['figure'][:60]}")
    return "\n".join(lines)
