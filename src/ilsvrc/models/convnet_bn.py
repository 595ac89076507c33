"""A compact batch-normalised ConvNet: AlexNet's descendant sized for fast training on small images.

    model = create_model("convnet-bn", in_channels=1)                         # Fashion-MNIST, 28x28
    model = create_model("convnet-bn", in_channels=3, widths=(64, 128, 256))  # CIFAR-10, 32x32
    ilsvrc train --config fashion-mnist-fast --out runs/fast

What it keeps from AlexNet: ReLU, max-pooling, and stacks of 3x3 convolutions (conv3..conv5,
which VGG made the whole network). What it takes from the work that followed: batch
normalisation (Ioffe and Szegedy 2015) in place of LRN, which allows a 10x larger learning
rate; global pooling and one linear classifier in place of fc6/fc7 and their dropout
(Network in Network, 2013; max rather than average, as the CIFAR speed runs); and the speed
runs' order conv -> pool -> BN -> ReLU. Max-pooling commutes with BN (positive scale) and
ReLU, both increasing per channel, so this is conv -> BN -> ReLU -> pool with BN's statistics
taken after pooling: 4x fewer positions to normalise and rectify.

Each stage halves the side: conv 3x3 -> max-pool 2 -> BN -> ReLU, then `depth - 1` more
conv 3x3 -> BN -> ReLU at that side. Convolutions have no bias (BN's shift replaces it).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ilsvrc.models.registry import Classifier, ModelConfig, is_positive_int, require


@dataclass
class ConvNetBNConfig(ModelConfig):
    name: str = "convnet-bn"
    num_classes: int = 10
    in_channels: int = 1
    dropout: float = 0.0                    # before the classifier
    widths: tuple[int, ...] = (32, 64, 128)  # channels of each stage; each stage halves the side
    depth: int = 2                          # convolutions per stage (the first one pools)
    stem: int = 0                           # channels of a full-resolution conv before the stages (0: none)
    whiten: bool = False                    # training starts the first conv as +- whitening filters (init_whitening)

    def __post_init__(self) -> None:
        super().__post_init__()
        require(isinstance(self.widths, (list, tuple)) and len(self.widths) >= 1
                and all(is_positive_int(w) for w in self.widths),
                self, f"widths must be one or more positive integers, got {self.widths!r}")
        self.widths = tuple(self.widths)
        require(is_positive_int(self.depth), self, f"depth must be a positive integer, got {self.depth!r}")
        require(isinstance(self.stem, int) and not isinstance(self.stem, bool) and self.stem >= 0,
                self, f"stem must be a non-negative integer, got {self.stem!r}")
        first = self.stem or self.widths[0]
        require(not self.whiten or first >= 2 * 9 * self.in_channels, self,
                f"whiten needs at least {2 * 9 * self.in_channels} maps in the first convolution (2 x 9 x "
                f"{self.in_channels} channels: each 3x3 whitening filter and its negative), got {first}")


def conv_bn_relu(in_channels: int, out_channels: int, pool: bool) -> nn.Sequential:
    """conv 3x3 (no bias) [-> max-pool 2] -> BN -> ReLU."""
    layers = [nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)]
    if pool:
        layers.append(nn.MaxPool2d(2))
    layers += [nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


def stage(in_channels: int, width: int, depth: int) -> nn.Sequential:
    return nn.Sequential(conv_bn_relu(in_channels, width, pool=True),
                         *(conv_bn_relu(width, width, pool=False) for _ in range(depth - 1)))


class ConvNetBN(Classifier):
    """[stem] -> stages (each: side / 2) -> global max pool -> dropout -> linear."""

    config_class = ConvNetBNConfig

    def __init__(self, config: ConvNetBNConfig):
        super().__init__()
        self.config = config
        channels = config.in_channels
        self.stem = conv_bn_relu(channels, config.stem, pool=False) if config.stem else nn.Identity()
        channels = config.stem or channels
        stages = []
        for width in config.widths:
            stages.append(stage(channels, width, config.depth))
            channels = width
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.drop = nn.Dropout(config.dropout)
        self.head = nn.Linear(channels, config.num_classes)
        self.num_features = channels

    def first_conv(self) -> nn.Conv2d:
        return self.stem[0] if self.config.stem else self.stages[0][0][0]

    def init_whitening(self, images: torch.Tensor, eps: float = 5e-3) -> None:
        """Start the first convolution's first 2k filters (k = 9 x channels) as the whitening filters of the
        images' 3x3 patches and their negatives; the others keep their random start, all stay trainable.

        Patch-whitening initialisation (Keller Jordan's airbench CIFAR-10 speed runs): the first layer
        starts out passing decorrelated, unit-variance patch components, so the layers above learn
        faster. `images`: (N, C, H, W) normalised training images; `eps` damps the weakest components."""
        conv = self.first_conv()
        k = 9 * conv.in_channels
        patches = torch.nn.functional.unfold(images.double(), 3).transpose(1, 2).reshape(-1, k)  # (C, 3, 3) order
        values, vectors = torch.linalg.eigh(torch.cov(patches.T))
        filters = (vectors / torch.sqrt(values.clamp_min(0) + eps)).T.reshape(k, conv.in_channels, 3, 3)
        with torch.no_grad():
            conv.weight[:k] = filters.to(conv.weight.dtype)
            conv.weight[k:2 * k] = -filters.to(conv.weight.dtype)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, 28, 28)
        x = self.stages(self.stem(x))   # (B, 128, 3, 3) with the default widths
        return self.pool(x).flatten(1)  # (B, 128)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(features))  # (B, num_classes)
