"""The methods crowd-kit shares with ilsvrc give the same answers (skipped where crowd-kit is not installed)."""
import numpy as np
import pytest

from fixtures import Blobs
from ilsvrc.label.aggregate import aggregate
from ilsvrc.label.crowd_types import PRESETS
from ilsvrc.label.dawid_skene import dawid_skene
from ilsvrc.label.glad import glad
from ilsvrc.label.result import vote_counts
from ilsvrc.label.simulate import JobConfig, simulate

pd = pytest.importorskip("pandas")
crowdkit = pytest.importorskip("crowdkit.aggregation")
pytestmark = pytest.mark.filterwarnings("ignore:::crowdkit")  # pandas deprecations inside crowd-kit


@pytest.fixture(params=["yesno", "multiclass"])
def job(request):
    config = JobConfig(job=request.param, precision=0.25, workers_per_task=4, initial_per_class=0, crowd=30, seed=2,
                       crowd_type=PRESETS["classic"])
    votes = simulate(Blobs(per_class=20), config).votes
    frame = pd.DataFrame({"task": votes.task, "worker": votes.worker, "label": votes.label})
    return votes, frame


def _by_task(series_or_frame, n_tasks):
    return series_or_frame.reindex(range(n_tasks)).to_numpy()


def test_majority_vote_matches_where_there_is_no_tie(job):
    votes, frame = job
    theirs = crowdkit.MajorityVote().fit(frame)
    ours = aggregate(votes, "majority")
    counts = np.sort(vote_counts(votes), axis=1)
    clear = counts[:, -1] > counts[:, -2]  # crowd-kit breaks ties by the label's overall frequency
    np.testing.assert_array_equal(_by_task(theirs.labels_, votes.n_tasks)[clear], ours.label[clear])
    np.testing.assert_allclose(_by_task(theirs.probas_.max(axis=1), votes.n_tasks), ours.confidence)


@pytest.mark.parametrize("one_coin", [False, True])
def test_dawid_skene_iterates_exactly_as_crowdkit(job, one_coin):
    votes, frame = job
    steps = 40  # no early stop on either side: the same EM steps from the same start
    model = (crowdkit.OneCoinDawidSkene if one_coin else crowdkit.DawidSkene)(n_iter=steps, tol=-np.inf).fit(frame)
    ours = dawid_skene(votes, one_coin=one_coin, max_iter=steps, tol=-np.inf)
    assert ours.iterations == len(model.loss_history_) == steps
    probas = model.probas_.reindex(index=range(votes.n_tasks), columns=range(votes.n_classes), fill_value=0)
    np.testing.assert_allclose(probas.to_numpy().max(axis=1), ours.confidence, atol=1e-9)
    np.testing.assert_array_equal(_by_task(model.labels_, votes.n_tasks), ours.label)
    if one_coin:
        np.testing.assert_allclose(_by_task(model.skills_, votes.n_workers), ours.skill, atol=1e-9)


def test_glad_iterates_as_crowdkit(job):
    votes, frame = job
    steps = 6
    uniform = np.full(votes.n_classes, 1 / votes.n_classes)  # crowd-kit keeps the class prior fixed, uniform
    # crowd-kit returns the posterior of the E-step before its last M-step: ours after n steps is theirs after n + 1
    model = crowdkit.GLAD(n_iter=steps + 1, tol=-np.inf).fit(frame)
    ours = glad(votes, max_iter=steps, tol=-np.inf, class_prior=uniform)
    probas = model.probas_.reindex(index=range(votes.n_tasks), columns=range(votes.n_classes), fill_value=0)
    # Same steps, but the conjugate-gradient M-step (25 steps, tolerance 1e-2) follows float rounding:
    # 2.4e-4 apart at most on the yes/no job (1e-6 on the multi-class one), measured
    np.testing.assert_allclose(probas.to_numpy().max(axis=1), ours.confidence, atol=1e-3)
    np.testing.assert_array_equal(_by_task(model.labels_, votes.n_tasks), ours.label)
