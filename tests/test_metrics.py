import math

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score
from sklearn.metrics import confusion_matrix as sk_confusion_matrix
from sklearn.metrics import recall_score

from ilsvrc.errors import ConfigError, DataError
from ilsvrc.metrics import (average_precision, average_precisions, confusion_matrix, mean_average_precision,
                            per_class_accuracy, target_ranks, topk_correct, topk_errors)

# ---- top-k ----

LOGITS = torch.tensor([
    [9.0, 8, 7, 6, 5, 4],  # target 0: rank 0
    [9.0, 8, 7, 6, 5, 4],  # target 4: rank 4 (top-5 only)
    [9.0, 8, 7, 6, 5, 4],  # target 5: rank 5 (wrong)
    [1.0, 2, 3, 4, 5, 6],  # target 4: rank 1
])
TARGETS = torch.tensor([0, 4, 5, 4])


def test_topk_errors_on_a_hand_made_case():
    assert target_ranks(LOGITS, TARGETS).tolist() == [0, 4, 5, 1]
    assert topk_errors(LOGITS, TARGETS) == {1: 0.75, 5: 0.25}
    assert topk_correct(LOGITS, TARGETS, ks=(1, 2, 5)) == {1: 1, 2: 2, 5: 3}


def test_numpy_inputs_and_probabilities_give_the_same_errors():
    probs = torch.softmax(LOGITS, dim=1)
    assert topk_errors(LOGITS.numpy(), TARGETS.numpy()) == topk_errors(probs, TARGETS) == {1: 0.75, 5: 0.25}


def test_ties_rank_the_lower_class_index_first():
    flat = torch.zeros(3, 7)
    assert target_ranks(flat, torch.tensor([0, 4, 6])).tolist() == [0, 4, 6]
    assert topk_errors(flat, torch.tensor([0, 4, 6])) == {1: 2 / 3, 5: 1 / 3}
    tied = torch.tensor([[1.0, 3, 3, 0]])
    assert target_ranks(tied, torch.tensor([2])).tolist() == [1]
    assert target_ranks(tied, torch.tensor([1])).tolist() == [0]


def test_ranks_equal_a_stable_sort_on_random_scores_with_many_ties():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 4, (200, 9)).astype(np.float32)
    targets = rng.integers(0, 9, 200)
    order = np.argsort(-scores, axis=1, kind="stable")
    expected = np.argmax(order == targets[:, None], axis=1)
    np.testing.assert_array_equal(target_ranks(scores, targets).numpy(), expected)


def test_fewer_than_five_classes_report_top_k_of_all_classes():
    logits = torch.tensor([[0.1, 0.5, 0.2], [0.3, 0.2, 0.1]])
    assert topk_errors(logits, torch.tensor([0, 0])) == {1: 0.5, 3: 0.0}
    assert topk_errors(logits, torch.tensor([0, 0]), ks=(1,)) == {1: 0.5}


def test_nan_scores_never_make_a_prediction_right():
    logits = torch.tensor([[math.nan, 1.0, 2.0], [math.nan, 1.0, 2.0], [math.nan] * 3])
    assert target_ranks(logits, torch.tensor([0, 2, 0])).tolist() == [3, 0, 3]
    assert topk_errors(logits, torch.tensor([0, 2, 0]), ks=(1, 5)) == {1: 2 / 3, 3: 2 / 3}


def test_topk_rejects_bad_input():
    with pytest.raises(DataError, match=r"^targets: labels must lie in 0\.\.5, found 0\.\.6$"):
        topk_errors(LOGITS, torch.tensor([0, 1, 2, 6]))
    with pytest.raises(DataError, match=r"expected \(N,\) labels for \(N, K\) outputs, got \(3,\) for \(4, 6\)"):
        topk_errors(LOGITS, torch.tensor([0, 1, 2]))
    with pytest.raises(DataError, match="labels must be integers, got torch.float32"):
        topk_errors(LOGITS, TARGETS.float())
    with pytest.raises(DataError, match="^outputs: no samples to score$"):
        topk_errors(torch.zeros(0, 6), torch.zeros(0, dtype=torch.long))
    with pytest.raises(ConfigError, match="positive k values"):
        topk_errors(LOGITS, TARGETS, ks=(0, 5))


# ---- confusion ----

def test_confusion_matrix_and_per_class_accuracy_match_sklearn():
    rng = np.random.default_rng(2)
    targets, preds = rng.integers(0, 5, 300), rng.integers(0, 5, 300)
    targets[targets == 3] = 2  # class 3 has no samples
    cm = confusion_matrix(torch.from_numpy(preds), targets, num_classes=5)
    np.testing.assert_array_equal(cm.numpy(), sk_confusion_matrix(targets, preds, labels=range(5)))
    accuracy = per_class_accuracy(cm).numpy()
    present = [0, 1, 2, 4]
    np.testing.assert_allclose(accuracy[present], recall_score(targets, preds, labels=present, average=None),
                               rtol=1e-15)
    assert math.isnan(accuracy[3])


def test_confusion_matrix_rejects_bad_indices():
    with pytest.raises(DataError, match=r"^predictions: class indices must lie in 0\.\.2$"):
        confusion_matrix([0, 3], [0, 1], num_classes=3)
    with pytest.raises(DataError, match="^predictions: 2 predictions for 3 labels$"):
        confusion_matrix([0, 1], [0, 1, 2], num_classes=3)


# ---- VOC average precision ----

def ranked(labels):
    """Scores that rank samples in the given order."""
    return np.arange(len(labels), 0, -1, dtype=np.float64), np.array(labels)


def test_ap_of_a_hand_computed_ranking():
    # TP (P 1, R 1/3), FP, TP (P 2/3, R 2/3), FP, FP, TP (P 1/2, R 1)
    scores, labels = ranked([1, 0, 1, 0, 0, 1])
    assert average_precision(scores, labels) == pytest.approx(1 / 3 * (1 + 2 / 3 + 1 / 2), rel=1e-15)
    # t = 0 .. 0.3 -> 1; t = 0.4 .. 0.6 -> 2/3; t = 0.7 .. 1 -> 1/2
    assert average_precision(scores, labels, eleven_point=True) == pytest.approx(8 / 11, rel=1e-15)


def test_envelope_ap_interpolates_where_sklearn_does_not():
    scores, labels = ranked([0, 1, 1])  # precisions 1/2 at R 1/2, 2/3 at R 1
    assert average_precision(scores, labels) == pytest.approx(2 / 3, rel=1e-15)
    assert average_precision_score(labels, scores) == pytest.approx(7 / 12, rel=1e-15)
    assert average_precision(scores, labels, eleven_point=True) == pytest.approx(2 / 3, rel=1e-15)


def test_eleven_point_ap_counts_a_recall_of_exactly_three_tenths():
    # 3 TP (recall 0.3, precision 1), 7 FP, then 7 TP ending at precision 10/17
    scores, labels = ranked([1] * 3 + [0] * 7 + [1] * 7)
    assert average_precision(scores, labels, eleven_point=True) == pytest.approx((4 + 7 * 10 / 17) / 11, rel=1e-15)


def test_equal_scores_keep_the_sample_order():
    assert average_precision([0.5, 0.5], [0, 1]) == 0.5
    assert average_precision([0.5, 0.5], [1, 0]) == 1.0


def test_difficult_samples_are_ignored():
    scores, labels = ranked([1, 0, 1, 0, 0, 1])
    difficult = np.zeros(6, bool)
    with_difficult = (np.concatenate([[99.0, 0.5, -1.0], scores]), np.concatenate([[1, 0, 1], labels]),
                      np.concatenate([[True] * 3, difficult]))
    for eleven in (False, True):
        assert average_precision(*with_difficult, eleven_point=eleven) == average_precision(scores, labels,
                                                                                            eleven_point=eleven)


def devkit_ap(scores, gt, eleven_point):
    """VOCevalcls.m and VOCap.m line by line (gt: 1 / -1 / 0 difficult; MATLAB max ignores NaN)."""
    order = np.argsort(-scores, kind="stable")
    tp, fp = np.cumsum(gt[order] > 0), np.cumsum(gt[order] < 0)
    rec = tp / np.sum(gt > 0)
    with np.errstate(invalid="ignore"):
        prec = tp / (fp + tp)
    if eleven_point:
        return sum(np.nanmax(prec[rec >= t], initial=0) / 11 for t in np.arange(11) / 10)
    mrec, mpre = np.concatenate([[0], rec, [1]]), np.concatenate([[0], prec, [0]])
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = np.nanmax([mpre[i], mpre[i + 1]])
    i = np.flatnonzero(mrec[1:] != mrec[:-1]) + 1
    return np.sum((mrec[i] - mrec[i - 1]) * mpre[i])


def test_ap_equals_the_devkit_on_random_cases():
    rng = np.random.default_rng(3)
    for _ in range(50):
        n = rng.integers(5, 60)
        gt = rng.choice([1, -1, 0], size=n, p=[0.3, 0.6, 0.1])
        gt[0] = 1
        scores = rng.integers(0, 10, n).astype(np.float64)  # with ties
        labels, difficult = (gt > 0).astype(np.uint8), gt == 0  # the devkit's 1 present, -1 absent, 0 difficult
        for eleven in (False, True):
            assert average_precision(scores, labels, difficult, eleven) == pytest.approx(
                devkit_ap(scores, gt, eleven), rel=1e-12, abs=1e-15)


def test_envelope_ap_is_never_below_sklearn_without_ties():
    rng = np.random.default_rng(4)
    for _ in range(20):
        labels = rng.integers(0, 2, 40)
        labels[0] = 1
        scores = rng.permutation(40).astype(np.float64)
        assert average_precision(scores, labels) >= average_precision_score(labels, scores) - 1e-15


def test_mean_average_precision_over_classes_with_positives():
    s1, l1 = ranked([1, 0, 1, 0, 0, 1])
    s2, l2 = ranked([0, 1, 1, 0, 0, 0])
    scores = torch.from_numpy(np.stack([s1, s2, s1], axis=1))
    labels = np.stack([l1, l2, np.zeros(6, int)], axis=1)  # class 2: no positives, skipped
    aps = average_precisions(scores, labels)
    assert math.isnan(aps[2])
    assert mean_average_precision(scores, labels) == pytest.approx((13 / 18 + 2 / 3) / 2, rel=1e-15)
    assert math.isnan(average_precision(s1, np.zeros(6, int)))


def test_devkit_labels_are_refused_unconverted():
    with pytest.raises(DataError, match=r"^labels: values must be 0 or 1 \(convert the devkit's 1/-1/0"):
        average_precision([0.1, 0.2], [1, -1])


@pytest.mark.gpu
def test_metrics_on_the_device_equal_the_cpu():
    rng = np.random.default_rng(5)
    scores = torch.from_numpy(rng.integers(0, 5, (500, 20)).astype(np.float32))  # many ties
    targets = torch.from_numpy(rng.integers(0, 20, 500))
    assert torch.equal(target_ranks(scores.cuda(), targets.cuda()).cpu(), target_ranks(scores, targets))
    assert topk_errors(scores.cuda(), targets.cuda()) == topk_errors(scores, targets)
    preds = scores.argmax(1)
    assert torch.equal(confusion_matrix(preds.cuda(), targets.cuda(), 20).cpu(), confusion_matrix(preds, targets, 20))
    assert average_precision(scores[:, 0].cuda(), (targets == 0).cuda().long()) == average_precision(
        scores[:, 0], (targets == 0).long())
