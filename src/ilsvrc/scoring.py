"""Any run folder, ConvNet or baseline, to its class scores on a split.

    scores = run_scores("runs/demo/lenet5", split="test")     # engine.evaluation.RunScores
    scores = run_scores("runs/demo/baseline-hog")             # the same shape from a hand-designed-features run

`ilsvrc eval`, `ilsvrc predict` and the report treat both kinds alike through this one door.
"""
from __future__ import annotations

from ilsvrc.baseline import is_baseline_run, load_baseline
from ilsvrc.engine.evaluation import RunScores, convnet_scores
from ilsvrc.errors import ConfigError


def run_scores(run: str, data: str | None = None, split: str = "val", tta: str | None = None,
               device: str = "auto", which: str = "best") -> RunScores:
    """Scores of a ConvNet run (or checkpoint) or a baseline run on a split of `data` (default: its own).

    `tta` None: the views the run validated with (see `engine.evaluation.convnet_scores`).
    """
    if not is_baseline_run(run):
        return convnet_scores(run, data, split, tta, device, which)
    if tta not in (None, "center"):
        raise ConfigError(f"{run}: --tta {tta} applies to ConvNet runs; a baseline run (hand-designed "
                          "features + SVM) scores each image once, as stored")
    return load_baseline(run).run_scores(data, split)
