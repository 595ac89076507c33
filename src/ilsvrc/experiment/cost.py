"""What an experiment will cost, said before it starts: images x epochs x runs, and the wall time they imply.

    cost = estimate(context)     # at paper scale, a few training steps of the subject measure the rate
    context.log(cost["line"])    # one line; result.json keeps the whole record

The rate is that of the subject's training step with the run's own config (crop, precision, layout) on
the chosen device, timed after a warm-up step on a synthetic batch: data loading and validation are not in
it, so the wall time is a lower bound. Small-image experiments are not timed (their budgets are minutes).
"""
from __future__ import annotations

import torch

from ilsvrc.bench.timing import time_call
from ilsvrc.engine.devices import pick_device
from ilsvrc.engine.build import make_optimizer
from ilsvrc.engine.train import make_step
from ilsvrc.experiment.runner import Context, arm_config
from ilsvrc.experiment.scale import plan
from ilsvrc.models import create_model

SCALE_RUNNER = "ilsvrc.experiment.scale:run_scale"
RATE_BATCH = {"cpu": 16, "cuda": 128}  # as the `gpu` experiment times the step
RATE_STEPS = {"cpu": 2, "cuda": 5}


def planned(context: Context) -> tuple[list[tuple[int, int]], int]:
    """(training images, epochs) of each run one seed makes, and how many seeds."""
    e = context.experiment
    if not e.needs_data:
        return [], 0
    if e.runner == SCALE_RUNNER:
        return plan(context), len(context.seeds)  # and a HOG + SVM fit per size, not counted
    return [(context.train_images(), context.budget.epochs)] * sum(a.reuse is None for a in e.arms), len(context.seeds)


def timed(step, batch: int, device: torch.device, steps: int) -> float:
    """Images per second of `step()` (one batch of `batch` images), after one warm-up call."""
    step()
    return batch / time_call(step, device, steps)


def step_rate(context: Context) -> tuple[float, str]:
    """Training images per second of the subject's step as the runs will take it, and what was timed."""
    config = arm_config(context, (), context.root, 0, 1)
    device = pick_device(context.device)
    batch = min(config.optim.batch_size, RATE_BATCH.get(device.type, RATE_BATCH["cpu"]))
    torch.manual_seed(0)
    model = create_model(config.model.name, num_classes=context.num_classes, **config.model.options).to(device)
    if config.train.channels_last:
        model = model.to(memory_format=torch.channels_last)
    side = config.data.crop
    x = torch.randn(batch, 3, side, side, device=device)
    y = torch.randint(0, context.num_classes, (batch,), device=device)
    step = make_step(model.train(), make_optimizer(config, model), config, device)
    rate = timed(lambda: step(x, y), batch, device, RATE_STEPS.get(device.type, RATE_STEPS["cpu"]))
    return rate, (f"{config.model.name}'s training step measured on {device.type}, batch {batch}, "
                  f"{side}x{side}, {config.train.precision}")


def estimate(context: Context) -> dict:
    """The record of what the runs will cost; at paper scale with the measured rate and the time it implies."""
    runs, seeds = planned(context)
    passes = seeds * sum(images * epochs for images, epochs in runs)
    cost = {"scale": "paper" if context.paper else "small", "subject": context.subject if runs else None,
            "runs_per_seed": [list(r) for r in runs], "seeds": seeds, "image_passes": passes, "img_s": None,
            "rate": None, "estimated_seconds": None}
    if context.paper and runs:
        cost["img_s"], cost["rate"] = step_rate(context)
        cost["estimated_seconds"] = passes / cost["img_s"]
    return cost | {"line": cost_line(context.experiment.name, cost)}


def cost_line(name: str, cost: dict) -> str:
    """One line: what is trained, how many images in all, and (where a rate was measured) how long."""
    runs, seeds = cost["runs_per_seed"], cost["seeds"]
    if not runs:
        return f"cost: {name} trains nothing (it measures the machine)"
    if len({tuple(r) for r in runs}) == 1:
        shape = f"{runs[0][0]:,} images x {runs[0][1]} epochs x {len(runs)} arm{'s' * (len(runs) > 1)}"
    else:
        shape = "(" + " + ".join(f"{images:,} x {epochs}" for images, epochs in runs) + ") images x epochs"
    line = (f"cost ({cost['scale']} scale, {cost['subject']}): {shape} x {seeds} seed{'s' * (seeds > 1)} = "
            f"{cost['image_passes']:,} training images")
    if cost["img_s"]:
        line += (f"; at {cost['img_s']:,.1f} img/s ({cost['rate']}) about {_duration(cost['estimated_seconds'])} "
                 "(loading and validation not counted)")
    return line


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} seconds"
    if seconds < 3600:
        return f"{seconds / 60:.1f} minutes"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 86400:.1f} days"
