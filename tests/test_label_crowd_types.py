"""Real-looking crowds: long-tailed activity, ambiguous questions, multi-label candidates, unsure answers,
presets; each drawn as specified, reproducible from the seed, and bad values refused in one line."""
import numpy as np
import pytest

from fixtures import Blobs, write_tiny_idx
from ilsvrc import cli
from ilsvrc.errors import ConfigError
from ilsvrc.label.crowd import DEFAULT_MIX, UNSURE_CODE, Crowd, assign, parse_mix, zipf_weights
from ilsvrc.label.crowd_types import PRESETS, CrowdType, crowd_type
from ilsvrc.label.simulate import AMBIGUOUS, SECOND_OBJECT, JobConfig, simulate
from ilsvrc.label.tasks import parse_task
from ilsvrc.label.votes import read_votes, write_votes


def test_zipf_weights_fall_as_one_over_rank():
    weight = zipf_weights(5, 1.0, np.random.default_rng(0))
    np.testing.assert_allclose(np.sort(weight)[::-1], np.array([1, 1 / 2, 1 / 3, 1 / 4, 1 / 5]) / (137 / 60))
    flat = zipf_weights(4, 2.0, np.random.default_rng(1))
    np.testing.assert_allclose(np.sort(flat)[::-1], np.array([1, 1 / 4, 1 / 9, 1 / 16]) / (205 / 144))


def test_weighted_picks_are_distinct_and_follow_the_law_of_drawing_without_replacement():
    # Weights (0.5, 0.3, 0.2), two distinct picks: P({0,1}) = .5*.3/.5 + .3*.5/.7 = 0.5143,
    # P({0,2}) = .5*.2/.5 + .2*.5/.8 = 0.325, P({1,2}) = .3*.2/.7 + .2*.3/.8 = 0.1607.
    picks = assign(np.random.default_rng(0), np.full(40000, 2), 3, np.array([0.5, 0.3, 0.2]))
    assert (picks[:, 0] != picks[:, 1]).all()
    pair = np.sort(picks, axis=1) @ [3, 1]  # {0,1} -> 1, {0,2} -> 2, {1,2} -> 5
    shares = [np.mean(pair == code) for code in (1, 2, 5)]
    np.testing.assert_allclose(shares, [0.5143, 0.325, 0.1607], atol=0.01)


def test_long_tailed_activity_makes_a_few_workers_answer_most():
    kind = CrowdType(activity=1.0)
    job = simulate(Blobs(per_class=100), JobConfig(precision=0.25, initial_per_class=0, crowd=200, crowd_type=kind))
    answered = np.sort(job.votes.votes_per_worker())[::-1]
    assert answered[:10].sum() > 0.25 * answered.sum()  # top 5% of the crowd: 1/H(200) * H(10) = 50% by the law
    assert answered[0] > 20 * np.median(answered)
    flat = simulate(Blobs(per_class=100), JobConfig(precision=0.25, initial_per_class=0, crowd=200,
                                                    crowd_type=PRESETS["classic"]))
    assert flat.votes.votes_per_worker().max() < 3 * np.median(flat.votes.votes_per_worker())


def test_ambiguous_questions_are_the_asked_fraction_and_split_even_good_workers():
    kind = CrowdType(mix=parse_mix("good=1"), difficulty=0.3)
    job = simulate(Blobs(per_class=200), JobConfig(precision=0.5, hard=0.0, workers_per_task=5, initial_per_class=0,
                                                   crowd=50, crowd_type=kind))
    assert job.ambiguous.mean() == pytest.approx(0.3, abs=0.03)
    item = job.hardness[job.ambiguous & (job.gold == 1)]  # members: no impostor hardness underneath
    assert item.min() >= AMBIGUOUS[0] and item.max() <= AMBIGUOUS[1]
    assert (job.hardness[~job.ambiguous & (job.gold == 1)] == 0).all()
    votes = job.votes
    right = votes.label == job.gold[votes.task]
    assert right[~job.ambiguous[votes.task]].mean() > 0.9  # good workers: 0.90-0.99 on easy questions
    hardest = job.hardness[votes.task] > 0.9
    assert abs(right[hardest].mean() - 0.5) < 0.06  # on the hardest even good workers split


def test_a_perfect_worker_splits_on_a_question_of_hardness_one_in_a_multiclass_job():
    crowd = Crowd(np.zeros(1, int), np.ones(1), np.zeros(1, int))
    confusion = np.array([[0, 1, 0], [1, 0, 0], [1, 0, 0.0]])
    answer = crowd.answer_class(np.zeros(4000, int), np.zeros(4000, int), confusion, np.random.default_rng(0),
                                np.ones(4000))
    assert abs((answer == 0).mean() - 0.5) < 0.03 and set(answer) == {0, 1}  # the true or the confusable class


def test_multilabel_impostors_truly_show_the_asked_class_too():
    ds = Blobs(per_class=60)
    job = simulate(ds, JobConfig(precision=0.2, initial_per_class=0, crowd_type=CrowdType(multilabel=0.2), seed=4))
    impostor = np.array([ds.classes[ds.targets[parse_task(n).index]] != parse_task(n).question
                         for n in job.votes.task_names])
    assert job.second.mean() > 0 and (job.second <= impostor).all()
    assert job.second[impostor].mean() == pytest.approx(0.2, abs=0.04)
    assert (job.gold[job.second] == 1).all() and (job.hardness[job.second] == SECOND_OBJECT).all()
    yes_per_image = np.bincount(job.image[job.gold == 1], minlength=len(ds))
    assert (yes_per_image >= 2).any()  # "is this an X?" is yes for several X


def test_honest_workers_answer_unsure_as_specified_and_spammers_never():
    rng = np.random.default_rng(0)
    crowd = Crowd(np.array([0, 2, 3]), np.array([0.95, 0.5, 0.5]), np.zeros(3, int))
    worker = np.repeat(np.arange(3), 20000)
    truth = np.tile([True, False], 30000)
    easy = crowd.answer_yesno(worker, truth, np.zeros(60000), rng, unsure=0.1)
    assert (easy[worker == 0] == UNSURE_CODE).mean() == pytest.approx(0.1, abs=0.01)
    assert not (easy[worker > 0] == UNSURE_CODE).any()
    hardest = crowd.answer_yesno(np.zeros(20000, int), truth[:20000], np.ones(20000), rng, unsure=0.1)
    assert (hardest == UNSURE_CODE).mean() == pytest.approx(0.4, abs=0.015)  # 4x as often


def test_unsure_answers_survive_the_csv(tmp_path):
    job = simulate(Blobs(per_class=20), JobConfig(precision=0.5, initial_per_class=0, crowd_type=CrowdType(unsure=0.3)))
    assert job.votes.unsure().any()
    write_votes(tmp_path / "votes.csv", job.votes)
    back = read_votes(tmp_path / "votes.csv")
    assert back.classes == ["no", "yes"]
    np.testing.assert_array_equal(np.array(back.answer_names)[back.label],
                                  np.array(job.votes.answer_names)[job.votes.label])


def test_presets_keep_todays_mixes_and_the_default_looks_like_a_real_job():
    assert PRESETS["classic"] == CrowdType(parse_mix(DEFAULT_MIX), 0.0, 0.0, 0.0, 0.0)
    assert PRESETS["spammy"].mix == parse_mix("good=0.5,sloppy=0.2,random=0.15,always-yes=0.15")
    real = PRESETS["realistic"]
    assert JobConfig().crowd_type == real and real.mix["good"] >= 0.75
    assert real.mix["random"] + real.mix["always-yes"] < 0.1 and real.activity == 1.0
    assert crowd_type("classic", activity=0.5) == CrowdType(parse_mix(DEFAULT_MIX), activity=0.5)
    assert JobConfig(job="multiclass").crowd_type.unsure == 0  # yes/no-only parts off


@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_preset_is_reproducible_from_its_seed(preset):
    def job(seed):
        return simulate(Blobs(per_class=15), JobConfig(initial_per_class=2, crowd_type=PRESETS[preset], seed=seed))
    first, again, other = job(5), job(5), job(6)
    for name in ("task", "worker", "label", "seconds"):
        np.testing.assert_array_equal(getattr(first.votes, name), getattr(again.votes, name))
    np.testing.assert_array_equal(first.gold, again.gold)
    assert not np.array_equal(first.votes.label, other.votes.label)


@pytest.mark.parametrize("options, message", [
    (["--activity", "2.5"], "--activity must be in [0, 2] (a Zipf exponent), got 2.5"),
    (["--difficulty", "1"], "--difficulty must be in [0, 1), got 1"),
    (["--multilabel", "-0.1"], "--multilabel must be in [0, 1), got -0.1"),
    (["--unsure", "1.5"], "--unsure must be in [0, 1), got 1.5"),
    (["--job", "multiclass", "--unsure", "0.1"], "--multilabel and --unsure need a yes/no job"),
    (["--mix", "great=1"], "--mix takes KIND=FRACTION items"),
])
def test_bad_crowd_options_are_one_line_errors(tmp_path, capsys, options, message):
    data = write_tiny_idx(tmp_path / "tiny", train_per_class=4)
    code = cli.main(["label", "simulate", "--data", str(data), "--out", str(tmp_path / "v.csv"), *options])
    err = capsys.readouterr().err.strip()
    assert code != 0 and message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "v.csv").exists()


def test_unknown_preset_is_refused():
    with pytest.raises(ConfigError, match="--preset must be one of realistic, classic, spammy, long-tail, ambiguous"):
        crowd_type("noisy")
