"""engine.allocator: with large blocks kept, a training loop's big temporaries stop page-faulting.

Measured in fresh processes: what a process freed earlier decides what glibc can reuse later."""
import json
import resource
import statistics
import subprocess
import sys

import pytest

from ilsvrc.engine.allocator import GLIBC_GROWN, KEEP, set_thresholds

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
MB = 48  # above glibc's largest mmap threshold (32 MB)
PAGES = (MB << 20) // resource.getpagesize()
# Minor page faults of each allocate-fill-free round of an MB block, after as many rounds of warm-up
# (an aligned request outgrows the block just freed until free blocks coalesce).
ROUNDS = f"""
import contextlib, json, resource, torch
from ilsvrc.engine.allocator import large_blocks_kept
counts = []
with (large_blocks_kept() if KEPT else contextlib.nullcontext()):
    for i in range(16):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        torch.empty({MB} << 18).fill_(1.0)
        if i >= 8:
            counts.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(json.dumps(counts))
"""


def faults_per_round(kept: bool) -> list[int]:
    done = subprocess.run([sys.executable, "-c", f"KEPT = {kept}\n" + ROUNDS], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_glibc_takes_both_settings():
    assert set_thresholds(KEEP) and set_thresholds(GLIBC_GROWN)


def test_a_freed_large_block_is_reused_only_while_kept():
    assert min(faults_per_round(kept=False)) > PAGES / 2  # every round maps fresh zeroed pages
    assert statistics.median(faults_per_round(kept=True)) < PAGES / 20
