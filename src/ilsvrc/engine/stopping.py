"""Stopping a run where a cluster asks it to: SIGTERM (a scheduler preempting the job), SIGUSR1 (SLURM's
warning before the time limit, `#SBATCH --signal=USR1@120`), SIGINT (Ctrl-C).

    with StopSignals() as stop:
        for step ...:
            one_training_step()
            if stop.requested(world, device):   # every rank agrees on the same step
                write_the_checkpoint()
                raise RunStopped(...)

The handler only records the signal: the step in flight finishes, the run writes a checkpoint of
exactly this position (mid-epoch included) and exits with PREEMPTED (75, sysexits' EX_TEMPFAIL:
"try again later"), or 130 after Ctrl-C. `ilsvrc train --resume auto --out RUN` then continues where
it stopped, so one command line can be requeued forever. A second Ctrl-C stops at once.
"""
from __future__ import annotations

import signal
import threading

import torch

from ilsvrc.engine import distributed
from ilsvrc.engine.distributed import World
from ilsvrc.errors import IlsvrcError

PREEMPTED = 75  # exit status after SIGTERM or SIGUSR1: the job may be requeued
INTERRUPTED = 130  # exit status after Ctrl-C, as a shell reports SIGINT
SIGNALS = (signal.SIGTERM, signal.SIGUSR1, signal.SIGINT)


class RunStopped(IlsvrcError):
    """A run that stopped on a signal, after writing a checkpoint to resume from."""

    label = "stopped"

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.exit_code = INTERRUPTED if signum == signal.SIGINT else PREEMPTED


class StopSignals:
    """Records SIGTERM, SIGUSR1 and SIGINT while a run trains; restores the previous handlers after."""

    def __init__(self):
        self.signum = 0
        self._previous: dict[int, object] = {}

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():  # signals reach the main thread alone
            for signum in SIGNALS:
                self._previous[signum] = signal.signal(signum, self._record)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _record(self, signum: int, frame) -> None:
        if signum == signal.SIGINT and self.signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: do not wait for the step
        self.signum = self.signum or signum

    def requested(self, world: World = distributed.SINGLE, device: torch.device | None = None) -> int:
        """The signal asking this run to stop (0: none); under torchrun, any rank's, so all stop together."""
        if not world.distributed:
            return self.signum
        flag = torch.tensor([self.signum], dtype=torch.int64, device=device)
        torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
        return int(flag.item())


def signal_name(signum: int) -> str:
    return signal.Signals(signum).name
