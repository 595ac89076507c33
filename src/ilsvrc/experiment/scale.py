"""The `scale` experiment: HOG + linear SVM and the ConvNet against the number of training images.

Both are trained on the same stratified subsets and scored on the same test images. The ConvNet (alexnet-small
on small images; the full alexnet at paper scale) gets about the same number of image presentations at every
size (more epochs on small subsets, within [min_epochs, max_epochs]); the SVM sees each subset once, as it
always does.
"""
from __future__ import annotations

import json
import math
import time

from ilsvrc import progress
from ilsvrc.baseline import fit_baseline
from ilsvrc.engine.train import train
from ilsvrc.experiment.measures import final_figures
from ilsvrc.experiment.runner import Context, arm_config
from ilsvrc.experiment.verdict import mean_std


def epochs_for(images: int, passes: int, low: int, high: int) -> int:
    return max(low, min(high, math.ceil(passes / images)))


def plan(context: Context) -> list[tuple[int, int]]:
    """(training images, epochs) of the ConvNet at each size of this version (the whole split at most)."""
    e, q, p = context.experiment, context.quick, context.paper
    sizes = list(dict.fromkeys(context.train_images(size) for size in e.setting("sizes", q, p)))  # in order, once
    return [(size, epochs_for(size, e.setting("image_passes", q, p), e.setting("min_epochs", q, p),
                              e.setting("max_epochs", q, p))) for size in sizes]


def run_scale(context: Context):
    planned = plan(context)
    sizes = [size for size, _ in planned]
    errors = {"hog": {}, "convnet": {}}  # method -> size -> [error per seed]
    total, done = len(sizes) * len(context.seeds), 0
    for seed in context.seeds:
        for size, epochs in planned:
            done += 1
            began = time.perf_counter()
            data = context.subset(seed, size)
            run = context.out / "runs" / "convnet" / f"n{size}-seed{seed}"
            with progress.silenced():
                train(arm_config(context, (), data, seed, epochs), run)
            errors["convnet"].setdefault(size, []).append(final_figures(run, context)["top1_error"])
            with progress.silenced():
                hog = fit_baseline("hog", data, context.out / "runs" / "hog" / f"n{size}-seed{seed}", seed=seed)
            errors["hog"].setdefault(size, []).append(json.loads((hog / "summary.json").read_text())["top1_error"])
            context.log(f"  [{done}/{total}] scale: {size} images ({epochs} epochs), seed {seed}: HOG "
                        f"{errors['hog'][size][-1]:.2%}, ConvNet {errors['convnet'][size][-1]:.2%} "
                        f"({time.perf_counter() - began:.0f} s)")
    return _figures(errors, sizes, context.seeds), _notes(errors, sizes), _series(errors, sizes, context.subject)


def _advantages(errors: dict, size: int) -> list[float]:
    return [h - c for h, c in zip(errors["hog"][size], errors["convnet"][size])]


def _figures(errors: dict, sizes, seeds) -> dict:
    out = {}
    for arm, size in (("advantage@smallest", sizes[0]), ("advantage@largest", sizes[-1])):
        out[arm] = [{"advantage": a, "train_images": size, "hog_error": h, "convnet_error": c, "seed": s}
                    for a, h, c, s in zip(_advantages(errors, size), errors["hog"][size], errors["convnet"][size],
                                          seeds)]
    return out


def _notes(errors: dict, sizes) -> list[str]:
    means = {size: mean_std(_advantages(errors, size))[0] for size in sizes}
    notes = [f"{size:,} images: HOG {mean_std(errors['hog'][size])[0]:.2%}, ConvNet "
             f"{mean_std(errors['convnet'][size])[0]:.2%}, advantage {means[size] * 100:+.2f} points" for size in sizes]
    crossings = [f"between {a:,} and {b:,} images" for a, b in zip(sizes, sizes[1:])
                 if (means[a] > 0) != (means[b] > 0)]
    notes.append("the ConvNet and HOG cross " + "; ".join(crossings) if crossings else
                 f"no crossing: the ConvNet is {'ahead' if means[sizes[0]] > 0 else 'behind'} at every size")
    return notes


def _series(errors: dict, sizes, subject: str) -> dict:
    names = {"hog": "HOG + linear SVM", "convnet": subject}
    return {names[m]: [{"train_images": s, "mean": mean_std(errors[m][s])[0],
                        "std": 0.0 if len(errors[m][s]) < 2 else mean_std(errors[m][s])[1]} for s in sizes]
            for m in errors}
