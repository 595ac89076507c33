"""A run's metrics.csv (and TensorBoard logs, when tensorboard is installed): one row per epoch.

    log = RunLog(run_dir, resume=False)
    log.write({"epoch": 1, "train_loss": 0.52, ...})      # every column of METRICS
    log.truncate(3)                                       # a resumed run drops rows past its checkpoint
"""
from __future__ import annotations

import csv
from pathlib import Path

from ilsvrc.files import written_atomically

METRICS = ("epoch", "train_loss", "train_error", "val_top1_error", "val_top5_error", "lr", "seconds", "img_s")


class RunLog:
    """metrics.csv (rewritten atomically per epoch: a kill never leaves half a row) and TensorBoard,
    when it is installed."""

    def __init__(self, run_dir: Path, resume: bool):
        self.path = run_dir / "metrics.csv"
        if not resume or not self.path.exists():
            self._rewrite([METRICS])
        try:
            from torch.utils.tensorboard import SummaryWriter
            self.tb = SummaryWriter(str(run_dir / "tensorboard"))
        except ImportError:
            self.tb = None

    def _rows(self) -> list[list[str]]:
        with open(self.path, newline="") as f:
            return list(csv.reader(f))

    def _rewrite(self, rows: list) -> None:
        with written_atomically(self.path, "w", newline="") as f:
            csv.writer(f).writerows(rows)

    def truncate(self, epochs: int) -> None:
        """Drop rows past `epochs` (left by a run that stopped after its last checkpoint)."""
        rows = self._rows()
        self._rewrite(rows[:1] + [r for r in rows[1:] if int(r[0]) <= epochs])

    def write(self, row: dict) -> None:
        self._rewrite(self._rows() + [[_fmt(row[k]) for k in METRICS]])
        if self.tb:
            for key in METRICS[1:]:
                self.tb.add_scalar(key, row[key], row["epoch"])
            self.tb.flush()


def _fmt(value) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)
