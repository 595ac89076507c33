"""The E-step of models whose answers are right with some probability and wrong evenly otherwise.

    log_joint = symmetric_log_joint(votes, log_right, log_wrong, prior)   # (T, K)
    posterior, loglik = normalise(log_joint, len(votes))

One-coin Dawid-Skene and GLAD give each answer v a chance r_v of naming the true class and
(1 - r_v) / (K - 1) of naming each other one. Then
    log p(z | answers of t) = log p(z) + sum_v log w_v + sum_{v names z} (log r_v - log w_v)
with w_v = (1 - r_v) / (K - 1): a sum per task plus a sparse (T, K) term, so no K x K matrix per
worker is ever built and memory grows with the answers and tasks x classes, not with workers x K^2.
"""
from __future__ import annotations

import numpy as np
from scipy import sparse

from ilsvrc.label.votes import Votes

EPS = 1e-10  # probabilities are clipped here before their log, as crowd-kit does


def symmetric_log_joint(votes: Votes, log_right: np.ndarray, log_wrong: np.ndarray,
                        prior: np.ndarray) -> np.ndarray:
    """(T, K) log p(z) + log p(answers | z) from each answer's (V,) log chance of being right / a given wrong."""
    t, k = votes.n_tasks, votes.n_classes
    base = np.bincount(votes.task, weights=log_wrong, minlength=t)
    named = sparse.csr_matrix((log_right - log_wrong, (votes.task, votes.label)), shape=(t, k))  # sums repeats
    return named.toarray() + base[:, None] + np.log(prior)


def normalise(log_joint: np.ndarray, n_answers: int) -> tuple[np.ndarray, float]:
    """Posteriors (T, K) from log joints, and the log-likelihood per answer."""
    top = log_joint.max(1, keepdims=True)
    likelihood = np.exp(log_joint - top)
    total = likelihood.sum(1, keepdims=True)
    loglik = float((np.log(total) + top).sum()) / max(n_answers, 1)
    return likelihood / total, loglik
