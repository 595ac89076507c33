"""Deng et al. (2009)'s dynamic consensus: ask more people only where the crowd is not yet sure.

    result = dynamic_consensus(votes, threshold=0.95)
    result.votes_used.sum()        # answers actually consumed: easy classes stop early

1. Initial subset: per class, `initial_per_class` tasks (chosen at random, seeded) among those with at
   least `initial_votes` (10) answers. Their label is the majority of all their answers.
2. Confidence table per class: P(good | y yes, n no) for y + n <= initial_votes, estimated from the
   initial subset: every initial task contributes, for each m, the hypergeometric probability that
   m of its answers drawn at random hold y yes, to cell (y, m - y), counted good when its label is
   yes. A cell backed by less than MIN_SUPPORT initial tasks' worth of weight reads 1/2, so a rare
   vote pattern never stops a task. Classes without an initial task use the table pooled over all
   classes.
3. Every other task consumes its answers in file order, one at a time, and stops as soon as the table
   says P(good) >= threshold (label yes) or P(good) <= 1 - threshold (label no). A task that reaches
   neither after `initial_votes` answers, or runs out of answers, is labelled no: not convincing.

Yes/no jobs group tasks by the class in their id ("train/17:Sandal"). A multi-class job reads each
answer "k" as a yes to k and a no to every other class: the table of class k gives
P(true = k | y answers say k, n say something else), a task stops when the class just named reaches
the threshold, and an unconvinced task takes the class with the highest table value.
"""
from __future__ import annotations

import numpy as np
from scipy.special import gammaln

from ilsvrc.errors import ConfigError, DataError
from ilsvrc.label.majority import majority
from ilsvrc.label.result import Aggregate, agreement
from ilsvrc.label.tasks import question_of
from ilsvrc.label.votes import Votes

MIN_SUPPORT = 5.0  # initial tasks' worth of weight a table cell needs before it can stop a task


def dynamic_consensus(votes: Votes, threshold: float = 0.95, initial_votes: int = 10,
                      initial_per_class: int = 500, seed: int = 0) -> Aggregate:
    _check_options(threshold, initial_votes, initial_per_class)
    ordered = votes.select(np.argsort(votes.task, kind="stable"))  # each task's answers in arrival order
    groups, n_groups = table_groups(votes)
    initial = pick_initial(votes, groups, n_groups, initial_votes, initial_per_class, seed)
    reference = majority(votes).label
    tables = confidence_tables(ordered, initial, reference, groups, n_groups, initial_votes)
    state = Consumption(ordered, groups, tables, threshold, initial_votes)
    label, confidence, used = state.decide()
    label[initial], used[initial] = reference[initial], votes.votes_per_task()[initial]
    confidence[initial] = state.confidence_of(reference, initial_votes)[initial]
    consumed = ordered.select(state.position <= used[ordered.task])
    return Aggregate("dynamic-consensus", label, confidence, agreement(consumed, label), used)


def _check_options(threshold: float, initial_votes: int, initial_per_class: int) -> None:
    if not 0.5 < threshold < 1:
        raise ConfigError(f"--threshold must be in (0.5, 1), got {threshold}")
    if initial_votes < 2 or initial_per_class < 1:
        raise ConfigError("--initial-votes must be at least 2 and --initial-per-class at least 1")


def table_groups(votes: Votes) -> tuple[np.ndarray, int]:
    """(T,) table index per task and the number of tables: the question class (yes/no) or one group."""
    if not votes.yesno:
        return np.zeros(votes.n_tasks, np.int64), 1
    index: dict[str, int] = {}
    groups = np.fromiter((index.setdefault(question_of(t), len(index)) for t in votes.task_names), np.int64,
                         count=votes.n_tasks)
    return groups, len(index)


def pick_initial(votes: Votes, groups: np.ndarray, n_groups: int, initial_votes: int, per_class: int,
                 seed: int) -> np.ndarray:
    """(T,) mask of the initial subset: per group, up to `per_class` random tasks with enough answers."""
    counts = votes.votes_per_task()
    eligible = counts >= initial_votes
    if not eligible.any():
        raise DataError(votes.path, f"dynamic consensus needs an initial subset of tasks with at least "
                                    f"{initial_votes} answers; the most any task has is {counts.max()}")
    quota = per_class if votes.yesno else per_class * votes.n_classes
    rng = np.random.default_rng(seed)
    initial = np.zeros(votes.n_tasks, bool)
    for g in range(n_groups):
        candidates = np.flatnonzero(eligible & (groups == g))
        initial[rng.permutation(candidates)[:quota]] = True
    return initial


def occurrence(keys: np.ndarray) -> np.ndarray:
    """1-based running count of each key: occurrence([5, 7, 5, 5]) == [1, 1, 2, 3]."""
    order = np.argsort(keys, kind="stable")
    ranked = keys[order]
    starts = np.r_[True, ranked[1:] != ranked[:-1]]
    steps = np.arange(len(keys))
    run = steps - np.maximum.accumulate(np.where(starts, steps, 0)) + 1
    out = np.empty_like(run)
    out[order] = run
    return out


def confidence_tables(ordered: Votes, initial: np.ndarray, reference: np.ndarray, groups: np.ndarray,
                      n_groups: int, depth: int) -> np.ndarray:
    """(tables, depth+1, depth+1) P(good | y, n); 1/2 in cells with too little support (module docstring)."""
    item_table, item_total, item_yes, item_good = _initial_items(ordered, initial, reference, groups)
    m = np.arange(depth + 1)[None, :, None]
    y = np.arange(depth + 1)[None, None, :]
    weight = hypergeometric(y, m, item_yes[:, None, None], item_total[:, None, None])  # (I, m, y)
    weight = np.where((y <= m) & (m >= 1), weight, 0.0)
    cell = (item_table[:, None, None] * (depth + 1) + y) * (depth + 1) + (m - y).clip(0)
    size = (n_groups if ordered.yesno else ordered.n_classes) * (depth + 1) ** 2
    total = np.bincount(cell.ravel(), weights=weight.ravel(), minlength=size).reshape(-1, depth + 1, depth + 1)
    good = np.bincount(cell.ravel(), weights=(weight * item_good[:, None, None]).ravel(), minlength=size)
    good = good.reshape(total.shape)
    empty = total.sum((1, 2)) == 0  # no initial task for this class: use the pooled table
    total[empty], good[empty] = total.sum(0), good.sum(0)
    return np.where(total >= MIN_SUPPORT, good / np.maximum(total, MIN_SUPPORT), 0.5)


def hypergeometric(k, draws, successes, population) -> np.ndarray:
    """P(k successes in `draws` draws without replacement); 0 where impossible (scipy.stats' pmf, lighter to import)."""
    def log_choose(n, r):
        return gammaln(n + 1) - gammaln(r + 1) - gammaln(n - r + 1)

    possible = (k <= successes) & (draws - k <= population - successes) & (k <= draws)
    k, draws = np.where(possible, k, 0), np.where(possible, draws, 0)
    log_p = log_choose(successes, k) + log_choose(population - successes, draws - k) - log_choose(population, draws)
    return np.where(possible, np.exp(log_p), 0.0)


def _initial_items(ordered: Votes, initial: np.ndarray, reference: np.ndarray, groups: np.ndarray):
    """Per (initial task, table): table index, answers, answers saying yes to it, and whether it is good."""
    tasks = np.flatnonzero(initial)
    totals = ordered.votes_per_task()
    if ordered.yesno:
        yes = np.bincount(ordered.task, weights=ordered.label, minlength=ordered.n_tasks).astype(np.int64)
        return groups[tasks], totals[tasks], yes[tasks], (reference[tasks] == 1).astype(np.float64)
    pairs = np.unique(ordered.task[initial[ordered.task]].astype(np.int64) * ordered.n_classes
                      + ordered.label[initial[ordered.task]], return_counts=True)
    task, label = np.divmod(pairs[0], ordered.n_classes)  # only classes the task's answers named
    return label, totals[task], pairs[1], (reference[task] == label).astype(np.float64)


class Consumption:
    """Answers consumed one at a time per task until the table is convinced (all tasks at once)."""

    def __init__(self, ordered: Votes, groups: np.ndarray, tables: np.ndarray, threshold: float, depth: int):
        self.votes, self.groups, self.tables, self.threshold, self.depth = ordered, groups, tables, threshold, depth
        self.position = occurrence(ordered.task)  # this answer is the task's n-th
        own = occurrence(ordered.task.astype(np.int64) * ordered.n_classes + ordered.label)
        if ordered.yesno:  # the table of the question's class, at (yes so far, no so far)
            yes = np.where(ordered.label == 1, own, self.position - own)
            self.table, self.yes = groups[ordered.task], yes
        else:  # the table of the class this answer names, at (answers for it, answers against)
            self.table, self.yes = ordered.label, own
        within = self.position <= depth
        self.p = np.where(within, tables[self.table, self.yes.clip(0, depth),
                                         (self.position - self.yes).clip(0, depth)], 0.5)

    def decide(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(label, confidence, answers used) per task, before the initial subset is overwritten."""
        v = self.votes
        stop_yes, stop_no = self.p >= self.threshold, (self.p <= 1 - self.threshold) & v.yesno
        stops = np.flatnonzero(stop_yes | stop_no)
        tasks, first = np.unique(v.task[stops], return_index=True)  # rows are grouped by task, in order
        rows = stops[first]
        used = np.minimum(v.votes_per_task(), self.depth)
        label, confidence = self._unconvinced(used)
        used[tasks] = self.position[rows]
        label[tasks] = np.where(stop_yes[rows], 1, 0) if v.yesno else v.label[rows]
        confidence[tasks] = np.where(stop_yes[rows], self.p[rows], 1 - self.p[rows])
        return label, confidence, used

    def _unconvinced(self, used: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Yes/no: 'no', with P(no); multi-class: the class the table trusts most after `used` answers."""
        p = self.table_values(used)  # (T, tables-or-classes)
        if self.votes.yesno:
            return np.zeros(len(used), np.int64), 1 - p[:, 0]
        return p.argmax(1), p.max(1)

    def table_values(self, used: np.ndarray) -> np.ndarray:
        """Table values after each task's first `used` answers: (T, 1) P(yes), or (T, K) P(class k)."""
        v, depth = self.votes, self.depth
        kept = self.position <= np.minimum(used, depth)[v.task]
        counts = np.bincount(v.task[kept].astype(np.int64) * v.n_classes + v.label[kept],
                             minlength=v.n_tasks * v.n_classes).reshape(v.n_tasks, v.n_classes)
        seen = counts.sum(1, keepdims=True)
        if v.yesno:
            return self.tables[self.groups, counts[:, 1], counts[:, 0]][:, None]
        classes = np.arange(v.n_classes)[None, :]
        return np.where(counts > 0, self.tables[classes, counts, seen - counts], 0.0)

    def confidence_of(self, label: np.ndarray, used: int) -> np.ndarray:
        """(T,) table confidence in `label` after the first `used` answers of each task."""
        p = self.table_values(np.full(self.votes.n_tasks, used))
        if self.votes.yesno:
            return np.where(label == 1, p[:, 0], 1 - p[:, 0])
        return p[np.arange(len(label)), label]
