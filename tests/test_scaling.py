"""docs/SCALING.md's arithmetic and launch lines: the numbers follow from their formulas, and the SLURM
script and the two-machine torchrun lines parse as torchrun and ilsvrc read them."""
import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import torch
import torch.distributed.run as torchrun

from ilsvrc.bench import scaling
from ilsvrc.cli import build_parser, main
from ilsvrc.config import load_config

ROOT = Path(__file__).resolve().parents[1]
SBATCH = ROOT / "scripts" / "slurm" / "train-alexnet.sbatch"


def test_training_flops_are_the_operations_autograd_runs():
    a, b, c = 7, 5, 3  # forward 2ab + 2bc; backward: the second layer's input and weight gradients, the first's weight's
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 4 * 4, b), torch.nn.ReLU(), torch.nn.Linear(b, c))
    a = 3 * 4 * 4
    assert scaling.training_flops(net, image_size=4) == 4 * a * b + 6 * b * c


def test_alexnet_figures():
    from ilsvrc.bench.train_step import training_flops as bench_train_count
    from ilsvrc.models import create_model

    alexnet = create_model("alexnet")
    flops = scaling.training_flops(alexnet)
    x, y = torch.zeros(2, 3, 224, 224), torch.zeros(2, dtype=torch.long)
    assert flops == bench_train_count(alexnet, x, y) / 2 == 4_957_309_056  # the two-group network at 224 px
    assert scaling.allreduce_seconds(4 * 60_965_224, 8) == pytest.approx(2 * 7 / 8 * 243_860_896 / 450e9)
    assert scaling.allreduce_seconds(1e9, 1) == 0
    assert scaling.allreduce_seconds(1e9, 16) == pytest.approx(2 * 15 / 16 * 1e9 / 50e9)  # across machines


def test_a_row_of_the_table():
    row = scaling.scale_row(gpus=64, batch_per_gpu=100, flops_per_image=4e9, gpu_flops=2e14, gradient_bytes=2e8)
    assert row.global_batch == 6400 and row.steps == 90 * 1_281_167 // 6400
    assert row.compute_s == pytest.approx(100 * 4e9 / 2e14) and row.allreduce_s == pytest.approx(2 * 63 / 64 * 2e8 / 50e9)
    step = max(row.compute_s, row.allreduce_s)
    assert row.hours_overlapped == pytest.approx(row.steps * step / 3600)
    assert row.hours_serial == pytest.approx(row.steps * (row.compute_s + row.allreduce_s) / 3600)
    assert row.images_per_s_per_gpu == pytest.approx(100 / step)
    assert row.cores_per_gpu_jpeg == pytest.approx(100 / step / 1000)


def test_the_papers_utilisation():
    low, high = scaling.paper_utilisation(4_957_309_056)
    work = 90 * 1_281_167 * 4_957_309_056
    assert (low, high) == (pytest.approx(work / (2 * 1.58e12 * 6 * 86400)), pytest.approx(work / (2 * 1.58e12 * 5 * 86400)))
    assert 0.34 < low < high < 0.43


def test_command_json_and_the_table_in_the_docs(capsys):
    assert main(["bench", "scaling", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [r["gpus"] for r in result["rows"]] == [1, 8, 64, 1024]
    assert result["gradient_mb"] == pytest.approx(243.860896)
    assert main(["bench", "scaling"]) == 0
    table = capsys.readouterr().out
    assert table.strip() in (ROOT / "docs" / "SCALING.md").read_text()  # the docs show what the code computes
    assert main(["bench", "scaling", "--gpus", "0"]) == 1


def check_launch(words: list[str]) -> None:
    """A torchrun line: torchrun's own parser reads it, and ilsvrc's reads the command and its --set items."""
    args = torchrun.get_args_parser().parse_args(words[words.index("torchrun") + 1:])
    assert args.module and args.training_script == "ilsvrc"
    parsed = vars(build_parser().parse_args(args.training_script_args))
    assert parsed["_target"] == "ilsvrc.engine.train:train_command"
    load_config(parsed["config"], parsed["set"])  # every --set names a real field with a valid value


def test_the_sbatch_script_parses_and_dry_runs():
    assert subprocess.run(["bash", "-n", str(SBATCH)]).returncode == 0
    env = {**os.environ, "DRY_RUN": "1", "SLURM_NNODES": "4", "SLURM_JOB_ID": "7", "SLURM_GPUS_ON_NODE": "8"}
    line = subprocess.run(["bash", str(SBATCH)], env=env, capture_output=True, text=True, check=True).stdout
    words = shlex.split(line)
    assert words[:2] == ["srun", "--kill-on-bad-exit=1"]
    assert words[words.index("--nnodes") + 1] == "4" and words[words.index("--rdzv_id") + 1] == "7"
    check_launch(words)
    assert "#SBATCH --signal=B:USR1@" in SBATCH.read_text() and "--resume auto" in line


def test_the_two_machine_lines_in_the_docs_parse():
    lines = [line for line in (ROOT / "docs" / "SCALING.md").read_text().splitlines() if line.startswith("torchrun")]
    assert len(lines) == 3
    for line in lines:
        check_launch(shlex.split(line))
    ranks = [re.search(r"--node_rank (\d)", line) for line in lines[1:]]
    assert [r.group(1) for r in ranks] == ["0", "1"]
