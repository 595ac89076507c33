"""The run folders a report compares, read from what `ilsvrc train` and `ilsvrc baseline` leave behind.

    entries = load_entries([Path("runs/lenet5"), Path("runs/hog-svm")])   # best (lowest top-1 error) first
    margin(entries)         # best ConvNet vs best traditional entry, in error points

Every run folder holds summary.json (name, approach, model, top1_error, top5_error,
train_seconds, params, epochs, data, split); a ConvNet's also holds metrics.csv, one row per epoch.
"""
from __future__ import annotations

import csv
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ilsvrc.errors import DataError

CONVNET = "ConvNet"
SUMMARY_KEYS = ("name", "approach", "top1_error", "top5_error", "train_seconds", "params")
CURVE_COLUMNS = ("epoch", "train_error", "val_top1_error")


@dataclass
class Entry:
    """One run: its summary.json, and its learning curves when it is a ConvNet."""

    run: Path
    summary: dict
    curves: dict[str, list[float]] = field(default_factory=dict)  # epoch, train_error, val_top1_error
    name: str = ""  # the summary's name, plus the run folder's where two entries share a name

    def __post_init__(self):
        self.name = self.name or str(self.summary["name"])

    @property
    def is_convnet(self) -> bool:
        return self.summary["approach"] == CONVNET

    @property
    def top1_error(self) -> float:
        return float(self.summary["top1_error"])

    @property
    def split(self) -> str:
        return str(self.summary.get("split", "val"))


def load_entries(runs: list[Path]) -> list[Entry]:
    """The runs' entries, best (lowest top-1 error) first; ties keep the order given."""
    entries = [load_entry(Path(run)) for run in runs]
    names = Counter(e.name for e in entries)
    for e in entries:
        if names[e.name] > 1:
            e.name = f"{e.name} ({e.run.name})"
    return sorted(entries, key=lambda e: e.top1_error)


def load_entry(run: Path) -> Entry:
    summary = read_summary(run)
    entry = Entry(run, summary)
    if entry.is_convnet:
        entry.curves = read_curves(run / "metrics.csv")
    return entry


def read_summary(run: Path) -> dict:
    path = run / "summary.json"
    if not run.is_dir():
        raise DataError(run, "no such run folder" if not run.exists() else "not a run folder (a file)")
    if not path.is_file():
        raise DataError(run, "no summary.json: not a finished run of `ilsvrc train` or `ilsvrc baseline`")
    try:
        summary = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise DataError(path, f"unreadable summary ({e})") from None
    missing = [k for k in SUMMARY_KEYS if not isinstance(summary, dict) or k not in summary]
    if missing:
        raise DataError(path, f"summary lacks {', '.join(missing)}")
    if not _is_number(summary["top1_error"]) or not _is_number(summary["top5_error"]):
        raise DataError(path, "top1_error and top5_error must be numbers")
    return summary


def read_curves(path: Path) -> dict[str, list[float]]:
    """The epoch, train_error and val_top1_error columns of a run's metrics.csv."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        raise DataError(path, f"cannot read ({e.strerror or e})") from None
    except (UnicodeDecodeError, csv.Error) as e:
        raise DataError(path, f"not a CSV of ilsvrc metrics ({e})") from None
    try:
        return {column: [float(row[column]) for row in rows] for column in CURVE_COLUMNS}
    except (KeyError, TypeError, ValueError):
        raise DataError(path, f"expected numeric columns {', '.join(CURVE_COLUMNS)}") from None


def margin(entries: list[Entry]) -> dict | None:
    """How far the best ConvNet beats the best traditional entry, in top-1 and top-5 error points."""
    convnets = [e for e in entries if e.is_convnet]
    others = [e for e in entries if not e.is_convnet]
    if not convnets or not others:
        return None
    cnn = min(convnets, key=lambda e: e.top1_error)
    other = min(others, key=lambda e: e.top1_error)
    return {"convnet": cnn.name, "traditional": other.name,
            "top1_points": (other.top1_error - cnn.top1_error) * 100,
            "top5_points": (float(other.summary["top5_error"]) - float(cnn.summary["top5_error"])) * 100}


def best_convnet(entries: list[Entry]) -> Entry | None:
    return next((e for e in entries if e.is_convnet), None)  # entries are sorted best first


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
