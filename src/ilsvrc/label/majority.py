"""Majority vote: each task gets the label most of its answers gave.

    result = majority(votes)

Ties go to the class that comes first in `votes.classes` (the order given with --classes, else
sorted). For a yes/no job the order is (no, yes), so a tie rejects the image: ImageNet kept an
image only on a convincing majority. (crowd-kit's MajorityVote breaks ties otherwise: towards the
label given most often in the whole job.)
"""
from __future__ import annotations

import numpy as np

from ilsvrc.label.result import Aggregate, agreement, vote_counts
from ilsvrc.label.votes import Votes


def majority(votes: Votes) -> Aggregate:
    counts = vote_counts(votes)
    label = counts.argmax(1)  # the first of equal maxima: the tie rule above
    total = counts.sum(1)
    confidence = counts[np.arange(votes.n_tasks), label] / np.maximum(total, 1)
    return Aggregate("majority", label, confidence, agreement(votes, label), total)
