"""Training that diverges, stalls at ln(K) or is interrupted: the run says so in plain words and keeps
its last good checkpoint; and `ilsvrc train` killed with SIGKILL anywhere resumes to the same weights."""
import csv
import json
import math
import sys

import numpy as np
import pytest
import torch

from ilsvrc.cli import main
from ilsvrc.config import load_config
from ilsvrc.data.prepare import PackOptions, prepare
from ilsvrc.engine import train as train_module
from ilsvrc.engine import watch
from ilsvrc.engine.run_log import METRICS
from ilsvrc.engine.checkpoint import load_checkpoint
from ilsvrc.engine.train import train
from fixtures import kill_and_resume, reference_run, write_split


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    root = tmp_path_factory.mktemp("watch")
    rng = np.random.default_rng(0)
    labels = np.arange(480) % 10
    images = (rng.integers(0, 60, (480, 28, 28)) + labels[:, None, None] * 19).astype(np.uint8)  # learnable
    write_split(root / "raw", images[:400], labels[:400], "train", gz=True)
    write_split(root / "raw", images[400:], labels[400:], "t10k", gz=True)
    prepare(root / "raw", root / "packed", options=PackOptions(workers=1))
    return root / "packed"


SETS = ["optim.batch_size=16", "train.threads=1", "schedule.kind=plateau", "schedule.patience=1", "data.flip=true"]


def tiny_config(packed, epochs, *extra):
    return load_config("fashion-mnist-lenet5", [f"data.path={packed}", f"train.epochs={epochs}", *SETS, *extra])


def command(packed, out, epochs=3):
    args = ["--config", "fashion-mnist-lenet5", "--data", packed, "--out", out, "--epochs", epochs, "--quiet"]
    return ["train", *map(str, args), *[a for s in SETS for a in ("--set", s)]]


def patched_step(monkeypatch, at_call: int, replace):
    """make_step's step, with call number `at_call` (0-based, counted over the run) replaced."""
    real = train_module.make_step
    calls = {"n": 0}

    def make_step(*args, **kwargs):
        step = real(*args, **kwargs)

        def patched(x, y):
            calls["n"] += 1
            return replace(step, x, y) if calls["n"] - 1 == at_call else step(x, y)
        return patched

    monkeypatch.setattr(train_module, "make_step", make_step)


def _nan_loss(step, x, y):
    loss, logits = step(x, y)
    return torch.tensor(math.nan), logits


def test_a_nan_loss_stops_the_run_naming_epoch_and_step_and_keeps_the_good_checkpoint(packed, tmp_path, monkeypatch,
                                                                                      capsys):
    patched_step(monkeypatch, at_call=25 + 2, replace=_nan_loss)  # 25 steps per epoch: epoch 2, step 3
    run = tmp_path / "run"
    assert main(command(packed, run)) == 1
    err = capsys.readouterr().err
    lr = load_checkpoint(run, "last")["optimizer"]["param_groups"][0]["lr"]
    assert err == (f"ilsvrc: error: {run}: training diverged: the loss is nan at epoch 2, step 3 (lr {lr:.3g}); "
                   "checkpoints/last.pt still holds epoch 1, the last good one. Usual causes: a learning rate too "
                   "high (optim.lr), inputs not normalised, a damaged dataset\n")
    assert load_checkpoint(run, "last")["epoch"] == 1
    assert len((run / "metrics.csv").read_text().splitlines()) == 2  # the header and epoch 1


def test_a_learning_rate_far_too_high_diverges_in_one_line(packed, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(command(packed, run, epochs=1) + ["--set", "optim.lr=1e12"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"ilsvrc: error: {run}: training diverged: the loss is ") and err.count("\n") == 1
    assert "epoch 1, step " in err and "no checkpoint was written" in err


def test_a_loss_stuck_at_ln_k_warns_with_the_usual_causes(packed, tmp_path, monkeypatch, capsys):
    def uniform(*args, **kwargs):  # logits all equal: the loss of uniform guessing, ln(10), at every step
        return lambda x, y: (torch.tensor(math.log(10)), torch.zeros(len(y), 10))

    monkeypatch.setattr(train_module, "make_step", uniform)
    train(tiny_config(packed, 1, "optim.batch_size=8"), tmp_path / "run")  # 50 steps
    assert capsys.readouterr().err == (
        "warning: epoch 1: the training loss stayed at ln(10) = 2.303 (uniform guessing) for the whole epoch: the "
        "model is not learning. Usual causes: biases initialised to 1 in a net of this depth (model.options.init: "
        "kaiming or caffe), a learning rate too high (optim.lr), inputs not normalised (the data's mean and std)\n")


def test_the_stuck_test_is_ln_k_within_one_percent_over_enough_steps():
    assert watch.stuck_warning(2.30, 10, 1, 50) is not None  # ln(10) = 2.3026
    assert watch.stuck_warning(2.302585 * 1.011, 10, 1, 50) is None
    assert watch.stuck_warning(6.91, 1000, 3, 10_000).startswith("warning: epoch 3: the training loss stayed at "
                                                                  "ln(1000) = 6.908")
    assert watch.stuck_warning(2.30, 10, 1, 49) is None  # too few steps to tell


def _interrupt(step, x, y):
    raise KeyboardInterrupt


def test_ctrl_c_says_how_old_the_last_checkpoint_is_and_the_run_resumes_exactly(packed, tmp_path, monkeypatch,
                                                                                  capsys):
    straight = tmp_path / "straight"
    train(tiny_config(packed, 3), straight)
    patched_step(monkeypatch, at_call=25 + 7, replace=_interrupt)
    run = tmp_path / "run"
    assert main(command(packed, run)) == 130
    assert capsys.readouterr().err == (f"{run}: interrupted at epoch 2, step 7 of 25: checkpoints/last.pt holds "
                                       f"epoch 1, 7 steps behind; continue with `ilsvrc train --resume {run}`\n"
                                       "ilsvrc: interrupted\n")
    monkeypatch.undo()
    assert main(["train", "--resume", str(run), "--quiet"]) == 0
    a, b = load_checkpoint(straight, "last"), load_checkpoint(run, "last")
    assert all(torch.equal(value, b["model"][key]) for key, value in a["model"].items())


# --- kill -9 ---------------------------------------------------------------------------------------------

def _cli(args):
    return [sys.executable, "-m", "ilsvrc", *args]


def check_run_files(run, reference):
    """Every file of the run folder with a final name reads; checkpoints hold whole epochs of the reference."""
    for which in ("last", "best"):
        if (run / "checkpoints" / f"{which}.pt").exists():
            state = load_checkpoint(run, which)
            expected = torch.load(reference / "checkpoints" / f"epoch{state['epoch']}.pt", weights_only=True)["model"]
            assert all(torch.equal(v, expected[k]) for k, v in state["model"].items())
    if (run / "metrics.csv").exists():
        with open(run / "metrics.csv", newline="") as f:
            rows = list(csv.reader(f))
        assert rows[0] == list(METRICS) and all(len(r) == len(rows[0]) for r in rows)
    if (run / "config.yaml").exists():
        load_config(str(run / "config.yaml"))
    if (run / "summary.json").exists():
        json.loads((run / "summary.json").read_text())


def metrics_without_timings(run):
    with open(run / "metrics.csv", newline="") as f:
        return [r[:6] for r in csv.reader(f)]  # seconds and img/s differ from run to run


def new_checkpoint(run):
    """For each start: a predicate true once the process has written a checkpoint of its own, so that
    a kill "in the writing phase" always falls after one and tests resuming from it."""
    path = run / "checkpoints" / "last.pt"

    def per_start():
        before = path.stat().st_mtime_ns if path.exists() else None
        return lambda: path.exists() and path.stat().st_mtime_ns != before

    per_start.per_start = True
    return per_start


def train_kills(packed, tmp_path, kills, seed):
    reference = tmp_path / "reference"
    args = command(packed, reference, epochs=4)
    # "writing": from the first checkpoint on, where a kill tests resuming from one
    timing = reference_run(_cli(args), lambda: (reference / "checkpoints" / "last.pt").exists(),
                           lambda: (reference / "summary.json").exists())
    # each epoch's weights, to compare any checkpoint a killed run leaves with: the same run in this
    # process, keeping a copy of every last.pt it writes
    real_save = train_module.save_checkpoint

    def save_each(path, state):
        real_save(path, state)
        real_save(reference / "checkpoints" / f"epoch{state['epoch']}.pt", state)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(train_module, "save_checkpoint", save_each)
        train(tiny_config(packed, 4), tmp_path / "in-process")
    run = tmp_path / "run"
    start, resume = _cli(command(packed, run, epochs=4)), _cli(["train", "--resume", str(run), "--quiet"])
    # a fresh run until its folder holds config.yaml, then --resume
    landed = kill_and_resume(lambda: resume if (run / "config.yaml").exists() else start, kills, timing,
                             new_checkpoint(run), lambda: check_run_files(run, reference), seed)
    a, b = load_checkpoint(reference, "last"), load_checkpoint(run, "last")
    assert a["epoch"] == b["epoch"] == 4
    for which in ("last", "best"):
        a, b = load_checkpoint(reference, which), load_checkpoint(run, which)
        assert all(torch.equal(value, b["model"][key]) for key, value in a["model"].items()), which
    assert metrics_without_timings(run) == metrics_without_timings(reference)
    return landed


def test_train_survives_3_kills(packed, tmp_path):
    assert train_kills(packed, tmp_path, kills=3, seed=0) >= 1


@pytest.mark.slow
def test_train_survives_20_kills(packed, tmp_path):
    landed = train_kills(packed, tmp_path, kills=20, seed=1)
    print(f"train: {landed} of 20 kills landed; final weights identical")
    # a resumed run has less left to do than the reference, so late kill moments can find it finished
    assert landed >= 5
