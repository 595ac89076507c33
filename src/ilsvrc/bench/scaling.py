"""`ilsvrc bench scaling`: the arithmetic of the paper's 90 epochs at 1 to 1024 GPUs, computed, not guessed.

    ilsvrc bench scaling                                   # AlexNet, 90 epochs of 1,281,167 images
    ilsvrc bench scaling --gpus 1,8,64,1024 --batch-per-gpu 128 --gpu-tflops 200 --json

Per training image the model costs the FLOP of its forward and backward passes, counted from the
network itself by torch's FlopCounterMode. Data parallel, each step
all-reduces every gradient: a ring moves 2 (n-1)/n x the gradient bytes through each GPU's slowest
link (NVLink inside an 8-GPU machine, the network across machines). DDP overlaps that with the
backward pass, so a step takes between max(compute, communication) and their sum. The input
pipeline must deliver each rank's images in that time: divided by the images/s one CPU core
decodes and crops, that gives the cores each GPU needs.
"""
from __future__ import annotations

import json as jsonlib
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from ilsvrc.errors import ConfigError

TRAIN_IMAGES = 1_281_167
EPOCHS = 90
GPUS_PER_MACHINE = 8
# Bandwidths per GPU, bytes/s, as all-reduce sees them (bus bandwidth): NVLink 4 inside an H100 machine,
# one 400 Gb/s InfiniBand NDR port per GPU across machines.
NVLINK = 450e9
NETWORK = 50e9
# Images/s one CPU core delivers to the training step, measured with `ilsvrc bench loader` (BENCHMARKS.md):
# JPEG storage decoded on the CPU ~1,000; raw 256x256 storage ~2,300 (2 workers on a 2-core EPYC).
CORE_RATE = {"jpeg": 1000.0, "raw": 2300.0}
# The paper's machine: two GTX 580 (1.58 TFLOP/s fp32 peak each), 5-6 days for ~90 epochs.
GTX580_TFLOPS = 1.58
PAPER_DAYS = (5.0, 6.0)


def training_flops(model: torch.nn.Module, image_size: int = 224) -> float:
    """FLOP of one training image: forward and backward, as torch's FlopCounterMode counts the operations
    autograd actually runs (the count `ilsvrc bench train` reports too)."""
    x = torch.zeros(1, 3, image_size, image_size)
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(model.train()(x), torch.zeros(1, dtype=torch.long)).backward()
    model.zero_grad(set_to_none=True)
    return float(counter.get_total_flops())


def allreduce_seconds(gradient_bytes: float, gpus: int, nvlink: float = NVLINK, network: float = NETWORK) -> float:
    """A ring all-reduce over `gpus`: 2 (n-1)/n x the bytes through the slowest link each GPU has
    (`nvlink` bytes/s inside a machine, `network` bytes/s per GPU across machines)."""
    if gpus == 1:
        return 0.0
    bandwidth = nvlink if gpus <= GPUS_PER_MACHINE else network
    return 2 * (gpus - 1) / gpus * gradient_bytes / bandwidth


@dataclass
class ScaleRow:
    gpus: int
    global_batch: int
    steps: int  # over the whole run
    compute_s: float  # per step
    allreduce_s: float  # per step
    hours_overlapped: float  # steps x max(compute, all-reduce)
    hours_serial: float  # steps x (compute + all-reduce)
    images_per_s_per_gpu: float  # what each rank's input pipeline must deliver (overlapped)
    cores_per_gpu_jpeg: float
    cores_per_gpu_raw: float


def scale_row(gpus: int, batch_per_gpu: int, flops_per_image: float, gpu_flops: float,
              gradient_bytes: float, nvlink: float = NVLINK, network: float = NETWORK) -> ScaleRow:
    global_batch = gpus * batch_per_gpu
    steps = EPOCHS * TRAIN_IMAGES // global_batch
    compute = batch_per_gpu * flops_per_image / gpu_flops
    comm = allreduce_seconds(gradient_bytes, gpus, nvlink, network)
    step = max(compute, comm)
    rate = batch_per_gpu / step
    return ScaleRow(gpus, global_batch, steps, compute, comm, steps * step / 3600, steps * (compute + comm) / 3600,
                    rate, rate / CORE_RATE["jpeg"], rate / CORE_RATE["raw"])


def paper_utilisation(flops_per_image: float) -> tuple[float, float]:
    """The fraction of two GTX 580s' peak the paper's 5-6 days imply."""
    work = EPOCHS * TRAIN_IMAGES * flops_per_image
    return tuple(work / (2 * GTX580_TFLOPS * 1e12 * days * 86400) for days in PAPER_DAYS[::-1])


def scaling_command(gpus: str = "1,8,64,1024", batch_per_gpu: int = 128, gpu_tflops: float = 200.0,
                    gradient_dtype: str = "fp32", nvlink_gb_s: float = NVLINK / 1e9,
                    network_gb_s: float = NETWORK / 1e9, json: bool = False) -> int:
    counts = _positive_ints(gpus, "--gpus")
    if batch_per_gpu < 1 or min(gpu_tflops, nvlink_gb_s, network_gb_s) <= 0:
        raise ConfigError("--batch-per-gpu, --gpu-tflops, --nvlink-gb-s and --network-gb-s must be positive")
    from ilsvrc.models import create_model

    model = create_model("alexnet")
    flops = training_flops(model)
    gradient_bytes = sum(p.numel() for p in model.parameters()) * (4 if gradient_dtype == "fp32" else 2)
    rows = [scale_row(n, batch_per_gpu, flops, gpu_tflops * 1e12, gradient_bytes, nvlink_gb_s * 1e9,
                      network_gb_s * 1e9) for n in counts]
    low, high = paper_utilisation(flops)
    if json:
        print(jsonlib.dumps({"train_gflop_per_image": flops / 1e9, "gradient_mb": gradient_bytes / 1e6,
                             "gpu_tflops": gpu_tflops, "nvlink_gb_s": nvlink_gb_s, "network_gb_s": network_gb_s, "paper_gtx580_utilisation": [low, high],
                             "rows": [asdict(r) for r in rows]}))
        return 0
    print(f"AlexNet: {flops / 1e9:.2f} GFLOP per training image, {gradient_bytes / 1e6:.1f} MB of {gradient_dtype} "
          f"gradients per step; {EPOCHS} epochs of {TRAIN_IMAGES:,} images at {gpu_tflops:g} TFLOP/s sustained per GPU")
    print(f"{'GPUs':>5} {'batch':>7} {'steps':>9} {'compute':>9} {'all-reduce':>10} {'90 epochs':>20} "
          f"{'img/s/GPU':>10} {'cores/GPU jpeg':>14} {'raw':>5}")
    for r in rows:
        span = f"{duration(r.hours_overlapped)} - {duration(r.hours_serial)}"
        print(f"{r.gpus:>5} {r.global_batch:>7} {r.steps:>9,} {r.compute_s * 1e3:>7.1f}ms {r.allreduce_s * 1e3:>8.1f}ms"
              f" {span:>20} {r.images_per_s_per_gpu:>10,.0f} {r.cores_per_gpu_jpeg:>14.1f} {r.cores_per_gpu_raw:>5.1f}")
    print(f"The paper's 5-6 days on two GTX 580s are {low:.0%}-{high:.0%} of their {GTX580_TFLOPS} TFLOP/s peak.")
    return 0


def duration(hours: float) -> str:
    if hours >= 48:
        return f"{hours / 24:.1f} days"
    return f"{hours:.1f} h" if hours >= 1 else f"{hours * 60:.1f} min"


def _positive_ints(text: str, flag: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise ConfigError(f"{flag} takes comma-separated whole numbers, got {text!r}") from None
    if not values or min(values) < 1:
        raise ConfigError(f"{flag} numbers must be positive, got {text!r}")
    return values
