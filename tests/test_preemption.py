"""Runs that survive a cluster: stopped by a signal after any step, they resume at exactly that step and
end with the weights an uninterrupted run has."""
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from ilsvrc.cli import main
from ilsvrc.data.loader import EpochBatches
from ilsvrc.engine import stopping
from ilsvrc.engine.checkpoint import load_checkpoint
from ilsvrc.engine.train import train
from fixtures import packed_learnable, tiny_config


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    return packed_learnable(tmp_path_factory.mktemp("preemption"), train=64, test=32)


def same_weights(a, b):
    a, b = load_checkpoint(a, "last"), load_checkpoint(b, "last")
    assert (a["epoch"], a["step"]) == (b["epoch"], b["step"])
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    for key, value in a["optimizer"]["state"].items():
        assert torch.equal(value["momentum_buffer"], b["optimizer"]["state"][key]["momentum_buffer"])


def stop_after(monkeypatch, calls: int, signum=signal.SIGTERM):
    """Make the run's stop check say `signum` at its `calls`-th asking (after that many steps)."""
    asked = {"n": 0}

    def requested(self, world=None, device=None):
        asked["n"] += 1
        return signum if asked["n"] >= calls else 0

    monkeypatch.setattr(stopping.StopSignals, "requested", requested)


def test_epoch_batches_start_mid_epoch():
    full = EpochBatches(50, 8, seed=3, drop_last=True)
    full.set_epoch(2)
    later = EpochBatches(50, 8, seed=3, drop_last=True)
    later.set_epoch(2, start=4)
    assert list(later) == list(full)[4:] and len(later) == len(full) - 4 == 2


@pytest.mark.parametrize("model", ["lenet5", "alexnet-small"])  # alexnet-small: dropout draws replayed too
def test_stopped_mid_epoch_resumes_to_the_uninterrupted_weights(packed, tmp_path, monkeypatch, capsys, model):
    extra = {"model.name": model, "optim.lr": 0.01}
    straight = tmp_path / "straight"
    train(tiny_config(packed, 2, **extra), straight)
    stopped = tmp_path / "stopped"
    with monkeypatch.context() as patch:
        stop_after(patch, 6)  # 4 steps an epoch: epoch 2, step 2
        with pytest.raises(stopping.RunStopped) as e:
            train(tiny_config(packed, 2, **extra), stopped)
    assert e.value.exit_code == stopping.PREEMPTED == 75
    assert str(e.value) == (f"{stopped}: SIGTERM at epoch 2, step 2/4; checkpoint written, continue with: "
                            f"ilsvrc train --resume {stopped}")
    state = load_checkpoint(stopped, "last")
    assert (state["epoch"], state["step"]) == (1, 2) and state["tally"]["seen"] == 32
    assert main(["train", "--resume", str(stopped), "--quiet"]) == 0
    same_weights(straight, stopped)
    figures = [[r.split(",")[:5] for r in (run / "metrics.csv").read_text().splitlines()] for run in (straight, stopped)]
    assert figures[0] == figures[1]  # epoch, train loss and error (the tally carried over), val errors


def test_checkpoint_every_n_steps(packed, tmp_path, monkeypatch):
    saved = []
    import ilsvrc.engine.train as engine_train

    real = engine_train.save_checkpoint
    monkeypatch.setattr(engine_train, "save_checkpoint",
                        lambda path, state: (saved.append((path.name, state["epoch"], state["step"])),
                                             real(path, state)))
    train(tiny_config(packed, 2, **{"train.checkpoint_every": 3}), tmp_path / "run")
    assert [s for s in saved if s[0] == "last.pt"] == [("last.pt", 0, 3), ("last.pt", 1, 0), ("last.pt", 1, 3),
                                                        ("last.pt", 2, 0)]


def test_ctrl_c_stops_with_a_checkpoint_and_status_130(packed, tmp_path, monkeypatch, capsys):
    stop_after(monkeypatch, 3, signal.SIGINT)
    run = tmp_path / "run"
    args = ["train", "--config", "fashion-mnist-lenet5", "--data", str(packed), "--out", str(run), "--epochs", "2",
            "--batch-size", "16", "--quiet"]
    assert main(args) == 130
    err = capsys.readouterr().err.strip()
    assert err == f"ilsvrc: stopped: {run}: SIGINT at epoch 1, step 3/4; checkpoint written, continue with: " \
                  f"ilsvrc train --resume {run}"
    assert load_checkpoint(run, "last")["step"] == 3


def test_resume_auto_starts_then_resumes(packed, tmp_path, capsys):
    run = tmp_path / "run"
    args = ["train", "--config", "fashion-mnist-lenet5", "--data", str(packed), "--out", str(run),
            "--batch-size", "16", "--resume", "auto", "--quiet"]
    assert main(args + ["--epochs", "1"]) == 0 and load_checkpoint(run, "last")["epoch"] == 1
    assert main(args + ["--epochs", "2"]) == 0 and load_checkpoint(run, "last")["epoch"] == 2
    assert main(["train", "--out", str(tmp_path / "new"), "--resume", "auto"]) == 1
    assert "no checkpoint to resume yet; give --config too" in capsys.readouterr().err


def test_sigterm_round_trip_in_a_real_process(packed, tmp_path):
    """SIGTERM to `ilsvrc train`: exit 75 after a checkpoint; the same command line again finishes the run
    with the weights of an uninterrupted one."""
    epochs = 12
    reference = tmp_path / "reference"
    train(tiny_config(packed, epochs, **{"train.checkpoint_every": 1}), reference)
    run = tmp_path / "run"
    command = [sys.executable, "-m", "ilsvrc", "train", "--config", "fashion-mnist-lenet5", "--data", str(packed),
               "--out", str(run), "--resume", "auto", "--epochs", str(epochs), "--quiet"] + \
        [a for s in ("optim.batch_size=16", "train.threads=1", "schedule.kind=plateau", "schedule.patience=1",
                     "data.pad=2", "data.flip=true", "train.checkpoint_every=1") for a in ("--set", s)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (run / "checkpoints" / "last.pt").exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 75, err
    assert "ilsvrc: stopped:" in err and "SIGTERM at epoch" in err
    stopped_at = load_checkpoint(run, "last")
    assert (stopped_at["epoch"], stopped_at["step"]) < (epochs, 0)
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    same_weights(reference, run)
