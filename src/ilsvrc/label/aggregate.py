"""One entry point for every aggregation method.

    result = aggregate(votes, "dawid-skene")
    result = aggregate(votes, "dynamic-consensus", threshold=0.99)

Methods: majority, dynamic-consensus (Deng et al. 2009), dawid-skene (full confusion matrices),
dawid-skene-prior (the same, each matrix smoothed towards the population's), one-coin (Dawid-Skene
with one accuracy per worker), glad (Whitehill et al. 2009: worker ability and question difficulty).

Unsure answers: the Dawid-Skene methods model them as an answer of their own; every other method
reads them as missing (they decide nothing) but they were paid for: `votes_used` counts those that
arrived before the method's last consumed answer of the task (all of them, but for dynamic consensus).
"""
from __future__ import annotations

import numpy as np

from ilsvrc.errors import ConfigError
from ilsvrc.label.dawid_skene import DEFAULT_PRIOR, dawid_skene
from ilsvrc.label.dynamic_consensus import dynamic_consensus
from ilsvrc.label.glad import glad
from ilsvrc.label.majority import majority
from ilsvrc.label.result import Aggregate
from ilsvrc.label.votes import Votes

METHODS = ("majority", "dynamic-consensus", "dawid-skene", "dawid-skene-prior", "one-coin", "glad")
UNSURE_AS_ANSWER = ("dawid-skene", "dawid-skene-prior")
CONSENSUS_OPTIONS = ("threshold", "initial_votes", "initial_per_class", "seed")


def aggregate(votes: Votes, method: str, **consensus_options) -> Aggregate:
    """Aggregate `votes` with `method`; `consensus_options` tune dynamic consensus only."""
    unknown = set(consensus_options) - set(CONSENSUS_OPTIONS)
    if unknown:
        raise ConfigError(f"unknown aggregation option(s): {', '.join(sorted(unknown))}")
    if method not in METHODS:
        raise ConfigError(f"unknown method {method!r}; choose one of: {', '.join(METHODS)}")
    if method in UNSURE_AS_ANSWER:
        return dawid_skene(votes, prior=DEFAULT_PRIOR if method == "dawid-skene-prior" else 0.0)
    known = votes.known()
    if method == "majority":
        result = majority(known)
    elif method == "dynamic-consensus":
        result = dynamic_consensus(known, **consensus_options)
    elif method == "one-coin":
        result = dawid_skene(known, one_coin=True)
    else:
        result = glad(known)
    if known is not votes:
        result.votes_used = result.votes_used + paid_unsure(votes, result.votes_used)
    return result


def paid_unsure(votes: Votes, used: np.ndarray) -> np.ndarray:
    """(T,) unsure answers paid for: those before the task's last consumed answer naming a class, or all
    of them where the method consumed every such answer."""
    unsure = votes.unsure()
    order = np.argsort(votes.task, kind="stable")  # each task's answers in arrival order
    task, named = votes.task[order], (~unsure[order]).astype(np.int64)
    before = np.cumsum(named) - named  # answers naming a class before this one, in the whole job
    starts = np.r_[0, np.flatnonzero(task[1:] != task[:-1]) + 1]
    before -= np.repeat(before[starts], np.diff(np.r_[starts, len(task)]))
    total = np.bincount(votes.task, weights=~unsure, minlength=votes.n_tasks)
    paid = unsure[order] & ((before < used[task]) | (used[task] >= total[task]))
    return np.bincount(task[paid], minlength=votes.n_tasks)
