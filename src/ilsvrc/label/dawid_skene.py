"""Dawid & Skene (1979): EM over the true labels and each worker's confusion matrix.

    result = dawid_skene(votes)                  # full K x K confusion matrix per worker
    result = dawid_skene(votes, one_coin=True)   # one accuracy per worker, errors spread evenly

Model: a task's true class z has prior p(z); worker w answers k with probability
error[w, k, z]. EM starts from the majority-vote fractions and alternates
- M-step: p = mean posterior; error[w, :, z] = posterior-weighted counts of w's answers, normalised
  (one-coin: s_w = mean posterior of w's answers, error[w, k, z] = s_w if k == z else (1 - s_w)/(K - 1));
- E-step: log posterior(t, z) = log p(z) + sum over t's answers (w, k) of log error[w, k, z],
until the log-likelihood per answer gains less than `tol`. The same steps, start and clipping as
crowd-kit's DawidSkene and OneCoinDawidSkene, so the two agree.

Both steps are one sparse product with the (T, W*K) one-hot answer matrix: a million answers take
well under a second per iteration. A confusion matrix has K*K entries per worker: meant for yes/no
jobs and tens of classes, not ImageNet's 1000 (use majority or dynamic consensus there).
"""
from __future__ import annotations

import numpy as np
from scipy import sparse

from ilsvrc.label.result import Aggregate, vote_counts, worker_skill
from ilsvrc.label.votes import Votes

EPS = 1e-10  # probabilities are clipped here before their log, as crowd-kit does


def dawid_skene(votes: Votes, one_coin: bool = False, max_iter: int = 100, tol: float = 1e-5) -> Aggregate:
    answers = answer_matrix(votes)
    counts = vote_counts(votes)
    posterior = counts / np.maximum(counts.sum(1, keepdims=True), 1)  # majority-vote fractions
    previous, iteration = -np.inf, 0
    for iteration in range(1, max_iter + 1):
        prior, log_error = m_step(answers, posterior, votes, one_coin)
        posterior, loglik = e_step(answers, prior, log_error)
        if loglik - previous < tol:
            break
        previous = loglik
    label = posterior.argmax(1)
    skill = worker_skill(votes, posterior[votes.task, votes.label])
    name = "one-coin" if one_coin else "dawid-skene"
    return Aggregate(name, label, posterior.max(1), skill, votes.votes_per_task(), iteration)


def answer_matrix(votes: Votes) -> sparse.csr_matrix:
    """(T, W*K) one-hot answers: row t has a 1 at column w*K + k when worker w answered k on task t."""
    column = votes.worker.astype(np.int64) * votes.n_classes + votes.label
    shape = (votes.n_tasks, votes.n_workers * votes.n_classes)
    return sparse.csr_matrix((np.ones(len(votes)), (votes.task, column)), shape=shape)


def m_step(answers: sparse.csr_matrix, posterior: np.ndarray, votes: Votes,
           one_coin: bool) -> tuple[np.ndarray, np.ndarray]:
    """Class prior (K,) and log confusion matrices (W, K answered, K true) from the task posteriors."""
    w, k = votes.n_workers, votes.n_classes
    prior = np.clip(posterior.mean(0), EPS, None)
    if one_coin:
        accuracy = worker_skill(votes, posterior[votes.task, votes.label])
        wrong = (1 - accuracy) / max(k - 1, 1)
        error = np.where(np.eye(k, dtype=bool), accuracy[:, None, None], wrong[:, None, None])
        return prior, np.log(np.clip(error, EPS, 1 - EPS))
    weighted = np.asarray(answers.T @ posterior).reshape(w, k, k)  # [worker, answered, true]
    weighted = np.clip(weighted, EPS, None)
    return prior, np.log(weighted / weighted.sum(1, keepdims=True))


def e_step(answers: sparse.csr_matrix, prior: np.ndarray, log_error: np.ndarray) -> tuple[np.ndarray, float]:
    """Task posteriors (T, K) and the log-likelihood of the answers, per answer."""
    w, k, _ = log_error.shape
    log_joint = np.asarray(answers @ log_error.reshape(w * k, k)) + np.log(prior)  # (T, K)
    top = log_joint.max(1, keepdims=True)
    likelihood = np.exp(log_joint - top)
    total = likelihood.sum(1, keepdims=True)
    loglik = float((np.log(total) + top).sum()) / max(answers.nnz, 1)
    return likelihood / total, loglik
