"""User-facing errors: the CLI prints them as one line and exits non-zero, never a traceback."""
from __future__ import annotations

import os


class IlsvrcError(Exception):
    """An error caused by the user's input or environment, with a message fit to print as is."""


class DataError(IlsvrcError):
    """Bad or missing data: the message names the file (or record) and the problem."""

    def __init__(self, where: str | os.PathLike, problem: str):
        self.where = str(where)
        self.problem = problem
        super().__init__(f"{self.where}: {problem}")

    def __reduce__(self):
        # Rebuilt from both parts when it crosses a process boundary (a worker pool's reader), where the
        # default (the message alone) would fail and bury the message under the pool's own traceback.
        return type(self), (self.where, self.problem)


class ConfigError(IlsvrcError):
    """A bad option, flag or configuration value."""
