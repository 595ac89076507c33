"""The crowd-type sweep: its summary arithmetic by hand, and a tiny run end to end."""
import json

import numpy as np

from fixtures import write_tiny_idx
from ilsvrc import cli
from ilsvrc.label.experiment import Budget
from ilsvrc.label.experiment_crowds import best_methods, markdown, run_crowd_sweep, summarize


def rows(method, accuracies, costs=(1.0, 1.0)):
    return [{"crowd": "c", "seed": s, "workers": 3, "method": method, "accuracy": a, "cost_per_image": c}
            for s, (a, c) in enumerate(zip(accuracies, costs))]


def test_summary_gives_mean_spread_and_the_gain_paired_by_seed():
    summary = summarize(rows("majority", [0.80, 0.90]) + rows("glad", [0.85, 0.99], (2.0, 4.0))
                        + rows("one-coin", [0.90, 0.80]))
    by_method = {r["method"]: r for r in summary}
    np.testing.assert_allclose(by_method["glad"]["accuracy"], [0.92, np.std([0.85, 0.99], ddof=1)])
    np.testing.assert_allclose(by_method["glad"]["cost_per_image"], [3.0, np.sqrt(2)])
    np.testing.assert_allclose(by_method["glad"]["gain"], [0.07, np.std([0.05, 0.09], ddof=1)])  # +5 and +9 points
    np.testing.assert_allclose(by_method["one-coin"]["gain"], [0.0, np.std([0.10, -0.10], ddof=1)])
    assert by_method["majority"]["gain"] == [0.0, 0.0]
    assert [r["method"] for r in best_methods(summary)] == ["glad"]
    table = markdown({"data": "d", "per_class": 1, "seeds": [0, 1], "summary": summary})
    assert "| c | 3 | glad | 92.00% +- 9.90% | $3.000 +- 1.414 | +7.00 +- 2.83 pt |" in table
    assert "| c | 3 | one-coin | 85.00% +- 7.07% | $1.000 +- 0.000 | +0.00 +- 14.14 pt (no gain) |" in table


def test_a_tiny_sweep_runs_every_crowd_and_method(tmp_path):
    data = write_tiny_idx(tmp_path / "tiny", train_per_class=20)
    budget = Budget("crowds", per_class=6, epochs=0, initial_per_class=4, workers=(1, 10), trained=())
    results = run_crowd_sweep(str(data), tmp_path / "out", seeds=(0, 1), presets=("classic", "spammy"), budget=budget)
    assert len(results["rows"]) == 2 * 2 * 2 * 6  # crowds x seeds x workers x methods
    assert {r["crowd"] for r in results["rows"]} == {"classic", "spammy"}
    assert json.loads((tmp_path / "out" / "crowds.json").read_text())["summary"] == results["summary"]
    assert "| spammy | 10 | majority |" in (tmp_path / "out" / "crowds.md").read_text()
    assert cli.main(["report", str(tmp_path / "out"), "--out", str(tmp_path / "report")]) == 0
    report = (tmp_path / "report" / "report.md").read_text()
    assert "Which aggregator, crowd by crowd" in report and "| spammy | 10 | majority |" in report
    assert report.count("| classic | 1 |") >= 2  # the best-method table and the full one


def test_bad_seed_count_is_a_one_line_error(capsys):
    assert cli.main(["label", "experiment", "--crowds", "--seeds", "0"]) != 0
    assert capsys.readouterr().err.strip() == "ilsvrc: error: --seeds must be at least 1, got 0"
