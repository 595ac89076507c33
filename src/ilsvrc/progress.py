"""Progress of long work: a bar on a terminal, a line now and then in a log file, nothing when quiet.

    progress.set_quiet(True)                          # once, from --quiet (the command line does it)
    with progress.bar(total=n, desc="train") as bar:  # tqdm's interface: bar.update(k), set_postfix(...)
        ...
    if progress.enabled(): print("epoch 1/5: ...")    # per-epoch lines follow the same switch
    with progress.silenced(): train(...)              # work run inside other work (an experiment's runs)

On a terminal (stderr a TTY) the bar redraws in place; in a log file the same figures (count,
rate, ETA) come as whole lines every LOG_INTERVAL seconds, not thousands of carriage-return frames.
"""
from __future__ import annotations

import contextlib
import sys

from tqdm import tqdm

LOG_INTERVAL = 30.0  # seconds between two lines of progress in a log file
LOG_FORMAT = "{desc}: {percentage:3.0f}% {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}{postfix}]"

_state = {"quiet": False, "silenced": 0}


def set_quiet(quiet: bool) -> None:
    """The process-wide switch: no bars and no progress lines when quiet."""
    _state["quiet"] = bool(quiet)


def enabled() -> bool:
    return not _state["quiet"] and not _state["silenced"]


@contextlib.contextmanager
def silenced(silence: bool = True):
    """No progress from the work inside (when `silence`): training runs inside an experiment, other ranks."""
    _state["silenced"] += bool(silence)
    try:
        yield
    finally:
        _state["silenced"] -= bool(silence)


def bar(total: int | None, desc: str, unit: str = "img", leave: bool = False, **options) -> tqdm:
    """A progress bar over `total` items: drawn on a terminal, logged as lines elsewhere, off when quiet."""
    if not enabled():
        return tqdm(total=total, disable=True)
    if _is_terminal(options.get("file", sys.stderr)):
        return tqdm(total=total, desc=desc, unit=unit, leave=leave, dynamic_ncols=True,
                    **{"mininterval": 0.5, **options})
    return LogLines(total=total, desc=desc, unit=unit, **options)


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class LogLines(tqdm):
    """tqdm for a log file: whole lines, one every `mininterval` seconds and, if any was, one at the end."""

    def __init__(self, *args, **kwargs):
        # Work shorter than one interval logs nothing (the epoch and result lines say enough).
        kwargs = {"mininterval": LOG_INTERVAL, "delay": LOG_INTERVAL, "bar_format": LOG_FORMAT, **kwargs,
                  "leave": False}
        self._logged = None
        super().__init__(*args, **kwargs)

    def display(self, msg: str | None = None, pos: int | None = None) -> bool:
        text = str(self) if msg is None else msg
        if not text.strip():
            return False  # tqdm clearing its line: nothing to clear in a log
        self.fp.write(text.strip() + "\n")
        self.fp.flush()
        self._logged = self.n
        return True

    def close(self) -> None:
        if not getattr(self, "disable", True) and self._logged not in (None, self.n):
            self.display()  # the final count and rate
        super().close()
