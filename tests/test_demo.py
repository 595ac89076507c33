"""`ilsvrc demo` end to end on a tiny learnable dataset: the three entries, results.json and the report."""
import json

from ilsvrc import demo as demo_module
from ilsvrc.data.prepare import PackOptions, prepare
from fixtures import write_learnable_idx


def make_tiny_packed(tmp_path):
    """A learnable 10-class set of 28x28 images, packed: each class is a brightness band."""
    write_learnable_idx(tmp_path / "raw", train=90, test=30)
    prepare(tmp_path / "raw", tmp_path / "packed", options=PackOptions())


def test_demo_writes_the_table_results_and_report(tmp_path, monkeypatch, capsys):
    make_tiny_packed(tmp_path)
    monkeypatch.setattr(demo_module, "QUICK", demo_module.Budget("quick", None, 1, 1, ["tiny test budget"]))

    results = demo_module.demo(str(tmp_path / "packed"), tmp_path / "out", quick=True)

    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert saved["entries"] == results["entries"] and len(saved["entries"]) == 3
    approaches = sorted(e["approach"] for e in saved["entries"])
    assert approaches == ["ConvNet", "ConvNet", "hand-designed features + SVM"]
    for entry in saved["entries"]:
        assert set(entry) >= {"name", "approach", "top1_error", "top5_error", "train_seconds", "params"}
        assert 0 <= entry["top5_error"] <= entry["top1_error"] <= 1 and entry["params"] > 0
    assert saved["margin"]["top1_points"] == (
        min(e["top1_error"] for e in saved["entries"] if e["approach"] != "ConvNet")
        - min(e["top1_error"] for e in saved["entries"] if e["approach"] == "ConvNet")) * 100
    assert (tmp_path / "out" / "report.html").stat().st_size > 10_000
    assert (tmp_path / "out" / "report.md").exists()
    printed = capsys.readouterr().out
    assert "QUICK settings" in printed and "Krizhevsky et al. 2012" in printed and "margin:" in printed

