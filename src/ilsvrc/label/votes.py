"""Crowd votes in crowd-kit's long format: one CSV row per answer, `task,worker,label[,seconds]`.

    votes = read_votes("votes.csv")                 # integer-coded arrays, ready for np.bincount
    votes.task, votes.worker, votes.label           # (V,) int32 codes into task_names, worker_names, classes
    gold = read_gold("gold.csv", votes)             # (T,) class codes, -1 where a task has no gold label

Two kinds of job are read from the same format (see ilsvrc.label.tasks for the task ids):
- yes/no questions ("is this a <class>?"): every label is `yes`, `no` or `unsure`; the classes are
  ("no", "yes"), and an unsure answer has the code 2 (= n_classes: an answer that names no class);
- direct multi-class labels: the classes are the labels seen, sorted, or the `classes` given.
The kind is set by the first answer: if it is `yes`, `no` or `unsure`, every other answer must be one of them.

Bad input raises DataError naming the file and, for a bad row, its line: a wrong number of fields,
an empty field, an unknown column, a label outside the class set, a worker answering a task twice.
Blank lines are skipped. Fields may be quoted (CSV rules) but not span lines; UTF-8, with or without
a byte-order mark. A task or worker with a single vote is accepted (see docs/labelling.md).
"""
from __future__ import annotations

import csv
import itertools
import os
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from ilsvrc.errors import DataError
from ilsvrc.label.arrow_csv import positions, read_with_arrow
from ilsvrc.files import check_output_folder, make_output_folder, written_atomically

YESNO = ("no", "yes")  # in this order: a tie broken towards the first class rejects the image
UNSURE = "unsure"  # the third answer of a yes/no job; each method says how it reads it (docs/labelling.md)
REQUIRED = ("task", "worker", "label")
OPTIONAL = ("seconds",)
CHUNK = 200_000  # rows parsed at a time: keeps memory flat on million-row files


@dataclass
class Votes:
    """A job's answers, integer-coded: the layout every aggregator works on."""

    task: np.ndarray  # (V,) int32, index into task_names
    worker: np.ndarray  # (V,) int32, index into worker_names
    label: np.ndarray  # (V,) int32, index into classes; n_classes for an unsure answer
    task_names: list[str]
    worker_names: list[str]
    classes: list[str]  # ["no", "yes"] for a yes/no job
    seconds: np.ndarray | None = None  # (V,) float, time spent on each answer, when recorded
    path: str = "<votes>"

    @property
    def yesno(self) -> bool:
        return tuple(self.classes) == YESNO

    @property
    def n_tasks(self) -> int:
        return len(self.task_names)

    @property
    def n_workers(self) -> int:
        return len(self.worker_names)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def __len__(self) -> int:
        return len(self.task)

    @property
    def answer_names(self) -> list[str]:
        """The names of the answer codes: the classes, then "unsure" (code n_classes)."""
        return [*self.classes, UNSURE]

    def unsure(self) -> np.ndarray:
        """(V,) bool: the answers that name no class."""
        return self.label >= self.n_classes

    def known(self) -> "Votes":
        """The answers that name a class (every answer but the unsure ones)."""
        unsure = self.unsure()
        return self.select(np.flatnonzero(~unsure)) if unsure.any() else self

    def votes_per_task(self) -> np.ndarray:
        return np.bincount(self.task, minlength=self.n_tasks)

    def votes_per_worker(self) -> np.ndarray:
        return np.bincount(self.worker, minlength=self.n_workers)

    def select(self, rows: np.ndarray) -> "Votes":
        """The answers at `rows` (indices or a mask), with the same task, worker and class codes."""
        seconds = None if self.seconds is None else self.seconds[rows]
        return Votes(self.task[rows], self.worker[rows], self.label[rows], self.task_names, self.worker_names,
                     self.classes, seconds, self.path)


def read_votes(path: str | os.PathLike, classes: Sequence[str] | None = None) -> Votes:
    """Parse and validate a votes CSV; `classes` fixes the class set (and order) of a multi-class job."""
    table = read_table(path, REQUIRED, OPTIONAL)
    if table.rows == 0:
        raise DataError(path, "no votes: the file has a header but no rows")
    label_codes, label_names = table.codes["label"], table.names["label"]
    job_classes = _job_classes(table, classes)
    lookup = {name: k for k, name in enumerate(job_classes)}
    if job_classes == list(YESNO):
        lookup[UNSURE] = len(YESNO)
    remap = np.array([lookup.get(name, -1) for name in label_names], np.int32)
    labels = remap[label_codes]
    _check_labels(path, table, labels, job_classes)
    votes = Votes(table.codes["task"], table.codes["worker"], labels, table.names["task"],
                  table.names["worker"], list(job_classes), table.numbers.get("seconds"), str(path))
    _check_duplicates(path, votes)
    return votes


def _job_classes(table: Table, classes: Sequence[str] | None) -> list[str]:
    first = table.names["label"][0]  # codes are numbered by first appearance
    if first in (*YESNO, UNSURE):
        return list(YESNO)
    if classes is not None:
        return list(classes)
    return sorted(table.names["label"])


def _check_labels(path, table: Table, labels: np.ndarray, classes: list[str], answers: bool = True) -> None:
    bad = np.flatnonzero(labels < 0)
    if len(bad):
        row = int(bad[0])
        name = table.names["label"][table.codes["label"][row]]
        yesno = "answers are yes, no or unsure" if answers else "gold labels are yes or no"
        allowed = f"a yes/no job: {yesno}" if classes == list(YESNO) else f"classes: {_preview(classes)}"
        raise DataError(path, f"line {line_of(path, row)}: label {name!r} is outside the class set ({allowed})")


def _check_duplicates(path, votes: Votes) -> None:
    pair = votes.task.astype(np.int64) * votes.n_workers + votes.worker
    order = np.argsort(pair, kind="stable")
    same = np.flatnonzero(pair[order][1:] == pair[order][:-1])
    if len(same):
        k = int(np.argmin(order[same + 1]))  # the earliest row that repeats an answer
        first, second = int(order[same[k]]), int(order[same[k] + 1])
        raise DataError(path, f"line {line_of(path, second)}: worker {votes.worker_names[votes.worker[second]]!r} "
                              f"already answered task {votes.task_names[votes.task[second]]!r} "
                              f"on line {line_of(path, first)}")


def read_gold(path: str | os.PathLike, votes: Votes) -> np.ndarray:
    """(T,) gold class codes aligned with votes.task_names; -1 for tasks the gold file does not name.

    Gold rows for tasks nobody voted on are ignored; a gold label outside the class set is an error.
    """
    table = read_table(path, ("task", "label"), ())
    lookup = {name: k for k, name in enumerate(votes.classes)}
    label_codes = np.array([lookup.get(n, -1) for n in table.names["label"]], np.int32)[table.codes["label"]]
    _check_labels(path, table, label_codes, votes.classes, answers=False)
    gold_tasks = positions(table.names["task"], votes.task_names)[table.codes["task"]]
    gold = np.full(votes.n_tasks, -1, np.int32)
    known = gold_tasks >= 0
    gold[gold_tasks[known]] = label_codes[known]
    return gold


@dataclass
class Table:
    """A parsed CSV: string columns factorised (codes + names by first appearance), number columns as floats."""

    rows: int
    codes: dict[str, np.ndarray]
    names: dict[str, list[str]]
    numbers: dict[str, np.ndarray]


def read_table(path: str | os.PathLike, required: Sequence[str], optional: Sequence[str]) -> Table:
    """Read a CSV whose header holds every `required` column and maybe some `optional` (numeric) ones.

    With pyarrow installed a clean file is read by it (ilsvrc.label.arrow_csv); any other file, and every
    file without pyarrow, by the checking parser below, which names the line of the first problem.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            first = f.readline()
            header = [name.strip() for name in next(csv.reader([first]), [])] if first.strip() else []
            _check_header(path, header, required, optional)
            fast = read_with_arrow(path, header, optional)
            return Table(*fast) if fast is not None else _parse_lines(path, f, header, optional)
    except FileNotFoundError:
        raise DataError(path, "no such file") from None
    except UnicodeDecodeError as e:
        raise DataError(path, f"not UTF-8 text ({e.reason} at byte {e.start})") from None
    except (OSError, csv.Error) as e:
        raise DataError(path, f"unreadable CSV ({e})") from None


def _check_header(path, header: list[str], required: Sequence[str], optional: Sequence[str]) -> None:
    expected = ",".join(required) + "".join(f"[,{name}]" for name in optional)
    if not header:
        raise DataError(path, f"empty file: expected a header {expected}")
    unknown = [name for name in header if name not in (*required, *optional)]
    if unknown:
        raise DataError(path, f"unknown column {unknown[0]!r} (expected {expected})")
    missing = [name for name in required if name not in header]
    if missing:
        raise DataError(path, f"missing column {missing[0]!r} (expected {expected})")
    if len(set(header)) != len(header):
        raise DataError(path, f"a column is named twice in the header ({','.join(header)})")


def _parse_lines(path, lines: Iterable[str], header: list[str], optional: Sequence[str]) -> Table:
    indexes = {name: {} for name in header if name not in optional}
    codes = {name: [] for name in indexes}
    numbers = {name: [] for name in header if name in optional}
    done = 0
    while chunk := list(itertools.islice(lines, CHUNK)):
        chunk = [line for line in chunk if line.strip("\r\n")]  # blank lines are skipped
        for name, values in zip(header, _split(path, chunk, len(header), done)):
            if name in numbers:
                numbers[name].append(_floats(path, name, values, done))
            else:
                codes[name].append(_factorize(path, name, values, indexes[name], len(chunk), done))
        done += len(chunk)
    return Table(done, {n: _join(c, np.int32) for n, c in codes.items()}, {n: list(i) for n, i in indexes.items()},
                 {n: _join(c, np.float64) for n, c in numbers.items()})


def _split(path, lines: list[str], width: int, done: int) -> list[list[str]]:
    """The columns of a chunk of lines: split by str.split (in C) when no field is quoted, else by csv."""
    text = "".join(lines).replace("\r\n", "\n")
    if '"' not in text and "\r" not in text:
        commas = np.fromiter(map(str.count, lines, itertools.repeat(",")), np.int64, count=len(lines))
        if (commas == width - 1).all():
            fields = text.replace("\n", ",").split(",")
            if text.endswith("\n"):
                fields.pop()
            return [fields[k::width] for k in range(width)]
    rows = list(csv.reader(lines))
    _check_widths(path, rows, width, done)
    return [list(map(itemgetter(k), rows)) for k in range(width)]


def _join(parts: list[np.ndarray], dtype) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, dtype)


def _check_widths(path, chunk: list[list[str]], width: int, done: int) -> None:
    widths = np.fromiter(map(len, chunk), np.int64, count=len(chunk))
    bad = np.flatnonzero(widths != width)
    if len(bad):
        row = int(bad[0])
        raise DataError(path, f"line {line_of(path, done + row)}: expected {width} fields, got {widths[row]}")


def _factorize(path, name: str, values: list[str], index: dict, n: int, done: int) -> np.ndarray:
    """Codes of `values` in `index` (extended in place, so codes number names by first appearance)."""
    get = index.setdefault
    codes = np.fromiter((get(v, len(index)) for v in values), np.int32, count=n)
    if "" in index:  # earlier chunks were clean, so the empty value is in this one
        row = int(np.flatnonzero(codes == index[""])[0])
        raise DataError(path, f"line {line_of(path, done + row)}: empty {name}")
    return codes


def _floats(path, name: str, values: list[str], done: int) -> np.ndarray:
    try:
        array = np.array(values, dtype=np.float64)
    except ValueError:
        array = None
    bad = [k for k, v in enumerate(values) if not _is_number(v)] if array is None else \
        np.flatnonzero(~np.isfinite(array) | (array < 0)).tolist()
    if bad:
        raise DataError(path, f"line {line_of(path, done + bad[0])}: {name} must be a number >= 0, "
                              f"got {values[bad[0]]!r}")
    return array


def _is_number(text: str) -> bool:
    try:
        return float(text) >= 0
    except ValueError:
        return False


def line_of(path, row: int) -> int:
    """The line number (1-based, header = line 1) of data row `row`; read again only when reporting an error."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        next(reader, None)
        for k, _ in enumerate(filter(None, reader)):
            if k == row:
                return reader.line_num
    return row + 2


def _preview(names: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def write_csv(path: str | os.PathLike, header: Sequence[str], rows: Iterable[Sequence]) -> None:
    """Write a CSV atomically: a reader never sees half a file, and an error leaves no file behind."""
    path = Path(path)
    check_output_file(path)
    make_output_folder(path.parent)
    with written_atomically(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def check_output_file(path: str | os.PathLike) -> None:
    """Refuse, before any work, a CSV to write that is a folder or would sit under a file."""
    path = Path(path)
    if path.is_dir():
        raise DataError(path, "is a folder; give the name of the CSV file to write")
    check_output_folder(path.parent)


def write_votes(path: str | os.PathLike, votes: Votes) -> None:
    """Write `votes` in the long format, in their order (the order dynamic consensus consumes them in)."""
    tasks = np.array(votes.task_names, dtype=object)[votes.task]
    workers = np.array(votes.worker_names, dtype=object)[votes.worker]
    labels = np.array(votes.answer_names, dtype=object)[votes.label]
    if votes.seconds is None:
        write_csv(path, REQUIRED, zip(tasks, workers, labels))
    else:
        seconds = [f"{s:g}" for s in votes.seconds.tolist()]
        write_csv(path, (*REQUIRED, "seconds"), zip(tasks, workers, labels, seconds))
