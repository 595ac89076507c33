"""`ilsvrc bench matmul`: square matrix products on the CPU and, where there is one, the GPU.

The experiment behind 2012: the same arithmetic, measured in GFLOP/s on each processor, and the
GPU/CPU ratio. An n x n product costs 2 n^3 floating-point operations.
"""
from __future__ import annotations

import json as jsonlib

import torch

from ilsvrc.bench.timing import interleaved_medians
from ilsvrc.errors import ConfigError

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def matmul_gflops(n: int, dtype: torch.dtype, device: torch.device, repeats: int = 3) -> float:
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    flops = 2 * n ** 3
    work = lambda: torch.mm(a, b)  # noqa: E731
    for _ in range(2):
        work()  # warm-up: kernel selection, caches
    budget = 0.3 if device.type == "cpu" else 0.05  # seconds per measurement, roughly
    iterations = max(1, min(200, round(budget * (50e9 if device.type == "cpu" else 5e13) / flops)))
    seconds = interleaved_medians({"mm": work}, device, iterations, repeats)["mm"]
    return flops / seconds / 1e9


def run(sizes=(1000, 4096), dtypes=("float32", "bfloat16")) -> list[dict]:
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    rows = []
    for n in sizes:
        for name in dtypes:
            row = {"n": n, "dtype": name}
            for device in devices:
                row[f"{device.type}_gflops"] = matmul_gflops(n, DTYPES[name], device)
            if "cuda_gflops" in row:
                row["gpu_cpu_ratio"] = row["cuda_gflops"] / row["cpu_gflops"]
            rows.append(row)
    return rows


def parse_sizes(sizes: str) -> tuple[int, ...]:
    """--sizes "1000,4096" -> (1000, 4096): positive integers only."""
    try:
        values = tuple(int(s) for s in sizes.split(","))
    except ValueError:
        values = ()
    if not values or min(values) < 1:
        raise ConfigError(f"--sizes takes comma-separated positive integers (e.g. 1000,4096), got {sizes!r}")
    return values


def matmul_command(sizes: str = "1000,4096", json: bool = False) -> int:
    rows = run(parse_sizes(sizes))
    device = {"cpu": f"{torch.get_num_threads()} CPU threads"}
    if torch.cuda.is_available():
        device["gpu"] = torch.cuda.get_device_name()
    if json:
        print(jsonlib.dumps({"device": device, "results": rows}, indent=1))
        return 0
    print(f"matrix products, GFLOP/s ({', '.join(device.values())})")
    print(f"{'n':>6} {'dtype':>9} {'CPU':>10}" + (f" {'GPU':>10} {'GPU/CPU':>8}" if "gpu" in device else ""))
    for r in rows:
        gpu = f" {r['cuda_gflops']:>10,.0f} {r['gpu_cpu_ratio']:>7,.0f}x" if "cuda_gflops" in r else ""
        print(f"{r['n']:>6} {r['dtype']:>9} {r['cpu_gflops']:>10,.1f}{gpu}")
    return 0
