"""ILSVRC and PASCAL VOC metrics, as pure functions of model outputs and labels.

    topk_errors(logits, targets)                       # {1: 0.407, 5: 0.182}: fractions of samples
    cm = confusion_matrix(logits.argmax(1), targets, num_classes=1000)     # rows: true class
    per_class_accuracy(cm)
    mean_average_precision(scores, labels, difficult, eleven_point=True)   # VOC2007 classification

Outputs and labels may be torch tensors (on any device) or numpy arrays. Scores may be logits
or probabilities: only their order matters.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np
import torch

from ilsvrc.errors import ConfigError, DataError

# ---- ILSVRC: top-k error ----


def _scores_and_targets(outputs, targets) -> tuple[torch.Tensor, torch.Tensor]:
    scores = torch.as_tensor(outputs)
    targets = torch.as_tensor(targets, device=scores.device)
    if scores.ndim != 2 or targets.shape != scores.shape[:1]:
        raise DataError("targets", f"expected (N,) labels for (N, K) outputs, got {tuple(targets.shape)} "
                                   f"for {tuple(scores.shape)}")
    if targets.is_floating_point() or targets.is_complex():
        raise DataError("targets", f"labels must be integers, got {targets.dtype}")
    if len(targets) and not 0 <= int(targets.min()) <= int(targets.max()) < scores.shape[1]:
        raise DataError("targets", f"labels must lie in 0..{scores.shape[1] - 1}, found "
                                   f"{int(targets.min())}..{int(targets.max())}")
    return scores, targets.long()


def target_ranks(outputs, targets) -> torch.Tensor:
    """(N,) 0-based rank of each sample's true class among its K scores (0: predicted first).

    Ties go to the lower class index, as in a stable descending sort, so the result never
    depends on the device or on torch.topk's unspecified order among equal scores. A NaN score
    of the true class ranks K (never correct); NaN scores of other classes rank below it.
    """
    scores, targets = _scores_and_targets(outputs, targets)
    target_scores = scores.gather(1, targets[:, None])  # (N, 1)
    classes = torch.arange(scores.shape[1], device=scores.device)
    higher = (scores > target_scores).sum(1)
    tied_before = ((scores == target_scores) & (classes < targets[:, None])).sum(1)
    return torch.where(target_scores[:, 0].isnan(), scores.shape[1], higher + tied_before)


def _effective_ks(ks: Iterable[int], num_classes: int) -> list[int]:
    """Each k capped at the number of classes: top-5 of a 3-class problem is reported as top-3."""
    ks = list(ks)
    if not ks or any(k < 1 for k in ks):
        raise ConfigError(f"top-k needs positive k values, got {ks}")
    return sorted({min(k, num_classes) for k in ks})


def topk_correct(outputs, targets, ks: Iterable[int] = (1, 5)) -> dict[int, int]:
    """Number of samples whose true class is among their k best scores, for each k (see target_ranks)."""
    ranks = target_ranks(outputs, targets)
    return {k: int((ranks < k).sum()) for k in _effective_ks(ks, torch.as_tensor(outputs).shape[1])}


def topk_errors(outputs, targets, ks: Iterable[int] = (1, 5)) -> dict[int, float]:
    """Top-k error rates in [0, 1]: {1: top-1, 5: top-5}; with K < 5 classes the key is min(k, K).

    outputs (N, K) scores, targets (N,) class indices. Ties are broken as in `target_ranks`.
    """
    correct = topk_correct(outputs, targets, ks)
    count = len(torch.as_tensor(targets))
    if not count:
        raise DataError("outputs", "no samples to score")
    return {k: (count - c) / count for k, c in correct.items()}


# ---- confusion ----


def confusion_matrix(preds, targets, num_classes: int) -> torch.Tensor:
    """(K, K) int64 counts: row = true class, column = predicted class (as sklearn)."""
    preds = torch.as_tensor(preds).long().reshape(-1)
    targets = torch.as_tensor(targets, device=preds.device).long().reshape(-1)
    if preds.shape != targets.shape:
        raise DataError("predictions", f"{len(preds)} predictions for {len(targets)} labels")
    for name, values in (("predictions", preds), ("targets", targets)):
        if len(values) and not 0 <= int(values.min()) <= int(values.max()) < num_classes:
            raise DataError(name, f"class indices must lie in 0..{num_classes - 1}")
    cells = torch.bincount(targets * num_classes + preds, minlength=num_classes * num_classes)
    return cells.reshape(num_classes, num_classes)


def per_class_accuracy(confusion) -> torch.Tensor:
    """(K,) float64 fraction of each true class predicted correctly; NaN for a class with no samples."""
    confusion = torch.as_tensor(confusion).double()
    return confusion.diagonal() / confusion.sum(1)


# ---- PASCAL VOC: average precision ----


def _as_numpy(values) -> np.ndarray:
    return values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)


def _binary(labels) -> np.ndarray:
    labels = _as_numpy(labels)
    if not np.isin(labels, (0, 1)).all():
        raise DataError("labels", "values must be 0 or 1 (convert the devkit's 1/-1/0: present 1, absent and difficult 0)")
    return labels.astype(bool)


def _eleven_point(recall: np.ndarray, precision: np.ndarray) -> float:
    """VOC2007: mean over t = 0, 0.1, ..., 1 of the best precision at recall >= t."""
    # t = k / 10 exactly, so a recall of exactly 3/10 counts at t = 0.3 (MATLAB's 0:0.1:1 and
    # np.arange(0, 1.1, 0.1) both round 0.3 up to 0.30000000000000004 and miss it).
    thresholds = np.arange(11) / 10
    return float(np.mean([precision[recall >= t].max(initial=0.0) for t in thresholds]))


def _envelope_area(recall: np.ndarray, precision: np.ndarray) -> float:
    """VOC2010+: area under the precision envelope (the best precision at any higher recall)."""
    recall = np.concatenate([[0.0], recall, [1.0]])
    precision = np.concatenate([[0.0], precision, [0.0]])
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.flatnonzero(recall[1:] != recall[:-1]) + 1
    return float(np.sum((recall[steps] - recall[steps - 1]) * envelope[steps]))


def average_precision(scores, labels, difficult=None, eleven_point: bool = False) -> float:
    """Average precision of one class over N samples, as the VOC devkit's VOCevalcls.

    scores (N,), labels (N,) 1 positive / 0 negative, difficult (N,) bool: samples ignored
    altogether. eleven_point=True is VOC2007's 11-point interpolated AP; False the area under the
    monotone precision envelope of VOC2010 and later. Equal scores are ranked in sample order
    (MATLAB's stable sort). NaN when there is no positive sample.
    """
    scores, positive = _as_numpy(scores).astype(np.float64).reshape(-1), _binary(labels).reshape(-1)
    if scores.shape != positive.shape:
        raise DataError("labels", f"{len(positive)} labels for {len(scores)} scores")
    if difficult is not None:
        kept = ~_as_numpy(difficult).astype(bool).reshape(-1)
        scores, positive = scores[kept], positive[kept]
    if not positive.any():
        return float("nan")
    hits = positive[np.argsort(-scores, kind="stable")]
    true_positives = np.cumsum(hits)
    recall = true_positives / true_positives[-1]
    precision = true_positives / np.arange(1, len(hits) + 1)
    return _eleven_point(recall, precision) if eleven_point else _envelope_area(recall, precision)


def average_precisions(scores, labels, difficult=None, eleven_point: bool = False) -> np.ndarray:
    """(K,) `average_precision` of each class (column) of (N, K) scores, labels and difficult flags."""
    scores, labels = _as_numpy(scores), _as_numpy(labels)
    if scores.ndim != 2 or scores.shape != labels.shape:
        raise DataError("labels", f"expected (N, K) scores and labels, got {scores.shape} and {labels.shape}")
    difficult = np.zeros(scores.shape, bool) if difficult is None else _as_numpy(difficult)
    return np.array([average_precision(scores[:, k], labels[:, k], difficult[:, k], eleven_point)
                     for k in range(scores.shape[1])])


def mean_average_precision(scores, labels, difficult=None, eleven_point: bool = False) -> float:
    """Mean of `average_precisions` over the classes that have a positive sample (all 20 in VOC)."""
    aps = average_precisions(scores, labels, difficult, eleven_point)
    scored = aps[~np.isnan(aps)]
    return float(scored.mean()) if len(scored) else float("nan")


def real_top1_error(scores, label_sets: list) -> tuple[float, int]:
    """(top-1 error, images scored) against sets of acceptable classes (ReaL); None sets are left out:
    a prediction is right when its top class is in the image's set."""
    predictions = _as_numpy(scores).argmax(1)
    kept = [(int(p), s) for p, s in zip(predictions, label_sets) if s is not None]
    if not kept:
        raise DataError("labels", "no image has a ReaL label to score against")
    return sum(p not in s for p, s in kept) / len(kept), len(kept)
