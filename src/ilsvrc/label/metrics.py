"""How good and how dear a set of crowd labels is, measured against gold labels.

    score(votes, result, gold, price=0.04 / 3)
    # {"accuracy": ..., "precision": ..., "recall": ..., "votes_used": ..., "cost": ...}

accuracy: fraction of gold tasks labelled right. precision: of the images the crowd kept (yes
answers of a yes/no job; every task of a multi-class job), the fraction that truly belong.
recall (yes/no only): of the true members among the candidates, the fraction kept.
cost: answers used x price per answer (dollars). votes_by_class (yes/no only): answers used per
candidate, class by class: dynamic consensus spends fewer on the easy classes.
"""
from __future__ import annotations

import numpy as np

from ilsvrc.label.result import Aggregate
from ilsvrc.label.tasks import question_of
from ilsvrc.label.votes import Votes

DEFAULT_PRICE = 0.04 / 3  # dollars per answer: a candidate image seen by 3 workers costs 4 cents


def score(votes: Votes, result: Aggregate, gold: np.ndarray | None = None, price: float = DEFAULT_PRICE) -> dict:
    """Counts and cost always; accuracy, precision and recall where `gold` (T,) codes are known (>= 0)."""
    used = int(result.votes_used.sum())
    metrics = {"method": result.method, "tasks": votes.n_tasks, "workers": votes.n_workers,
               "votes_total": len(votes), "votes_used": used, "votes_per_task": used / max(votes.n_tasks, 1),
               "price": price, "cost": used * price}
    if votes.yesno:
        metrics["votes_by_class"] = votes_by_class(votes, result.votes_used)
    if gold is not None:
        metrics.update(gold_metrics(votes, result.label, gold))
    return metrics


def votes_by_class(votes: Votes, used: np.ndarray) -> dict[str, float]:
    """Answers used per candidate, per question class (the part of the task id after ':')."""
    index: dict[str, int] = {}
    group = np.array([index.setdefault(question_of(t), len(index)) for t in votes.task_names], np.int64)
    spent = np.bincount(group, weights=used, minlength=len(index)) / np.bincount(group, minlength=len(index))
    return {name: round(float(spent[k]), 3) for name, k in index.items()}


def gold_metrics(votes: Votes, label: np.ndarray, gold: np.ndarray) -> dict:
    known = gold >= 0
    right = label[known] == gold[known]
    metrics = {"gold_tasks": int(known.sum()), "accuracy": _mean(right)}
    if votes.yesno:
        kept, member = label[known] == 1, gold[known] == 1
        metrics.update(kept=int(kept.sum()), precision=_mean(member[kept]), recall=_mean(kept[member]))
    else:
        metrics.update(kept=int(known.sum()), precision=metrics["accuracy"], recall=None)
    return metrics


def _mean(flags: np.ndarray) -> float | None:
    return float(flags.mean()) if len(flags) else None
