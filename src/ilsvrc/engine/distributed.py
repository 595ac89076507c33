"""Data-parallel training with torch.distributed: one process per GPU (or per CPU share), torchrun.

    torchrun --standalone --nproc_per_node 8 -m ilsvrc train --config paper --out runs/paper
    torchrun --nnodes 2 --node_rank 0 --master_addr host0 --master_port 29500 \\
             --nproc_per_node 8 -m ilsvrc train --config paper --out runs/paper   # and node_rank 1

`optim.batch_size` stays the global batch (the paper's 128), so a recipe means the same thing on
1 or N processes: each rank takes batch_size / N images of every step, dealt round-robin from
the same epoch permutation (data.loader.EpochBatches), so the ranks' step-k batches together are
exactly the one-process batch k, and DDP's gradient average is the one-process gradient.
Validation is split the same way and the ranks' scores are put back in dataset order, so every
rank computes the figures one process would. Rank 0 alone writes the run folder.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from ilsvrc.errors import ConfigError


@dataclass(frozen=True)
class World:
    """This process's place among the training processes."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


SINGLE = World()


def world_from_env(env=os.environ) -> World:
    """The world torchrun describes in RANK / WORLD_SIZE / LOCAL_RANK; one process without them."""
    try:
        size = int(env.get("WORLD_SIZE", "1"))
        rank, local_rank = int(env.get("RANK", "0")), int(env.get("LOCAL_RANK", "0"))
    except ValueError:
        raise ConfigError("RANK, WORLD_SIZE and LOCAL_RANK must be integers (they are set by torchrun)") from None
    if not 0 <= rank < size:
        raise ConfigError(f"RANK {rank} is outside WORLD_SIZE {size}")
    return World(rank, size, local_rank)


@contextlib.contextmanager
def process_group(world: World, device: torch.device):
    """Joined to the other ranks (NCCL between GPUs, Gloo between CPU processes) for the block."""
    if not world.distributed or dist.is_initialized():  # one process, or a caller that set it up
        yield
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)
    try:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    except (ValueError, RuntimeError) as e:  # no MASTER_ADDR, an unreachable rank 0, a timeout
        raise ConfigError(f"rank {world.rank} of {world.size} could not join the others: "
                          f"{str(e).splitlines()[0][:300]} (launch with torchrun)") from None
    try:
        yield
    finally:
        dist.destroy_process_group()


def data_parallel(model: torch.nn.Module, world: World, device: torch.device, sync_bn: bool) -> torch.nn.Module:
    """The module the training step calls: `model` itself, or DDP around it (which averages gradients)."""
    if not world.distributed:
        return model
    if getattr(model, "places_itself", False):
        raise ConfigError(f"{type(model).__name__} spreads itself over several devices (model parallel); "
                          "train it in one process, without torchrun")
    if sync_bn:
        if device.type != "cuda":
            raise ConfigError("train.sync_bn needs CUDA: torch's SyncBatchNorm runs on GPUs only")
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)


def sync_buffers(model: torch.nn.Module, world: World) -> None:
    """Rank 0's buffers (BatchNorm's running statistics) on every rank, so all ranks evaluate one model."""
    if world.distributed:
        for buffer in model.buffers():
            dist.broadcast(buffer, 0)


def per_rank_batch(batch_size: int, world: World) -> int:
    if batch_size % world.size:
        raise ConfigError(f"optim.batch_size {batch_size} (the global batch) must divide evenly among "
                          f"{world.size} processes")
    return batch_size // world.size


def barrier(world: World) -> None:
    if world.distributed:
        dist.barrier()


def sum_over_ranks(values: list[float], world: World, device: torch.device) -> list[float]:
    """Element-wise sums of per-rank numbers (images seen, loss sums, mistakes)."""
    if not world.distributed:
        return list(values)
    totals = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(totals)
    return totals.tolist()


def shard_indices(n: int, world: World) -> range:
    """The dataset indices a rank scores in evaluation: every size-th one, from its rank (none twice)."""
    return range(world.rank, n, world.size)


def gather_in_order(part: torch.Tensor, n: int, world: World) -> torch.Tensor:
    """Put each rank's rows (its `shard_indices`) back in dataset order, on every rank."""
    if not world.distributed:
        return part
    parts = [None] * world.size
    dist.all_gather_object(parts, part.cpu())
    return interleave(parts, n)


def interleave(parts: list[torch.Tensor], n: int) -> torch.Tensor:
    """Rows of rank r's part go to indices r, r + size, ...: the inverse of `shard_indices`."""
    size = len(parts)
    whole = parts[0].new_empty((n, *parts[0].shape[1:]))
    for rank, part in enumerate(parts):
        whole[rank::size] = part
    return whole
