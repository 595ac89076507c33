"""Timing helpers shared by the benchmarks: warm-up excluded, synchronised, median of repeats."""
from __future__ import annotations

import statistics
import time
from typing import Callable

import torch


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_call(fn: Callable[[], object], device: torch.device, iterations: int) -> float:
    """Seconds per call of `fn`, over `iterations` calls after the caller's warm-up."""
    synchronize(device)
    start = time.perf_counter()
    for _ in range(iterations):
        fn()
    synchronize(device)
    return (time.perf_counter() - start) / iterations


def interleaved_medians(candidates: dict[str, Callable[[], object]], device: torch.device, iterations: int,
                        repeats: int) -> dict[str, float]:
    """Median seconds per call of each candidate, their repeats interleaved so drifts hit all alike."""
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, fn in candidates.items():
            samples[name].append(time_call(fn, device, iterations))
    return {name: statistics.median(values) for name, values in samples.items()}
