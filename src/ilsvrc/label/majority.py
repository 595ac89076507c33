"""Majority vote: each task gets the label most of its answers gave.

    result = majority(votes)

Ties go to the class that comes first in `votes.classes` (the order given with --classes, else
sorted). For a yes/no job the order is (no, yes), so a tie rejects the image: ImageNet kept an
image only on a convincing majority. (crowd-kit's MajorityVote breaks ties otherwise: towards the
label given most often in the whole job.)
"""
from __future__ import annotations

import numpy as np

from ilsvrc.label.result import Aggregate, agreement
from ilsvrc.label.symmetric import TaskChunks
from ilsvrc.label.votes import Votes


def majority(votes: Votes) -> Aggregate:
    """Counted block by block of tasks (ilsvrc.label.symmetric), so 1000 classes x millions of tasks fit."""
    label, confidence = np.zeros(votes.n_tasks, np.int64), np.zeros(votes.n_tasks)
    k = votes.n_classes
    for a, b, rows in TaskChunks(votes):
        flat = (votes.task[rows] - a).astype(np.int64) * k + votes.label[rows]
        counts = np.bincount(flat, minlength=(b - a) * k).reshape(b - a, k)
        label[a:b] = counts.argmax(1)  # the first of equal maxima: the tie rule above
        confidence[a:b] = counts.max(1) / np.maximum(counts.sum(1), 1)
    return Aggregate("majority", label, confidence, agreement(votes, label), votes.votes_per_task())
