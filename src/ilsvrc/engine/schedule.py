"""Learning-rate schedules: the paper's divide-by-10-on-plateau, and per-step ones for short runs.

    schedule = make_schedule(config.schedule, base_lr, epochs, steps_per_epoch)
    lr = schedule.lr_at(epoch, step)         # set on the optimizer before each step
    schedule.epoch_end(val_top1_error)        # plateau: may divide the lr by 10
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from ilsvrc.config import ScheduleConfig


@dataclass
class Schedule:
    config: ScheduleConfig
    base_lr: float
    epochs: int
    steps_per_epoch: int
    scale: float = 1.0  # plateau: product of the divisions so far
    drops: int = 0
    best: float = math.inf
    stale: int = 0  # epochs since the val error last improved

    def lr_at(self, epoch: int, step: int) -> float:
        c = self.config
        t = epoch + step / max(self.steps_per_epoch, 1)  # fractional epoch
        if c.kind == "plateau":
            return self.base_lr * self.scale
        if c.kind == "step":
            return self.base_lr * c.factor ** (epoch // c.step_epochs)
        warm = c.warmup_epochs
        if warm and t < warm:
            return self.base_lr * (0.1 + 0.9 * t / warm)
        progress = min(1.0, (t - warm) / max(self.epochs - warm, 1e-9))
        if c.kind == "cosine":
            return self.base_lr * 0.5 * (1 + math.cos(math.pi * progress))
        return self.base_lr * max(0.0, 1 - progress)  # onecycle: linear decay after the warm-up

    def epoch_end(self, val_error: float) -> bool:
        """Record a validation error; returns True when the plateau rule just divided the lr."""
        if val_error < self.best:
            self.best, self.stale = val_error, 0
            return False
        self.stale += 1
        c = self.config
        if c.kind == "plateau" and self.stale >= c.patience and self.drops < c.max_drops:
            self.scale *= c.factor
            self.drops += 1
            self.stale = 0
            return True
        return False

    def state_dict(self) -> dict:
        return {"scale": self.scale, "drops": self.drops, "best": self.best, "stale": self.stale}

    def load_state_dict(self, state: dict) -> None:
        self.scale, self.drops, self.best, self.stale = state["scale"], state["drops"], state["best"], state["stale"]


def make_schedule(config: ScheduleConfig, base_lr: float, epochs: int, steps_per_epoch: int) -> Schedule:
    return Schedule(ScheduleConfig(**asdict(config)), base_lr, epochs, steps_per_epoch)
