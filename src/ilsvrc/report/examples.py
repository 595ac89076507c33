"""Which test images a report shows, and what the scores say about them.

    picks = pick_examples(labels, 8)              # seeded, one per class while classes last
    top_k(scores[i], 5)                           # [(class index, score), ...] highest first
    class_names(run_scores)                       # readable names, or the class identifiers
    confused_pairs(confusion, 5)                  # [(true, predicted, count), ...] most frequent first
    one_right(a, b, 4)                            # images b gets right at top-1 and a gets wrong
"""
from __future__ import annotations

import numpy as np
import torch

from ilsvrc.engine.evaluation import RunScores


def class_names(scores: RunScores) -> list[str]:
    """Readable class names where the run has them, else the class identifiers."""
    return list(scores.class_names or scores.classes)


def pick_examples(labels: np.ndarray, count: int, seed: int = 0) -> list[int]:
    """`count` indices in a seeded random order, covering as many classes as possible.

    Random rather than chosen, so the examples show the model as it is; one per class first,
    so a few images still span the label set.
    """
    order = np.random.default_rng(seed).permutation(len(labels))
    first_of_class = {}
    for i in order:
        first_of_class.setdefault(int(labels[i]), int(i))
    picks = list(first_of_class.values())[:count]
    chosen = set(picks)
    rest = [int(i) for i in order if int(i) not in chosen]
    return picks + rest[:count - len(picks)]


def top_k(scores: torch.Tensor, k: int = 5) -> list[tuple[int, float]]:
    """The k highest-scoring classes of one (K,) score vector, ties to the lower class index."""
    order = torch.sort(-scores.float(), stable=True).indices[:k]
    return [(int(c), float(scores[c])) for c in order]


def one_right(wrong: RunScores, right: RunScores, count: int, seed: int = 0) -> list[int]:
    """Up to `count` images (seeded, one per class while classes last) that `right` classifies correctly at
    top-1 and `wrong` does not: where two models see differently."""
    labels = right.labels.numpy()
    chosen = np.flatnonzero((right.scores.argmax(1).numpy() == labels) & (wrong.scores.argmax(1).numpy() != labels))
    return [int(chosen[i]) for i in pick_examples(labels[chosen], count, seed)] if len(chosen) else []


def as_probabilities(scores: RunScores) -> torch.Tensor:
    """Softmax probabilities as they are; an SVM's decision values through a softmax, for bars on one scale."""
    sums = scores.scores.sum(1)
    if torch.allclose(sums, torch.ones_like(sums), atol=1e-3) and bool((scores.scores >= 0).all()):
        return scores.scores
    return scores.scores.float().softmax(1)


def confused_pairs(confusion: np.ndarray, count: int) -> list[tuple[int, int, int]]:
    """The most frequent (true class, predicted class, images) mistakes of a confusion matrix."""
    mistakes = np.array(confusion, dtype=np.int64)
    np.fill_diagonal(mistakes, 0)
    flat = np.argsort(-mistakes, axis=None, kind="stable")[:count]
    pairs = [(*np.unravel_index(f, mistakes.shape), mistakes.flat[f]) for f in flat]
    return [(int(t), int(p), int(n)) for t, p, n in pairs if n > 0]
