"""A trained ConvNet opened for inspection: its first-layer filters and its last hidden layer.

    net = load_convnet("runs/lenet5")                  # data: the run's own, unless given
    first_layer_weights(net.model)                     # (out, in, k, k)
    net.features(net.dataset("train"), [0, 5, 9])      # (3, D) forward_features of the centre views

Images go through the same test-time view the evaluation uses (the centre crop, normalised with
the statistics the checkpoint saved), so features and scores describe the same inputs.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
import torch
from torch import nn

from ilsvrc.augment import EvalTransform
from ilsvrc.config import from_dict
from ilsvrc.data.readers.packed import PackedDataset
from ilsvrc.engine.checkpoint import load_checkpoint, model_from_checkpoint
from ilsvrc.engine.pipeline import Pipeline
from ilsvrc.errors import ConfigError
from ilsvrc.engine.devices import pick_device


@dataclass
class LoadedConvNet:
    model: nn.Module
    pipeline: Pipeline
    device: torch.device

    def dataset(self, split: str) -> PackedDataset:
        return self.pipeline.dataset(split)

    def image(self, dataset: PackedDataset, i: int) -> np.ndarray:
        """Image i as the evaluation sees it, before normalising: the central region of large images."""
        return centre_view(self.pipeline).sample(dataset.image(i))

    def inputs(self, images: Sequence[np.ndarray]) -> torch.Tensor:
        """(B, C, h, w) normalised centre views of (H, W, C) uint8 images, on the model's device."""
        transform = centre_view(self.pipeline)
        batch = torch.from_numpy(np.stack([transform.sample(image) for image in images])).to(self.device)
        return transform(batch)[:, 0]

    @torch.no_grad()
    def features(self, dataset: PackedDataset, indices: Sequence[int], batch_size: int = 256) -> torch.Tensor:
        """(len(indices), D) float32 last-hidden-layer features, on the CPU."""
        self.model.eval()
        out = []
        for start in range(0, len(indices), batch_size):
            images = [dataset.image(int(i)) for i in indices[start:start + batch_size]]
            out.append(self.model.forward_features(self.inputs(images)).float().cpu())
        return torch.cat(out) if out else torch.zeros(0, self.model.num_features)


def load_convnet(run: str, data: str | None = None, device: str = "auto") -> LoadedConvNet:
    """A run's best checkpoint with the data pipeline it was evaluated with (`data` overrides its dataset)."""
    dev = pick_device(device)
    state = load_checkpoint(run, "best")
    config = from_dict(state["config"])
    data_config = replace(config.data, path=data) if data else config.data
    pipeline = Pipeline.build(data_config, config.train.seed, dev, stats=state["data_stats"])
    return LoadedConvNet(model_from_checkpoint(state, dev), pipeline, dev)


def centre_view(pipeline: Pipeline) -> EvalTransform:
    """The single centre view of evaluation: the whole image for small data, the centre crop otherwise."""
    if pipeline.small:
        _, height, _ = pipeline.image_shape
        return EvalTransform(height, None, 1, pipeline.normalization)
    return EvalTransform(pipeline.config.crop, pipeline.config.region, 1, pipeline.normalization)


def first_layer_weights(model: nn.Module) -> torch.Tensor:
    """(out, in, k, k) kernels of the first convolution, on the CPU.

    Where towers split that layer (AlexNet as it ran on two GPUs), every tower's kernels, tower
    by tower: the 48 + 48 of the paper's Figure 3.
    """
    convs = [(name.rsplit(".", 1)[-1], m) for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ConfigError(f"{model.config.name}: has no convolution whose filters could be shown")
    leaf, first = convs[0]
    parts = [m.weight for name, m in convs if name == leaf and m.weight.shape[1:] == first.weight.shape[1:]]
    return torch.cat([p.detach().float().cpu() for p in parts])
