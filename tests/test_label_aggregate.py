"""Majority vote and Dawid-Skene on cases whose answers are known by hand, and measured on simulated crowds."""
import numpy as np
import pytest

from fixtures import Blobs, votes_from_rows
from ilsvrc.errors import ConfigError
from ilsvrc.label.aggregate import aggregate
from ilsvrc.label.crowd import parse_mix
from ilsvrc.label.crowd_types import CrowdType
from ilsvrc.label.metrics import score
from ilsvrc.label.simulate import JobConfig, simulate


def test_majority_labels_confidence_skill_and_tie_rule():
    rows = [("t1", "a", "dog"), ("t1", "b", "dog"), ("t1", "c", "cat"),  # 2 dogs: dog, 2/3
            ("t2", "a", "emu"), ("t2", "b", "cat"),  # tie: cat comes first in the class order
            ("t3", "c", "emu")]  # one answer: its label, confidence 1
    votes = votes_from_rows(rows, ["cat", "dog", "emu"])
    result = aggregate(votes, "majority")
    np.testing.assert_array_equal(result.label, [1, 0, 2])
    np.testing.assert_allclose(result.confidence, [2 / 3, 1 / 2, 1])
    np.testing.assert_allclose(result.skill, [1 / 2, 1, 1 / 2])  # a: dog yes, emu no; b: dog, cat; c: cat no, emu
    np.testing.assert_array_equal(result.votes_used, [3, 2, 1])


def test_a_yes_no_tie_rejects_the_image():
    votes = votes_from_rows([("q", "a", "yes"), ("q", "b", "no")], ["no", "yes"])
    assert aggregate(votes, "majority").label.tolist() == [0]


def spammed_job():
    """Tasks 0-9: reliable A, B, C and two always-yes spammers; tasks 10-19: A and the two spammers."""
    rows, truth = [], []
    for t in range(20):
        answer = "yes" if t % 2 else "no"
        truth.append(t % 2)
        honest = ["A", "B", "C"] if t < 10 else ["A"]
        rows += [(f"t{t}", w, answer) for w in honest] + [(f"t{t}", "S1", "yes"), (f"t{t}", "S2", "yes")]
    return votes_from_rows(rows, ["no", "yes"]), np.array(truth)


def test_dawid_skene_learns_that_the_spammers_carry_no_information():
    votes, truth = spammed_job()
    majority, ds = aggregate(votes, "majority"), aggregate(votes, "dawid-skene")
    np.testing.assert_array_equal(ds.label, truth)  # A alone decides tasks 10-19
    assert (majority.label != truth).sum() == 5  # the five "no" tasks among 10-19, outvoted 2 to 1
    np.testing.assert_allclose(ds.skill, [1, 1, 1, 0.5, 0.5], atol=1e-3)
    assert ds.confidence.min() > 0.99 and ds.iterations > 1


def test_one_coin_cannot_model_a_one_sided_spammer():
    # One accuracy per worker makes errors symmetric: "always yes" then reads as "always right"
    # when yes is the majority answer, and the one-coin model sides with the spammers.
    votes, _ = spammed_job()
    result = aggregate(votes, "one-coin")
    assert result.label.tolist() == [1] * 20
    np.testing.assert_allclose(result.skill, [0.5, 0.5, 0.5, 1, 1], atol=1e-3)


def test_unanimous_answers_are_certain_for_every_method():
    rows = [(f"t{t}", w, "yes" if t % 3 else "no") for t in range(9) for w in "abc"]
    votes = votes_from_rows(rows, ["no", "yes"])
    for method in ("majority", "dawid-skene", "one-coin"):
        result = aggregate(votes, method)
        assert result.label.tolist() == [t % 3 != 0 for t in range(9)], method
        np.testing.assert_allclose(result.confidence, 1, atol=1e-6)
        np.testing.assert_allclose(result.skill, 1, atol=1e-6)


@pytest.mark.parametrize("job", ["yesno", "multiclass"])
def test_dawid_skene_beats_majority_on_a_crowd_with_spammers(job):
    config = JobConfig(job=job, precision=0.25, workers_per_task=5, initial_per_class=0, crowd=40,
                       crowd_type=CrowdType(parse_mix("good=0.5,sloppy=0.2,random=0.15,always-yes=0.15")), seed=3)
    sim = simulate(Blobs(per_class=60), config)
    accuracy = {m: score(sim.votes, aggregate(sim.votes, m), sim.gold)["accuracy"]
                for m in ("majority", "dawid-skene", "one-coin")}
    assert accuracy["dawid-skene"] > accuracy["majority"] + 0.03, accuracy
    assert accuracy["dawid-skene"] > 0.9, accuracy


def test_dawid_skene_finds_the_spammers_in_a_simulated_crowd():
    config = JobConfig(precision=0.25, workers_per_task=5, initial_per_class=0, crowd=40,
                       crowd_type=CrowdType(parse_mix("good=0.6,random=0.2,always-yes=0.2")), seed=1)
    sim = simulate(Blobs(per_class=60), config)
    skill = aggregate(sim.votes, "dawid-skene").skill
    good, spammer = sim.crowd.kind == 0, sim.crowd.kind >= 2
    assert skill[good].min() > skill[spammer].max()


def test_unknown_methods_and_options_are_config_errors():
    votes, _ = spammed_job()
    with pytest.raises(ConfigError, match="unknown method 'median'; choose one of: majority, dynamic-consensus"):
        aggregate(votes, "median")
    with pytest.raises(ConfigError, match="unknown aggregation option"):
        aggregate(votes, "majority", depth=3)
