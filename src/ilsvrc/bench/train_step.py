"""`ilsvrc bench train`: ilsvrc's training step vs a plain float32 reference step, interleaved.

    ilsvrc bench train --model alexnet --batch 128 --json

Ours: the step `ilsvrc train` runs (engine.train.make_step and make_optimizer, with the paper preset
in bf16 autocast and channels_last): the fused LRN (models/layers.py), the fused SGD kernel, on a
CPU freed large blocks kept for reuse (engine/allocator.py), and (on a GPU, by default)
torch.compile. The reference: the same model in float32, NCHW, with torch's standard
F.local_response_norm, in a standard PyTorch loop as in torchvision's reference script, with
torch's default SGD and glibc's allocator thresholds as a long-running process has them. Both
train on the same synthetic batch from the same initial weights; warm-up is excluded and each
figure is the median of several interleaved repeats.
"""
from __future__ import annotations

import contextlib
import copy
import json as jsonlib

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from ilsvrc.bench.timing import interleaved_medians
from ilsvrc.engine.allocator import large_blocks_kept
from ilsvrc.config import load_config
from ilsvrc.engine import train as engine_train
from ilsvrc.errors import ConfigError
from ilsvrc.engine.devices import pick_device
from ilsvrc.models import create_model
from ilsvrc.models.layers import LocalResponseNorm

INPUT_SIDE = {"lenet5": 32, "alexnet-small": 32}


def training_step(model, x, y, compile: bool):
    """A closure running `ilsvrc train`'s own step on a fixed batch: the paper preset's optimizer and step
    function in bf16 and channels_last, with freed large blocks kept on a CPU, as train() keeps them."""
    config = load_config("paper", ["train.precision=bf16", "train.channels_last=true", f"train.compile={compile}",
                                   "optim.lr=0.001"])
    model = model.to(memory_format=torch.channels_last)
    step = engine_train.make_step(model, engine_train.make_optimizer(config, model), config, x.device)
    memory = large_blocks_kept if x.device.type == "cpu" else contextlib.nullcontext

    def run():
        with memory():
            step(x, y)

    return run


def reference_step(model, x, y):
    """One float32 SGD step on a fixed batch as a plain PyTorch script takes it: NCHW, torch's default SGD
    and allocator, no autocast, no compilation."""
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, weight_decay=5e-4)

    def step():
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def use_standard_lrn(model: torch.nn.Module) -> None:
    """Switch every LRN layer to torch's F.local_response_norm: the same function, the standard kernel."""
    for module in model.modules():
        if isinstance(module, LocalResponseNorm):
            module.fused = False


def training_flops(model, x, y) -> int:
    """FLOPs of one forward + backward pass on the batch (the optimizer's update is negligible)."""
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(model(x), y).backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def run(model_name: str = "alexnet", batch: int = 128, device: str = "auto", compile: bool | None = None,
        repeats: int = 5, iterations: int | None = None) -> dict:
    dev = pick_device(device)
    compile = dev.type == "cuda" if compile is None else compile
    torch.manual_seed(0)
    reference_model = create_model(model_name).to(dev).train()
    ours_model = copy.deepcopy(reference_model)
    use_standard_lrn(reference_model)
    side = INPUT_SIDE.get(model_name, 224)
    x = torch.randn(batch, reference_model.config.in_channels, side, side, device=dev)
    y = torch.randint(0, reference_model.config.num_classes, (batch,), device=dev)
    flops = training_flops(reference_model, x, y)
    steps = {"ours": training_step(ours_model, x, y, compile),
             "reference": reference_step(reference_model, x, y)}
    for step in steps.values():
        for _ in range(3 if compile else 2):
            step()  # warm-up: compilation, kernel selection, allocator
    iterations = iterations or (20 if dev.type == "cuda" else 1)
    seconds = interleaved_medians(steps, dev, iterations, repeats)
    result = {"model": model_name, "batch": batch, "device": _device_name(dev), "compile": compile,
              "gflop_per_image": flops / batch / 1e9}
    for name, s in seconds.items():
        result[f"{name}_img_s"] = batch / s
        result[f"{name}_gflops"] = flops / s / 1e9
    result["ratio"] = result["ours_img_s"] / result["reference_img_s"]
    return result


def _device_name(dev: torch.device) -> str:
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    return f"cpu ({torch.get_num_threads()} threads)"


def train_command(model: str = "alexnet", batch: int = 128, device: str = "auto", compile: bool | None = None,
                  repeats: int = 5, json: bool = False) -> int:
    if batch < 1 or repeats < 1:
        raise ConfigError(f"--batch and --repeats must be positive, got {batch} and {repeats}")
    r = run(model, batch, device, compile, repeats)
    if json:
        print(jsonlib.dumps(r, indent=1))
        return 0
    print(f"{r['model']} training step, batch {r['batch']}, {r['device']} ({r['gflop_per_image']:.2f} GFLOP/image)")
    print(f"  ours (bf16, channels_last{', compiled' if r['compile'] else ''}): {r['ours_img_s']:>10,.0f} img/s"
          f"  {r['ours_gflops']:>9,.0f} GFLOP/s")
    print(f"  reference (fp32, NCHW):        {r['reference_img_s']:>10,.0f} img/s  {r['reference_gflops']:>9,.0f} GFLOP/s")
    print(f"  ratio: {r['ratio']:.2f}x")
    return 0
