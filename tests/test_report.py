"""`ilsvrc report` end to end: two tiny ConvNet runs and a baseline run, the page, its Markdown twin, Chromium."""
import base64
import io
import json
import re
import shutil
import subprocess

import numpy as np
import pytest
import torch
from PIL import Image

import ilsvrc.scoring
from ilsvrc.cli import main
from ilsvrc.data.prepare import PackOptions, prepare
from ilsvrc.data.readers.packed import PackedDataset
from ilsvrc.engine.train import train
from ilsvrc.engine.evaluation import RunScores
from ilsvrc.report import write_report
from ilsvrc.report.build import EXAMPLES, NEIGHBOURS, QUERIES, build_document, neighbour_rows
from ilsvrc.report.convnet import load_convnet
from ilsvrc.report.examples import pick_examples
from fixtures import tiny_config, write_split

SECTIONS = ("Results", "Learning curves", "First-layer filters", "Confusion matrix", "Top-5 predictions",
            "Nearest neighbours", "Seeing differently")
FIGURES = ("learning_curves", "first_layer_filters", "confusion_matrix", "top5_predictions", "nearest_neighbours",
           "seeing-differently-gained", "seeing-differently-lost")
CHROMIUM = "/usr/bin/chromium"
BASELINE_MISTAKES = 3  # the fake baseline's first test images, each predicted as the next class


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    """100 training and 40 test images: noise, and a bright bar whose place is the class (so no flips)."""
    root = tmp_path_factory.mktemp("report-data")
    rng = np.random.default_rng(0)
    labels = np.arange(140) % 10
    images = rng.integers(0, 50, (140, 28, 28)).astype(np.uint8)
    for image, label in zip(images, labels):
        row, column = divmod(int(label), 5)
        image[3 + 12 * row:12 + 12 * row, 1 + 5 * column:6 + 5 * column] = 230
    write_split(root / "raw", images[:100], labels[:100], "train", gz=True)
    write_split(root / "raw", images[100:], labels[100:], "t10k", gz=True)
    prepare(root / "raw", root / "packed", options=PackOptions())
    return root / "packed"


def baseline_run(folder, packed, top1_error):
    """A run folder of the pre-2012 pipeline as `ilsvrc baseline` leaves it; its scores come from `fake_scores`."""
    folder.mkdir()
    (folder / "baseline.json").write_text("{}")
    summary = {"name": "hog-svm", "approach": "hand-designed features + SVM", "model": "hog",
               "top1_error": top1_error, "top5_error": 0.0, "train_seconds": 2.5, "params": 7850, "epochs": None,
               "data": str(packed), "split": "test"}
    (folder / "summary.json").write_text(json.dumps(summary))
    return folder


def fake_scores(packed) -> RunScores:
    test = PackedDataset(packed, "test")
    labels = torch.as_tensor(test.labels())
    predicted = labels.clone()
    predicted[:BASELINE_MISTAKES] = (labels[:BASELINE_MISTAKES] + 1) % 10
    scores = torch.nn.functional.one_hot(predicted, 10).float() - 0.5  # SVM-like decision values
    return RunScores(scores, labels, list(test.classes), list(test.class_names), "test", "center")


@pytest.fixture(scope="module")
def runs(packed, tmp_path_factory):
    root = tmp_path_factory.mktemp("report-runs")
    plain = {"data.flip": "false", "data.pad": 0, "schedule.kind": "cosine"}
    train(tiny_config(packed, 2, **plain), root / "lenet5")
    train(tiny_config(packed, 3, **plain, **{"model.name": "alexnet-small", "optim.lr": 0.01}), root / "alexnet")
    real = ilsvrc.scoring.run_scores

    def run_scores(run, data=None, split="val", tta=None, device="auto", which="best"):
        if ilsvrc.scoring.is_baseline_run(run):
            return fake_scores(packed)
        return real(run, data, split, tta, device, which)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ilsvrc.scoring, "run_scores", run_scores)
        yield {"lenet5": root / "lenet5", "alexnet": root / "alexnet",
               "baseline": baseline_run(root / "hog-svm", packed, top1_error=0.99),
               "best-baseline": baseline_run(root / "hog-best", packed, top1_error=BASELINE_MISTAKES / 40)}


CONTEXT = {"notes": ["quick settings: 2 epochs"],
           "reference": [{"name": "1 CNN (AlexNet)", "approach": "ConvNet", "top1_error": 0.407, "top5_error": 0.182,
                          "note": "val"},
                         {"name": "SIFT + FV", "approach": "features + SVM", "top1_error": None, "top5_error": 0.262}]}


@pytest.fixture(scope="module")
def report(runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("report-out")
    page = write_report([runs["lenet5"], runs["baseline"], runs["alexnet"]], out, title="Tiny <test> report",
                        context=CONTEXT)
    return {"page": page, "html": page.read_text(), "md": (out / "report.md").read_text(), "out": out}


def summaries(runs, names):
    return [json.loads((runs[n] / "summary.json").read_text()) for n in names]


def table_rows(page: str, caption: str) -> list[list[str]]:
    table = re.search(f"<caption>{re.escape(caption)}</caption>(.*?)</table>", page).group(1)
    return [re.findall(r'<td class="[lr]">(.*?)</td>', row) for row in re.findall(r"<tr>(.*?)</tr>", table)[1:]]


def test_every_section_is_in_the_page_and_its_markdown_twin(runs, report):
    for title in SECTIONS:
        assert f"<h2>{title}</h2>" in report["html"]
        assert f"\n## {title}\n" in report["md"]
    assert "<h1>Tiny &lt;test&gt; report</h1>" in report["html"] and report["md"].startswith("# Tiny \\<test\\> report")
    convnets = [s["name"] for s in sorted(summaries(runs, ["lenet5", "alexnet"]), key=lambda s: s["top1_error"])]
    assert f"Error (%) per epoch of {', '.join(convnets)}; one colour per run." in report["md"]
    assert "quick settings: 2 epochs" in report["html"] and "> **Note:** quick settings: 2 epochs" in report["md"]


def test_figures_decode_and_page_embeds_the_same_pngs_the_markdown_links(report):
    embedded = [base64.b64decode(d) for d in re.findall(r'<img src="data:image/png;base64,([^"]+)"', report["html"])]
    assert len(embedded) == len(FIGURES)
    for name, png in zip(FIGURES, embedded):
        assert f"](figures/{name}.png)" in report["md"]
        assert (report["out"] / "figures" / f"{name}.png").read_bytes() == png
        with Image.open(io.BytesIO(png)) as im:
            im.verify()
            assert im.format == "PNG" and im.width > 50 and im.height > 20
    assert len(report["html"].encode()) < 3_000_000


def test_seeing_differently_shows_the_images_the_two_approaches_disagree_on(report):
    # The fake baseline is wrong exactly on the first BASELINE_MISTAKES test images; "gained" shows those of them
    # the best ConvNet gets right, each with both top-5 lists.
    section = report["md"].split("## Seeing differently")[1]
    assert "hog-svm's bars are a softmax of its SVM decision values" in section
    assert "](figures/seeing-differently-gained.png)" in section and "right, hog-svm wrong: both top-5 lists" in section


def test_table_numbers_equal_the_runs_summaries_best_first(runs, report):
    expected = sorted(summaries(runs, ["lenet5", "baseline", "alexnet"]), key=lambda s: s["top1_error"])
    rows = table_rows(report["html"], "Entries, best (lowest top-1 error) first")
    assert rows == [[s["name"], s["approach"], f"{s['top1_error'] * 100:.2f}%", f"{s['top5_error'] * 100:.2f}%",
                     f"{s['train_seconds']:.1f} s", f"{s['params']:,}"] for s in expected]
    for s in expected:
        assert f"| {s['name']} | {s['approach']} | {s['top1_error'] * 100:.2f}% |" in report["md"]
    best_cnn = min((s for s in expected if s["approach"] == "ConvNet"), key=lambda s: s["top1_error"])
    points = (0.99 - best_cnn["top1_error"]) * 100
    assert (f"the best ConvNet, {best_cnn['name']}, beats the best traditional entry, hog-svm, "
            f"by {points:.2f} points of top-1 error") in report["md"]
    assert table_rows(report["html"], "For context: reference results") == [
        ["1 CNN (AlexNet)", "ConvNet", "40.70%", "18.20%", "val"],
        ["SIFT + FV", "features + SVM", "–", "26.20%", "–"]]


def test_page_is_self_contained(report):
    page = report["html"]
    assert not re.search(r"(src|href)=\"(?!data:|#)", page)  # only data: URIs and in-page anchors
    assert "<script" not in page and "<link" not in page and "url(" not in page and "@import" not in page


def test_figure4_numbers_follow_the_best_convnets_scores_and_features(runs, report):
    names = [s["name"] for s in sorted(summaries(runs, ["lenet5", "alexnet"]), key=lambda s: s["top1_error"])]
    cnn = runs["lenet5"] if names[0] == "lenet5" else runs["alexnet"]
    scores = ilsvrc.scoring.run_scores(str(cnn), split="test")
    picks = pick_examples(scores.labels.numpy(), EXAMPLES)
    top5 = scores.scores[picks].topk(5, dim=1).indices
    right1 = int((top5[:, 0] == scores.labels[picks]).sum())
    right5 = int((top5 == scores.labels[picks, None]).any(1).sum())
    assert f"Right at top-1: {right1} of {EXAMPLES}; within the top 5: {right5} of {EXAMPLES}." in report["md"]
    net = load_convnet(str(cnn))
    test, train_split = net.dataset("test"), net.dataset("train")
    query = net.features(test, picks[:QUERIES])
    pool = net.features(train_split, list(range(len(train_split))))  # 100 images: the whole split is the pool
    closest = torch.cdist(query, pool).argsort(dim=1, stable=True)[:, :NEIGHBOURS]
    same = int((torch.as_tensor(train_split.labels())[closest] == scores.labels[picks[:QUERIES], None]).sum())
    assert f"share the test image's class: {same} of {QUERIES * NEIGHBOURS}." in report["md"]
    everything = np.arange(len(train_split))
    rows = neighbour_rows(net, test, train_split, everything, picks[:QUERIES], train_split.class_names)
    for row, pick, expected in zip(rows, picks, closest.tolist()):
        np.testing.assert_array_equal(row.query, test.image(pick))
        for (image, name), index in zip(row.neighbours, expected):
            np.testing.assert_array_equal(image, train_split.image(index))
            assert name == train_split.class_names[train_split.label(index)]
    assert f"searched among {len(train_split)} training images" in report["md"]


def test_features_are_those_of_the_evaluation_views(runs):
    net = load_convnet(str(runs["lenet5"]))
    views, _ = next(net.pipeline.eval_batches("test"))
    with torch.no_grad():
        expected = net.model.forward_features(views[[0, 3, 7], 0])
    torch.testing.assert_close(net.features(net.dataset("test"), [0, 3, 7]), expected)


def test_confusion_matrix_is_the_best_entrys_even_a_baseline(runs, packed):
    document = build_document([runs["lenet5"], runs["best-baseline"]], None, "t", {})
    confusion = next(s for s in document.sections if s.title == "Confusion matrix")
    text = confusion.blocks[0].text
    assert text.startswith("hog-svm, the entry with the lowest top-1 error, on the 40 images of the test split "
                           f"(top-1 error {BASELINE_MISTAKES / 40 * 100:.2f}%)")
    test = PackedDataset(packed, "test")
    per_class = np.bincount(test.labels(), minlength=10)
    expected = [[test.class_names[t], test.class_names[(t + 1) % 10], "1", f"{100 / per_class[t]:.2f}%"]
                for t in test.labels()[:BASELINE_MISTAKES]]
    assert sorted(confusion.blocks[2].rows) == sorted(expected)


def test_a_report_of_baselines_alone_has_no_convnet_figures(runs):
    document = build_document([runs["baseline"]], None, "t", {})
    assert [s.title for s in document.sections] == ["Results", "Confusion matrix", "ConvNet figures"]
    assert document.sections[2].blocks[0].text.startswith("No ConvNet among the entries")


def test_report_command_writes_an_html_path_and_names_bad_runs(runs, tmp_path, capsys):
    assert main(["report", str(runs["lenet5"]), "--out", str(tmp_path / "one.html"), "--title", "One run"]) == 0
    assert "<title>One run</title>" in (tmp_path / "one.html").read_text()
    assert (tmp_path / "one.md").exists() and (tmp_path / "figures" / "confusion_matrix.png").exists()
    assert "Margin:" not in (tmp_path / "one.md").read_text()  # one entry: nothing to compare
    assert main(["report", str(tmp_path / "nothing"), "--out", str(tmp_path / "x")]) == 1
    assert f"ilsvrc: error: {tmp_path / 'nothing'}: no such run folder\n" == capsys.readouterr().err
    assert main(["report", str(runs["lenet5"]), "--out", str(tmp_path / "y"), "--feature-pool", "0"]) == 1
    assert "the feature pool must hold at least 1 training image" in capsys.readouterr().err


# ---- the page in a real browser ----

PROBE = """<script>
window.addEventListener("load", () => {
  const images = [...document.images];
  const loaded = images.filter(i => i.complete && i.naturalWidth > 0).length;
  const requests = performance.getEntriesByType("resource").length;
  document.body.insertAdjacentHTML("beforeend", `<pre id="probe">${images.length} ${loaded} ${requests}</pre>`);
});
</script>"""


def chromium(tmp_path, *args) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
             f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0"]
    return subprocess.run([CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason=f"{CHROMIUM} is absent (Debian package chromium)")
def test_chromium_renders_every_image_without_console_errors_or_requests(report, tmp_path):
    probed = tmp_path / "probed.html"  # the page plus a probe: the report itself carries no script
    probed.write_text(report["html"].replace("</body>", PROBE + "</body>"))
    run = chromium(tmp_path, "--virtual-time-budget=5000", "--dump-dom", probed.as_uri())
    assert run.returncode == 0, run.stderr[-2000:]
    assert re.search(r'<pre id="probe">(\d+) (\d+) (\d+)</pre>', run.stdout).groups() == (
        str(len(FIGURES)), str(len(FIGURES)), "0")
    console = [line for line in run.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]
    assert console == []
    shot = chromium(tmp_path, "--window-size=1000,1400", f"--screenshot={tmp_path / 'shot.png'}",
                    report["page"].as_uri())
    assert shot.returncode == 0, shot.stderr[-2000:]
    with Image.open(tmp_path / "shot.png") as im:
        pixels = np.asarray(im.convert("L"))
    assert pixels.shape == (1400, 1000) and pixels.std() > 10  # text and figures, not a blank page
