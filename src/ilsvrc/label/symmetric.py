"""The E-step of models whose answers are right with some probability and wrong evenly otherwise,
in blocks of tasks, so that memory stays bounded on ImageNet-sized jobs.

    chunks = TaskChunks(votes)                                     # answers grouped by task, once
    step = symmetric_e_step(chunks, log_right, log_wrong, prior)   # per answer q, class mass, labels

One-coin Dawid-Skene and GLAD give each answer v a chance r_v of naming the true class and
(1 - r_v) / (K - 1) of naming each other one. Then
    log p(z | answers of t) = log p(z) + sum_v log w_v + sum_{v names z} (log r_v - log w_v)
with w_v = (1 - r_v) / (K - 1). Their M-steps need only q_v = p(z_t = the class v names) and the
class mass sum_t p(z_t = k), so the (T, K) posterior is built CELLS task x class cells at a time
and dropped: memory grows with the answers and K, never with tasks x K or workers x K^2.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ilsvrc.label.votes import Votes

EPS = 1e-10  # probabilities are clipped here before their log, as crowd-kit does
CELLS = 1 << 22  # task x class cells of one block: 32 MB per float64 array
SPARSE_FROM = 32  # more classes than this: the E-step over named (task, class) pairs


class TaskChunks:
    """The answers sorted by task (stably: arrival order within a task), cut into blocks of whole tasks."""

    def __init__(self, votes: Votes, cells: int | None = None):
        cells = cells or CELLS
        self.votes = votes
        step = max(1, cells // max(votes.n_classes, 1))
        self.blocks = [(a, min(a + step, votes.n_tasks)) for a in range(0, votes.n_tasks, step)]
        self.order = self.bounds = None
        if len(self.blocks) > 1:  # one block needs no sorting: every answer is in it
            self.order = np.argsort(votes.task, kind="stable")
            self.bounds = np.searchsorted(votes.task[self.order], np.arange(votes.n_tasks + 1))

    def __iter__(self):
        """(first task, end task, answer rows of those tasks)."""
        if self.order is None:
            yield from ((a, b, np.arange(len(self.votes))) for a, b in self.blocks)
            return
        for a, b in self.blocks:
            yield a, b, self.order[self.bounds[a]:self.bounds[b]]


@dataclass
class EStep:
    q: np.ndarray  # (V,) posterior that each answer names the true class
    mass: np.ndarray  # (K,) sum over tasks of the posterior
    label: np.ndarray  # (T,) most probable class
    confidence: np.ndarray  # (T,) its posterior
    loglik: float  # log-likelihood of the answers, per answer


def symmetric_e_step(chunks: TaskChunks, log_right: np.ndarray, log_wrong: np.ndarray,
                     prior: np.ndarray) -> EStep:
    if chunks.votes.n_classes > SPARSE_FROM:
        return sparse_e_step(chunks.votes, log_right, log_wrong, prior)
    return dense_e_step(chunks, log_right, log_wrong, prior)


def dense_e_step(chunks: TaskChunks, log_right: np.ndarray, log_wrong: np.ndarray, prior: np.ndarray) -> EStep:
    votes, k = chunks.votes, chunks.votes.n_classes
    q, mass = np.zeros(len(votes)), np.zeros(k)
    label, confidence = np.zeros(votes.n_tasks, np.int64), np.zeros(votes.n_tasks)
    total, log_prior = 0.0, np.log(prior)
    for a, b, rows in chunks:
        local = votes.task[rows] - a
        base = np.bincount(local, weights=log_wrong[rows], minlength=b - a)
        flat = local * k + votes.label[rows]
        named = np.bincount(flat, weights=log_right[rows] - log_wrong[rows], minlength=(b - a) * k)
        log_joint = named.reshape(b - a, k) + base[:, None] + log_prior
        posterior, block_total = normalise(log_joint)
        q[rows] = posterior.ravel()[flat]
        mass += posterior.sum(0)
        label[a:b], confidence[a:b] = posterior.argmax(1), posterior.max(1)
        total += block_total
    return EStep(q, mass, label, confidence, total / max(len(votes), 1))


def normalise(log_joint: np.ndarray) -> tuple[np.ndarray, float]:
    """Posteriors (T, K) from log joints, and the summed log-likelihood of the tasks."""
    top = log_joint.max(1, keepdims=True)
    likelihood = np.exp(log_joint - top)
    total = likelihood.sum(1, keepdims=True)
    return likelihood / total, float((np.log(total) + top).sum())


def sparse_e_step(votes: Votes, log_right: np.ndarray, log_wrong: np.ndarray, prior: np.ndarray) -> EStep:
    """The same E-step over the (task, class) pairs the answers name; every other class of task t has
    posterior prior[z] * c_t."""
    t_count, k = votes.n_tasks, votes.n_classes
    key = votes.task.astype(np.int64) * k + votes.label
    pairs, where = np.unique(key, return_inverse=True)
    where = where.ravel()
    task, named = pairs // k, pairs % k
    log_prior = np.log(prior)
    score = log_prior[named] + np.bincount(where, weights=log_right - log_wrong, minlength=len(pairs))
    rest = np.maximum(prior.sum() - np.bincount(task, weights=prior[named], minlength=t_count), 0.0)
    rest[np.bincount(task, minlength=t_count) == k] = 0.0  # every class named: nothing unnamed
    with np.errstate(divide="ignore"):
        log_rest = np.log(rest)
    top = log_rest.copy()
    np.maximum.at(top, task, score)
    total = np.bincount(task, weights=np.exp(score - top[task]), minlength=t_count) + np.exp(log_rest - top)
    log_z = top + np.log(total)  # log of sum_z p(z) exp(answers' term), without the shared base
    posterior = np.exp(score - log_z[task])
    c = np.exp(-log_z)
    mass = np.bincount(named, weights=posterior, minlength=k) + prior * c.sum()
    mass -= prior * np.bincount(named, weights=c[task], minlength=k)
    label, confidence = _sparse_best(pairs, task, named, posterior, prior, c, k, t_count)
    base = np.bincount(votes.task, weights=log_wrong, minlength=t_count)
    return EStep(posterior[where], mass, label, confidence, float((log_z + base).sum()) / max(len(votes), 1))


def _sparse_best(pairs, task, named, posterior, prior, c, k: int, t_count: int):
    """Per task the most probable class, ties to the lowest: the best named pair or the best unnamed class."""
    best = np.full(t_count, -1.0)
    np.maximum.at(best, task, posterior)
    first = np.flatnonzero(posterior == best[task])  # pairs sorted by (task, class): first = lowest class
    label = np.zeros(t_count, np.int64)
    tasks_with, at = np.unique(task[first], return_index=True)
    label[tasks_with] = named[first[at]]
    counts = np.bincount(task, minlength=t_count)
    unnamed, by_prior = np.full(t_count, -1), np.argsort(-prior, kind="stable")  # ties: lowest class first
    for z in by_prior[: counts.max(initial=0) + 1]:  # the first class of this order no answer named
        open_ = unnamed < 0
        key = np.flatnonzero(open_) * k + z
        hit = np.searchsorted(pairs, key)
        is_named = (hit < len(pairs)) & (pairs[np.minimum(hit, len(pairs) - 1)] == key)
        unnamed[np.flatnonzero(open_)[~is_named]] = z
    has = (unnamed >= 0) & (counts < k)
    other = np.where(has, prior[np.maximum(unnamed, 0)] * c, -1.0)
    wins = has & ((other > best) | ((other == best) & (unnamed < label)))
    label[wins] = unnamed[wins]
    return label, np.maximum(best, other)
