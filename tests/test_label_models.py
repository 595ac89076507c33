"""Dawid-Skene with Dirichlet priors, GLAD, unsure answers and the size limits, on hand-worked cases."""
import numpy as np
import pytest
from scipy.optimize import check_grad
from scipy.special import expit

from fixtures import votes_from_rows
from ilsvrc.errors import ConfigError
from ilsvrc.label.aggregate import aggregate, paid_unsure
from ilsvrc.label.dawid_skene import answer_matrix, dawid_skene, m_step
from ilsvrc.label.glad import e_step as glad_e_step
from ilsvrc.label.glad import glad, m_step as glad_m_step
from ilsvrc.label.symmetric import TaskChunks, symmetric_e_step
from ilsvrc.label.votes import Votes


def three_workers():
    """Truth: t1 yes, t2 yes, t3 no. a: yes yes no; b: yes on t1 only; c: no on t2 (wrong), no on t3."""
    rows = [("t1", "a", "yes"), ("t2", "a", "yes"), ("t3", "a", "no"), ("t1", "b", "yes"),
            ("t2", "c", "no"), ("t3", "c", "no")]
    return votes_from_rows(rows, ["no", "yes"]), np.array([[0, 1], [0, 1], [1, 0.0]])


def test_the_dirichlet_prior_pulls_a_one_answer_worker_towards_the_population():
    votes, posterior = three_workers()
    _, plain = m_step(answer_matrix(votes), posterior, votes)
    _, smoothed = m_step(answer_matrix(votes), posterior, votes, prior=4.0)
    b = votes.worker_names.index("b")
    # error[w, answered, true]. Plain: b's one yes makes b perfect on members.
    np.testing.assert_allclose(np.exp(plain[b, :, 1]), [0, 1], atol=1e-9)
    # Population, true yes: 3 yes (a twice, b), 1 no (c) -> (1/4, 3/4); true no: 2 no -> (1, 0).
    # b, true yes: (0 + 4/4, 1 + 4*3/4) / (1 + 4) = (1/5, 4/5); true no (no answers): the population (1, 0).
    np.testing.assert_allclose(np.exp(smoothed[b, :, 1]), [1 / 5, 4 / 5], atol=1e-9)
    np.testing.assert_allclose(np.exp(smoothed[b, :, 0]), [1, 0], atol=1e-9)
    a = votes.worker_names.index("a")  # a, true yes: (0 + 1, 2 + 3) / (2 + 4) = (1/6, 5/6)
    np.testing.assert_allclose(np.exp(smoothed[a, :, 1]), [1 / 6, 5 / 6], atol=1e-9)


def newcomers_against_a_proven_worker():
    """A, B, C answer t0-t39 (odd tasks yes), each wrong once; newcomers N1, N2 answer one easy task each
    (rightly), then both say yes on t40, where A says no."""
    rows = []
    for t in range(40):
        answer = "yes" if t % 2 else "no"
        for w, wrong_on in zip("ABC", (0, 1, 2)):
            flipped = "no" if answer == "yes" else "yes"
            rows.append((f"t{t}", w, flipped if t % 20 == wrong_on else answer))
    rows += [("t3", "N1", "yes"), ("t4", "N2", "no"), ("t40", "N1", "yes"), ("t40", "N2", "yes"), ("t40", "A", "no")]
    return votes_from_rows(rows, ["no", "yes"])


def test_the_prior_keeps_two_answer_workers_from_being_modelled_as_useless():
    votes = newcomers_against_a_proven_worker()
    plain, smoothed = aggregate(votes, "dawid-skene"), aggregate(votes, "dawid-skene-prior")
    n1 = votes.worker_names.index("N1")
    # Plain EM settles on "the newcomers are coins" (half right: t3 yes, t40 wrong) and is all but
    # certain of A's no, against two workers who are right on every other answer they gave.
    assert plain.label[40] == 0 and plain.confidence[40] > 0.9999 and plain.skill[n1] == pytest.approx(0.5, abs=0.01)
    # With the prior, two answers say little: the newcomers are nearly the average worker (about 95%
    # right), two of them outvote one, and the posterior says the case is open.
    assert smoothed.label[40] == 1 and 0.6 < smoothed.confidence[40] < 0.9 and smoothed.skill[n1] > 0.8
    np.testing.assert_array_equal(smoothed.label[:40], plain.label[:40])
    assert smoothed.method == "dawid-skene-prior"


def unsure_on_members():
    """A, B right on t0-t9 (odd tasks yes); U says unsure on members, no on impostors; t10: only U, unsure."""
    rows = []
    for t in range(10):
        member = t % 2 == 1
        rows += [(f"t{t}", w, "yes" if member else "no") for w in "AB"]
        rows.append((f"t{t}", "U", "unsure" if member else "no"))
    rows.append(("t10", "U", "unsure"))
    return votes_from_rows(rows, ["no", "yes"])


def test_dawid_skene_learns_what_an_unsure_answer_means_others_read_it_as_missing():
    votes = unsure_on_members()
    ds = aggregate(votes, "dawid-skene")
    assert ds.label[10] == 1 and ds.confidence[10] > 0.99  # U's unsure has only ever meant "member"
    majority = aggregate(votes, "majority")
    assert majority.label[10] == 0 and majority.confidence[10] == 0  # no answer names a class: a tie, rejected
    np.testing.assert_array_equal(majority.label[:10], [t % 2 for t in range(10)])
    for method in ("majority", "dawid-skene", "one-coin", "glad"):  # every answer was paid for
        np.testing.assert_array_equal(aggregate(votes, method).votes_used, [3] * 10 + [1])


def test_unsure_answers_count_as_paid_only_up_to_the_last_consumed_answer():
    rows = [("t", "a", "unsure"), ("t", "b", "yes"), ("t", "c", "unsure"), ("t", "d", "yes"), ("t", "e", "unsure")]
    votes = votes_from_rows(rows, ["no", "yes"])
    assert paid_unsure(votes, np.array([1])).tolist() == [1]  # stopped at b: a was paid, c and e never asked
    assert paid_unsure(votes, np.array([2])).tolist() == [3]  # used every named answer: all were paid


def test_glad_posterior_is_the_sum_of_log_odds_worked_by_hand():
    # Yes/no: an answer of worker w on task t moves the log-odds by alpha_w * beta_t towards what it says.
    votes = votes_from_rows([("t", "a", "yes"), ("t", "b", "no")], ["no", "yes"])
    step = glad_e_step(votes, TaskChunks(votes), np.array([1.0, 2.0]), np.array([0.0]), np.array([0.5, 0.5]))
    # log-odds(yes) = 1 - 2: P(no) = expit(1), the chance that a's yes and b's no are each right
    assert step.label.tolist() == [0] and step.confidence[0] == pytest.approx(expit(1))
    np.testing.assert_allclose(step.q, [expit(-1), expit(1)])
    np.testing.assert_allclose(step.mass, [expit(1), expit(-1)])
    three = votes_from_rows([("t", "a", "cat")], ["cat", "dog", "emu"])  # K = 3: a wrong answer splits in two
    step = glad_e_step(three, TaskChunks(three), np.array([1.0]), np.array([0.0]), np.full(3, 1 / 3))
    right, wrong = expit(1), (1 - expit(1)) / 2
    np.testing.assert_allclose(step.mass, np.array([right, wrong, wrong]) / (right + 2 * wrong))


def test_glad_m_step_gradient_is_exact():
    votes = votes_from_rows([("t1", "a", "yes"), ("t1", "b", "no"), ("t2", "a", "no"), ("t2", "c", "no")],
                            ["no", "yes"])
    posterior = np.array([[0.3, 0.7], [0.9, 0.1]])
    captured = {}

    def fake_minimize(fun, x0, jac, method, tol, options):
        captured["fun"] = fun
        return type("R", (), {"x": x0})()

    import ilsvrc.label.glad as glad_module
    original = glad_module.minimize
    glad_module.minimize = fake_minimize
    try:
        glad_m_step(votes, np.ones(3), np.ones(2), posterior[votes.task, votes.label])
    finally:
        glad_module.minimize = original
    fun = captured["fun"]
    x0 = np.array([0.5, -1.0, 2.0, 0.3, -0.4])
    assert check_grad(lambda x: fun(x)[0], lambda x: fun(x)[1], x0) < 1e-6


def test_glad_finds_the_question_every_able_worker_splits_on():
    rows = []
    for t in range(12):
        answer = "yes" if t % 2 else "no"
        for w in "ABCDEF":
            flip = t == 5 and w in "ABC"  # task 5: half the crowd says the opposite
            rows.append((f"t{t}", w, ("no" if answer == "yes" else "yes") if flip else answer))
    result = glad(votes_from_rows(rows, ["no", "yes"]))
    assert int(np.argmax(result.difficulty)) == 5
    assert result.difficulty[5] > 3 * np.median(result.difficulty)
    np.testing.assert_array_equal(np.delete(result.label, 5), np.delete(np.arange(12) % 2, 5))


def test_full_confusion_matrices_that_do_not_fit_are_refused_naming_the_alternatives():
    k, w = 1000, 1000
    votes = Votes(np.zeros(w, np.int32), np.arange(w, dtype=np.int32), np.arange(w, dtype=np.int32) % k,
                  ["t"], [f"w{i}" for i in range(w)], [f"c{i}" for i in range(k)])
    with pytest.raises(ConfigError, match=r"dawid-skene keeps a 1000x1000 confusion matrix per worker: 1,000 "
                                          r"workers need 22.4 GiB \(limit 2 GiB\); use --method one-coin or glad"):
        aggregate(votes, "dawid-skene")
    # one-coin and GLAD keep one number per worker: the same job runs (it would need 8 GB per K x K copy)
    for method in ("one-coin", "glad"):
        assert aggregate(votes, method).label.shape == (1,)


def test_one_coin_needs_no_matrix_per_worker_and_matches_the_full_form():
    rng = np.random.default_rng(0)
    votes = Votes(rng.integers(0, 30, 400).astype(np.int32), rng.integers(0, 25, 400).astype(np.int32),
                  rng.integers(0, 4, 400).astype(np.int32), [f"t{i}" for i in range(30)],
                  [f"w{i}" for i in range(25)], list("abcd"))
    pairs = votes.task.astype(np.int64) * 25 + votes.worker
    votes = votes.select(np.unique(pairs, return_index=True)[1])
    ours = dawid_skene(votes, one_coin=True, max_iter=1, tol=-np.inf)
    # the full (W, K, K) form of the same E-step, as written before: error[w, k, z]
    from ilsvrc.label.dawid_skene import start
    posterior = start(votes)
    from ilsvrc.label.result import worker_skill
    accuracy = worker_skill(votes, posterior[votes.task, votes.label])
    error = np.where(np.eye(4, dtype=bool), accuracy[:, None, None], ((1 - accuracy) / 3)[:, None, None])
    log_joint = np.asarray(answer_matrix(votes) @ np.log(np.clip(error, 1e-10, 1 - 1e-10)).reshape(100, 4))
    log_joint += np.log(np.clip(posterior.mean(0), 1e-10, None))
    full = np.exp(log_joint - log_joint.max(1, keepdims=True))
    np.testing.assert_allclose(ours.confidence, (full / full.sum(1, keepdims=True)).max(1), atol=1e-12)


def test_blocks_of_tasks_give_the_same_posterior_as_one_block():
    rng = np.random.default_rng(3)
    votes = Votes(rng.integers(0, 50, 300).astype(np.int32), rng.integers(0, 40, 300).astype(np.int32),
                  rng.integers(0, 5, 300).astype(np.int32), [f"t{i}" for i in range(50)],
                  [f"w{i}" for i in range(40)], list("abcde"))
    votes = votes.select(np.unique(votes.task.astype(np.int64) * 40 + votes.worker, return_index=True)[1])
    right, wrong = np.log(rng.uniform(0.3, 0.9, len(votes))), np.log(rng.uniform(0.01, 0.2, len(votes)))
    prior = np.full(5, 0.2)
    whole = symmetric_e_step(TaskChunks(votes), right, wrong, prior)
    blocks = TaskChunks(votes, cells=5 * 7)  # 7 tasks a block
    assert len(blocks.blocks) == 8
    cut = symmetric_e_step(blocks, right, wrong, prior)
    for name in ("q", "mass", "label", "confidence"):
        np.testing.assert_allclose(getattr(cut, name), getattr(whole, name), rtol=1e-12)
    assert cut.loglik == pytest.approx(whole.loglik, rel=1e-12)
    one_block = majority_of(votes, cells=10 ** 6)
    np.testing.assert_array_equal(majority_of(votes, cells=5 * 3), one_block)  # 3 tasks a block


def majority_of(votes, cells):
    import ilsvrc.label.symmetric as symmetric_module
    original = symmetric_module.CELLS
    symmetric_module.CELLS = cells
    try:
        from ilsvrc.label.majority import majority
        assert len(symmetric_module.TaskChunks(votes).blocks) == -(-50 * 5 // cells)
        result = majority(votes)
    finally:
        symmetric_module.CELLS = original
    return np.c_[result.label, result.confidence]


@pytest.mark.parametrize("seed", [0, 1])
def test_the_sparse_e_step_equals_the_dense_one(seed):
    from ilsvrc.label.symmetric import dense_e_step, sparse_e_step
    rng = np.random.default_rng(seed)
    k, t, w = 40, 60, 30
    votes = Votes(rng.integers(0, t, 500).astype(np.int32), rng.integers(0, w, 500).astype(np.int32),
                  rng.integers(0, 6, 500).astype(np.int32) * 7 % k, [f"t{i}" for i in range(t)],
                  [f"w{i}" for i in range(w)], [f"c{i}" for i in range(k)])
    votes = votes.select(np.unique(votes.task.astype(np.int64) * w + votes.worker, return_index=True)[1])
    votes = votes.select(np.flatnonzero(votes.task != 5))  # a task without answers: its posterior is the prior
    right, wrong = np.log(rng.uniform(0.3, 0.9, len(votes))), np.log(rng.uniform(0.001, 0.02, len(votes)))
    prior = rng.dirichlet(np.ones(k))
    prior[[3, 9]] = prior.max()  # two unnamed classes tie for the best prior: the lower one wins
    dense, sparse_ = dense_e_step(TaskChunks(votes), right, wrong, prior), sparse_e_step(votes, right, wrong, prior)
    for name in ("q", "mass", "confidence"):
        np.testing.assert_allclose(getattr(sparse_, name), getattr(dense, name), rtol=1e-10, atol=1e-15)
    np.testing.assert_array_equal(sparse_.label, dense.label)
    assert sparse_.label[5] == 3 and sparse_.loglik == pytest.approx(dense.loglik, rel=1e-12)
