"""How good and how dear a set of crowd labels is, measured against gold labels.

    score(votes, result, gold, price=0.04 / 3)
    # {"accuracy": ..., "precision": ..., "recall": ..., "votes_used": ..., "cost": ...}

accuracy: fraction of gold tasks labelled right. precision: of the images the crowd kept (yes
answers of a yes/no job; every task of a multi-class job), the fraction that truly belong.
recall (yes/no only): of the true members among the candidates, the fraction kept.
cost: answers used x price per answer (dollars). The per-class breakdown (by_class: one row per
class) stays out of the summary, which a 1000-class job would make unreadable: `aggregate --by-class`.
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
               "price": price, "cost": used * price, "unsure": int(votes.unsure().sum())}
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


def by_class(votes: Votes, result: Aggregate, gold: np.ndarray | None = None) -> tuple[tuple, list[tuple]]:
    """(header, rows): one row per class. Yes/no jobs: per question class, the candidates, answers used
    per candidate, and with gold the kept, precision and recall. Multi-class jobs: per class, the tasks
    labelled it and with gold its precision and recall (the images of that class labelled right)."""
    if votes.yesno:
        index: dict[str, int] = {}
        group = np.array([index.setdefault(question_of(t), len(index)) for t in votes.task_names], np.int64)
        names, member, chosen = list(index), None if gold is None else gold == 1, result.label == 1
    else:
        names, group = list(votes.classes), result.label
        member, chosen = None, None
    n = len(names)
    tasks = np.bincount(group, minlength=n)
    spent = np.bincount(group, weights=result.votes_used, minlength=n) / np.maximum(tasks, 1)
    header, columns = ("class", "tasks", "answers_per_task"), [names, tasks.tolist(), np.round(spent, 3).tolist()]
    if gold is not None:
        known = gold >= 0
        if votes.yesno:
            kept = np.bincount(group, weights=chosen & known, minlength=n)
            right = np.bincount(group, weights=chosen & member & known, minlength=n)
            members = np.bincount(group, weights=member & known, minlength=n)
        else:
            kept = np.bincount(result.label[known], minlength=n)
            right = np.bincount(result.label[known], weights=result.label[known] == gold[known], minlength=n)
            members = np.bincount(gold[known], minlength=n)
        header += ("kept", "precision", "recall")
        columns += [kept.astype(int).tolist(), _ratio(right, kept), _ratio(right, members)]
    return header, list(zip(*columns))


def _ratio(part: np.ndarray, whole: np.ndarray) -> list:
    return [round(float(p / w), 4) if w else "" for p, w in zip(part, whole)]
