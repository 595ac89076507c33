"""An ImageNet-style labelling job simulated from a labelled dataset.

    ilsvrc label simulate --data fashion-mnist --out job/votes.csv      # also writes job/gold.csv
    job = simulate(open_dataset("fashion-mnist", "train"), JobConfig(workers_per_task=3))

Yes/no job (ImageNet's): each class gets a candidate pool, as a web search would return it, where
only `precision` of the candidates truly belong (about 10% for raw image-search results, Deng et al.
2009). The impostors are images of other classes: a fraction `hard` of them from the classes that
look most alike (closest class-mean images), which honest workers get wrong more often; the rest
from any class. Each candidate is the question "is this a <class>?" (task "train/17:Sandal").
Multi-class job: every image is the question "what is this?" (task "train/17"), answered by a class.

The crowd (ilsvrc.label.crowd_types) sets who answers (the mix of workers, how busy each is), how
hard the questions are (ambiguous images: `difficulty`), whether an impostor truly shows the asked
class too (`multilabel`, yes/no jobs) and how often honest workers answer "unsure" (yes/no jobs).

Every task gets `workers_per_task` answers from distinct simulated workers (see ilsvrc.label.crowd),
except `initial_per_class` tasks per class (times the number of classes, multi-class), which get
`initial_votes`: the initial subset dynamic consensus estimates its tables from. Answers are
written in a random (arrival) order.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from ilsvrc.data.base import ArrayDataset, Dataset
from ilsvrc.errors import ConfigError
from ilsvrc.label.crowd import Crowd, assign
from ilsvrc.label.crowd_types import DEFAULT_PRESET, PRESETS, CrowdType, yesno_parts_off
from ilsvrc.label.tasks import image_task, question_task
from ilsvrc.label.votes import YESNO, Votes

JOBS = ("yesno", "multiclass")
HARD_IMPOSTOR = 0.5  # an impostor from the most alike class halves an honest worker's edge over a coin;
# less alike classes much less (hardness = HARD_IMPOSTOR * likeness ** 4, see class_similarity)
ANSWERS_PER_WORKER = 250  # crowd size when not given: about this many answers each
AMBIGUOUS = (0.5, 1.0)  # item hardness of an ambiguous question: uniform in this range
SECOND_OBJECT = 0.3  # hardness of "is this an X?" where X is the image's second, smaller object


@dataclass(frozen=True)
class JobConfig:
    job: str = "yesno"
    per_class: int | None = None  # images per class taken from the split (None: all)
    precision: float = 0.1  # yes/no: fraction of a class's candidates that truly belong
    hard: float = 0.5  # fraction of impostors drawn from the most alike classes
    workers_per_task: int = 3
    initial_per_class: int = 500
    initial_votes: int = 10
    crowd_type: CrowdType | None = None  # None: the realistic preset (its yes/no-only parts off for multiclass)
    crowd: int | None = None  # number of workers
    seed: int = 0

    def __post_init__(self):
        if self.job not in JOBS:
            raise ConfigError(f"--job must be one of {', '.join(JOBS)}, got {self.job!r}")
        if not 0 < self.precision <= 1 or not 0 <= self.hard <= 1:
            raise ConfigError("--precision must be in (0, 1] and --hard in [0, 1]")
        if self.workers_per_task < 1 or self.initial_votes < 1 or self.initial_per_class < 0:
            raise ConfigError("--workers and --initial-votes must be positive, --initial-per-class >= 0")
        if self.per_class is not None and self.per_class < 1:
            raise ConfigError(f"--per-class must be positive, got {self.per_class}")
        if self.crowd is not None and self.crowd < 1:
            raise ConfigError(f"--crowd must be positive, got {self.crowd}")
        if self.crowd_type is None:
            default = PRESETS[DEFAULT_PRESET]
            object.__setattr__(self, "crowd_type", default if self.job == "yesno" else yesno_parts_off(default))
        kind = self.crowd_type
        if self.job == "multiclass" and (kind.multilabel or kind.unsure):
            raise ConfigError("--multilabel and --unsure need a yes/no job (a multi-class job asks for one "
                              "class per image); set them to 0 with --job multiclass")


@dataclass
class Job:
    votes: Votes
    gold: np.ndarray  # (T,) class codes into votes.classes: the true answer of each task
    image: np.ndarray  # (T,) index of each task's image in the split
    initial: np.ndarray  # (T,) bool: the tasks given `initial_votes` answers
    crowd: Crowd
    hardness: np.ndarray  # (T,) how far an honest worker is pulled towards a coin flip on each task
    ambiguous: np.ndarray  # (T,) bool: the tasks made hard by the crowd's `difficulty`
    second: np.ndarray  # (T,) bool: candidates of another class that truly show the asked class too


def simulate(ds: Dataset, config: JobConfig = JobConfig()) -> Job:
    if ds.multilabel:
        raise ConfigError(f"simulate needs single-label data; {ds.kind} {ds.split} is multi-label")
    rng = np.random.default_rng(config.seed)
    labels = ds.labels()
    members = pick_members(labels, len(ds.classes), config.per_class, rng)
    alike = class_similarity(ds, members, rng)
    kind = config.crowd_type
    if config.job == "yesno":
        image, asked, truth, hardness = yesno_pools(labels, members, alike, config, rng)
        second = multilabel(truth, hardness, kind.multilabel, rng)
    else:
        image = rng.permutation(np.concatenate(members))
        asked, truth, hardness, second = None, labels[image], np.zeros(len(image)), np.zeros(len(image), bool)
    ambiguous = add_difficulty(hardness, kind.difficulty, rng)
    quota = config.initial_per_class * (1 if asked is not None else len(ds.classes))
    initial = np.zeros(len(image), bool)
    initial[_initial_tasks(asked, quota)] = True
    answers = np.where(initial, max(config.initial_votes, config.workers_per_task), config.workers_per_task)
    crowd_size = config.crowd or max(int(answers.max()), int(answers.sum()) // ANSWERS_PER_WORKER)
    crowd = Crowd.draw(crowd_size, kind.mix, rng, len(ds.classes), kind.activity)
    task, worker = _answer_slots(assign(rng, answers, crowd_size, crowd.weight), rng)
    if asked is not None:
        given = crowd.answer_yesno(worker, truth[task], hardness[task], rng, kind.unsure).astype(np.int32)
        names, classes, gold = _question_names(ds, image, asked), list(YESNO), truth.astype(np.int32)
    else:
        task_hardness = hardness[task] if ambiguous.any() else None  # keeps a plain job's random stream
        given = crowd.answer_class(worker, truth[task], _confusion(alike), rng, task_hardness).astype(np.int32)
        names, classes, gold = [image_task(ds.split, i) for i in image], list(ds.classes), truth.astype(np.int32)
    votes = Votes(task.astype(np.int32), worker.astype(np.int32), given, names, crowd.names(), classes,
                  crowd.seconds(worker, rng))
    return Job(votes, gold, image, initial, crowd, hardness, ambiguous, second)


def multilabel(truth: np.ndarray, hardness: np.ndarray, fraction: float, rng) -> np.ndarray:
    """Make `fraction` of the impostors true members too (in place): the image also shows the asked class,
    as a second, smaller object. Returns the (T,) mask of those candidates."""
    second = np.zeros(len(truth), bool)
    if fraction:
        second = ~truth & (rng.random(len(truth)) < fraction)
        truth[second], hardness[second] = True, SECOND_OBJECT
    return second


def add_difficulty(hardness: np.ndarray, fraction: float, rng) -> np.ndarray:
    """Make `fraction` of the tasks ambiguous (in place): hardness 1 - (1 - h)(1 - d), d uniform in AMBIGUOUS.
    Returns the (T,) mask of the ambiguous tasks."""
    ambiguous = np.zeros(len(hardness), bool)
    if fraction:
        ambiguous = rng.random(len(hardness)) < fraction
        item = rng.uniform(*AMBIGUOUS, int(ambiguous.sum()))
        hardness[ambiguous] = 1 - (1 - hardness[ambiguous]) * (1 - item)
    return ambiguous


def pick_members(labels: np.ndarray, n_classes: int, per_class: int | None, rng) -> list[np.ndarray]:
    """Per class, the indices of its images in the job: all, or `per_class` of them at random."""
    members = []
    for c in range(n_classes):
        index = np.flatnonzero(labels == c)
        members.append(np.sort(rng.permutation(index)[:per_class]) if per_class else index)
    if sum(len(m) > 0 for m in members) < 2:
        raise ConfigError("simulate needs images of at least two classes")
    return members


def yesno_pools(labels, members, alike, config: JobConfig, rng):
    """Candidate pools, class after class: (image, class asked, truly a member?, hardness) per question.

    Impostors come from every image of the split, not only the members: like web-search junk,
    most candidates are images nobody meant to label.
    """
    by_class = [np.flatnonzero(labels == c) for c in range(len(members))]
    image, asked = [], []
    for c, own in enumerate(members):
        impostors = _impostors(c, len(own), by_class, alike, config, rng)
        pool = rng.permutation(np.concatenate([own, impostors]))
        image.append(pool)
        asked.append(np.full(len(pool), c))
    image, asked = np.concatenate(image), np.concatenate(asked)
    truth = labels[image] == asked
    hardness = np.where(truth, 0.0, HARD_IMPOSTOR * alike[asked, labels[image]] ** 4)
    return image, asked, truth, hardness


def _impostors(c: int, n_members: int, by_class, alike, config: JobConfig, rng) -> np.ndarray:
    """Images of other classes for class c's pool: n_members * (1 - precision) / precision of them.

    Fewer when the other classes run out of images (each image enters a pool at most once).
    """
    wanted = round(n_members * (1 - config.precision) / config.precision)
    others = np.array([len(m) > 0 and j != c for j, m in enumerate(by_class)], float)
    uniform = others / others.sum()
    close = alike[c] ** 4 * others  # mostly the one or two most alike classes
    weights = config.hard * close / close.sum() + (1 - config.hard) * uniform
    per_class = rng.multinomial(wanted, weights)
    picked = [rng.choice(by_class[j], min(k, len(by_class[j])), replace=False)
              for j, k in enumerate(per_class) if k]
    return np.concatenate(picked) if picked else np.zeros(0, np.int64)


def class_similarity(ds: Dataset, members: list[np.ndarray], rng, side: int = 32) -> np.ndarray:
    """(K, K) how alike classes look: smallest distance between any two class-mean images / this pair's
    distance. 1 for the most alike pair of the dataset, so classes with no close neighbour are easy.

    The means are of up to 50 images per class brought to side x side grayscale: cheap on any dataset.
    """
    sample = max(5, min(50, 5000 // max(len(members), 1)))
    means = np.stack([_mean_image(ds, rng.permutation(m)[:sample], side) for m in members])
    distance = np.linalg.norm(means[:, None] - means[None], axis=-1)
    distance[np.isnan(distance)] = np.inf  # a class without images is like nothing
    np.fill_diagonal(distance, np.inf)
    return np.where(np.isfinite(distance), distance.min() / np.maximum(distance, 1e-12), 0.0)


def _mean_image(ds: Dataset, index: np.ndarray, side: int) -> np.ndarray:
    if len(index) == 0:
        return np.full(side * side, np.nan)
    images = ds.images[index] if isinstance(ds, ArrayDataset) else [ds.image(int(i)) for i in index]
    small = [np.asarray(Image.fromarray(_gray(im)).resize((side, side), Image.Resampling.BILINEAR), np.float64)
             for im in images]
    return np.mean(small, axis=0).ravel()


def _gray(image: np.ndarray) -> np.ndarray:
    return image[:, :, 0] if image.shape[2] == 1 else np.asarray(Image.fromarray(image).convert("L"))


def _confusion(alike: np.ndarray) -> np.ndarray:
    """Where an honest multi-class mistake goes: mostly to the most alike classes."""
    weights = np.nan_to_num(alike) ** 4
    np.fill_diagonal(weights, 0)
    return weights / np.maximum(weights.sum(1, keepdims=True), 1e-12)


def _initial_tasks(asked: np.ndarray | None, quota: int) -> np.ndarray:
    """The tasks that get the initial number of answers: the first `quota` of each (shuffled) pool."""
    if asked is None:
        return np.arange(quota)
    starts = np.r_[0, np.flatnonzero(asked[1:] != asked[:-1]) + 1]
    rank = np.arange(len(asked)) - np.repeat(starts, np.diff(np.r_[starts, len(asked)]))
    return np.flatnonzero(rank < quota)


def _answer_slots(picks: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
    """(task, worker) of every answer, shuffled into a random arrival order."""
    task, slot = np.nonzero(picks >= 0)
    order = rng.permutation(len(task))
    return task[order], picks[task, slot][order]


def _question_names(ds: Dataset, image: np.ndarray, asked: np.ndarray) -> list[str]:
    return [question_task(ds.split, i, ds.classes[c]) for i, c in zip(image.tolist(), asked.tolist())]
