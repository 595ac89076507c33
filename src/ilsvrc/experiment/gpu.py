"""The `gpu` experiment: the arithmetic argument of 2012, on the devices of this machine.

On each device present: square matrix products (GFLOP/s, bench.matmul) and one training step of the full
AlexNet (224x224: `ilsvrc train`'s own step with the paper preset in bf16, bench.train_step), timed after a warm-up;
and the wall time the paper's ~90 epochs of 1.28M images would take at that rate.
"""
from __future__ import annotations

import torch

from ilsvrc.bench.matmul import matmul_gflops
from ilsvrc.bench.train_step import training_step
from ilsvrc.experiment.cost import timed
from ilsvrc.experiment.runner import Context
from ilsvrc.models import create_model

PAPER_IMAGES = 90 * 1_281_167  # ~90 cycles through ILSVRC-2012's training set
PAPER_DAYS = (5, 6)  # on two GTX 580 3GB (Sec. 5)


def devices(requested: str) -> list[str]:
    if requested == "cpu" or not torch.cuda.is_available():
        return ["cpu"]
    return ["cpu", "cuda"]


def step_rate(device: str, batch: int, steps: int = 2) -> float:
    """Training images per second of the full AlexNet on `device`, after one warm-up step."""
    dev = torch.device(device)
    torch.manual_seed(0)
    model = create_model("alexnet").to(dev).train()
    x = torch.randn(batch, 3, 224, 224, device=dev)
    y = torch.randint(0, 1000, (batch,), device=dev)
    return timed(training_step(model, x, y, compile=False), batch, dev, steps)


def run_gpu(context: Context):
    x = context.experiment.extra
    figures = {arm.name: [] for arm in context.experiment.arms}
    for device in devices(context.device):
        for seed in context.seeds:
            rate = step_rate(device, x["batch"][device])
            gflops = matmul_gflops(x["matmul"], torch.float32, torch.device(device))
            days = PAPER_IMAGES / rate / 86400
            figures[device].append({"img_s": rate, "matmul_gflops": gflops, "days_for_90_epochs": days,
                                    "batch": x["batch"][device], "seed": seed})
            context.log(f"  gpu: {device}, repeat {seed}: {rate:.1f} img/s, {gflops:.0f} GFLOP/s (fp32 matmul), "
                        f"90 epochs of ILSVRC-2012 = {days:,.1f} days")
    notes = [f"{device}: {sum(f['days_for_90_epochs'] for f in runs) / len(runs):,.1f} days for 90 epochs "
             f"(mean of {len(runs)}), {sum(f['matmul_gflops'] for f in runs) / len(runs):,.0f} GFLOP/s fp32 matmul"
             for device, runs in figures.items() if runs]
    notes.append(f"the paper: {PAPER_DAYS[0]}-{PAPER_DAYS[1]} days on two GTX 580 3GB")
    if not figures["cuda"]:
        notes.append("no GPU on this machine: the comparison is not measured")
    return figures, notes, None
