"""`ilsvrc predict RUN IMAGE...`: the top-5 classes of image files, with names and probabilities.

Each image is brought to what the model saw at test time: grayscale or RGB as trained, the
shorter side resized to the training region (256 for the paper) or the training image size,
the central crop, the training set's mean subtracted.
"""
from __future__ import annotations

import json as jsonlib

import numpy as np
import torch

from ilsvrc.augment import center_crop
from ilsvrc.baseline import is_baseline_run, load_baseline
from ilsvrc.config import from_dict
from ilsvrc.data.images import read_image, resize_shorter
from ilsvrc.engine.checkpoint import load_checkpoint, model_from_checkpoint
from ilsvrc.engine.devices import pick_device
from ilsvrc.engine.pipeline import normalization_for
from ilsvrc.errors import ConfigError


def prepare_image(path: str, data_config, stats: dict) -> np.ndarray:
    """An image file as the model's uint8 (h, w, C) test input."""
    mean_image = np.asarray(stats["mean_image"])
    channels = mean_image.shape[2]
    image = read_image(path, mode="L" if channels == 1 else "RGB")
    if data_config.crop is None:  # small images: the whole image at the training size
        side = mean_image.shape[0]
        return center_crop(resize_shorter(image, side), side)
    return center_crop(center_crop(resize_shorter(image, data_config.region), data_config.region), data_config.crop)


@torch.no_grad()
def predict_files(run: str, paths: list[str], top: int = 5, device: str = "auto") -> list[dict]:
    if top < 1:
        raise ConfigError(f"--top must be at least 1, got {top}")
    if is_baseline_run(run):  # a hand-designed-features + SVM run (`ilsvrc baseline`)
        return load_baseline(run).predict_files(paths, top)
    dev = pick_device(device)
    state = load_checkpoint(run)
    model = model_from_checkpoint(state, dev)
    config = from_dict(state["config"])
    stats = {k: v.numpy() for k, v in state["data_stats"].items()}
    normalization = normalization_for(config.data, stats, dev)
    batch = torch.from_numpy(np.stack([prepare_image(p, config.data, stats) for p in paths])).to(dev)
    probs = model(normalization(batch)).float().softmax(-1).cpu()
    top = min(top, probs.shape[1])
    results = []
    for path, p in zip(paths, probs):
        values, indices = p.topk(top)
        results.append({"image": path, "top": [
            {"class": state["classes"][i], "name": state["class_names"][i], "probability": float(v)}
            for v, i in zip(values.tolist(), indices.tolist())]})
    return results


def predict_command(run: str, images: list[str], top: int = 5, device: str = "auto", json: bool = False) -> int:
    results = predict_files(run, images, top, device)
    if json:
        print(jsonlib.dumps(results, indent=1))
        return 0
    for result in results:
        print(result["image"])
        for entry in result["top"]:
            bar = "█" * round(entry["probability"] * 30)
            print(f"  {entry['probability'] * 100:6.2f}%  {bar:<30}  {entry['name']}")
    return 0
