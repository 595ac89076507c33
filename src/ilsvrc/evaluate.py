"""ILSVRC evaluation: top-1 / top-5 error with centre, flip or 10-crop testing, per-class accuracy, confusion.

    ilsvrc eval runs/fmnist --data fashion-mnist --split test --tta 10crop --json
    ilsvrc predict runs/fmnist shirt.png boot.jpg

10-crop testing averages the softmax outputs of the 10 views (4 corners + centre, and their
mirror images), as the paper; flip testing, those of the centre view and its mirror image. Without
--tta a run is scored with the views it validated with (train.eval_tta). Multi-label data
(PASCAL VOC) reports mean average precision (11-point for VOC 2007) instead.
"""
from __future__ import annotations

import json as jsonlib

from ilsvrc import metrics
from ilsvrc.data.real_labels import align_real_labels, read_real_labels
from ilsvrc.engine import distributed
from ilsvrc.scoring import run_scores


def eval_command(run: str, data: str | None = None, split: str = "val", tta: str | None = None,
                 json: bool = False, device: str = "auto", which: str = "best", real_labels: str | None = None) -> int:
    real = read_real_labels(real_labels) if real_labels else None  # a bad file fails before the scoring
    r = run_scores(run, data, split, tta, device, which)
    if not distributed.world_from_env().is_main:
        return 0  # under torchrun, rank 0 reports
    result = r.result()
    if real is not None:
        label_sets = align_real_labels(real, r.sources(), len(r.classes), real_labels)
        result["real_top1_error"], result["real_n"] = metrics.real_top1_error(r.scores, label_sets)
    if json:
        print(jsonlib.dumps({"run": run} | {k: v for k, v in result.items() if k != "confusion"} | {"split": r.split}))
    else:
        _print_result(result, r.class_names, r.split)
    return 0


def _print_result(result: dict, classes, split: str) -> None:
    if "mAP" in result:
        print(f"{split}: mAP {result['mAP'] * 100:.2f}%  ({result['n']} images, {result['tta']})")
        return
    print(f"{split}: top-1 error {result['top1_error'] * 100:.2f}%  top-5 error {result['top5_error'] * 100:.2f}%"
          f"  ({result['n']} images, {result['tta']})")
    if "real_top1_error" in result:
        print(f"{split}: ReaL top-1 error {result['real_top1_error'] * 100:.2f}%  ({result['real_n']} images with "
              "reassessed labels, Beyer et al. 2020)")
    names = classes or [str(i) for i in range(len(result["per_class_accuracy"]))]
    width = max(len(n) for n in names[:50])
    print("per-class accuracy:")
    for name, acc in list(zip(names, result["per_class_accuracy"]))[:50]:
        print(f"  {name:<{width}}  {acc * 100:6.2f}%")
    if len(names) <= 20:
        print("confusion matrix (rows: true class, columns: predicted):")
        for name, row in zip(names, result["confusion"]):
            print(f"  {name[:12]:>12} " + " ".join(f"{v:5d}" for v in row))
