"""Task ids: how a row of votes.csv names the image (and, for yes/no jobs, the question) it is about.

    image_task("train", 17)                  # "train/17"           what is this image? (multi-class)
    question_task("train", 17, "Sandal")     # "train/17:Sandal"    is this image a Sandal? (yes/no)
    parse_task("train/17:Sandal")            # TaskId(split="train", index=17, question="Sandal")

`index` is the image's position in that split of the dataset as ilsvrc opens it (the same in the
source format and in its packed copy), so `ilsvrc label apply` can find the image again. The
question class is everything after the first ':' (class names may hold '/' or spaces). Aggregation
accepts any task ids; only `apply` needs this convention.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ilsvrc.errors import DataError

TASK = re.compile(r"^(?P<split>[^/:]+)/(?P<index>\d+)(?::(?P<question>.+))?$")


@dataclass(frozen=True)
class TaskId:
    split: str
    index: int
    question: str | None  # the class asked about, for a yes/no question


def image_task(split: str, index: int) -> str:
    return f"{split}/{index}"


def question_task(split: str, index: int, question: str) -> str:
    return f"{split}/{index}:{question}"


def question_of(task: str) -> str:
    """The class a yes/no task asks about ('' when its id names none)."""
    return task.partition(":")[2]


def parse_task(task: str) -> TaskId | None:
    match = TASK.match(task)
    if match is None:
        return None
    return TaskId(match["split"], int(match["index"]), match["question"])


def parse_tasks(tasks: Sequence[str], where: str) -> tuple[np.ndarray, np.ndarray, list[str | None]]:
    """(split names (T,) object, image indices (T,) int64, questions) of task ids that follow the convention."""
    parsed = [parse_task(t) for t in tasks]
    for k, task_id in enumerate(parsed):
        if task_id is None:
            raise DataError(where, f"task {tasks[k]!r} does not name an image as SPLIT/INDEX or "
                                   "SPLIT/INDEX:CLASS (e.g. train/17 or train/17:Sandal)")
    splits = np.array([t.split for t in parsed], dtype=object)
    indices = np.array([t.index for t in parsed], dtype=np.int64)
    return splits, indices, [t.question for t in parsed]
