"""Dawid & Skene (1979): EM over the true labels and each worker's confusion matrix.

    result = dawid_skene(votes)                  # full K x K confusion matrix per worker
    result = dawid_skene(votes, prior=4.0)       # each matrix smoothed towards the population's
    result = dawid_skene(votes, one_coin=True)   # one accuracy per worker, errors spread evenly

Model: a task's true class z has prior p(z); worker w answers k with probability
error[w, k, z]. EM starts from the majority-vote fractions and alternates
- M-step: p = mean posterior; error[w, :, z] = posterior-weighted counts of w's answers, normalised
  (one-coin: s_w = mean posterior of w's answers, error[w, k, z] = s_w if k == z else (1 - s_w)/(K - 1));
- E-step: log posterior(t, z) = log p(z) + sum over t's answers (w, k) of log error[w, k, z],
until the log-likelihood per answer gains less than `tol`. The same steps, start and clipping as
crowd-kit's DawidSkene and OneCoinDawidSkene, so the two agree.

Dirichlet prior (`prior` = a > 0): each column error[w, :, z] is the posterior mean under a Dirichlet
prior of strength a centred on the population's matrix P[:, z] (every worker's weighted counts pooled):
(counts[w, :, z] + a P[:, z]) / (n[w, z] + a). A worker with five answers is then mostly the average
worker, one with thousands is their own counts: neither perfect nor useless on little evidence.

Unsure answers (code K of a yes/no job) are an answer of their own: the matrix gets a row for them,
so the model learns how often each worker is unsure of members and of impostors (a weak no when
impostors draw more of them). One-coin reads them as missing (see ilsvrc.label.aggregate).

The full model's steps are one sparse product with the (T, W*A) one-hot answer matrix and a (T, K)
posterior; a confusion matrix has A*K entries per worker: refused above MEMORY_LIMIT. One-coin needs
no matrix per worker and builds its posterior block by block (ilsvrc.label.symmetric): memory in
proportion to the answers, the workers and the classes, for any number of tasks.
"""
from __future__ import annotations

import numpy as np
from scipy import sparse

from ilsvrc.errors import ConfigError
from ilsvrc.label.result import Aggregate, vote_counts, worker_skill
from ilsvrc.label.symmetric import EPS, TaskChunks, normalise, symmetric_e_step
from ilsvrc.label.votes import Votes

MEMORY_LIMIT = 2 * 2 ** 30  # bytes the confusion matrices (three float64 copies) may take
DEFAULT_PRIOR = 4.0  # Dirichlet strength: pseudo-answers per true class drawn from the population's matrix


def dawid_skene(votes: Votes, one_coin: bool = False, max_iter: int = 100, tol: float = 1e-5,
                prior: float = 0.0) -> Aggregate:
    if one_coin:
        return one_coin_dawid_skene(votes.known(), max_iter, tol)
    check_size(votes)
    answers = answer_matrix(votes)
    posterior = start(votes)
    previous, iteration = -np.inf, 0
    for iteration in range(1, max_iter + 1):
        class_prior, log_error = m_step(answers, posterior, votes, prior)
        posterior, loglik = e_step(answers, class_prior, log_error)
        if loglik - previous < tol:
            break
        previous = loglik
    known = votes.known()
    skill = worker_skill(known, posterior[known.task, known.label])
    name = "dawid-skene-prior" if prior else "dawid-skene"
    return Aggregate(name, posterior.argmax(1), posterior.max(1), skill, votes.votes_per_task(), iteration)


def one_coin_dawid_skene(votes: Votes, max_iter: int = 100, tol: float = 1e-5) -> Aggregate:
    """One accuracy per worker; the posterior is built block by block (ilsvrc.label.symmetric)."""
    chunks = TaskChunks(votes)
    q, mass = majority_fractions(votes)
    previous, iteration, k = -np.inf, 0, votes.n_classes
    for iteration in range(1, max_iter + 1):
        class_prior = np.clip(mass / max(votes.n_tasks, 1), EPS, None)
        accuracy = worker_skill(votes, q)
        right = np.log(np.clip(accuracy, EPS, 1 - EPS))[votes.worker]
        wrong = np.log(np.clip((1 - accuracy) / max(k - 1, 1), EPS, 1 - EPS))[votes.worker]
        step = symmetric_e_step(chunks, right, wrong, class_prior)
        q, mass = step.q, step.mass
        if step.loglik - previous < tol:
            break
        previous = step.loglik
    return Aggregate("one-coin", step.label, step.confidence, worker_skill(votes, q), votes.votes_per_task(),
                     iteration)


def majority_fractions(votes: Votes) -> tuple[np.ndarray, np.ndarray]:
    """The majority-vote start without a (T, K) table: per answer, the fraction of its task's answers that
    name its class; per class, the sum over tasks of those fractions."""
    if len(votes) == 0:
        return np.zeros(0), np.zeros(votes.n_classes)
    pair = votes.task.astype(np.int64) * votes.n_classes + votes.label
    _, where, count = np.unique(pair, return_inverse=True, return_counts=True)
    per_task = np.bincount(votes.task, minlength=votes.n_tasks)[votes.task]
    q = count[where.ravel()] / per_task
    return q, np.bincount(votes.label, weights=1.0 / per_task, minlength=votes.n_classes)


def start(votes: Votes) -> np.ndarray:
    """(T, K) the majority-vote fractions of the answers that name a class."""
    counts = vote_counts(votes.known())
    return counts / np.maximum(counts.sum(1, keepdims=True), 1)


def n_answers(votes: Votes) -> int:
    """Answer codes: the classes, plus "unsure" when any answer is unsure."""
    return votes.n_classes + int(votes.unsure().any())


def check_size(votes: Votes) -> None:
    """Refuse a job whose confusion matrices would not fit, naming what does."""
    a, k, w = n_answers(votes), votes.n_classes, votes.n_workers
    need = 3 * 8 * w * a * k
    if need > MEMORY_LIMIT:
        raise ConfigError(f"dawid-skene keeps a {a}x{k} confusion matrix per worker: {w:,} workers need "
                          f"{need / 2 ** 30:.1f} GiB (limit {MEMORY_LIMIT / 2 ** 30:.0f} GiB); use --method one-coin "
                          f"or glad (one skill per worker) or majority")


def answer_matrix(votes: Votes) -> sparse.csr_matrix:
    """(T, W*A) one-hot answers: row t has a 1 at column w*A + k when worker w answered k on task t."""
    a = n_answers(votes)
    column = votes.worker.astype(np.int64) * a + votes.label
    shape = (votes.n_tasks, votes.n_workers * a)
    return sparse.csr_matrix((np.ones(len(votes)), (votes.task, column)), shape=shape)


def m_step(answers: sparse.csr_matrix, posterior: np.ndarray, votes: Votes,
           prior: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Class prior (K,) and log confusion matrices (W, A answered, K true) from the task posteriors."""
    w, k = votes.n_workers, votes.n_classes
    class_prior = np.clip(posterior.mean(0), EPS, None)
    weighted = np.asarray(answers.T @ posterior).reshape(w, -1, k)  # [worker, answered, true]
    if prior:
        population = weighted.sum(0)
        population = population / np.maximum(population.sum(0, keepdims=True), EPS)
        weighted = weighted + prior * population
    weighted = np.clip(weighted, EPS, None)
    return class_prior, np.log(weighted / weighted.sum(1, keepdims=True))


def e_step(answers: sparse.csr_matrix, prior: np.ndarray, log_error: np.ndarray) -> tuple[np.ndarray, float]:
    """Task posteriors (T, K) and the log-likelihood of the answers, per answer."""
    w, a, k = log_error.shape
    log_joint = np.asarray(answers @ log_error.reshape(w * a, k)) + np.log(prior)  # (T, K)
    posterior, total = normalise(log_joint)
    return posterior, total / max(answers.nnz, 1)
