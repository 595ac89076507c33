"""Keep large freed memory blocks in the process (Linux, glibc), so CPU training stops page-faulting.

    with large_blocks_kept():      # `ilsvrc train` on a CPU; ours in `ilsvrc bench train`
        ...

glibc's malloc serves every block above its mmap threshold (which grows to at most 32 MB) with a
fresh mmap and hands it back to the kernel when it is freed. A training step allocates and frees
the same large activations every time (AlexNet's first layer at batch 64: 37 MB in float32), so
each is page-faulted in and zeroed again at every step: on a CPU that was a third of AlexNet's
step. jemalloc or tcmalloc preloaded with LD_PRELOAD is the usual cure for PyTorch on CPUs;
mallopt(3) gets the same effect from inside the process, with no extra library. Elsewhere (macOS,
musl, Windows) this does nothing.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt(3) parameters
KEEP = {M_MMAP_THRESHOLD: 1 << 30, M_TRIM_THRESHOLD: (1 << 31) - 1}  # heap up to 1 GB blocks; never trim
# What glibc's dynamic thresholds grow to in a long-running process: the state to return to.
GLIBC_GROWN = {M_MMAP_THRESHOLD: 32 << 20, M_TRIM_THRESHOLD: 64 << 20}


@functools.cache
def _mallopt():
    """glibc's mallopt, or None where the C library has none."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.mallopt
    except (OSError, AttributeError):
        return None


def set_thresholds(values: dict[int, int]) -> bool:
    """Apply mallopt settings; True where the C library took them all."""
    mallopt = _mallopt()
    return mallopt is not None and all(mallopt(param, value) == 1 for param, value in values.items())


@contextlib.contextmanager
def large_blocks_kept():
    """Freed blocks up to 1 GB stay in the heap for reuse inside the block; glibc's grown state after."""
    kept = set_thresholds(KEEP)
    try:
        yield kept
    finally:
        if kept:
            set_thresholds(GLIBC_GROWN)
