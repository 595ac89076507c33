"""`ilsvrc baseline`: the pre-2012 pipeline, hand-designed features + linear SVM, fitted and scored.

    ilsvrc baseline                                        # HOG + LBP + RBF SVM on Fashion-MNIST, ~2 minutes
    ilsvrc baseline --features hog                         # the same features, linear SVM, about a minute
    ilsvrc baseline --features sift-fisher --out runs/fisher
    ilsvrc baseline --data DIR --train-limit 6000 --json   # a stratified sample of the training images
    ilsvrc eval runs/baseline-hog --json                   # re-score a saved run
    ilsvrc predict runs/baseline-hog shirt.png

Fits on the train split and scores val (test where there is no val) with the ConvNets' top-1 /
top-5 error; the top 5 are the 5 highest one-vs-rest SVM decision values.
"""
from __future__ import annotations

import json as jsonlib
from dataclasses import asdict
from pathlib import Path

from ilsvrc.baseline.kernel_svm import DEFAULT_LANDMARKS
from ilsvrc.baseline.pipeline import DEFAULT_C, BaselineOptions, FittedBaseline, train_baseline
from ilsvrc.baseline.store import MODEL, RECORD, RUN_FILES, SUMMARY, save_run
from ilsvrc.engine.evaluation import RunScores
from ilsvrc.files import check_output_folder

APPROACH = "hand-designed features + SVM"


def fit_baseline(features: str = "hog-rbf", data: str | Path = "fashion-mnist", out: str | Path | None = None,
                 train_limit: int | None = None, C: float | None = None, split: str = "val",
                 workers: int | None = None, seed: int = 0, side: int | None = None,
                 landmarks: int = DEFAULT_LANDMARKS) -> Path:
    """Fit, score and save a baseline run; returns its folder (default runs/baseline-FEATURES)."""
    options = BaselineOptions(features, C=DEFAULT_C if C is None else C, train_limit=train_limit, side=side,
                              seed=seed, workers=workers, landmarks=landmarks)
    out = Path(out or f"runs/baseline-{features}")
    check_output_folder(out, own=RUN_FILES)  # before minutes of feature extraction, not after
    fit_and_save(options, data, out, split)
    return out


def fit_and_save(options: BaselineOptions, data: str | Path, out: str | Path, split: str = "val") -> tuple[FittedBaseline, RunScores]:
    """Fit on the train split of `data`, score `split`, write the run folder; the baseline and its scores."""
    baseline, scores, facts = train_baseline(options, str(data), split)
    results = {k: v for k, v in scores.result().items() if k != "confusion"}
    summary = {"name": baseline.name, "approach": APPROACH, "model": options.features,
               "top1_error": results["top1_error"], "top5_error": results["top5_error"],
               "train_seconds": round(facts["timings"]["train_seconds"], 1), "params": baseline.parameters,
               "epochs": None, "data": str(data), "split": scores.split}
    record = {"name": baseline.name, "features": options.features, "options": asdict(options),
              "split": scores.split, "params": baseline.parameters, **facts, "results": results}
    save_run(out, baseline, record, summary)
    return baseline, scores


def baseline_command(features: str = "hog-rbf", data: str = "fashion-mnist", out: str | None = None,
                     split: str = "val", train_limit: int | None = None, C: float | None = None,
                     side: int | None = None, workers: int | None = None, seed: int = 0, json: bool = False,
                     landmarks: int = DEFAULT_LANDMARKS) -> int:
    run = fit_baseline(features, data, out, train_limit, C, split, workers, seed, side, landmarks)
    record = jsonlib.loads((run / RECORD).read_text())
    if json:  # the figures at the top level, as `ilsvrc eval --json` prints them; "results" kept for one version
        print(jsonlib.dumps({"run": str(run)} | record | record["results"]))
    else:
        _print_record(record, run)
    return 0


def _print_record(record: dict, run: Path) -> None:
    results, timings = record["results"], record["timings"]
    print(f"{record['name']} on {record['data']} ({record['split']}, {results['n']} images): "
          f"top-1 error {results['top1_error'] * 100:.2f}%  top-5 error {results['top5_error'] * 100:.2f}%")
    print(f"  {record['train_images']} training images, {record['feature_dim']} features, "
          f"{record['params']:,} learned parameters; fitted in {timings['train_seconds']:.0f} s, "
          f"{timings['total_s']:.0f} s in all")
    if "svm_tuning" in record:
        tuning = record["svm_tuning"]
        held = ", ".join(f"C={c}: {a * 100:.2f}%" for c, a in tuning["val_accuracy"].items())
        print(f"  RBF kernel over {tuning['landmarks']} landmarks; C = {tuning['C']:g} picked on held-out "
              f"training images ({held or 'too few to hold out'})")
    print(f"  wrote {run} ({RECORD}, {SUMMARY}, {MODEL})")
