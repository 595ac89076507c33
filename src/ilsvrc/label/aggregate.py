"""One entry point for every aggregation method.

    result = aggregate(votes, "dawid-skene")
    result = aggregate(votes, "dynamic-consensus", threshold=0.99)

Methods: majority, dynamic-consensus (Deng et al. 2009), dawid-skene (full confusion matrices),
one-coin (Dawid-Skene with one accuracy per worker).
"""
from __future__ import annotations

from ilsvrc.errors import ConfigError
from ilsvrc.label.dawid_skene import dawid_skene
from ilsvrc.label.dynamic_consensus import dynamic_consensus
from ilsvrc.label.majority import majority
from ilsvrc.label.result import Aggregate
from ilsvrc.label.votes import Votes

METHODS = ("majority", "dynamic-consensus", "dawid-skene", "one-coin")
CONSENSUS_OPTIONS = ("threshold", "initial_votes", "initial_per_class", "seed")


def aggregate(votes: Votes, method: str, **consensus_options) -> Aggregate:
    """Aggregate `votes` with `method`; `consensus_options` tune dynamic consensus only."""
    unknown = set(consensus_options) - set(CONSENSUS_OPTIONS)
    if unknown:
        raise ConfigError(f"unknown aggregation option(s): {', '.join(sorted(unknown))}")
    if method == "majority":
        return majority(votes)
    if method == "dynamic-consensus":
        return dynamic_consensus(votes, **consensus_options)
    if method in ("dawid-skene", "one-coin"):
        return dawid_skene(votes, one_coin=method == "one-coin")
    raise ConfigError(f"unknown method {method!r}; choose one of: {', '.join(METHODS)}")
