"""Simulated jobs: exact pool sizes and answer counts, distinct workers, truthful gold, the kinds of workers."""
import numpy as np
import pytest

from fixtures import Blobs
from ilsvrc.errors import ConfigError
from ilsvrc.label.crowd import KINDS, Crowd, assign, parse_mix
from ilsvrc.label.crowd_types import PRESETS
from ilsvrc.label.simulate import JobConfig, class_similarity, pick_members, simulate
from ilsvrc.label.tasks import parse_task

CLASSIC = PRESETS["classic"]  # the crowd these tests were worked out on: no multi-label candidates


def test_yesno_pools_hold_the_asked_precision_and_exact_answer_counts():
    ds = Blobs(per_class=30)
    config = JobConfig(per_class=10, precision=0.25, workers_per_task=3, initial_per_class=4, initial_votes=10,
                       crowd_type=CLASSIC)
    job = simulate(ds, config)
    votes = job.votes
    assert votes.yesno and votes.n_tasks == 4 * (10 + 30)  # 10 members + 30 impostors per class
    assert job.gold.sum() == 40 and job.initial.sum() == 4 * 4
    np.testing.assert_array_equal(votes.votes_per_task(), np.where(job.initial, 10, 3))
    assert len(votes) == 16 * 10 + (160 - 16) * 3
    for t, name in enumerate(votes.task_names):
        task = parse_task(name)
        assert task.split == "train" and task.index == job.image[t]
        assert job.gold[t] == (ds.classes[ds.targets[task.index]] == task.question)


def test_each_task_is_answered_by_distinct_workers():
    job = simulate(Blobs(per_class=20), JobConfig(workers_per_task=5, initial_per_class=3, crowd=12))
    pairs = job.votes.task.astype(np.int64) * job.votes.n_workers + job.votes.worker
    assert len(np.unique(pairs)) == len(pairs) and job.votes.n_workers == 12


def test_impostors_stop_when_the_other_classes_run_out():
    job = simulate(Blobs(per_class=10), JobConfig(precision=0.1, initial_per_class=0, crowd_type=CLASSIC))
    assert job.votes.n_tasks == 4 * (10 + 30)  # 90 wanted per pool, 30 other images exist


def test_hard_impostors_come_from_the_most_alike_class():
    ds = Blobs(per_class=40, levels=(20, 35, 150, 240))  # classes 0 and 1 look alike
    alike = class_similarity(ds, pick_members(ds.targets, 4, None, np.random.default_rng(0)), np.random.default_rng(0))
    assert alike[0, 1] == pytest.approx(1) and alike[0, 1] > 3 * alike[0, 3]
    job = simulate(ds, JobConfig(per_class=8, precision=0.2, hard=1.0, initial_per_class=0, crowd_type=CLASSIC))
    impostors = [parse_task(n) for n, g in zip(job.votes.task_names, job.gold) if not g]
    from_one = [ds.targets[t.index] for t in impostors if t.question == "c0"]
    assert np.mean(np.array(from_one) == 1) > 0.9


def test_multiclass_job_asks_every_member_once():
    ds = Blobs(per_class=15)
    job = simulate(ds, JobConfig(job="multiclass", per_class=5, workers_per_task=3, initial_per_class=1))
    votes = job.votes
    assert votes.classes == ds.classes and votes.n_tasks == 20
    assert all(parse_task(n).question is None for n in votes.task_names)
    np.testing.assert_array_equal(job.gold, ds.targets[job.image])
    np.testing.assert_array_equal(np.sort(votes.votes_per_task()), [3] * 16 + [10] * 4)


def test_the_same_seed_gives_the_same_job():
    first, again = (simulate(Blobs(per_class=12), JobConfig(seed=7, initial_per_class=2)) for _ in range(2))
    for field in ("task", "worker", "label", "seconds"):
        np.testing.assert_array_equal(getattr(first.votes, field), getattr(again.votes, field))
    other = simulate(Blobs(per_class=12), JobConfig(seed=8, initial_per_class=2))
    assert not np.array_equal(other.votes.label, first.votes.label)


def test_kinds_of_workers_answer_as_documented():
    rng = np.random.default_rng(0)
    crowd = Crowd(np.array([0, 1, 2, 3]), np.array([1.0, 0.5, 0.5, 0.5]), np.zeros(4, int))
    worker = np.repeat(np.arange(4), 2000)
    truth = np.tile([True, False], 4000)
    yes = crowd.answer_yesno(worker, truth, np.zeros(8000), rng)
    assert (yes[worker == 0] == truth[worker == 0]).all()  # perfect
    assert yes[worker == 3].all()  # always yes
    assert abs(yes[worker == 2].mean() - 0.5) < 0.05  # coin
    hard = crowd.answer_yesno(np.zeros(4000, int), np.zeros(4000, bool), np.full(4000, 0.5), rng)
    assert abs(hard.mean() - 0.25) < 0.03  # accuracy 1 pulled halfway to a coin: 0.75 right


def test_assign_picks_distinct_workers_uniformly():
    picks = assign(np.random.default_rng(0), np.full(20000, 3), 5)
    assert (np.sort(picks, axis=1)[:, 1:] != np.sort(picks, axis=1)[:, :-1]).all()
    np.testing.assert_allclose(np.bincount(picks.ravel()) / picks.size, 0.2, atol=0.01)
    with pytest.raises(ConfigError, match="6 answers per task need at least 6 workers; the crowd has 5"):
        assign(np.random.default_rng(0), np.full(3, 6), 5)


def test_mix_parsing_and_bad_options():
    assert parse_mix("good=3,random=1") == {"good": 0.75, "random": 0.25}
    assert set(KINDS) == {"good", "sloppy", "random", "always-yes"}
    with pytest.raises(ConfigError, match="--mix takes KIND=FRACTION"):
        parse_mix("great=1")
    with pytest.raises(ConfigError, match="--precision must be in"):
        JobConfig(precision=0)
    with pytest.raises(ConfigError, match="--job must be one of yesno, multiclass"):
        JobConfig(job="ranking")
