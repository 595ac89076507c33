"""AlexNet as it ran in 2012: two towers on two GPUs that exchange activations in three places.

    model = create_model("alexnet-two-tower", devices=("cuda:0", "cuda:1"))
    model.load_state_dict(two_tower_from_alexnet(grouped.state_dict()))   # and back:
    grouped.load_state_dict(alexnet_from_two_tower(model.state_dict()))

Each tower holds half of every layer's kernels (conv 48/128/192/192/128, fc6 and fc7 2048
neurons). Tower t sees only its own maps, except where the paper lets the GPUs communicate:
conv3 reads both towers' conv2 maps, and fc6 and fc7 read both towers' previous layer. fc8
(dense over both towers' fc7) sits on the first device. The single-device `alexnet` is the
same function: its group g of conv2, conv4, conv5 is tower g, and the weights convert both ways.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Mapping

import torch
from torch import nn
from torch.nn import functional as F

from ilsvrc.errors import ConfigError
from ilsvrc.models.alexnet import ALEXNET_LAYERS, named_layers
from ilsvrc.models.layers import INITS, LocalResponseNorm, init_alexnet_
from ilsvrc.models.registry import Classifier, ModelConfig, require, require_choice

TOWER_LAYERS = ALEXNET_LAYERS[:-1]  # conv1..fc7 are split between the towers; fc8 is not


@dataclass
class AlexNetTwoTowerConfig(ModelConfig):
    name: str = "alexnet-two-tower"
    num_classes: int = 1000
    in_channels: int = 3
    dropout: float = 0.5
    init: str = "paper"
    devices: tuple[str, str] | None = None  # None: cuda:0 and cuda:1, or what there is of them, or cpu

    def __post_init__(self) -> None:
        super().__post_init__()
        require_choice(self, "init", INITS)
        if self.devices is not None:
            require(isinstance(self.devices, (list, tuple)) and len(self.devices) == 2, self,
                    f"devices must name 2 devices, one per tower, got {self.devices!r}")
            self.devices = tuple(self.devices)
            for device in self.devices:
                parse_device(self, device)


def parse_device(config: ModelConfig, device: str) -> torch.device:
    try:
        return torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError(f"{config.name}: {device!r} is not a device (e.g. 'cuda:0', 'cpu')") from None


def default_devices() -> tuple[str, str]:
    gpus = torch.cuda.device_count()
    if gpus == 0:
        return ("cpu", "cpu")
    return ("cuda:0", "cuda:1" if gpus > 1 else "cuda:0")


def available(device: str) -> torch.device:
    """The device, if this machine has it: a checkpoint from two GPUs may be rebuilt elsewhere."""
    d = torch.device(device)
    gpus = torch.cuda.device_count()
    if d.type == "cuda" and (d.index or 0) >= gpus:
        raise ConfigError(f"alexnet-two-tower: device {device!r} is not here ({gpus} CUDA devices); "
                          "choose devices=(..., ...), e.g. ('cpu', 'cpu')")
    return d


class Tower(nn.Module):
    """One GPU's half of the network."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 48, 11, stride=4, padding=2)
        self.conv2 = nn.Conv2d(48, 128, 5, padding=2)
        self.conv3 = nn.Conv2d(256, 192, 3, padding=1)  # both towers' conv2 maps
        self.conv4 = nn.Conv2d(192, 192, 3, padding=1)
        self.conv5 = nn.Conv2d(192, 128, 3, padding=1)
        self.fc6 = nn.Linear(2 * 128 * 6 * 6, 2048)     # both towers' pool5
        self.fc7 = nn.Linear(2 * 2048, 2048)            # both towers' fc6
        self.norm = LocalResponseNorm()
        self.pool = nn.MaxPool2d(3, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d(6)

    @property
    def device(self) -> torch.device:
        return self.conv1.weight.device

    def lower(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, 224, 224)
        x = self.pool(self.norm(F.relu(self.conv1(x))))  # (B, 48, 55, 55) -> (B, 48, 27, 27)
        return self.pool(self.norm(F.relu(self.conv2(x))))  # (B, 128, 27, 27) -> (B, 128, 13, 13)

    def upper(self, both: torch.Tensor) -> torch.Tensor:  # (B, 256, 13, 13)
        x = F.relu(self.conv3(both))                     # (B, 192, 13, 13)
        x = F.relu(self.conv4(x))                        # (B, 192, 13, 13)
        x = self.pool(F.relu(self.conv5(x)))             # (B, 128, 13, 13) -> (B, 128, 6, 6)
        return self.avgpool(x).flatten(1)                # (B, 4608)


class AlexNetTwoTower(Classifier):
    config_class = AlexNetTwoTowerConfig
    places_itself = True  # each tower lives on its own device: callers must not move the whole model

    def __init__(self, config: AlexNetTwoTowerConfig):
        super().__init__()
        self.config = config
        self.towers = nn.ModuleList([Tower(config.in_channels) for _ in range(2)])
        self.fc8 = nn.Linear(2 * 2048, config.num_classes)
        self.drop = nn.Dropout(config.dropout)
        self.num_features = 4096
        for tower in self.towers:
            init_alexnet_(named_layers(tower, TOWER_LAYERS), config.init)
        init_alexnet_([("fc8", self.fc8)], config.init)
        for tower, device in zip(self.towers, config.devices or default_devices()):
            tower.to(available(device))
        self.fc8.to(self.towers[0].device)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, 224, 224)
        t0, t1 = self.towers
        a = [t0.lower(x.to(t0.device)), t1.lower(x.to(t1.device))]  # 2 x (B, 128, 13, 13)
        a = self.exchange(a)                                        # 2 x (B, 256, 13, 13)
        a = self.exchange([t0.upper(a[0]), t1.upper(a[1])])         # 2 x (B, 9216)
        a = [self.drop(F.relu(t.fc6(h))) for t, h in zip(self.towers, a)]  # 2 x (B, 2048)
        a = self.exchange(a)                                        # 2 x (B, 4096)
        a = [F.relu(t.fc7(h)) for t, h in zip(self.towers, a)]      # 2 x (B, 2048)
        return torch.cat([a[0], a[1].to(t0.device)], dim=1)         # (B, 4096) on tower 0's device

    def exchange(self, parts: list[torch.Tensor]) -> list[torch.Tensor]:
        """Each tower gets both towers' activations, tower 0's first: where the GPUs communicate."""
        return [torch.cat([p.to(t.device) for p in parts], dim=1) for t in self.towers]

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc8(self.drop(features.to(self.fc8.weight.device)))  # (B, num_classes)


def two_tower_from_alexnet(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Split a 2-group `alexnet` state dict into the two towers' (output halves: group g = tower g)."""
    conv2 = state_dict.get("conv2.weight")
    if conv2 is None or tuple(conv2.shape[:2]) != (256, 48):
        raise ConfigError("two_tower_from_alexnet needs the state dict of alexnet with groups=2 "
                          "(conv2.weight of shape (256, 48, 5, 5))")
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        layer = key.split(".")[0]
        if layer in TOWER_LAYERS:
            for t, half in enumerate(value.chunk(2, dim=0)):
                out[f"towers.{t}.{key}"] = half.clone()
        else:
            out[key] = value
    return out


def alexnet_from_two_tower(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Join the two towers' state dict into a 2-group `alexnet` state dict (on tower 0's device)."""
    halves: dict[str, list[tuple[int, torch.Tensor]]] = defaultdict(list)
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        if key.startswith("towers."):
            _, t, rest = key.split(".", 2)
            halves[rest].append((int(t), value))
        else:
            out[key] = value
    for key, parts in halves.items():
        tensors = [v for _, v in sorted(parts, key=lambda part: part[0])]
        out[key] = torch.cat([v.to(tensors[0].device) for v in tensors], dim=0)
    return out
