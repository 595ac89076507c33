"""`ilsvrc train`: the training loop as plain functions.

    ilsvrc train --config fashion-mnist-lenet5 --out runs/lenet5
    ilsvrc train --config paper --data data/imagenet --out runs/alexnet --set train.precision=bf16
    ilsvrc train --resume runs/lenet5 --epochs 20          # continue exactly where it stopped

    torchrun --standalone --nproc_per_node 8 -m ilsvrc train --config paper --out runs/paper   # data parallel

RUN_DIR holds config.yaml (resolved), metrics.csv (one row per epoch; validation columns NaN on
epochs that train.eval_every does not validate), TensorBoard logs when
tensorboard is installed, and checkpoints/{last,best}.pt, each written atomically and holding
the model's config, so a checkpoint alone rebuilds the model. Under torchrun (engine.distributed)
every rank trains on its share of each global batch and rank 0 writes RUN_DIR.
"""
from __future__ import annotations

import contextlib
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from ilsvrc import progress
from ilsvrc.config import RunConfig, load_config, save_config, to_dict
from ilsvrc.data.packing import ensure_packed
from ilsvrc.data.readers.packed import PackedDataset
from ilsvrc.engine import distributed, watch
from ilsvrc.engine.allocator import large_blocks_kept
from ilsvrc.engine.build import build_model, check_early_side, make_optimizer
from ilsvrc.engine.checkpoint import check_new_run_folder, load_checkpoint, save_checkpoint
from ilsvrc.engine.devices import autocast, device_for
from ilsvrc.engine.distributed import World
from ilsvrc.engine.epoch import EpochTally, train_one_epoch
from ilsvrc.engine.evaluation import evaluate
from ilsvrc.engine.pipeline import Pipeline
from ilsvrc.engine.run_log import RunLog
from ilsvrc.engine.schedule import Schedule, make_schedule
from ilsvrc.engine.stopping import RunStopped, StopSignals, signal_name
from ilsvrc.errors import ConfigError
from ilsvrc.files import write_json_atomic
from ilsvrc.models import config_to_dict

# An epoch trained but not validated (train.eval_every): NaN in metrics.csv, never the best checkpoint.
NOT_VALIDATED = {"top1_error": math.nan, "top5_error": math.nan}


def make_step(model, optimizer, config: RunConfig, device: torch.device):
    """One SGD step on a batch: forward (bf16 autocast if asked), loss, backward, update."""
    smoothing, precision = config.optim.label_smoothing, config.train.precision
    forward = torch.compile(model) if config.train.compile else model

    def step(x, y):
        if config.train.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(device, precision):
            logits = forward(x)
            loss = F.cross_entropy(logits.float(), y, label_smoothing=smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.detach(), logits.detach()

    return step


def is_validation_epoch(epoch: int, epochs: int, every: int) -> bool:
    """Validate every `every` epochs (0: never before the last) and always after the last one."""
    return epoch == epochs or (every > 0 and epoch % every == 0)


def train(config: RunConfig, out: str | Path, resume: bool = False) -> dict:
    """Train as configured into `out`; returns the last epoch's metrics row.

    Launched by torchrun (WORLD_SIZE > 1), the process joins the others and trains data-parallel;
    rank 0 alone shows progress.
    """
    world = distributed.world_from_env()
    device = device_for(world, config.train.device)
    keep_memory = large_blocks_kept() if device.type == "cpu" else contextlib.nullcontext()
    with distributed.process_group(world, device), keep_memory, progress.silenced(not world.is_main):
        run = setup_run(config, Path(out), world, device, resume)
        return run_epochs(run)


@dataclass
class Run:
    """One training run: what `setup_run` builds once and the epoch loop works on."""

    config: RunConfig
    dir: Path
    world: World
    pipeline: Pipeline
    train_ds: PackedDataset
    model: torch.nn.Module  # the module itself: what checkpoints and evaluation use
    forward: torch.nn.Module  # what a step calls: the model, or its data-parallel wrapper
    optimizer: torch.optim.Optimizer
    schedule: Schedule
    log: RunLog | None  # metrics.csv, written by rank 0 alone
    start: int = 0  # epochs already trained (a resumed run)
    start_step: int = 0  # steps of epoch `start` already trained (a run resumed mid-epoch)
    tally: EpochTally | None = None  # and their loss and error sums
    best: float = math.inf  # the best validation top-1 error so far
    saved: tuple[int, int] = (0, 0)  # the position checkpoints/last.pt holds: (epochs done, steps of the next)

    @property
    def steps(self) -> int:
        """Training steps per epoch (the last partial global batch is dropped)."""
        return len(self.train_ds) // self.config.optim.batch_size

    def state(self, epoch: int, row: dict, step: int = 0, tally: EpochTally | None = None) -> dict:
        """A checkpoint after `epoch` epochs and `step` steps of the next (with their `tally` over all ranks):
        enough to rebuild the model alone, or to resume the run at exactly that step."""
        return {"model_config": config_to_dict(self.model), "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(), "schedule": self.schedule.state_dict(), "epoch": epoch,
                "step": step, "tally": (tally or EpochTally()).state_dict(),
                "best_top1_error": self.best, "config": to_dict(self.config), "metrics": row,
                "classes": list(self.train_ds.classes), "class_names": list(self.train_ds.class_names),
                "data_stats": {k: torch.as_tensor(v) for k, v in self.pipeline.stats.items()
                               if k in ("mean_image", "mean", "std", "eigvals", "eigvecs")}}

    def restore(self, device: torch.device) -> None:
        """Continue from checkpoints/last.pt."""
        state = load_checkpoint(self.dir, "last", map_location=device)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        self.start, self.best = state["epoch"], state["best_top1_error"]
        self.start_step = state.get("step", 0)
        self.saved = (self.start, self.start_step)
        # The tally saved is all ranks' sum: rank 0 carries it on, the others start again from zero.
        self.tally = EpochTally(**state.get("tally", {})) if self.world.is_main else EpochTally()


def setup_run(config: RunConfig, run_dir: Path, world: World, device: torch.device, resume: bool) -> Run:
    """Data, model, optimizer and schedule for a run (restored from its last checkpoint when resuming)."""
    t = config.train
    if t.threads:
        torch.set_num_threads(t.threads)
    if world.is_main:
        ensure_packed(config.data.path)  # rank 0 packs a dataset the first time; the others wait
    distributed.barrier(world)
    pipeline = Pipeline.build(config.data, t.seed, device, world=world)
    train_ds = pipeline.dataset(config.data.train_split)
    pipeline.dataset(config.data.val_split)  # a missing split or a damaged shard fails now, not after an epoch
    torch.manual_seed(t.seed)  # every rank starts from the same weights (DDP also broadcasts rank 0's)
    model = build_model(config, pipeline, len(train_ds.classes))
    check_early_side(model, config, pipeline)
    run_dir.mkdir(parents=True, exist_ok=True)  # only once the data and the model are known to be good
    if world.is_main:
        save_config(config, run_dir / "config.yaml")
    model, forward = _placed(model, config, world, device)
    schedule = make_schedule(config.schedule, config.optim.lr, t.epochs,
                             len(train_ds) // config.optim.batch_size)
    run = Run(config, run_dir, world, pipeline, train_ds, model, forward, make_optimizer(config, model), schedule,
              RunLog(run_dir, resume) if world.is_main else None)
    if resume:
        _resume(run, device)
    return run


def _placed(model: torch.nn.Module, config: RunConfig, world: World,
            device: torch.device) -> tuple[torch.nn.Module, torch.nn.Module]:
    """(the model on its device, in its memory format; what a step calls: it, or its DDP wrapper)."""
    if not getattr(model, "places_itself", False):
        model = model.to(device)
    if config.train.channels_last:
        model = model.to(memory_format=torch.channels_last)
    forward = distributed.data_parallel(model, world, device, config.train.sync_bn)
    return getattr(forward, "module", forward), forward


def _resume(run: Run, device: torch.device) -> None:
    if not (run.dir / "checkpoints" / "last.pt").exists():  # stopped before its first checkpoint: start over
        if progress.enabled():
            print(f"{run.dir} has no checkpoint yet: starting from epoch 1")
        if run.log:
            run.log.truncate(0)
        return
    run.restore(device)
    if run.log:
        run.log.truncate(run.start)
    distributed.barrier(run.world)  # every rank has read last.pt before rank 0 writes the next one
    if run.start >= run.config.train.epochs and progress.enabled():
        print(f"nothing to do: {run.dir} already trained {run.start} epochs (raise --epochs to continue)")


def run_epochs(run: Run) -> dict:
    """The epoch loop: train, validate when due, record; the last epoch's row. On SIGTERM, SIGUSR1 or
    Ctrl-C the step in flight finishes, a checkpoint of that step is written and RunStopped is raised."""
    t = run.config.train
    step = make_step(run.forward, run.optimizer, run.config, run.pipeline.device)
    row, best_row, began_run = {}, {}, time.perf_counter()
    epoch = run.start
    with StopSignals() as stop:
        try:
            for epoch in range(run.start, t.epochs):
                row = _epoch(run, step, epoch, stop)
                best_row = _after_epoch(run, row) or best_row
        except watch.Diverged as e:
            raise watch.Diverged(watch.diverged_message(e, run.dir, run.saved)) from None
        except KeyboardInterrupt as e:  # a second Ctrl-C: in a step (Interrupted: where), or elsewhere
            at = (e.epoch, e.step) if isinstance(e, watch.Interrupted) else (epoch, run.steps)
            if run.world.is_main:
                print(watch.interrupted_message(run.dir, *at, run.saved, run.steps), file=sys.stderr)
            raise
    if best_row and run.world.is_main:  # the table's figures are those of the best checkpoint, which eval loads
        _write_summary(run, best_row, time.perf_counter() - began_run)
    distributed.barrier(run.world)  # no rank returns before the run folder is complete
    return row


def _after_epoch(run: Run, row: dict) -> dict | None:
    """Record the epoch (rank 0) and keep track of the best; the row if it is the best so far."""
    is_best = row["val_top1_error"] < run.best
    if is_best:
        run.best = row["val_top1_error"]
    if run.world.is_main:
        _record_epoch(run, row, is_best)
    run.saved = (row["epoch"], 0)
    return row if is_best else None


def _epoch(run: Run, step, epoch: int, stop: StopSignals) -> dict:
    """Train one epoch (from a resumed step, the first time), validate if it is due; the epoch's metrics row."""
    t, batch_size = run.config.train, run.config.optim.batch_size
    start, tally = (run.start_step, run.tally) if epoch == run.start else (0, None)
    began = time.perf_counter()
    side = run.pipeline.train_side(epoch)
    bar = progress.bar(run.steps * batch_size, desc=f"epoch {epoch + 1}/{t.epochs}" + (f" at {side} px" if side else ""),
                       initial=start * batch_size)
    batches = run.pipeline.train_batches(epoch, distributed.per_rank_batch(batch_size, run.world), start)
    tally = train_one_epoch(run.forward, step, batches, run.schedule, run.optimizer, epoch, bar, t.seed, run.world,
                            start, tally, _between_steps(run, epoch, stop))
    bar.close()
    stats = tally.summary(run.world, run.pipeline.device)
    train_seconds = time.perf_counter() - began
    val = _validate(run, epoch)
    return {"epoch": epoch + 1, "train_loss": stats["train_loss"], "train_error": stats["train_error"],
            "val_top1_error": val["top1_error"], "val_top5_error": val["top5_error"],
            "lr": run.optimizer.param_groups[0]["lr"], "seconds": time.perf_counter() - began,
            "img_s": stats["images"] / train_seconds}


def _between_steps(run: Run, epoch: int, stop: StopSignals):
    """After each step: a checkpoint every train.checkpoint_every steps, and on a stop signal one more
    checkpoint, then RunStopped. Every rank decides alike, so the collectives below match."""
    every = run.config.train.checkpoint_every

    def after(done: int, tally: EpochTally) -> None:
        signum = stop.requested(run.world, run.pipeline.device)
        if not signum and not (every and done % every == 0 and done < run.steps):
            return
        total = EpochTally(*distributed.sum_over_ranks([tally.loss_sum, tally.wrong, tally.seen], run.world,
                                                       run.pipeline.device))
        if run.world.is_main:
            save_checkpoint(run.dir / "checkpoints" / "last.pt", run.state(epoch, {}, done, total))
        run.saved = (epoch, done)
        if signum:
            distributed.barrier(run.world)  # the checkpoint is whole before any rank exits
            raise RunStopped(f"{run.dir}: {signal_name(signum)} at epoch {epoch + 1}, step {done}/{run.steps}; "
                             f"checkpoint written, continue with: ilsvrc train --resume {run.dir}", signum)

    return after


def _validate(run: Run, epoch: int) -> dict:
    """The validation figures after `epoch` (NaN where train.eval_every skips it); steps the plateau schedule."""
    t = run.config.train
    if not is_validation_epoch(epoch + 1, t.epochs, t.eval_every):
        return NOT_VALIDATED
    distributed.sync_buffers(run.model, run.world)
    val = evaluate(run.model, run.pipeline, run.config.data.val_split, t.eval_tta, t.precision)
    run.schedule.epoch_end(val["top1_error"])
    return val


def _record_epoch(run: Run, row: dict, is_best: bool) -> None:
    """metrics.csv, the epoch's line and the checkpoints (rank 0's job)."""
    run.log.write(row)
    warning = watch.stuck_warning(row["train_loss"], len(run.train_ds.classes), row["epoch"], run.steps)
    if warning:
        print(warning, file=sys.stderr)
    if progress.enabled():
        print(f"epoch {row['epoch']}/{run.config.train.epochs}: loss {row['train_loss']:.4f}"
              f"  train error {row['train_error']:.4f}  val top-1 {row['val_top1_error']:.4f}"
              f"  top-5 {row['val_top5_error']:.4f}  lr {row['lr']:.3g}  {row['seconds']:.1f}s  {row['img_s']:.0f} img/s")
    state = run.state(row["epoch"], row)
    if is_best:  # before last.pt: killed in between, a resumed run redoes this epoch and writes both again
        save_checkpoint(run.dir / "checkpoints" / "best.pt", state)
    save_checkpoint(run.dir / "checkpoints" / "last.pt", state)


def _write_summary(run: Run, row: dict, seconds: float) -> None:
    """summary.json: the run's line in a results table (the demo, the report)."""
    config = run.config
    summary = {"name": config.model.name, "approach": "ConvNet", "model": config.model.name,
               "top1_error": row["val_top1_error"], "top5_error": row["val_top5_error"],
               "train_seconds": round(seconds, 1), "params": sum(p.numel() for p in run.model.parameters()),
               "epochs": config.train.epochs, "best_epoch": row["epoch"], "data": str(config.data.path),
               "split": config.data.val_split}
    write_json_atomic(run.dir / "summary.json", summary)


def train_command(config: str | None = None, out: str | None = None, data: str | None = None,
                  epochs: int | None = None, batch_size: int | None = None, device: str | None = None,
                  set: list[str] | None = None, resume: str | None = None) -> int:
    overrides = list(set or [])
    for key, value in (("data.path", data), ("train.epochs", epochs), ("optim.batch_size", batch_size),
                       ("train.device", device)):
        if value is not None:
            overrides.append(f"{key}={value}")
    resume = _auto_resume(out, config) if resume == "auto" else resume
    if resume:
        run_config = _resumed_config(Path(resume), overrides)
        out = resume
    elif config and out:
        run_config = load_config(config, overrides)
    else:
        raise ConfigError("give --config and --out to start a run, or --resume RUN_DIR to continue one")
    if not resume:
        check_new_run_folder(out)  # a file, or a folder already holding a run: refused before any work
    row = train(run_config, out, resume=bool(resume))
    if row and distributed.world_from_env().is_main:
        print(f"done: val top-1 error {row['val_top1_error'] * 100:.2f}%, top-5 {row['val_top5_error'] * 100:.2f}%"
              f" -> {out}")
    return 0


def _resumed_config(run_dir: Path, overrides: list[str]) -> RunConfig:
    path = run_dir / "config.yaml"
    if not path.is_file():
        raise ConfigError(f"{run_dir}: not a run folder (no config.yaml)")
    return load_config(str(path), overrides)


def _auto_resume(out: str | None, config: str | None) -> str | None:
    """`--resume auto`: the run folder if it holds a checkpoint, else None (start it), so that one command
    line can be requeued after every preemption."""
    if not out:
        raise ConfigError("--resume auto needs --out RUN_DIR (and --config, to start the run the first time)")
    if (Path(out) / "checkpoints" / "last.pt").is_file():
        return out
    if not config:
        raise ConfigError(f"{out}: no checkpoint to resume yet; give --config too, to start the run")
    return None
