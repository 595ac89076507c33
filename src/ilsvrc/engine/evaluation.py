"""Scoring a model on a split: class scores over the test views, then the ILSVRC figures.

    scores = split_scores(model, pipeline, "val", tta="10crop")   # RunScores, in dataset order
    scores.result()["top1_error"]
    convnet_scores("runs/alexnet", split="test")                  # a checkpoint, from its own run

10-crop testing averages the softmax outputs of the 10 views (4 corners + centre, and their
mirror images), as the paper; flip testing, those of the centre view and its mirror image.
Multi-label data (PASCAL VOC) is scored by mean average precision (11-point for VOC 2007).
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ilsvrc import metrics, progress
from ilsvrc.config import from_dict
from ilsvrc.data.packing import scored_split
from ilsvrc.data.readers.packed import PackedDataset
from ilsvrc.engine import distributed
from ilsvrc.engine.checkpoint import load_checkpoint, model_from_checkpoint
from ilsvrc.engine.devices import autocast, device_for
from ilsvrc.engine.distributed import SINGLE, World, gather_in_order, shard_indices
from ilsvrc.engine.pipeline import Pipeline
from ilsvrc.errors import DataError


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


def scoring_bar(images: int, split: str, tta: str) -> tqdm:
    """Progress over the images of a split being scored (gone when done)."""
    return progress.bar(images, desc=f"{split} ({tta})")


def summarize(scores: torch.Tensor, labels: torch.Tensor, num_classes: int) -> dict:
    errors = metrics.topk_errors(scores, labels, ks=(1, 5))
    confusion = metrics.confusion_matrix(scores.argmax(1), labels, num_classes)
    k5 = max(errors)
    return {"top1_error": errors[1], "top5_error": errors[k5], "n": len(labels),
            "per_class_accuracy": metrics.per_class_accuracy(confusion).tolist(), "confusion": confusion.tolist()}


def evaluate(model, pipeline: Pipeline, split: str, tta: str = "center", precision: str = "fp32") -> dict:
    """The figures of `model` on a split (see `split_scores`)."""
    return split_scores(model, pipeline, split, tta, precision).result()


def split_scores(model, pipeline: Pipeline, split: str, tta: str = "center", precision: str = "fp32",
                 classes: tuple[list, list] | None = None) -> RunScores:
    """`model`'s scores on a split; under torch.distributed each rank scores its share of the split and
    every rank gets the scores of the whole, in order. `classes` (ids, names): the model's, where they
    are not the dataset's (a checkpoint scored on other data)."""
    ds = pipeline.dataset(split)
    world = pipeline.world
    bar = scoring_bar(len(shard_indices(len(ds), world)), split, tta)
    scores, labels = predict_scores(model, pipeline.eval_batches(split, tta), precision, ds.multilabel, bar)
    scores, labels = gather_in_order(scores, len(ds), world), gather_in_order(labels, len(ds), world)
    ids, names = classes or (list(ds.classes), list(ds.class_names))
    return RunScores(scores, labels, ids, names, split, tta, ds.multilabel, ds.difficult_array(), ds.year == 2007,
                     pipeline.root)


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
    root: Path | None = None  # the packed data scored, where the images' names can be looked up

    def sources(self) -> list[str]:
        """The scored images' names ('ILSVRC2012_val_00000001.JPEG'), in the order of the scores."""
        if self.root is None:
            raise DataError("scores", "no record of the data they were computed on")
        ds = PackedDataset(self.root, self.split)
        return [ds.source(i) for i in range(len(ds))]

    def result(self) -> dict:
        """The ILSVRC figures (top-1/top-5 error, per-class accuracy, confusion), or VOC's mAP."""
        if self.multilabel:
            m_ap = metrics.mean_average_precision(self.scores.numpy(), self.labels.numpy(), self.difficult,
                                                  self.eleven_point)
            return {"mAP": m_ap, "n": len(self.labels), "tta": self.tta, "eleven_point": self.eleven_point}
        return {**summarize(self.scores, self.labels, len(self.classes)), "tta": self.tta}


def convnet_scores(run: str, data: str | None = None, split: str = "val", tta: str | None = None,
                   device: str = "auto", which: str = "best") -> RunScores:
    """Scores of a ConvNet run (or checkpoint) on a split of `data` (default: its own).

    `tta` None means the test views the run validated with (`train.eval_tta`), so that `ilsvrc eval RUN`
    reproduces the run's own validation error by default. Under torchrun each process scores its share
    of the split and all get the whole.
    """
    world = distributed.world_from_env()
    dev = device_for(world, device)
    state = load_checkpoint(run, which)
    config = from_dict(state["config"])
    tta = tta or config.train.eval_tta
    model = model_from_checkpoint(state, dev)
    with distributed.process_group(world, dev), progress.silenced(not world.is_main):
        pipeline = _pipeline_for(state, data, dev, world)
        precision = config.train.precision  # evaluate as the run was trained and validated
        return split_scores(model, pipeline, scored_split(pipeline.root, split), tta, precision,
                            (list(state["classes"]), list(state["class_names"])))


def _pipeline_for(state: dict, data: str | None, device, world: World = SINGLE) -> Pipeline:
    config = from_dict(state["config"])
    data_config = replace(config.data, path=data) if data else config.data
    return Pipeline.build(data_config, config.train.seed, device, stats=state["data_stats"], world=world)
