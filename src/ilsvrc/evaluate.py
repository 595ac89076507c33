"""ILSVRC evaluation: top-1 / top-5 error with centre, flip or 10-crop testing, per-class accuracy, confusion.

    ilsvrc eval runs/fmnist --data fashion-mnist --split test --tta 10crop --json
    ilsvrc predict runs/fmnist shirt.png boot.jpg

10-crop testing averages the softmax outputs of the 10 views (4 corners + centre, and their
mirror images), as the paper; flip testing, those of the centre view and its mirror image. Without
--tta a run is scored with the views it validated with (train.eval_tta). Multi-label data
(PASCAL VOC) reports mean average precision (11-point for VOC 2007) instead.
"""
from __future__ import annotations

import contextlib
import json as jsonlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ilsvrc import metrics
from ilsvrc.config import from_dict
from ilsvrc.engine.checkpoint import load_checkpoint, model_from_checkpoint
from ilsvrc.engine import distributed
from ilsvrc.engine.devices import device_for
from ilsvrc.engine.distributed import SINGLE, World, gather_in_order, shard_indices
from ilsvrc.engine.pipeline import Pipeline
from ilsvrc.errors import ConfigError


def autocast(device: torch.device, precision: str):
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.no_grad()
def predict_scores(model: torch.nn.Module, batches, precision: str = "fp32", multilabel: bool = False,
                   bar: tqdm | None = None):
    """(scores (N, K) float32, labels) on the CPU; views averaged (softmax for single-label data).
    `bar`, a progress bar counting images, is advanced and closed."""
    model.eval()
    scores, labels = [], []
    with bar or contextlib.nullcontext():
        for views, y in batches:  # views: (B, V, C, h, w)
            with autocast(views.device, precision):
                logits = model(views.flatten(0, 1)).float().unflatten(0, views.shape[:2])  # (B, V, K)
            out = logits if multilabel else logits.softmax(-1)
            scores.append(out.mean(1).cpu())
            labels.append(y.cpu())
            if bar is not None:
                bar.update(len(y))
    return torch.cat(scores), torch.cat(labels)


def scoring_bar(images: int, split: str, tta: str, enabled: bool = True) -> tqdm:
    """Progress over the images of a split being scored (on a terminal's stderr, gone when done)."""
    return tqdm(total=images, desc=f"{split} ({tta})", unit="img", leave=False,
                disable=None if enabled else True, dynamic_ncols=True, mininterval=0.5)  # None: off unless a tty


def summarize(scores: torch.Tensor, labels: torch.Tensor, num_classes: int) -> dict:
    errors = metrics.topk_errors(scores, labels, ks=(1, 5))
    confusion = metrics.confusion_matrix(scores.argmax(1), labels, num_classes)
    k5 = max(errors)
    return {"top1_error": errors[1], "top5_error": errors[k5], "n": len(labels),
            "per_class_accuracy": metrics.per_class_accuracy(confusion).tolist(), "confusion": confusion.tolist()}


def evaluate(model, pipeline: Pipeline, split: str, tta: str = "center", precision: str = "fp32",
             progress: bool = False) -> dict:
    """The figures of `model` on a split (see `split_scores`)."""
    return split_scores(model, pipeline, split, tta, precision, progress).result()


def split_scores(model, pipeline: Pipeline, split: str, tta: str = "center", precision: str = "fp32",
                 progress: bool = False, classes: tuple[list, list] | None = None) -> RunScores:
    """`model`'s scores on a split; under torch.distributed each rank scores its share of the split and
    every rank gets the scores of the whole, in order. `classes` (ids, names): the model's, where they
    are not the dataset's (a checkpoint scored on other data)."""
    ds = pipeline.dataset(split)
    world = pipeline.world
    bar = scoring_bar(len(shard_indices(len(ds), world)), split, tta, progress)
    scores, labels = predict_scores(model, pipeline.eval_batches(split, tta), precision, ds.multilabel, bar)
    scores, labels = gather_in_order(scores, len(ds), world), gather_in_order(labels, len(ds), world)
    ids, names = classes or (list(ds.classes), list(ds.class_names))
    return RunScores(scores, labels, ids, names, split, tta, ds.multilabel, ds.difficult_array(), ds.year == 2007)


def _pipeline_for(state: dict, data: str | None, device, world: World = SINGLE) -> Pipeline:
    config = from_dict(state["config"])
    data_config = replace(config.data, path=data) if data else config.data
    return Pipeline.build(data_config, config.train.seed, device, stats=state["data_stats"], world=world)


def is_baseline_run(run: str | Path) -> bool:
    """A run folder of the pre-2012 pipeline (`ilsvrc baseline`), rather than a ConvNet's."""
    return (Path(run) / "baseline.json").is_file()


@dataclass
class RunScores:
    """A run's class scores on one split: what eval, the demo's table and the report all start from."""

    scores: torch.Tensor  # (N, K) float32: softmax probabilities (ConvNets) or decision scores (SVMs)
    labels: torch.Tensor  # (N,) int64
    classes: list[str]
    class_names: list[str]
    split: str
    tta: str
    multilabel: bool = False
    difficult: np.ndarray | None = None  # (N, K) VOC's difficult flags
    eleven_point: bool = False  # VOC 2007's 11-point AP

    def result(self) -> dict:
        """The ILSVRC figures (top-1/top-5 error, per-class accuracy, confusion), or VOC's mAP."""
        if self.multilabel:
            m_ap = metrics.mean_average_precision(self.scores.numpy(), self.labels.numpy(), self.difficult,
                                                  self.eleven_point)
            return {"mAP": m_ap, "n": len(self.labels), "tta": self.tta, "eleven_point": self.eleven_point}
        return {**summarize(self.scores, self.labels, len(self.classes)), "tta": self.tta}


def run_scores(run: str, data: str | None = None, split: str = "val", tta: str | None = None,
               device: str = "auto", which: str = "best") -> RunScores:
    """Scores of a ConvNet run (or checkpoint) or a baseline run on a split of `data` (default: its own).

    `tta` None means the test views the run validated with (`train.eval_tta`), so that `ilsvrc eval RUN`
    reproduces the run's own validation error by default. Under torchrun each process scores its share
    of the split (`torchrun --nproc_per_node 8 -m ilsvrc eval RUN --tta 10crop`) and all get the whole.
    """
    if is_baseline_run(run):
        from ilsvrc.baseline import load_baseline

        if tta not in (None, "center"):
            raise ConfigError(f"{run}: --tta {tta} applies to ConvNet runs; a baseline run (hand-designed "
                              "features + SVM) scores each image once, as stored")
        return load_baseline(run).run_scores(data, split)
    world = distributed.world_from_env()
    dev = device_for(world, device)
    state = load_checkpoint(run, which)
    config = from_dict(state["config"])
    tta = tta or config.train.eval_tta
    model = model_from_checkpoint(state, dev)
    with distributed.process_group(world, dev):
        pipeline = _pipeline_for(state, data, dev, world)
        precision = config.train.precision  # evaluate as the run was trained and validated
        return split_scores(model, pipeline, _split(pipeline, split), tta, precision, world.is_main,
                            (list(state["classes"]), list(state["class_names"])))


def eval_command(run: str, data: str | None = None, split: str = "val", tta: str | None = None,
                 json: bool = False, device: str = "auto", which: str = "best") -> int:
    r = run_scores(run, data, split, tta, device, which)
    if not distributed.world_from_env().is_main:
        return 0  # under torchrun, rank 0 reports
    result = r.result()
    if json:
        print(jsonlib.dumps({k: v for k, v in result.items() if k != "confusion"} | {"split": r.split}))
    else:
        _print_result(result, r.class_names, r.split)
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
