"""`ilsvrc demo`: the 2012 moment in miniature, the main job of `make demo`.

    ilsvrc demo                    # Fashion-MNIST, <= 10 minutes on a 2-core CPU
    ilsvrc demo --quick            # smaller settings, <= 2 minutes (labelled as such)
    ilsvrc demo --data DIR         # any prepared dataset

Runs the traditional entry (HOG + LBP + RBF-kernel SVM), LeNet-5 (1998) and the AlexNet family (2012) on
the same splits, prints an ILSVRC-2012-style results table beside the paper's own, and writes
results.json, report.html and report.md into --out.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from ilsvrc.baseline.kernel_svm import DEFAULT_LANDMARKS
from ilsvrc.config import load_config
from ilsvrc.data.packing import ensure_packed
from ilsvrc.engine.train import train
from ilsvrc.files import check_output_folder, make_output_folder, write_json_atomic
from ilsvrc.report.runs import load_entries, margin

# Krizhevsky et al. 2012, Table 2: ILSVRC-2012 error rates (validation; test where noted).
PAPER_TABLE = [
    {"name": "SIFT + Fisher vectors (2nd place, ISI)", "approach": "hand-designed features + SVM",
     "top1_error": None, "top5_error": 0.262, "note": "test set"},
    {"name": "1 CNN (AlexNet)", "approach": "ConvNet", "top1_error": 0.407, "top5_error": 0.182, "note": "val"},
    {"name": "7 CNNs* (winning entry)", "approach": "ConvNet", "top1_error": 0.367, "top5_error": 0.153,
     "note": "val top-1; test top-5"},
]


@dataclass(frozen=True)
class Budget:
    """How much each entry trains: the default fits 10 minutes on 2 cores, `quick` 2 minutes."""

    label: str
    baseline_train_limit: int | None
    lenet5_epochs: int
    alexnet_epochs: int
    notes: list[str] = field(default_factory=list)
    baseline_landmarks: int = DEFAULT_LANDMARKS  # the RBF-kernel SVM's Nystroem map (its cost grows with the square)


# The strongest traditional entry that fits each budget: HOG + LBP with RBF-kernel SVMs.
FULL = Budget("full", None, 8, 12)  # AlexNet at its preset's 12 epochs: the SVM with k-means landmarks is 0.5-0.6 points stronger
QUICK = Budget("quick", 6000, 1, 1, ["--quick: 1 epoch per ConvNet, and 6,000 training images and 1,000 "
                                     "kernel landmarks for the SVM; run `ilsvrc demo` for the full comparison"],
               baseline_landmarks=1000)


def run_entries(data: Path, out: Path, budget: Budget) -> list[Path]:
    """Train the entries, the pre-2012 one first; returns their run folders."""
    from ilsvrc.baseline import fit_baseline

    convnets = (("fashion-mnist-lenet5", budget.lenet5_epochs), ("fashion-mnist-alexnet", budget.alexnet_epochs))
    total = 1 + len(convnets)
    print(f"[1/{total}] hand-designed features + SVM (the pre-2012 pipeline): HOG + LBP + RBF-kernel SVM")
    runs = [fit_baseline("hog-rbf", data, out / "hog-svm", train_limit=budget.baseline_train_limit,
                         landmarks=budget.baseline_landmarks)]
    for step, (preset, epochs) in enumerate(convnets, start=2):
        run = out / preset.removeprefix("fashion-mnist-")
        print(f"[{step}/{total}] {preset}: {epochs} epoch(s)")
        train(load_config(preset, [f"data.path={data}", f"train.epochs={epochs}"]), run)
        runs.append(run)
    return runs


def table_rows(entries) -> list[dict]:
    """The results.json rows: each run's summary.json, best first."""
    keys = ("name", "approach", "top1_error", "top5_error", "train_seconds", "params")
    return [{k: e.summary[k] for k in keys} | {"run": str(e.run)} for e in entries]


def format_table(entries: list[dict], title: str) -> str:
    lines = [title, f"  {'entry':<34} {'approach':<30} {'top-1 err':>9} {'top-5 err':>9} {'train':>8} {'params':>11}"]
    for e in sorted(entries, key=lambda e: e["top1_error"]):
        lines.append(f"  {e['name']:<34} {e['approach']:<30} {e['top1_error'] * 100:>8.2f}% "
                     f"{e['top5_error'] * 100:>8.2f}% {e['train_seconds']:>7.0f}s {e['params']:>11,}")
    return "\n".join(lines)


def format_paper_table() -> str:
    lines = ["ILSVRC-2012 as the paper reported it (Krizhevsky et al. 2012, Table 2), for context:"]
    for e in PAPER_TABLE:
        top1 = f"{e['top1_error'] * 100:.1f}%" if e["top1_error"] is not None else "-"
        lines.append(f"  {e['name']:<40} top-1 {top1:>6}  top-5 {e['top5_error'] * 100:.1f}%  ({e['note']})")
    return "\n".join(lines)


def demo(data: str = "fashion-mnist", out: str | Path = "runs/demo", quick: bool = False) -> dict:
    began = time.perf_counter()
    budget = QUICK if quick else FULL
    out = Path(out)
    check_output_folder(out)
    packed = ensure_packed(data)
    make_output_folder(out)
    runs = run_entries(packed, out, budget)
    entries = load_entries(runs)
    results = {"data": str(data), "budget": budget.label, "entries": table_rows(entries), "margin": margin(entries),
               "paper": PAPER_TABLE, "out": str(out), "seconds": None}
    from ilsvrc.report import write_report

    print("writing the report")
    write_report(runs, out, data=str(packed), title=f"The 2012 moment in miniature: {data}",
                 context={"notes": budget.notes, "reference": PAPER_TABLE})
    results["seconds"] = round(time.perf_counter() - began, 1)
    write_json_atomic(out / "results.json", results)
    _print_results(results, data, budget)
    return results


def _print_results(results: dict, data: str, budget: Budget) -> None:
    label = " (QUICK settings: smaller and shorter than the real comparison)" if budget.label == "quick" else ""
    print()
    print(format_table(results["entries"], f"Results on {data}{label}:"))
    m = results["margin"]
    if m:
        verb = "beats" if m["top1_points"] >= 0 else "trails"  # a short run can leave the ConvNet behind
        print(f"  margin: {m['convnet']} {verb} {m['traditional']} by {abs(m['top1_points']):.2f} points top-1, "
              f"{m['top5_points']:.2f} points top-5")
    print()
    print(format_paper_table())
    print(f"\nwrote results.json, report.html and report.md in {results['out']} "
          f"({results['seconds']:.0f} s end to end)")


def demo_command(data: str = "fashion-mnist", out: str = "runs/demo", quick: bool = False) -> int:
    demo(data, out, quick)
    return 0
