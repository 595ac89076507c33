"""`ilsvrc bench features`: the traditional entry's HOG + LBP features, batched, against scikit-image.

Ours: `HogExtractor.transform`, numpy over a batch of images (baseline/features.py). Reference:
scikit-image's `hog` and `local_binary_pattern` image by image (`HogExtractor.describe`, what the
baseline ran before). Same images, one process, repeats interleaved; the ratio, and the largest
difference between the two feature matrices.
"""
from __future__ import annotations

import json as jsonlib

import numpy as np
import torch

from ilsvrc.baseline.extract import SplitImages
from ilsvrc.baseline.extractors import HogExtractor
from ilsvrc.baseline.pipeline import default_side
from ilsvrc.bench.timing import interleaved_medians
from ilsvrc.data.packing import ensure_packed
from ilsvrc.data.readers.packed import PackedDataset
from ilsvrc.errors import ConfigError, DataError


def run(data: str = "fashion-mnist", split: str = "train", images: int = 2000, repeats: int = 3) -> dict:
    if images < 1 or repeats < 1:
        raise ConfigError(f"--images and --repeats must be positive, got {images} and {repeats}")
    root = ensure_packed(data)
    dataset = PackedDataset(root, split)
    if not len(dataset):
        raise DataError(root, f"the {split} split holds no images")
    first = dataset.image(0)
    side, channels = default_side("hog", dataset.storage, min(first.shape[:2])), first.shape[2]
    batch = SplitImages(str(root), split, side, channels).load(np.arange(min(images, len(dataset))))
    extractor = HogExtractor(side, channels)
    ours, reference = extractor.transform(batch), np.stack([extractor.describe(image) for image in batch])
    seconds = interleaved_medians({"ours": lambda: extractor.transform(batch),
                                   "reference": lambda: [extractor.describe(image) for image in batch]},
                                  torch.device("cpu"), 1, repeats)
    return {"data": str(root), "split": split, "images": len(batch), "side": side, "channels": channels,
            "dimension": extractor.dimension, "threads": "one process",
            "ours_img_s": len(batch) / seconds["ours"], "reference_img_s": len(batch) / seconds["reference"],
            "ratio": seconds["reference"] / seconds["ours"],
            "max_abs_difference": float(np.abs(ours - reference).max())}


def features_command(data: str = "fashion-mnist", split: str = "train", images: int = 2000, repeats: int = 3,
                     json: bool = False) -> int:
    result = run(data, split, images, repeats)
    if json:
        print(jsonlib.dumps(result, indent=1))
        return 0
    print(f"HOG + LBP features, {result['images']:,} images of {result['side']} px, one process")
    print(f"  {'ours (numpy, a batch at a time)':<44} {result['ours_img_s']:>9,.0f} img/s")
    print(f"  {'reference (scikit-image, image by image)':<44} {result['reference_img_s']:>9,.0f} img/s")
    print(f"  ratio: {result['ratio']:.1f}x; largest difference {result['max_abs_difference']:.1e}")
    return 0
