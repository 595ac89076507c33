"""Data-parallel training: each rank's share of a batch, evaluation put back in order, and torchrun
end to end (two CPU processes over Gloo) giving the weights one process gets with the same global batch."""
import json
import os
import subprocess
import sys

import pytest
import torch

from ilsvrc.config import load_config
from ilsvrc.data.prepare import PackOptions, prepare
from ilsvrc.engine import distributed
from ilsvrc.engine.checkpoint import load_checkpoint
from ilsvrc.engine.devices import device_for
from ilsvrc.engine.distributed import World
from ilsvrc.engine.pipeline import Pipeline
from ilsvrc.engine.train import train
from ilsvrc.errors import ConfigError
from fixtures import packed_large as make_packed_large, write_learnable_idx

TWO = [World(0, 2), World(1, 2)]


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    write_learnable_idx(root / "raw", train=64, test=36)  # 36: not a multiple of the world size 8
    prepare(root / "raw", root / "packed", options=PackOptions())
    return root / "packed"


@pytest.fixture(scope="module")
def packed_large(tmp_path_factory):
    """ILSVRC-format archives packed as JPEGs with a shorter side of 40: the large-image path."""
    return make_packed_large(tmp_path_factory.mktemp("ddp-large"), classes=3, train_per_class=6, val_per_class=3,
                             side=40)


def test_world_comes_from_torchruns_variables():
    assert distributed.world_from_env({}) == World(0, 1, 0)
    world = distributed.world_from_env({"RANK": "5", "WORLD_SIZE": "8", "LOCAL_RANK": "1"})
    assert world == World(5, 8, 1) and world.distributed and not world.is_main
    with pytest.raises(ConfigError, match="RANK 8 is outside WORLD_SIZE 8"):
        distributed.world_from_env({"RANK": "8", "WORLD_SIZE": "8"})
    with pytest.raises(ConfigError, match="must be integers"):
        distributed.world_from_env({"RANK": "zero", "WORLD_SIZE": "2"})


def test_global_batch_must_divide_among_the_ranks():
    assert distributed.per_rank_batch(128, World(3, 8)) == 16
    with pytest.raises(ConfigError, match="optim.batch_size 128 .* among 3 processes"):
        distributed.per_rank_batch(128, World(0, 3))


def test_each_rank_takes_its_own_gpu_or_the_cpu():
    assert device_for(World(1, 2, 1), "cpu") == torch.device("cpu")
    with pytest.raises(ConfigError, match="train.device=cuda:3: under torchrun each process uses cuda:LOCAL_RANK"):
        device_for(World(1, 2, 1), "cuda:3")
    if not torch.cuda.is_available():
        assert device_for(World(1, 2, 1), "auto") == torch.device("cpu")


def test_interleave_puts_the_shards_back_in_dataset_order():
    n, world_size = 11, 3
    shards = [torch.arange(n)[list(distributed.shard_indices(n, World(r, world_size)))] for r in range(world_size)]
    assert [len(s) for s in shards] == [4, 4, 3]
    assert torch.equal(distributed.interleave(shards, n), torch.arange(n))


def test_model_parallel_nets_and_cpu_sync_bn_are_refused():
    from ilsvrc.models import create_model

    two_tower = create_model("alexnet-two-tower", num_classes=10, devices=("cpu", "cpu"))
    with pytest.raises(ConfigError, match="spreads itself over several devices"):
        distributed.data_parallel(two_tower, World(0, 2), torch.device("cpu"), sync_bn=False)
    with pytest.raises(ConfigError, match="train.sync_bn needs CUDA"):
        distributed.data_parallel(torch.nn.BatchNorm2d(3), World(0, 2), torch.device("cpu"), sync_bn=True)
    model = torch.nn.Linear(2, 2)
    assert distributed.data_parallel(model, World(), torch.device("cpu"), sync_bn=True) is model


def _pipelines(packed, preset, sets, worlds):
    config = load_config(preset, [f"data.path={packed}", "data.workers=0", *sets])
    return [Pipeline.build(config.data, 0, torch.device("cpu"), world=w) for w in worlds]


def _assert_ranks_make_the_one_process_batches(one, ranks, global_batch):
    whole = list(one.train_batches(epoch=1, batch_size=global_batch))
    shares = [list(p.train_batches(epoch=1, batch_size=global_batch // 2)) for p in ranks]
    assert len(whole) == len(shares[0]) == len(shares[1]) >= 2
    for (x, y), (x0, y0), (x1, y1) in zip(whole, *shares):
        assert torch.equal(distributed.interleave([y0, y1], len(y)), y)
        assert torch.equal(distributed.interleave([x0, x1], len(x)), x)


def test_small_image_ranks_together_are_the_one_process_batch(packed):
    one, *ranks = _pipelines(packed, "fashion-mnist-lenet5", ["data.pad=0", "data.flip=false"], [World(), *TWO])
    _assert_ranks_make_the_one_process_batches(one, ranks, 16)


def test_large_image_crops_and_flips_are_drawn_per_image_so_ranks_match_one_process(packed_large):
    sets = ["data.crop=32", "data.region=36", "data.lighting=0"]  # random crops and flips stay on
    one, *ranks = _pipelines(packed_large, "paper", sets, [World(), *TWO])
    _assert_ranks_make_the_one_process_batches(one, ranks, 8)


@pytest.mark.parametrize("tta", ["center", "10crop"])
@pytest.mark.parametrize("large", [False, True])
def test_evaluation_shards_cover_the_split_once(packed, packed_large, tta, large):
    data, preset, sets, split = ((packed_large, "paper", ["data.crop=32", "data.region=36"], "val") if large
                                 else (packed, "fashion-mnist-lenet5", [], "test"))
    one, *ranks = _pipelines(data, preset, sets, [World(), *TWO])
    views, labels = (torch.cat(parts) for parts in zip(*one.eval_batches(split, tta)))
    shares = [[torch.cat(parts) for parts in zip(*p.eval_batches(split, tta))] for p in ranks]
    assert torch.equal(distributed.interleave([v for v, _ in shares], len(views)), views)
    assert torch.equal(distributed.interleave([y for _, y in shares], len(labels)), labels)


def _torchrun(args, cwd):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "-m", "ilsvrc", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow  # a torchrun launch: two fresh Python processes importing torch
def test_torchrun_two_processes_train_the_one_process_weights(packed, tmp_path):
    sets = ["train.threads=1", "data.pad=0", "data.flip=false", "schedule.kind=cosine"]
    one = tmp_path / "one"
    train(load_config("fashion-mnist-lenet5", [f"data.path={packed}", "train.epochs=2", "optim.batch_size=16",
                                               *sets]), one)
    two = tmp_path / "two"
    args = ["train", "--config", "fashion-mnist-lenet5", "--data", str(packed), "--out", str(two), "--epochs", "2",
            "--batch-size", "16", "--quiet"] + [a for s in sets for a in ("--set", s)]
    done = _torchrun(args, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("done: val top-1 error") == 1  # rank 0 reports, the other rank is silent

    a, b = load_checkpoint(one, "last"), load_checkpoint(two, "last")
    assert a["epoch"] == b["epoch"] == 2 and a["model"].keys() == b["model"].keys()
    for key in a["model"]:  # the same global batches and averaged gradients: the same SGD path
        assert torch.allclose(a["model"][key], b["model"][key], atol=1e-5), key
    one_rows, two_rows = ((run / "metrics.csv").read_text().splitlines() for run in (one, two))
    assert len(two_rows) == 3  # header + 2 epochs, written once
    for r1, r2 in zip(one_rows[1:], two_rows[1:]):
        v1, v2 = r1.split(","), r2.split(",")
        assert v1[0] == v2[0] and float(v1[3]) == pytest.approx(float(v2[3]), abs=1 / 36)  # validation: all 36
        assert float(v1[1]) == pytest.approx(float(v2[1]), rel=1e-4)  # train loss over both ranks' images

    resumed = _torchrun(["train", "--resume", str(two), "--epochs", "3", "--quiet"], tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert load_checkpoint(two, "last")["epoch"] == 3
    assert [r.split(",")[0] for r in (two / "metrics.csv").read_text().splitlines()[1:]] == ["1", "2", "3"]


@pytest.mark.slow  # a torchrun launch: two fresh Python processes importing torch
def test_torchrun_with_a_batch_that_does_not_divide_is_a_one_line_error_on_each_rank(packed, tmp_path):
    done = _torchrun(["train", "--config", "fashion-mnist-lenet5", "--data", str(packed), "--out",
                      str(tmp_path / "run"), "--batch-size", "15", "--quiet"], tmp_path)
    assert done.returncode != 0
    assert "ilsvrc: error: optim.batch_size 15 (the global batch) must divide evenly among 2 processes" in done.stderr
    frames = [line for line in done.stderr.splitlines() if line.strip().startswith("File ")]
    assert not [f for f in frames if "/ilsvrc/" in f]  # the launcher reports the failed ranks; no rank crashed


def test_a_world_without_a_rendezvous_is_a_one_line_error(packed, tmp_path, capsys, monkeypatch):
    from ilsvrc.cli import main

    for name, value in {"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0"}.items():
        monkeypatch.setenv(name, value)
    for name in ("MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    assert main(["train", "--config", "fashion-mnist-lenet5", "--data", str(packed), "--out", str(tmp_path / "run"),
                 "--device", "cpu", "--quiet"]) != 0
    err = capsys.readouterr().err.strip()
    assert err.startswith("ilsvrc: error: rank 0 of 2 could not join the others: ") and "\n" not in err
    assert err.endswith("(launch with torchrun)") and not (tmp_path / "run").exists()


@pytest.mark.slow  # a torchrun launch: two fresh Python processes importing torch
def test_torchrun_eval_gives_the_one_process_figures(packed, tmp_path, capsys):
    from ilsvrc.cli import main

    run = tmp_path / "run"
    train(load_config("fashion-mnist-lenet5", [f"data.path={packed}", "train.epochs=1", "optim.batch_size=16",
                                               "train.threads=1"]), run)
    capsys.readouterr()  # training's epoch lines: only eval's JSON is read below
    args = ["eval", str(run), "--split", "test", "--tta", "10crop", "--json"]
    assert main(args) == 0
    one = json.loads(capsys.readouterr().out)
    done = _torchrun(args, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1  # rank 0 reports
    two = json.loads(lines[0])
    assert two["n"] == one["n"] == 36 and two["tta"] == "10crop"
    for key in ("top1_error", "top5_error", "per_class_accuracy"):
        assert two[key] == pytest.approx(one[key]), key
