"""One epoch of training steps, resumable at any step.

    tally = train_one_epoch(forward, step_fn, batches, schedule, optimizer, epoch, bar, world,
                            start=0, after_step=checkpoint_or_stop)

Everything random in a step derives from (seed, epoch, step, rank): the batch (the loader and the
pipeline's per-batch generators) and, through `seed_step`, the global generator that dropout draws
from. A run resumed at step k of an epoch therefore takes exactly the steps an uninterrupted run
takes from k on, given the weights, optimizer, schedule and this tally at k.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np
import torch

from ilsvrc.engine import distributed, watch
from ilsvrc.engine.distributed import World
from ilsvrc.engine.schedule import Schedule


@dataclass
class EpochTally:
    """Running sums over this rank's steps of an epoch: what a mid-epoch checkpoint keeps of it."""

    loss_sum: float = 0.0
    wrong: int = 0
    seen: int = 0

    def add(self, loss: float, logits: torch.Tensor, labels: torch.Tensor) -> None:
        n = len(labels)
        self.loss_sum += loss * n
        self.wrong += (logits.argmax(1) != labels).sum().item()
        self.seen += n

    def state_dict(self) -> dict:
        return asdict(self)

    def summary(self, world: World, device: torch.device) -> dict:
        """The epoch's loss and error over every rank's steps."""
        loss_sum, wrong, seen = distributed.sum_over_ranks([self.loss_sum, self.wrong, self.seen], world, device)
        return {"train_loss": loss_sum / max(seen, 1), "train_error": wrong / max(seen, 1), "images": int(seen)}


def seed_step(seed: int, epoch: int, step: int, world: World = distributed.SINGLE) -> None:
    """Seed the global generators (dropout's) from (seed, epoch, step, rank): any step can be replayed."""
    key = [seed, epoch, step, world.rank]
    torch.manual_seed(int(np.random.SeedSequence(key).generate_state(1, np.uint64)[0] >> 1))


def train_one_epoch(model, step_fn, batches, schedule: Schedule, optimizer, epoch: int, bar, seed: int = 0,
                    world: World = distributed.SINGLE, start: int = 0, tally: EpochTally | None = None,
                    after_step: Callable[[int, EpochTally], None] | None = None) -> EpochTally:
    """This rank's steps of `epoch` from step `start` on (the batches given begin there);
    `after_step(steps_done, tally)` runs after each one (mid-epoch checkpoints, stop requests)."""
    model.train()
    tally = tally or EpochTally()
    step = start
    try:
        for step, (x, y) in enumerate(batches, start):
            for group in optimizer.param_groups:
                group["lr"] = schedule.lr_at(epoch, step)
            seed_step(seed, epoch, step, world)
            loss, logits = step_fn(x, y)
            value = loss.item()  # one device sync for the check and the tally
            check_finite(value, epoch, step, group["lr"], world, loss.device)
            tally.add(value, logits, y)
            bar.update(len(y) * world.size)  # every rank steps together: the bar counts the global batch
            if step % 20 == 0:  # refreshing the postfix every step would cost more than the bar is worth
                bar.set_postfix(loss=f"{tally.loss_sum / tally.seen:.3f}", err=f"{tally.wrong / tally.seen:.3f}",
                                lr=f"{group['lr']:.3g}", refresh=False)
            if after_step is not None:
                after_step(step + 1, tally)
    except KeyboardInterrupt:  # a second Ctrl-C (the first is a stop request): say where it came
        raise watch.Interrupted(epoch, step) from None
    return tally


def check_finite(value: float, epoch: int, step: int, lr: float, world: World, device: torch.device) -> None:
    """A NaN or infinite loss stops the run (watch.Diverged); under torchrun every rank stops at the same step,
    since the sum over ranks is NaN if any rank's loss is."""
    everywhere = distributed.sum_over_ranks([value], world, device)[0] if world.distributed else value
    watch.check_loss(everywhere if math.isfinite(value) else value, epoch, step, lr)
