"""What every aggregation method returns: one label per task, a confidence, a skill per worker.

    result = aggregate(votes, "dawid-skene")
    result.label[t], result.confidence[t]     # class code (into votes.classes), its probability
    result.skill[w]                           # estimated fraction of worker w's answers that are right
    result.votes_used.sum()                   # answers the method needed (dynamic consensus: fewer)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ilsvrc.label.votes import Votes


@dataclass
class Aggregate:
    method: str
    label: np.ndarray  # (T,) int, index into votes.classes
    confidence: np.ndarray  # (T,) float in [0, 1]: how sure the method is of that label
    skill: np.ndarray  # (W,) float in [0, 1]
    votes_used: np.ndarray  # (T,) int: answers consumed per task
    iterations: int = 0  # EM iterations (Dawid-Skene, GLAD), else 0
    ability: np.ndarray | None = None  # (W,) GLAD's alpha
    difficulty: np.ndarray | None = None  # (T,) GLAD's 1 / beta: large for a question able workers split on


def vote_counts(votes: Votes) -> np.ndarray:
    """(T, K) how many answers each task got for each class."""
    flat = votes.task.astype(np.int64) * votes.n_classes + votes.label
    return np.bincount(flat, minlength=votes.n_tasks * votes.n_classes).reshape(votes.n_tasks, votes.n_classes)


def worker_skill(votes: Votes, right: np.ndarray) -> np.ndarray:
    """(W,) mean over each worker's answers of `right`, the (V,) probability that each answer is the true label.

    With hard labels (`right` = answer == aggregate label) this is the worker's agreement with the crowd.
    """
    answered = votes.votes_per_worker()
    return np.bincount(votes.worker, weights=right, minlength=votes.n_workers) / np.maximum(answered, 1)


def agreement(votes: Votes, label: np.ndarray) -> np.ndarray:
    """(W,) fraction of each worker's answers that agree with the aggregate `label` (T,)."""
    return worker_skill(votes, (votes.label == label[votes.task]).astype(np.float64))
