"""What a long run watches for: a loss that diverges, a loss that never leaves ln(K), Ctrl-C.

    check_loss(loss, epoch, step)              # NaN or inf: Diverged, the run stops before any checkpoint
    if (text := stuck_warning(row["train_loss"], classes, epoch, steps)): print(text)
    interrupted_message(run_dir, epoch, step, saved, steps)   # how old the last checkpoint is, how to go on

A diverged run keeps its last good checkpoint (nothing is written after the bad step). A first Ctrl-C
is a stop request (engine/stopping.py: the step finishes and is checkpointed); a second one, or one
outside the training steps, stops at once, and the run says how many steps the last checkpoint is behind.
`saved` is the position checkpoints/last.pt holds: (epochs done, steps done in the next one).
"""
from __future__ import annotations

import math
from pathlib import Path

from ilsvrc.errors import IlsvrcError

STUCK_TOLERANCE = 0.01  # relative distance to ln(K) that counts as "stuck at uniform guessing"
STUCK_MIN_STEPS = 50  # fewer steps than this in an epoch can leave any net near ln(K): no warning


class Diverged(IlsvrcError):
    """A non-finite training loss."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during an epoch, with where it came: `epoch` (0-based) and `step` (steps done in it)."""

    def __init__(self, epoch: int, step: int):
        super().__init__()
        self.epoch, self.step = epoch, step


def check_loss(loss: float, epoch: int, step: int, lr: float) -> None:
    if not math.isfinite(loss):
        raise Diverged(f"training diverged: the loss is {loss} at epoch {epoch + 1}, step {step + 1} (lr {lr:.3g})")


def held(saved: tuple[int, int]) -> str:
    """What checkpoints/last.pt holds, in words: 'epoch 3', or 'epoch 4 up to step 120'."""
    epochs, steps = saved
    return f"epoch {epochs}" if not steps else f"epoch {epochs + 1} up to step {steps}"


def diverged_message(error: Diverged, run_dir: Path, saved: tuple[int, int]) -> str:
    kept = (f"checkpoints/last.pt still holds {held(saved)}, the last good one" if any(saved)
            else "no checkpoint was written")
    return (f"{run_dir}: {error}; {kept}. Usual causes: a learning rate too high (optim.lr), "
            "inputs not normalised, a damaged dataset")


def stuck_warning(train_loss: float, classes: int, epoch: int, steps: int) -> str | None:
    """A warning when an epoch's mean loss sat at ln(K), the loss of guessing uniformly: nothing learned."""
    uniform = math.log(max(classes, 2))
    if classes < 2 or steps < STUCK_MIN_STEPS or abs(train_loss - uniform) > STUCK_TOLERANCE * uniform:
        return None
    return (f"warning: epoch {epoch}: the training loss stayed at ln({classes}) = {uniform:.3f} (uniform guessing) "
            "for the whole epoch: the model is not learning. Usual causes: biases initialised to 1 in a net of "
            "this depth (model.options.init: kaiming or caffe), a learning rate too high (optim.lr), inputs not "
            "normalised (the data's mean and std)")


def interrupted_message(run_dir: Path, epoch: int, step: int, saved: tuple[int, int], steps: int) -> str:
    """`epoch` (0-based) and `step` where Ctrl-C came; `saved`: the position checkpoints/last.pt holds."""
    behind = (epoch - saved[0]) * steps + step - saved[1]
    where = f"epoch {epoch + 1}, step {step} of {steps}"
    if not any(saved):
        return (f"{run_dir}: interrupted at {where}, before the first checkpoint: {behind} steps are lost; "
                f"`ilsvrc train --resume {run_dir}` starts the run again")
    return (f"{run_dir}: interrupted at {where}: checkpoints/last.pt holds {held(saved)}, {behind} steps "
            f"behind; continue with `ilsvrc train --resume {run_dir}`")
