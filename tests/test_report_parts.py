"""The report's parts on known inputs: filter mosaics, neighbours, example picks, tables, renderers, errors."""
import io
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from ilsvrc.errors import ConfigError, DataError
from ilsvrc.models import create_model
from ilsvrc.report import figures, html, markdown
from ilsvrc.report.command import output_paths
from ilsvrc.report.convnet import first_layer_weights
from ilsvrc.report.document import Document, Figure, Paragraph, Section, Table
from ilsvrc.report.examples import confused_pairs, pick_examples, top_k
from ilsvrc.report.neighbours import nearest, pool_indices
from ilsvrc.report.runs import Entry, load_entries, margin, read_curves
from ilsvrc.report.sections import duration, results_table


def test_filter_mosaic_scales_each_kernel_on_its_own_with_white_gaps():
    weights = np.zeros((3, 1, 2, 2))
    weights[0, 0] = [[-1, 0], [1, 3]]
    weights[1, 0] = [[10, 20], [30, 50]]
    weights[2, 0] = 7.0  # constant: no range to scale
    mosaic = figures.filter_mosaic(weights, columns=2)
    assert mosaic.shape == (2 * 3 - 1, 2 * 3 - 1, 3)
    np.testing.assert_allclose(mosaic[0:2, 0:2, 0], [[0, 0.25], [0.5, 1]])
    np.testing.assert_allclose(mosaic[0:2, 3:5, 1], [[0, 0.25], [0.5, 1]])
    np.testing.assert_allclose(mosaic[3:5, 0:2], 0.5)
    assert (mosaic[2, :] == 1).all() and (mosaic[:, 2] == 1).all() and (mosaic[3:, 3:] == 1).all()
    assert (mosaic[..., 0] == mosaic[..., 2]).all()  # one input channel: gray


def test_filter_mosaic_keeps_rgb_channels_scaled_together():
    weights = np.stack([np.full((2, 2), 0.0), np.full((2, 2), 1.0), np.full((2, 2), 4.0)])[None]  # (1, 3, 2, 2)
    mosaic = figures.filter_mosaic(weights)
    np.testing.assert_allclose(mosaic[0, 0], [0, 0.25, 1])


class TwoTowers(nn.Module):
    """The shape of AlexNet on two GPUs, in miniature: each tower has its own conv1 and conv2."""

    def __init__(self):
        super().__init__()
        self.towers = nn.ModuleList(nn.ModuleDict({"conv1": nn.Conv2d(3, 4, 3), "conv2": nn.Conv2d(4, 4, 3)})
                                    for _ in range(2))


class NoConvolution(nn.Module):
    def __init__(self):
        super().__init__()
        self.config = SimpleNamespace(name="mlp")
        self.fc = nn.Linear(2, 2)


def test_first_layer_weights_are_the_first_convolution_of_every_tower():
    model = TwoTowers()
    weights = first_layer_weights(model)
    assert torch.equal(weights, torch.cat([model.towers[0]["conv1"].weight, model.towers[1]["conv1"].weight]))
    lenet = create_model("lenet5", num_classes=10, in_channels=1)
    assert torch.equal(first_layer_weights(lenet), lenet.c1.weight)
    with pytest.raises(ConfigError, match="has no convolution"):
        first_layer_weights(NoConvolution())


def test_nearest_agrees_with_brute_force_distances():
    rng = np.random.default_rng(1)
    queries, pool = rng.normal(size=(4, 7)), rng.normal(size=(50, 7))
    pool[10] = pool[3]  # a tie: the lower pool position comes first
    queries[0] = pool[3]
    distances, positions = nearest(torch.as_tensor(queries), torch.as_tensor(pool), k=6)
    brute = np.sqrt(((queries[:, None, :] - pool[None]) ** 2).sum(-1))
    expected = np.argsort(brute, axis=1, kind="stable")[:, :6]
    np.testing.assert_array_equal(positions.numpy(), expected)
    np.testing.assert_allclose(distances.numpy(), np.take_along_axis(brute, expected, 1), atol=1e-9)
    assert positions[0, :2].tolist() == [3, 10]


def test_pool_indices_are_a_sorted_subset_without_repeats():
    assert pool_indices(7, 10).tolist() == list(range(7))
    picked = pool_indices(1000, 100, seed=3)
    assert len(set(picked.tolist())) == 100 and (np.diff(picked) > 0).all() and picked.max() < 1000
    assert picked.tolist() == pool_indices(1000, 100, seed=3).tolist()
    assert picked.min() < 100 and picked.max() > 900  # drawn across the split, not its front


def test_pick_examples_covers_classes_first_then_fills():
    labels = np.array([0, 0, 0, 1, 1, 2, 0, 0])
    picks = pick_examples(labels, 5, seed=0)
    assert len(picks) == len(set(picks)) == 5
    assert sorted(labels[picks[:3]].tolist()) == [0, 1, 2]
    assert picks == pick_examples(labels, 5, seed=0)
    assert sorted(pick_examples(labels, 20)) == list(range(8))


def test_top_k_orders_scores_and_breaks_ties_by_class():
    scores = torch.tensor([0.1, 0.3, 0.3, 0.05, 0.25])
    assert top_k(scores, 3) == [(1, pytest.approx(0.3)), (2, pytest.approx(0.3)), (4, pytest.approx(0.25))]


def test_confused_pairs_lists_off_diagonal_counts_largest_first():
    confusion = np.array([[9, 4, 0], [1, 8, 6], [0, 0, 5]])
    assert confused_pairs(confusion, 2) == [(1, 2, 6), (0, 1, 4)]
    assert confused_pairs(confusion, 10) == [(1, 2, 6), (0, 1, 4), (1, 0, 1)]
    assert confused_pairs(np.eye(3, dtype=int) * 5, 3) == []


def _entry(name, approach, top1, top5):
    return Entry(None, {"name": name, "approach": approach, "top1_error": top1, "top5_error": top5,
                        "train_seconds": 1.0, "params": 10})


def test_margin_is_best_convnet_against_best_traditional_entry():
    entries = [_entry("a", "ConvNet", 0.10, 0.02), _entry("b", "ConvNet", 0.30, 0.05),
               _entry("svm", "features + SVM", 0.25, 0.04), _entry("knn", "pixels + kNN", 0.40, 0.1)]
    m = margin(entries)
    assert (m["convnet"], m["traditional"]) == ("a", "svm")
    assert m["top1_points"] == pytest.approx(15.0) and m["top5_points"] == pytest.approx(2.0)
    assert margin(entries[:2]) is None


def test_results_table_formats_and_drops_empty_columns():
    rows = [{"name": "1 CNN", "approach": "ConvNet", "top1_error": 0.407, "top5_error": 0.182, "note": "val"},
            {"name": "SIFT + FV", "approach": "features", "top1_error": None, "top5_error": 0.262}]
    table = results_table(rows, "reference")
    assert table.header == ["entry", "approach", "top-1 error", "top-5 error", "note"]
    assert table.rows == [["1 CNN", "ConvNet", "40.70%", "18.20%", "val"],
                          ["SIFT + FV", "features", "–", "26.20%", "–"]]
    assert table.align == "llrrl"
    assert [duration(s) for s in (12.34, 600, 7200)] == ["12.3 s", "10.0 min", "2.0 h"]


def _png(colour) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 3), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def _document() -> Document:
    table = Table(["entry", "top-1"], [["a|b_c", "1.00%"]], "lr", "Results <best>")
    return Document("Title & *more*", ["quick run"], [
        Section("Results", [Paragraph("x < y & z"), table]),
        Section("Figures", [Figure("curves", _png("red"), "alt \"text\"", "caption")]),
    ])


def test_html_escapes_text_and_embeds_figures_as_data_uris():
    page = html.render(_document())
    assert "<title>Title &amp; *more*</title>" in page and "<p>x &lt; y &amp; z</p>" in page
    assert '<td class="l">a|b_c</td><td class="r">1.00%</td>' in page
    assert '<section id="results">' in page and '<a href="#figures">Figures</a>' in page
    assert 'alt="alt &quot;text&quot;"' in page
    assert "data:image/png;base64," in page and "<script" not in page and "http" not in page


def test_markdown_escapes_table_cells_and_links_figure_files():
    text = markdown.render(_document(), "figs")
    assert "# Title & \\*more\\*" in text and "> **Note:** quick run" in text
    assert "| entry | top-1 |\n| :--- | ---: |\n| a\\|b\\_c | 1.00% |" in text
    assert "**Results \\<best\\>**" in text
    assert '![alt "text"](figs/curves.png)' in text


def test_output_paths_for_a_folder_or_an_html_file(tmp_path):
    assert output_paths(tmp_path / "out") == (tmp_path / "out" / "report.html", tmp_path / "out" / "report.md",
                                              tmp_path / "out" / "figures")
    assert output_paths(tmp_path / "page.html") == (tmp_path / "page.html", tmp_path / "page.md",
                                                    tmp_path / "figures")


def test_unusable_run_folders_are_named(tmp_path):
    with pytest.raises(DataError, match=f"^{tmp_path}: no summary.json: not a finished run"):
        load_entries([tmp_path])
    (tmp_path / "summary.json").write_text("{not json")
    with pytest.raises(DataError, match="summary.json: unreadable summary"):
        load_entries([tmp_path])
    (tmp_path / "summary.json").write_text(json.dumps({"name": "x", "approach": "ConvNet"}))
    with pytest.raises(DataError, match="summary.json: summary lacks top1_error, top5_error, train_seconds, params"):
        load_entries([tmp_path])
    summary = {"name": "x", "approach": "ConvNet", "top1_error": "0.1", "top5_error": 0.0, "train_seconds": 1,
               "params": 1}
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(DataError, match="top1_error and top5_error must be numbers"):
        load_entries([tmp_path])
    (tmp_path / "summary.json").write_text(json.dumps(summary | {"top1_error": 0.1}))
    with pytest.raises(DataError, match="metrics.csv: cannot read"):
        load_entries([tmp_path])
    (tmp_path / "metrics.csv").write_text("epoch,train_error\n1,0.5\n")
    with pytest.raises(DataError, match="metrics.csv: expected numeric columns epoch, train_error, val_top1_error"):
        read_curves(tmp_path / "metrics.csv")


def test_entries_sharing_a_name_are_told_apart_by_their_folders(tmp_path):
    for folder, error in (("small-lr", 0.2), ("large-lr", 0.1), ("svm", 0.3)):
        (tmp_path / folder).mkdir()
        name = "svm" if folder == "svm" else "lenet5"
        summary = {"name": name, "approach": "pixels + SVM", "top1_error": error, "top5_error": 0.0,
                   "train_seconds": 1, "params": 1}
        (tmp_path / folder / "summary.json").write_text(json.dumps(summary))
    entries = load_entries([tmp_path / "small-lr", tmp_path / "large-lr", tmp_path / "svm"])
    assert [e.name for e in entries] == ["lenet5 (large-lr)", "lenet5 (small-lr)", "svm"]


def test_one_right_picks_the_images_one_model_gets_and_the_other_misses():
    from ilsvrc.engine.evaluation import RunScores
    from ilsvrc.report.examples import as_probabilities, one_right

    labels = torch.tensor([0, 1, 2, 0, 1])
    right = torch.nn.functional.one_hot(torch.tensor([0, 1, 2, 1, 1]), 3).float()  # wrong on image 3
    svm = torch.nn.functional.one_hot(torch.tensor([1, 1, 0, 0, 1]), 3).float() - 0.5  # wrong on 0 and 2
    a = RunScores(svm, labels, ["a", "b", "c"], ["a", "b", "c"], "test", "center")
    b = RunScores(right, labels, ["a", "b", "c"], ["a", "b", "c"], "test", "center")
    assert sorted(one_right(a, b, 4)) == [0, 2] and one_right(b, a, 4) == [3] and one_right(a, b, 1) in ([0], [2])
    torch.testing.assert_close(as_probabilities(b), right)  # probabilities stay as they are
    torch.testing.assert_close(as_probabilities(a).sum(1), torch.ones(5))  # decision values through a softmax
