"""ReaL: scoring ILSVRC-2012 validation images against the reassessed labels of Beyer et al. 2020."""
import json

import numpy as np
import pytest
import torch

import ilsvrc.evaluate
from ilsvrc.cli import main
from ilsvrc.data.prepare import PackOptions, prepare
from ilsvrc.data.readers.packed import PackedDataset
from ilsvrc.data.real_labels import align_real_labels, read_real_labels
from ilsvrc.data.synth import write_archives
from ilsvrc.engine.evaluation import RunScores
from ilsvrc.errors import DataError
from ilsvrc.metrics import real_top1_error


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    root = tmp_path_factory.mktemp("real")
    write_archives(root / "archives", classes=3, train_per_class=1, val_per_class=2)
    prepare(root / "archives", root / "packed", options=PackOptions(shorter_side=32, workers=1))
    return root / "packed"


def scores_predicting(packed, predictions: list[int]) -> RunScores:
    """Scores whose top class for validation image k (in the packed order) is predictions[k]."""
    val = PackedDataset(packed, "val")
    scores = torch.full((len(val), 3), 0.1)
    scores[torch.arange(len(val)), torch.tensor(predictions)] = 0.8
    return RunScores(scores, torch.from_numpy(val.labels()), list(val.classes), list(val.class_names), "val",
                     "center", root=packed)


def by_name(packed, sets_by_number: dict[int, list[int]]) -> list[list[int]]:
    return [sets_by_number[k] for k in range(1, len(PackedDataset(packed, "val")) + 1)]


def test_images_are_matched_by_file_name_and_empty_lists_left_out(packed, tmp_path, monkeypatch, capsys):
    val = PackedDataset(packed, "val")
    numbers = [int(val.source(i)[15:23]) for i in range(len(val))]
    assert sorted(numbers) == list(range(1, 7))
    predictions = [0, 1, 2, 0, 1, 2]  # for the images in packed order
    predicted = dict(zip(numbers, predictions))
    # by file number: 1 and 2 accept the prediction, 3 accepts another class only, 4 is left out (empty),
    # 5 accepts two classes one of which is the prediction, 6 accepts neither
    real = {1: [predicted[1]], 2: [predicted[2]], 3: [(predicted[3] + 1) % 3], 4: [],
            5: [predicted[5], (predicted[5] + 1) % 3], 6: [(predicted[6] + 1) % 3, (predicted[6] + 2) % 3]}
    path = tmp_path / "real.json"
    path.write_text(json.dumps(by_name(packed, real)))
    monkeypatch.setattr(ilsvrc.evaluate, "run_scores", lambda *a, **k: scores_predicting(packed, predictions))
    assert main(["eval", "run", "--real-labels", str(path), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["real_n"] == 5 and printed["real_top1_error"] == pytest.approx(2 / 5)
    assert printed["n"] == 6 and "top1_error" in printed and "top5_error" in printed
    assert main(["eval", "run", "--real-labels", str(path)]) == 0
    assert "val: ReaL top-1 error 40.00%  (5 images with reassessed labels, Beyer et al. 2020)" in \
        capsys.readouterr().out


def test_hand_worked_error():
    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    assert real_top1_error(scores, [{0}, {0}, None]) == (0.5, 2)
    with pytest.raises(DataError, match="no image has a ReaL label"):
        real_top1_error(scores, [None, None, None])


@pytest.mark.parametrize("content, problem", [
    ("[[0], [1]", "not JSON"),
    ('{"a": 1}', "expected a JSON list with one list of class indices per validation image"),
    ("[[0], [1.5]]", "entry 1 holds something other than class indices: [1.5]"),
])
def test_bad_files_are_one_line_errors(tmp_path, content, problem):
    path = tmp_path / "real.json"
    path.write_text(content)
    with pytest.raises(DataError) as e:
        read_real_labels(path)
    assert str(e.value).startswith(f"{path}: {problem}") and "\n" not in str(e.value)


def test_labels_that_do_not_fit_the_split(packed, tmp_path, monkeypatch, capsys):
    sources = [f"ILSVRC2012_val_{k:08d}.JPEG" for k in range(1, 7)]
    with pytest.raises(DataError, match=r"^r.json: 5 entries, but the split holds ILSVRC2012_val_00000006.JPEG$"):
        align_real_labels([[0]] * 5, sources, 3, "r.json")
    with pytest.raises(DataError, match=r"^r.json: class index 3 is outside the model's 3 classes$"):
        align_real_labels([[0]] * 5 + [[3]], sources, 3, "r.json")
    with pytest.raises(DataError, match=r"scored image 0 is 'cat/1.jpg', not ILSVRC2012_val_NNNNNNNN.JPEG$"):
        align_real_labels([[0]], ["cat/1.jpg"], 3, "r.json")
    path = tmp_path / "short.json"
    path.write_text("[[0], [1]]")
    monkeypatch.setattr(ilsvrc.evaluate, "run_scores", lambda *a, **k: scores_predicting(packed, [0] * 6))
    assert main(["eval", "run", "--real-labels", str(path)]) == 1
    err = capsys.readouterr().err
    assert err == f"ilsvrc: error: {path}: 2 entries, but the split holds ILSVRC2012_val_00000006.JPEG\n"
