"""Crowdsourced labelling as ImageNet did it: simulate a job, aggregate the votes, train on the result.

    ilsvrc label simulate --data fashion-mnist --out job/votes.csv
    ilsvrc label aggregate job/votes.csv --method dawid-skene --out job/labels.csv --gold job/gold.csv
    ilsvrc label apply job/labels.csv --data fashion-mnist --out data/fmnist-crowd
    ilsvrc label experiment --quick

    from ilsvrc.label import read_votes, aggregate
    result = aggregate(read_votes("votes.csv"), "majority")
"""
from ilsvrc.label.aggregate import METHODS, aggregate
from ilsvrc.label.result import Aggregate
from ilsvrc.label.votes import Votes, read_gold, read_votes

__all__ = ["METHODS", "Aggregate", "Votes", "aggregate", "read_gold", "read_votes"]
