"""The `ilsvrc label` commands end to end: simulate -> aggregate -> apply, the experiment, bad input."""
import csv
import json

import numpy as np
import pytest

from fixtures import write_csv_text, write_tiny_idx
from ilsvrc import cli
from ilsvrc.data import open_dataset
from ilsvrc.errors import ConfigError, DataError
from ilsvrc.label import experiment as experiment_module
from ilsvrc.label.commands import aggregate_command, apply_command, parse_classes, simulate_command

HAS_LABEL_COMMANDS = any(c.path[0] == "label" for c in cli.COMMANDS)


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture
def job(tmp_path):
    data = write_tiny_idx(tmp_path / "tiny", train_per_class=30)
    simulate_command(str(data), str(tmp_path / "job" / "votes.csv"), precision=0.25, hard=0.0, workers=5,
                     initial_per_class=10, crowd=25, seed=1, preset="classic")
    return data, tmp_path / "job"


def test_simulate_writes_votes_and_gold(job, capsys):
    _, folder = job
    votes, gold = read_rows(folder / "votes.csv"), read_rows(folder / "gold.csv")
    assert list(votes[0]) == ["task", "worker", "label", "seconds"] and list(gold[0]) == ["task", "label"]
    assert len(gold) == 10 * (30 + 90) and sum(r["label"] == "yes" for r in gold) == 300
    assert len(votes) == 100 * 10 + (1200 - 100) * 5


@pytest.mark.parametrize("method", ["majority", "dynamic-consensus", "dawid-skene", "one-coin"])
def test_aggregate_writes_labels_and_skills_and_scores_them(job, capsys, method):
    _, folder = job
    capsys.readouterr()
    aggregate_command(str(folder / "votes.csv"), method, str(folder / "labels.csv"), gold=str(folder / "gold.csv"),
                      initial_per_class=10, json=True)
    metrics = json.loads(capsys.readouterr().out)
    labels, workers = read_rows(folder / "labels.csv"), read_rows(folder / "labels.workers.csv")
    assert len(labels) == 1200 and list(labels[0]) == ["task", "label", "confidence", "votes"]
    assert len(workers) == 25 and list(workers[0]) == ["worker", "skill", "votes"]
    gold = {r["task"]: r["label"] for r in read_rows(folder / "gold.csv")}
    right = np.mean([gold[r["task"]] == r["label"] for r in labels])
    assert metrics["method"] == method and metrics["accuracy"] == pytest.approx(right)
    used = sum(int(r["votes"]) for r in labels)
    assert metrics["votes_used"] == used and metrics["cost"] == pytest.approx(used * 0.04 / 3)
    kept = [r for r in labels if r["label"] == "yes"]
    assert metrics["precision"] == pytest.approx(np.mean([gold[r["task"]] == "yes" for r in kept]))
    assert sum(int(w["votes"]) for w in workers) == metrics["votes_total"] == 6500
    if method == "dynamic-consensus":
        assert used < 6500


def test_apply_turns_aggregated_labels_into_a_training_set(job, capsys):
    data, folder = job
    aggregate_command(str(folder / "votes.csv"), "dawid-skene", str(folder / "labels.csv"))
    apply_command(str(folder / "labels.csv"), str(data), str(folder / "packed"))
    kept = sum(r["label"] == "yes" for r in read_rows(folder / "labels.csv"))
    train = open_dataset(folder / "packed", "train")
    assert 0 < len(train) <= kept and len(open_dataset(folder / "packed", "test")) == 30


def test_bad_votes_leave_no_labels_behind(tmp_path):
    votes = write_csv_text(tmp_path / "votes.csv", "task,worker,label\nt1,w1,yes\nt1,w2\n")
    with pytest.raises(DataError, match="line 3: expected 3 fields, got 2"):
        aggregate_command(str(votes), "majority", str(tmp_path / "labels.csv"))
    assert not any(tmp_path.glob("labels*"))


def test_classes_option_and_price():
    assert parse_classes("b,a, c") == ["b", "a", "c"]
    with pytest.raises(ConfigError, match="--classes must name distinct classes"):
        parse_classes("a,a")
    with pytest.raises(ConfigError, match="--price must not be negative"):
        aggregate_command("unused.csv", "majority", "out.csv", price=-1)


def test_experiment_writes_table_plot_and_json(tmp_path, capsys):
    data = write_tiny_idx(tmp_path / "tiny", train_per_class=20)
    budget = experiment_module.Budget("quick", per_class=8, epochs=1, initial_per_class=5, workers=(1, 10),
                                      trained=("majority",))
    results = experiment_module.run_experiment(str(data), tmp_path / "out", seed=0, budget=budget)
    rows = results["rows"]
    assert [(r["workers"], r["method"]) for r in rows[:3]] == [(0, "clean"), (1, "majority"), (1, "dynamic-consensus")]
    assert len(rows) == 1 + 2 * len(experiment_module.METHODS)
    assert rows[0]["images_kept"] == 80 and rows[0]["image_label_accuracy"] == 1.0
    trained = [r for r in rows if "test_accuracy" in r]
    assert [r["method"] for r in trained] == ["clean", "majority", "majority"]
    k1, k10 = (next(r for r in rows if r["workers"] == k and r["method"] == "majority") for k in (1, 10))
    assert k10["votes_used"] == 10 * results["job"]["candidates"] and k1["votes_used"] < k10["votes_used"]
    saved = json.loads((tmp_path / "out" / "experiment.json").read_text())
    assert saved["rows"] == rows
    table = (tmp_path / "out" / "experiment.md").read_text()
    assert "| workers / image | method |" in table and table.count("| majority |") == 2
    assert (tmp_path / "out" / "experiment.png").stat().st_size > 10_000

    assert cli.main(["report", str(tmp_path / "out"), "--out", str(tmp_path / "report")]) == 0  # its own section
    page = (tmp_path / "report" / "report.md").read_text()
    assert "## Crowd labelling on " in page and "| workers / image | method |" in page
    assert page.count("| majority |") == 2 and "(figures/crowd-labels-0.png)" in page
    assert (tmp_path / "report" / "figures" / "crowd-labels-0.png").read_bytes() == \
        (tmp_path / "out" / "experiment.png").read_bytes()
    assert "data:image/png;base64," in (tmp_path / "report" / "report.html").read_text()


@pytest.mark.skipif(not HAS_LABEL_COMMANDS, reason="the `label` rows are not in ilsvrc.cli.COMMANDS yet")
def test_cli_runs_simulate_and_aggregate(tmp_path, capsys):
    data = write_tiny_idx(tmp_path / "tiny", train_per_class=10)
    votes = tmp_path / "votes.csv"
    assert cli.main(["label", "simulate", "--data", str(data), "--out", str(votes), "--precision", "0.5",
                     "--initial-per-class", "2"]) == 0
    capsys.readouterr()
    assert cli.main(["label", "aggregate", str(votes), "--method", "majority", "--out", str(tmp_path / "l.csv"),
                     "--gold", str(tmp_path / "gold.csv"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["votes_total"] == 20 * 10 + 180 * 3
    assert cli.main(["label", "aggregate", str(tmp_path / "absent.csv"), "--method", "majority",
                     "--out", str(tmp_path / "x.csv")]) == 1
    assert "absent.csv: no such file" in capsys.readouterr().err


def test_report_names_a_damaged_experiment_record(tmp_path, capsys):
    folder = tmp_path / "experiment"
    folder.mkdir()
    (folder / "experiment.json").write_text('{"rows": []}')
    assert cli.main(["report", str(folder), "--out", str(tmp_path / "report")]) == 1
    assert capsys.readouterr().err.strip() == f"ilsvrc: error: {folder / 'experiment.json'}: not an ilsvrc label experiment record"
    assert not (tmp_path / "report").exists()


def test_the_per_class_breakdown_goes_to_its_own_file(tmp_path, capsys):
    # cat images: t1 (labelled cat), t2 (labelled dog: a miss); dog images: t3 (dog), t4 (dog)
    rows = "task,worker,label\nt1,a,cat\nt1,b,cat\nt2,a,dog\nt2,b,dog\nt3,a,dog\nt4,b,dog\nt4,a,emu\n"
    write_csv_text(tmp_path / "votes.csv", rows)
    write_csv_text(tmp_path / "gold.csv", "task,label\nt1,cat\nt2,cat\nt3,dog\nt4,dog\n")
    aggregate_command(str(tmp_path / "votes.csv"), "majority", str(tmp_path / "labels.csv"),
                      gold=str(tmp_path / "gold.csv"), json=True, by_class=str(tmp_path / "classes.csv"))
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["by_class"] == str(tmp_path / "classes.csv") and "votes_by_class" not in metrics
    table = read_rows(tmp_path / "classes.csv")
    assert [r["class"] for r in table] == ["cat", "dog", "emu"]
    cat, dog, emu = table
    assert (cat["tasks"], cat["kept"], cat["precision"], cat["recall"]) == ("1", "1", "1.0", "0.5")
    assert (dog["tasks"], dog["kept"], dog["precision"], dog["recall"]) == ("3", "3", "0.6667", "1.0")
    assert dog["answers_per_task"] == str(round(5 / 3, 3)) and (emu["tasks"], emu["precision"]) == ("0", "")
