"""Simulated crowd workers: who they are, how often they are right, how long they take.

    crowd = Crowd.draw(500, parse_mix("good=0.6,sloppy=0.25,random=0.1,always-yes=0.05"), rng)
    yes = crowd.answer_yesno(worker, truth, hardness, rng)     # (A,) bool answers

Kinds (accuracy = chance of the right answer on an easy question):
- good: accuracy uniform in [0.90, 0.99], ~5 s per answer;
- sloppy: accuracy uniform in [0.65, 0.85], ~3 s;
- random: a spammer answering at random (yes/no: a fair coin; multi-class: any class), ~1.5 s;
- always-yes: a spammer who says yes to everything (multi-class: always names the same class), ~1 s.
A hard question (an impostor from a class that looks alike) pulls an honest worker's accuracy
towards a coin flip: accuracy' = 1/2 + (accuracy - 1/2) * (1 - hardness), hardness in [0, 1).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ilsvrc.errors import ConfigError

KINDS = ("good", "sloppy", "random", "always-yes")
ACCURACY = {"good": (0.90, 0.99), "sloppy": (0.65, 0.85)}
MEDIAN_SECONDS = {"good": 5.0, "sloppy": 3.0, "random": 1.5, "always-yes": 1.0}
DEFAULT_MIX = "good=0.75,sloppy=0.15,random=0.07,always-yes=0.03"


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

    @classmethod
    def draw(cls, size: int, mix: dict[str, float], rng: np.random.Generator, n_classes: int = 2) -> "Crowd":
        weights = np.array([mix.get(kind, 0.0) for kind in KINDS])
        kind = rng.choice(len(KINDS), size=size, p=weights / weights.sum())
        accuracy = np.full(size, 0.5)
        for k, name in enumerate(KINDS):
            if name in ACCURACY:
                low, high = ACCURACY[name]
                accuracy[kind == k] = rng.uniform(low, high, (kind == k).sum())
        return cls(kind, accuracy, rng.integers(0, n_classes, size))

    def __len__(self) -> int:
        return len(self.kind)

    def names(self) -> list[str]:
        return [f"w{k:05d}" for k in range(len(self))]

    def counts(self) -> dict[str, int]:
        return {name: int((self.kind == k).sum()) for k, name in enumerate(KINDS)}

    def answer_yesno(self, worker: np.ndarray, truth: np.ndarray, hardness: np.ndarray,
                     rng: np.random.Generator) -> np.ndarray:
        """(A,) yes/no answers of `worker` to questions whose right answer is `truth`."""
        right = 0.5 + (self.accuracy[worker] - 0.5) * (1 - hardness)
        answer = np.where(rng.random(len(worker)) < right, truth, ~truth)
        kind = self.kind[worker]
        answer = np.where(kind == KINDS.index("random"), rng.random(len(worker)) < 0.5, answer)
        return np.where(kind == KINDS.index("always-yes"), True, answer)

    def answer_class(self, worker: np.ndarray, truth: np.ndarray, confusion: np.ndarray,
                     rng: np.random.Generator) -> np.ndarray:
        """(A,) class answers; an honest mistake names a class in proportion to `confusion[truth]` (K, K)."""
        n, k = len(worker), confusion.shape[0]
        cumulative = np.cumsum(confusion[truth], axis=1)
        mistake = (rng.random((n, 1)) * cumulative[:, -1:] > cumulative).sum(1).clip(max=k - 1)
        answer = np.where(rng.random(n) < self.accuracy[worker], truth, mistake)
        kind = self.kind[worker]
        answer = np.where(kind == KINDS.index("random"), rng.integers(0, k, n), answer)
        return np.where(kind == KINDS.index("always-yes"), self.favourite[worker], answer)

    def seconds(self, worker: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """(A,) time per answer: log-normal around each kind's median, rounded to 0.1 s."""
        median = np.array([MEDIAN_SECONDS[name] for name in KINDS])[self.kind[worker]]
        return np.round(median * rng.lognormal(0.0, 0.4, len(worker)), 1)


def assign(rng: np.random.Generator, answers_per_task: np.ndarray, crowd_size: int) -> np.ndarray:
    """(T, max answers) distinct workers per task (columns past a task's count are -1), uniformly at random.

    The j-th pick is uniform among the workers not yet picked: draw r in [0, W - j), then step r past
    each earlier pick, in increasing order.
    """
    tasks, most = len(answers_per_task), int(answers_per_task.max(initial=0))
    if most > crowd_size:
        raise ConfigError(f"{most} answers per task need at least {most} workers; the crowd has {crowd_size}")
    picks = np.zeros((tasks, most), np.int64)
    for j in range(most):
        r = rng.integers(0, crowd_size - j, tasks)
        for earlier in np.sort(picks[:, :j], axis=1).T:
            r += r >= earlier
        picks[:, j] = r
    return np.where(np.arange(most) < answers_per_task[:, None], picks, -1)
