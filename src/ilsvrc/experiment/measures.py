"""What an arm's run is measured by: figures from its metrics.csv, and scores of its trained model.

    final_figures(run_dir, context)      # top-1/top-5 error, training curve, epochs to a threshold, ...
    figures_with_gap(run_dir, context)   # + the error on its own training images, and the gap to the test error
    ten_crop_figures(run_dir, context)   # the same model scored on 10 views instead of the centre one
"""
from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from ilsvrc import progress
from ilsvrc.engine.evaluation import convnet_scores
from ilsvrc.errors import DataError

DEFAULT_THRESHOLD = 0.2  # training error that "epochs to threshold" waits for, where an experiment sets none
# At paper scale (1000 classes, augmented training images, dropout on) AlexNet's training top-1 error stays far
# above 20%: the early part of training, where Figure 1 looked, is the fall from chance (99.9%) to about 70%.
PAPER_THRESHOLD = 0.7
STALL = 0.02  # a run whose last training loss is within 2% of ln(K) never left the flat start


def read_metrics(run: Path) -> list[dict]:
    path = Path(run) / "metrics.csv"
    try:
        with open(path, newline="") as f:
            rows = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
    except (OSError, ValueError) as e:
        raise DataError(path, f"unreadable metrics ({e})") from None
    if not rows:
        raise DataError(path, "no epoch recorded")
    return rows


def epochs_to(curve: list[float], threshold: float, start: float) -> tuple[float, bool]:
    """The (fractional) epoch at which a per-epoch training-error curve first reaches `threshold`,
    interpolating linearly from `start` (chance) at epoch 0; (the last epoch, False) if it never does."""
    previous = start
    for epoch, error in enumerate(curve, start=1):
        if error <= threshold:
            fraction = (previous - threshold) / (previous - error) if previous > error else 1.0
            return epoch - 1 + fraction, True
        previous = error
    return float(len(curve)), False


def final_figures(run: Path, context) -> dict:
    """The last epoch's figures (experiments validate once, after it) and the training curve."""
    rows = read_metrics(run)
    last, classes = rows[-1], context.num_classes
    curve = [r["train_error"] for r in rows]
    threshold = threshold_of(context)
    epochs, reached = epochs_to(curve, threshold, 1 - 1 / classes)
    return {"top1_error": last["val_top1_error"], "top5_error": last["val_top5_error"],
            "train_error": last["train_error"], "first_loss": rows[0]["train_loss"],
            "final_loss": last["train_loss"], "stalled": bool(last["train_loss"] >= (1 - STALL) * math.log(classes)),
            "epochs_to_threshold": epochs, "reached_threshold": reached, "threshold": threshold,
            "seconds": float(sum(r["seconds"] for r in rows)), "curve": curve,
            "val_curve": [r["val_top1_error"] for r in rows if not np.isnan(r["val_top1_error"])]}


def threshold_of(context) -> float:
    """The training error "epochs to threshold" waits for in this version of the experiment."""
    e, paper = context.experiment, context.paper
    own = "paper_threshold" if paper else "threshold"  # a small version's threshold never applies at paper scale
    if own not in e.extra:
        return PAPER_THRESHOLD if paper else DEFAULT_THRESHOLD
    return e.setting("threshold", context.quick, paper)


def scores_of(run: Path, context, split: str, tta: str) -> dict:
    """The top-1/top-5 error of the run's last checkpoint on `split` with the test views `tta`."""
    with progress.silenced():
        return convnet_scores(str(run), None, split, tta, context.device, "last").result()


def figures_with_gap(run: Path, context) -> dict:
    """final_figures, plus the error on the training images in evaluation mode and the test - train gap."""
    figures = final_figures(run, context)
    train = scores_of(run, context, context.train_split, "center")
    return figures | {"train_eval_error": train["top1_error"], "gap": figures["top1_error"] - train["top1_error"]}


def ten_crop_figures(run: Path, context) -> dict:
    """final_figures with the test errors of 10-crop testing in place of the centre view's."""
    figures = final_figures(run, context)
    ten = scores_of(run, context, context.val_split, "10crop")
    return figures | {"top1_error": ten["top1_error"], "top5_error": ten["top5_error"]}
