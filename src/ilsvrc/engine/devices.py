"""Which device a process computes on.

    pick_device("auto")             # CUDA when there is one, else the CPU; "cpu", "cuda", "cuda:1" as given
    device_for(world, "auto")       # the same for one process; cuda:LOCAL_RANK for each rank under torchrun
    with autocast(device, "bf16"):  # the precision a run computes in (fp32: no autocast)
"""
from __future__ import annotations

import contextlib

import torch

from ilsvrc.engine.distributed import World
from ilsvrc.errors import ConfigError


def pick_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ConfigError(f"unknown device {device!r} (auto, cpu, cuda, cuda:N)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} asked for, but no CUDA device is available")
    return dev


def device_for(world: World, device: str) -> torch.device:
    """The device of this process: `pick_device(device)` alone; under torchrun, cuda:LOCAL_RANK when CUDA
    is asked for or auto-detected, else the CPU."""
    if not world.distributed:
        return pick_device(device)
    if device == "cpu" or (device == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if device not in ("auto", "cuda"):
        raise ConfigError(f"train.device={device}: under torchrun each process uses cuda:LOCAL_RANK; "
                          "set train.device to auto, cuda or cpu")
    if not torch.cuda.is_available():
        raise ConfigError("train.device=cuda asked for, but no CUDA device is available")
    if world.local_rank >= torch.cuda.device_count():
        raise ConfigError(f"LOCAL_RANK {world.local_rank} but this machine has {torch.cuda.device_count()} GPU(s): "
                          "give torchrun --nproc_per_node at most that many")
    return torch.device("cuda", world.local_rank)


def autocast(device: torch.device, precision: str):
    """bfloat16 autocast on `device` for precision "bf16"; nothing for "fp32"."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
