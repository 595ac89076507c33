"""Dynamic consensus (Deng et al. 2009): confidence tables and early stopping, checked against hand computations."""
import numpy as np
import pytest
from scipy.stats import hypergeom

from fixtures import votes_from_rows
from ilsvrc.errors import ConfigError, DataError
from ilsvrc.label.aggregate import aggregate
from ilsvrc.label.dynamic_consensus import dynamic_consensus, hypergeometric, occurrence
from ilsvrc.label.metrics import votes_by_class


def test_occurrence_counts_each_key_so_far():
    np.testing.assert_array_equal(occurrence(np.array([5, 7, 5, 5, 7, 1])), [1, 1, 2, 3, 2, 1])


def test_hypergeometric_matches_scipy():
    k, draws = np.arange(12)[:, None, None], np.arange(12)[None, :, None]
    successes = np.array([0, 3, 7, 10])[None, None, :]
    expected = np.nan_to_num(hypergeom.pmf(k, 10, successes, draws))
    np.testing.assert_allclose(hypergeometric(k, draws, successes, 10), expected, atol=1e-12)


def hand_job():
    """An initial subset of 10 good (8 yes, 2 no) and 10 bad (2 yes, 8 no) candidates, and four more.

    From it, by hand: P(good | 1 yes) = 0.8, P(good | 1 yes, 1 no) = 0.5, P(good | 2 yes) = 28/29,
    P(good | 2 yes, 1 no) = 56/64, P(good | 3 yes, 1 no) = 1 (8 choose 3 * 2 / 210 per good task,
    bad tasks cannot show 3 yes), and symmetrically P(good | 2 no) = 1/29.
    """
    rows = []
    for name, yes in [(f"good{i}", 8) for i in range(10)] + [(f"bad{i}", 2) for i in range(10)]:
        rows += [(f"{name}:x", f"w{j}", "yes" if j < yes else "no") for j in range(10)]
    rest = {"r1": "yes yes yes", "r2": "no no yes", "r3": "yes no yes yes", "r4": "yes no"}
    for j in range(4):  # interleaved: each task's answers still arrive in this order
        rows += [(f"{task}:x", f"w{j}", answers.split()[j]) for task, answers in rest.items()
                 if j < len(answers.split())]
    return votes_from_rows(rows, ["no", "yes"])


def test_each_candidate_stops_as_soon_as_the_table_is_convinced():
    votes = hand_job()
    result = dynamic_consensus(votes, threshold=0.95, initial_votes=10, initial_per_class=20)
    at = {name: k for k, name in enumerate(votes.task_names)}
    expected = {"r1": (1, 2, 28 / 29), "r2": (0, 2, 28 / 29), "r3": (1, 4, 1.0), "r4": (0, 2, 0.5)}
    for task, (label, used, confidence) in expected.items():
        t = at[f"{task}:x"]
        assert (result.label[t], result.votes_used[t]) == (label, used), task
        assert result.confidence[t] == pytest.approx(confidence), task
    initial = [at[f"good{i}:x"] for i in range(10)] + [at[f"bad{i}:x"] for i in range(10)]
    assert result.label[initial].tolist() == [1] * 10 + [0] * 10
    assert result.votes_used[initial].tolist() == [10] * 20
    np.testing.assert_allclose(result.confidence[initial], 1)
    assert result.votes_used.sum() == 200 + 2 + 2 + 4 + 2


def test_a_lower_threshold_stops_earlier():
    votes = hand_job()
    result = dynamic_consensus(votes, threshold=0.75, initial_votes=10, initial_per_class=20)
    used = dict(zip(votes.task_names, result.votes_used.tolist()))
    assert [used[f"r{k}:x"] for k in range(1, 5)] == [1, 1, 1, 1]  # P(good | 1 yes) = 0.8 >= 0.75


def test_multiclass_unanimous_crowd_needs_one_answer_per_image():
    classes = ["cat", "dog", "emu"]
    rows = [(f"init{i}", f"w{j}", classes[i % 3]) for i in range(30) for j in range(10)]
    rows += [(f"img{i}", f"w{j}", classes[i % 3]) for i in range(12) for j in range(3)]
    votes = votes_from_rows(rows, classes)
    result = aggregate(votes, "dynamic-consensus", initial_per_class=10)
    assert result.label.tolist() == [i % 3 for i in range(30)] + [i % 3 for i in range(12)]
    assert result.votes_used[30:].tolist() == [1] * 12
    np.testing.assert_allclose(result.confidence, 1)


def test_easy_classes_use_fewer_answers():
    rng = np.random.default_rng(0)
    rows = []
    for question, accuracy in (("easy", 0.98), ("hard", 0.75)):
        for t in range(1500):
            truth = t % 10 == 0  # one candidate in ten belongs, as in raw image search
            right = rng.random(10) < accuracy
            rows += [(f"{t}:{question}", f"w{j}", "yes" if truth == r else "no") for j, r in enumerate(right)]
    votes = votes_from_rows(rows, ["no", "yes"])
    result = dynamic_consensus(votes, initial_per_class=200)
    spent = votes_by_class(votes, result.votes_used)
    assert spent["easy"] < spent["hard"] - 1, spent


def test_without_an_initial_subset_it_says_what_is_missing():
    votes = votes_from_rows([("a", "w1", "yes"), ("a", "w2", "no"), ("b", "w1", "no")], ["no", "yes"])
    with pytest.raises(DataError) as error:
        dynamic_consensus(votes)
    assert str(error.value) == ("<votes>: dynamic consensus needs an initial subset of tasks with at least "
                                "10 answers; the most any task has is 2")
    with pytest.raises(ConfigError, match=r"--threshold must be in \(0.5, 1\), got 0.3"):
        dynamic_consensus(votes, threshold=0.3)
