"""Simulated crowd workers: who they are, how often they are right, how long they take.

    crowd = Crowd.draw(500, parse_mix("good=0.6,sloppy=0.25,random=0.1,always-yes=0.05"), rng)
    yes = crowd.answer_yesno(worker, truth, hardness, rng)     # (A,) bool answers

Kinds (accuracy = chance of the right answer on an easy question):
- good: accuracy uniform in [0.90, 0.99], ~5 s per answer;
- sloppy: accuracy uniform in [0.65, 0.85], ~3 s;
- random: a spammer answering at random (yes/no: a fair coin; multi-class: any class), ~1.5 s;
- always-yes: a spammer who says yes to everything (multi-class: always names the same class), ~1 s.
A hard question (an impostor from a class that looks alike, an ambiguous image) pulls an honest
worker's accuracy towards a coin flip: accuracy' = 1/2 + (accuracy - 1/2) * (1 - hardness), hardness
in [0, 1]; in a multi-class job towards a split between the true class and a confusable one:
accuracy' = accuracy * (1 - hardness) + hardness / 2. An honest worker may answer "unsure" (yes/no
jobs), more often on hard questions; spammers never do. Activity: a worker's chance to be picked for
a question is `weight` (Zipf over a random order of the workers, or equal).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ilsvrc.errors import ConfigError

KINDS = ("good", "sloppy", "random", "always-yes")
ACCURACY = {"good": (0.90, 0.99), "sloppy": (0.65, 0.85)}
MEDIAN_SECONDS = {"good": 5.0, "sloppy": 3.0, "random": 1.5, "always-yes": 1.0}
DEFAULT_MIX = "good=0.75,sloppy=0.15,random=0.07,always-yes=0.03"
UNSURE_CODE = 2  # the answer code of "unsure" in a yes/no job (no = 0, yes = 1)
UNSURE_ON_HARDEST = 4.0  # an honest worker says "unsure" this many times as often on the hardest question


def parse_mix(text: str) -> dict[str, float]:
    """'good=0.6,sloppy=0.3,random=0.1' -> fractions of each kind of worker (normalised to sum to 1)."""
    mix: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        kind, sep, value = item.partition("=")
        if not sep or kind not in KINDS:
            raise ConfigError(f"--mix takes KIND=FRACTION items with KIND in {', '.join(KINDS)}; got {item!r}")
        try:
            mix[kind] = float(value)
        except ValueError:
            raise ConfigError(f"--mix: {kind} needs a number, got {value!r}") from None
    total = sum(mix.values())
    if any(v < 0 for v in mix.values()) or total <= 0:
        raise ConfigError(f"--mix fractions must be >= 0 and not all zero, got {text!r}")
    return {kind: value / total for kind, value in mix.items()}


@dataclass
class Crowd:
    kind: np.ndarray  # (W,) index into KINDS
    accuracy: np.ndarray  # (W,) chance of a right answer on an easy question (spammers: unused)
    favourite: np.ndarray  # (W,) the class an always-yes spammer names in a multi-class job
    weight: np.ndarray | None = None  # (W,) chance to be picked for a question (None: all alike)

    @classmethod
    def draw(cls, size: int, mix: dict[str, float], rng: np.random.Generator, n_classes: int = 2,
             activity: float = 0.0) -> "Crowd":
        weights = np.array([mix.get(kind, 0.0) for kind in KINDS])
        kind = rng.choice(len(KINDS), size=size, p=weights / weights.sum())
        accuracy = np.full(size, 0.5)
        for k, name in enumerate(KINDS):
            if name in ACCURACY:
                low, high = ACCURACY[name]
                accuracy[kind == k] = rng.uniform(low, high, (kind == k).sum())
        favourite = rng.integers(0, n_classes, size)
        return cls(kind, accuracy, favourite, zipf_weights(size, activity, rng) if activity else None)

    def __len__(self) -> int:
        return len(self.kind)

    def names(self) -> list[str]:
        return [f"w{k:05d}" for k in range(len(self))]

    def counts(self) -> dict[str, int]:
        return {name: int((self.kind == k).sum()) for k, name in enumerate(KINDS)}

    def answer_yesno(self, worker: np.ndarray, truth: np.ndarray, hardness: np.ndarray,
                     rng: np.random.Generator, unsure: float = 0.0) -> np.ndarray:
        """(A,) answers (0 no, 1 yes, 2 unsure) of `worker` to questions whose right answer is `truth`.

        An honest worker says unsure with probability unsure * (1 + 3 * hardness), capped at 1.
        """
        right = 0.5 + (self.accuracy[worker] - 0.5) * (1 - hardness)
        answer = np.where(rng.random(len(worker)) < right, truth, ~truth)
        kind = self.kind[worker]
        answer = np.where(kind == KINDS.index("random"), rng.random(len(worker)) < 0.5, answer)
        answer = np.where(kind == KINDS.index("always-yes"), True, answer).astype(np.int32)
        if unsure:
            chance = np.minimum(1.0, unsure * (1 + (UNSURE_ON_HARDEST - 1) * hardness))
            honest = kind < KINDS.index("random")
            answer[honest & (rng.random(len(worker)) < chance)] = UNSURE_CODE
        return answer

    def answer_class(self, worker: np.ndarray, truth: np.ndarray, confusion: np.ndarray,
                     rng: np.random.Generator, hardness: np.ndarray | None = None) -> np.ndarray:
        """(A,) class answers; an honest mistake names a class in proportion to `confusion[truth]` (K, K)."""
        n, k = len(worker), confusion.shape[0]
        cumulative = np.cumsum(confusion[truth], axis=1)
        mistake = (rng.random((n, 1)) * cumulative[:, -1:] > cumulative).sum(1).clip(max=k - 1)
        right = self.accuracy[worker]
        if hardness is not None:
            right = right * (1 - hardness) + hardness / 2
        answer = np.where(rng.random(n) < right, truth, mistake)
        kind = self.kind[worker]
        answer = np.where(kind == KINDS.index("random"), rng.integers(0, k, n), answer)
        return np.where(kind == KINDS.index("always-yes"), self.favourite[worker], answer)

    def seconds(self, worker: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """(A,) time per answer: log-normal around each kind's median, rounded to 0.1 s."""
        median = np.array([MEDIAN_SECONDS[name] for name in KINDS])[self.kind[worker]]
        return np.round(median * rng.lognormal(0.0, 0.4, len(worker)), 1)


def zipf_weights(size: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """(size,) chance of each worker to be picked: the r-th most active (a random order) ~ 1 / r**exponent."""
    weight = np.empty(size)
    weight[rng.permutation(size)] = 1.0 / np.arange(1, size + 1) ** exponent
    return weight / weight.sum()


def assign(rng: np.random.Generator, answers_per_task: np.ndarray, crowd_size: int,
           weight: np.ndarray | None = None) -> np.ndarray:
    """(T, max answers) distinct workers per task (columns past a task's count are -1), at random:
    uniformly, or each worker in proportion to `weight` (W,) among those not yet picked for the task.

    Uniform: the j-th pick is uniform among the workers not yet picked: draw r in [0, W - j), then step
    r past each earlier pick, in increasing order.
    """
    tasks, most = len(answers_per_task), int(answers_per_task.max(initial=0))
    if most > crowd_size:
        raise ConfigError(f"{most} answers per task need at least {most} workers; the crowd has {crowd_size}")
    if weight is not None:
        picks = _weighted_picks(rng, tasks, most, weight)
        return np.where(np.arange(most) < answers_per_task[:, None], picks, -1)
    picks = np.zeros((tasks, most), np.int64)
    for j in range(most):
        r = rng.integers(0, crowd_size - j, tasks)
        for earlier in np.sort(picks[:, :j], axis=1).T:
            r += r >= earlier
        picks[:, j] = r
    return np.where(np.arange(most) < answers_per_task[:, None], picks, -1)


def _weighted_picks(rng: np.random.Generator, tasks: int, most: int, weight: np.ndarray) -> np.ndarray:
    """(tasks, most) distinct picks, each drawn in proportion to `weight`, redrawn where it repeats an
    earlier pick of its task: the same law as drawing from the workers not yet picked."""
    p = weight / weight.sum()
    picks = np.zeros((tasks, most), np.int64)
    for j in range(most):
        column = rng.choice(len(p), tasks, p=p)
        clash = (picks[:, :j] == column[:, None]).any(1)
        while clash.any():
            rows = np.flatnonzero(clash)
            column[rows] = rng.choice(len(p), len(rows), p=p)
            clash[rows] = (picks[rows, :j] == column[rows, None]).any(1)
        picks[:, j] = column
    return picks
