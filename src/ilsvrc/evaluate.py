"""ILSVRC evaluation: top-1 / top-5 error with centre or 10-crop testing, per-class accuracy, confusion.

    ilsvrc eval runs/fmnist --data fashion-mnist --split test --tta 10crop --json
    ilsvrc predict runs/fmnist shirt.png boot.jpg

10-crop testing averages the softmax outputs of the 10 views (4 corners + centre, and their
mirror images), as the paper. Multi-label data (PASCAL VOC) reports mean average precision
(11-point for VOC 2007) instead.
"""
from __future__ import annotations

import contextlib
import json as jsonlib
from dataclasses import replace

import numpy as np
import torch

from ilsvrc import metrics
from ilsvrc.config import from_dict
from ilsvrc.engine.checkpoint import load_checkpoint, model_from_checkpoint
from ilsvrc.engine.pipeline import Pipeline
from ilsvrc.errors import ConfigError


def autocast(device: torch.device, precision: str):
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.no_grad()
def predict_scores(model: torch.nn.Module, batches, precision: str = "fp32", multilabel: bool = False):
    """(scores (N, K) float32, labels) on the CPU; views averaged (softmax for single-label data)."""
    model.eval()
    scores, labels = [], []
    for views, y in batches:  # views: (B, V, C, h, w)
        with autocast(views.device, precision):
            logits = model(views.flatten(0, 1)).float().unflatten(0, views.shape[:2])  # (B, V, K)
        out = logits if multilabel else logits.softmax(-1)
        scores.append(out.mean(1).cpu())
        labels.append(y.cpu())
    return torch.cat(scores), torch.cat(labels)


def summarize(scores: torch.Tensor, labels: torch.Tensor, num_classes: int) -> dict:
    errors = metrics.topk_errors(scores, labels, ks=(1, 5))
    confusion = metrics.confusion_matrix(scores.argmax(1), labels, num_classes)
    k5 = max(errors)
    return {"top1_error": errors[1], "top5_error": errors[k5], "n": len(labels),
            "per_class_accuracy": metrics.per_class_accuracy(confusion).tolist(), "confusion": confusion.tolist()}


def evaluate(model, pipeline: Pipeline, split: str, tta: str = "center", precision: str = "fp32") -> dict:
    ds = pipeline.dataset(split)
    scores, labels = predict_scores(model, pipeline.eval_batches(split, tta), precision, ds.multilabel)
    if ds.multilabel:
        eleven_point = ds.year == 2007  # the VOC2007 devkit's 11-point interpolated AP
        m_ap = metrics.mean_average_precision(scores.numpy(), labels.numpy(), ds.difficult_array(), eleven_point)
        return {"mAP": m_ap, "n": len(labels), "tta": tta, "eleven_point": eleven_point}
    return {**summarize(scores, labels, len(ds.classes)), "tta": tta}


def _pipeline_for(state: dict, data: str | None, device) -> Pipeline:
    config = from_dict(state["config"])
    data_config = replace(config.data, path=data) if data else config.data
    return Pipeline.build(data_config, config.train.seed, device, stats=state["data_stats"])


def eval_command(run: str, data: str | None = None, split: str = "val", tta: str = "center",
                 json: bool = False, device: str = "auto", which: str = "best") -> int:
    device = pick_device(device)
    state = load_checkpoint(run, which)
    model = model_from_checkpoint(state, device)
    pipeline = _pipeline_for(state, data, device)
    split = _split(pipeline, split)
    result = evaluate(model, pipeline, split, tta)
    if json:
        print(jsonlib.dumps({k: v for k, v in result.items() if k != "confusion"} | {"split": split}))
    else:
        _print_result(result, state["classes"] if "classes" in state else None, split)
    return 0


def _split(pipeline: Pipeline, split: str) -> str:
    from ilsvrc.data.readers.packed import read_index

    names = list(read_index(pipeline.root)["splits"])
    if split in names:
        return split
    if split == "val" and "test" in names:
        return "test"  # datasets with no val split (MNIST, CIFAR) are evaluated on their test split
    raise ConfigError(f"{pipeline.root}: no split {split!r} (splits: {', '.join(names)})")


def _print_result(result: dict, classes, split: str) -> None:
    if "mAP" in result:
        print(f"{split}: mAP {result['mAP'] * 100:.2f}%  ({result['n']} images, {result['tta']})")
        return
    print(f"{split}: top-1 error {result['top1_error'] * 100:.2f}%  top-5 error {result['top5_error'] * 100:.2f}%"
          f"  ({result['n']} images, {result['tta']})")
    names = classes or [str(i) for i in range(len(result["per_class_accuracy"]))]
    width = max(len(n) for n in names[:50])
    print("per-class accuracy:")
    for name, acc in list(zip(names, result["per_class_accuracy"]))[:50]:
        print(f"  {name:<{width}}  {acc * 100:6.2f}%")
    if len(names) <= 20:
        print("confusion matrix (rows: true class, columns: predicted):")
        for name, row in zip(names, result["confusion"]):
            print(f"  {name[:12]:>12} " + " ".join(f"{v:5d}" for v in row))


def pick_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ConfigError(f"unknown device {device!r} (auto, cpu, cuda, cuda:N)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} asked for, but no CUDA device is available")
    return dev
