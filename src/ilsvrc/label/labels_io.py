"""The files `ilsvrc label aggregate` writes, and reading labels back.

    write_labels("labels.csv", votes, result)     # task,label,confidence,votes
    write_workers("labels.workers.csv", votes, result)   # worker,skill,votes
    table = read_labels("labels.csv")             # also reads gold.csv (task,label): confidence 1

Both files are written atomically (a temporary file, then a rename).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ilsvrc.label.result import Aggregate
from ilsvrc.label.votes import Votes, read_table, write_csv


@dataclass
class LabelTable:
    """One aggregated label per task, by name."""

    task: list[str]
    label: list[str]
    confidence: np.ndarray  # (T,) float
    where: str = "<labels>"

    @classmethod
    def from_aggregate(cls, votes: Votes, result: Aggregate) -> "LabelTable":
        labels = np.array(votes.classes, dtype=object)[result.label].tolist()
        return cls(list(votes.task_names), labels, result.confidence, f"{result.method} labels")

    @classmethod
    def from_gold(cls, votes: Votes, gold: np.ndarray) -> "LabelTable":
        known = np.flatnonzero(gold >= 0)
        names = np.array(votes.task_names, dtype=object)[known].tolist()
        labels = np.array(votes.classes, dtype=object)[gold[known]].tolist()
        return cls(names, labels, np.ones(len(known)), "gold labels")


def workers_path(labels_path: str | os.PathLike) -> Path:
    """labels.csv -> labels.workers.csv, beside it."""
    path = Path(labels_path)
    return path.with_name(f"{path.stem}.workers{path.suffix or '.csv'}")


def write_labels(path: str | os.PathLike, votes: Votes, result: Aggregate) -> None:
    table = LabelTable.from_aggregate(votes, result)
    confidence = [f"{c:.6f}" for c in result.confidence.tolist()]
    write_csv(path, ("task", "label", "confidence", "votes"),
              zip(table.task, table.label, confidence, result.votes_used.tolist()))


def write_workers(path: str | os.PathLike, votes: Votes, result: Aggregate) -> None:
    skill = [f"{s:.6f}" for s in result.skill.tolist()]
    write_csv(path, ("worker", "skill", "votes"), zip(votes.worker_names, skill, votes.votes_per_worker().tolist()))


def read_labels(path: str | os.PathLike) -> LabelTable:
    """labels.csv of `aggregate` (task,label,confidence,votes) or a gold file (task,label)."""
    table = read_table(path, ("task", "label"), ("confidence", "votes"))
    task = [table.names["task"][k] for k in table.codes["task"]]
    label = [table.names["label"][k] for k in table.codes["label"]]
    confidence = table.numbers.get("confidence", np.ones(table.rows))
    return LabelTable(task, label, confidence, str(path))
