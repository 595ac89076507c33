"""The AlexNet family on one device: the 2012 network, torchvision's variant, and a small one.

    model = create_model("alexnet")                  # Krizhevsky, Sutskever and Hinton 2012, 224x224
    model = create_model("alexnet-owt")              # torchvision's single-tower net: its weights load
    model = create_model("alexnet-small", in_channels=1, image_size=28)   # Fashion-MNIST, CIFAR

`alexnet` runs the paper's two GPUs as grouped convolutions: group g of conv2, conv4 and
conv5 is the tower on GPU g (alexnet_two_tower.py holds the literal two-device net). It has
60,965,224 parameters for 1000 classes; `alexnet-owt` ("one weird trick", 2014) 61,100,840.
`alexnet` and `alexnet-small` share the switches of the paper's comparisons (activation, lrn, pooling,
remove_conv, bias, channels), so `ilsvrc experiment` runs each claim at either scale.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torchvision
from torch import nn
from torch.nn import functional as F

from ilsvrc.errors import ConfigError
from ilsvrc.models.layers import INITS, LocalResponseNorm, init_alexnet_
from ilsvrc.models.registry import Classifier, ModelConfig, is_positive_int, require, require_choice

# The paper's comparisons (Sec. 3.1, 3.4): ReLU vs the saturating tanh; overlapping pooling (z=3 > s=2) vs
# the traditional non-overlapping z=s=2, which "produces output of equivalent dimensions".
ACTIVATIONS = {"relu": F.relu, "tanh": torch.tanh}
POOLINGS = {"overlap": (3, 2), "plain": (2, 2)}  # (kernel, stride)
ALEXNET_LAYERS = ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8")


def named_layers(model: nn.Module, names: tuple[str, ...]) -> list[tuple[str, nn.Module]]:
    return [(name, getattr(model, name)) for name in names]


@dataclass
class AlexNetConfig(ModelConfig):
    name: str = "alexnet"
    num_classes: int = 1000
    in_channels: int = 3
    dropout: float = 0.5
    groups: int = 2            # 2: the paper's two-GPU connectivity; 1: every layer sees all maps
    init: str = "paper"        # "paper", "caffe" or "kaiming": see layers.init_alexnet_
    channels: tuple[int, ...] = (96, 256, 384, 384, 256)  # conv1..conv5 filters (the paper's)
    # The paper's design choices, switchable as alexnet-small's are (the defaults are the paper's):
    activation: str = "relu"   # "tanh": the saturating unit of Figure 1's comparison
    lrn: bool = True           # local response normalisation after conv1 and conv2
    pooling: str = "overlap"   # "overlap": 3x3 windows, stride 2; "plain": 2x2, stride 2 (55 -> 27 -> 13 -> 6 both)
    remove_conv: str | None = None  # "conv3" or "conv4": the net one middle layer shallower
    bias: float | None = None  # bias of conv2, conv4, conv5, fc6, fc7 (None: the init's)

    def __post_init__(self) -> None:
        super().__post_init__()
        require_choice(self, "groups", (1, 2))
        require_choice(self, "init", INITS)
        check_design_options(self)


def check_design_options(config) -> None:
    """The switches alexnet and alexnet-small share: activation, lrn, pooling, remove_conv, bias, channels."""
    require_choice(config, "activation", ACTIVATIONS)
    require(isinstance(config.lrn, bool), config, f"lrn must be true or false, got {config.lrn!r}")
    require_choice(config, "pooling", tuple(POOLINGS))
    require_choice(config, "remove_conv", (None, "conv3", "conv4"))
    require(config.bias is None or (isinstance(config.bias, (int, float)) and not isinstance(config.bias, bool)),
            config, f"bias must be a number or null, got {config.bias!r}")
    require(isinstance(config.channels, (list, tuple)) and len(config.channels) == 5
            and all(is_positive_int(c) for c in config.channels),
            config, f"channels must be 5 positive integers (conv1..conv5), got {config.channels!r}")
    config.channels = tuple(config.channels)
    require(all(c % config.groups == 0 for c in config.channels), config,
            f"channels {config.channels} must divide into {config.groups} groups")


def build_design_layers(model: nn.Module, config) -> None:
    """What alexnet and alexnet-small build alike after conv1, in the same order (so a seed gives the same
    draws): conv2..conv5 with a middle one left out if asked (the next takes the previous one's maps), LRN or
    none, the pooling and the activation of the config's switches."""
    c1, c2, c3, c4, c5 = config.channels
    g, removed = config.groups, config.remove_conv
    model.conv2 = nn.Conv2d(c1, c2, 5, padding=2, groups=g)
    model.conv3 = None if removed == "conv3" else nn.Conv2d(c2, c3, 3, padding=1)  # where the two GPUs meet
    into4 = c2 if removed == "conv3" else c3
    model.conv4 = None if removed == "conv4" else nn.Conv2d(into4, c4, 3, padding=1, groups=g)
    model.conv5 = nn.Conv2d(into4 if removed == "conv4" else c4, c5, 3, padding=1, groups=g)
    model.norm = LocalResponseNorm(groups=g) if config.lrn else nn.Identity()
    model.pool = nn.MaxPool2d(*POOLINGS[config.pooling])
    model.act = ACTIVATIONS[config.activation]


def middle_convs(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """conv3 and conv4, whichever the config kept."""
    for conv in (model.conv3, model.conv4):
        if conv is not None:
            x = model.act(conv(x))
    return x


class AlexNet(Classifier):
    """The 2012 network: 5 convolutional and 3 fully connected layers, ReLU, LRN, overlapping pooling.

    Each of the paper's choices is an option (activation, lrn, pooling, remove_conv, bias, channels, dropout,
    groups), so `ilsvrc experiment` switches one at a time at the paper's scale; the defaults build the
    paper's net, draw for draw as before the options existed.
    """

    config_class = AlexNetConfig

    def __init__(self, config: AlexNetConfig):
        super().__init__()
        self.config = config
        # The paper feeds 224x224 crops to an 11x11 stride-4 conv1 with 55x55 outputs, but (224 - 11) / 4 + 1
        # is 54.25: the arithmetic needs 227 (Caffe crops 227). Padding 2 gives (224 + 4 - 11) // 4 + 1 = 55 at
        # the paper's stated 224, as torchvision and cuda-convnet2 do; the weights are the same either way.
        self.conv1 = nn.Conv2d(config.in_channels, config.channels[0], 11, stride=4, padding=2)
        build_design_layers(self, config)  # the paper's pooling: overlapping 3x3 windows, stride 2
        self.avgpool = nn.AdaptiveAvgPool2d(6)  # the identity at 224x224 (either pooling); lets other sizes through
        self.fc6 = nn.Linear(config.channels[4] * 6 * 6, 4096)
        self.fc7 = nn.Linear(4096, 4096)
        self.fc8 = nn.Linear(4096, config.num_classes)
        self.drop = nn.Dropout(config.dropout)
        self.num_features = 4096
        kept = tuple(name for name in ALEXNET_LAYERS if name != config.remove_conv)
        init_alexnet_(named_layers(self, kept), config.init, config.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, 224, 224)
        act = self.act
        x = self.pool(self.norm(act(self.conv1(x))))  # (B, 96, 55, 55) -> (B, 96, 27, 27)
        x = self.pool(self.norm(act(self.conv2(x))))  # (B, 256, 27, 27) -> (B, 256, 13, 13)
        x = middle_convs(self, x)                     # (B, 384, 13, 13)
        x = self.pool(act(self.conv5(x)))             # (B, 256, 13, 13) -> (B, 256, 6, 6)
        x = self.avgpool(x).flatten(1)                # (B, 9216)
        x = self.drop(act(self.fc6(x)))               # (B, 4096)
        return act(self.fc7(x))                       # (B, 4096)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc8(self.drop(features))  # (B, num_classes)


@dataclass
class AlexNetOWTConfig(ModelConfig):
    name: str = "alexnet-owt"
    num_classes: int = 1000
    in_channels: int = 3
    dropout: float = 0.5


class AlexNetOWT(Classifier, torchvision.models.AlexNet):
    """torchvision's AlexNet (Krizhevsky 2014, "One weird trick"): 64-192-384-256-256, no LRN.

    It is torchvision's own module, so key names (features.0.weight, classifier.1.weight, ...),
    its default init and its published weights all carry over; this adds the feature/head split.
    """

    config_class = AlexNetOWTConfig

    def __init__(self, config: AlexNetOWTConfig):
        super().__init__(num_classes=config.num_classes, dropout=config.dropout)
        self.config = config
        if config.in_channels != 3:
            self.features[0] = nn.Conv2d(config.in_channels, 64, kernel_size=11, stride=4, padding=2)
        self.num_features = 4096

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, 224, 224)
        x = self.avgpool(self.features(x)).flatten(1)  # (B, 9216)
        return self.classifier[:-1](x)                 # (B, 4096): dropout, fc6, ReLU, dropout, fc7, ReLU

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.classifier[-1](features)  # (B, num_classes)


@dataclass
class AlexNetSmallConfig(ModelConfig):
    name: str = "alexnet-small"
    num_classes: int = 10
    in_channels: int = 3
    dropout: float = 0.5
    image_size: int = 32                           # square inputs of this side (28 Fashion-MNIST, 32 CIFAR)
    channels: tuple[int, ...] = (32, 64, 96, 96, 64)  # conv1..conv5 filters
    hidden: int = 512                              # fc6 and fc7 units
    groups: int = 1                                # 2: the paper's split of conv2, conv4, conv5
    init: str = "kaiming"                          # AlexNet's N(0, 0.01) stalls at this size
    # The paper's design choices, each switchable for `ilsvrc experiment` (the defaults are the paper's):
    activation: str = "relu"                       # "tanh": the saturating unit of Figure 1's comparison
    lrn: bool = True                               # local response normalisation after conv1 and conv2
    pooling: str = "overlap"                       # "overlap": 3x3 windows, stride 2; "plain": 2x2, stride 2
    remove_conv: str | None = None                 # "conv3" or "conv4": the net one middle layer shallower
    bias: float | None = None                      # bias of conv2, conv4, conv5, fc6, fc7 (None: the init's)

    def __post_init__(self) -> None:
        super().__post_init__()
        require_choice(self, "groups", (1, 2))
        check_design_options(self)
        require(is_positive_int(self.hidden), self,
                f"hidden must be a positive integer, got {self.hidden!r}")
        require(is_positive_int(self.image_size) and self.image_size >= 15, self,
                f"image_size must be an integer >= 15, got {self.image_size!r}")
        require_choice(self, "init", INITS)


class AlexNetSmall(Classifier):
    """AlexNet's design (ReLU, LRN, overlapping 3/2 pooling, dropout, optional 2 groups) at 28-32 px.

    conv1 5x5 -> pool -> LRN -> conv2 5x5 -> pool -> LRN -> conv3, conv4, conv5 3x3 -> pool ->
    fc6 -> fc7 -> fc8. LRN follows the pooling, as in CaffeNet: the same normalisation over 4x
    fewer positions, which halves a CPU training step. The default widths are sized so that
    10 epochs of Fashion-MNIST fit in about 10 minutes on 2 CPU cores.
    Each of the paper's choices is an option (activation, lrn, pooling, remove_conv, bias, dropout,
    groups), so `ilsvrc experiment` switches one at a time; the defaults build the same net, draw for draw.
    """

    config_class = AlexNetSmallConfig

    def __init__(self, config: AlexNetSmallConfig):
        super().__init__()
        self.config = config
        self.conv1 = nn.Conv2d(config.in_channels, config.channels[0], 5, padding=2)
        build_design_layers(self, config)
        side = pooled_side(config.image_size, config.pooling)
        self.fc6 = nn.Linear(config.channels[4] * side * side, config.hidden)
        self.fc7 = nn.Linear(config.hidden, config.hidden)
        self.fc8 = nn.Linear(config.hidden, config.num_classes)
        self.drop = nn.Dropout(config.dropout)
        self.num_features = config.hidden
        kept = tuple(name for name in ALEXNET_LAYERS if name != config.remove_conv)
        init_alexnet_(named_layers(self, kept), config.init, config.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, 32, 32)
        self.check_size(x)
        act = self.act
        x = self.norm(self.pool(act(self.conv1(x))))  # (B, 32, 32, 32) -> (B, 32, 15, 15)
        x = self.norm(self.pool(act(self.conv2(x))))  # (B, 64, 15, 15) -> (B, 64, 7, 7)
        x = middle_convs(self, x)                     # (B, 96, 7, 7)
        x = self.pool(act(self.conv5(x))).flatten(1)  # (B, 64, 3, 3) -> (B, 576)
        x = self.drop(act(self.fc6(x)))               # (B, 512)
        return act(self.fc7(x))                       # (B, 512)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc8(self.drop(features))  # (B, num_classes)

    def check_size(self, x: torch.Tensor) -> None:
        side = self.config.image_size
        if tuple(x.shape[-2:]) != (side, side):
            raise ConfigError(f"alexnet-small was built for {side}x{side} images (image_size), "
                              f"got {x.shape[-2]}x{x.shape[-1]}")


def pooled_side(side: int, pooling: str = "overlap") -> int:
    """The side of conv5's maps after the three poolings (overlapping 3x3/2: 28 -> 2, 32 -> 3; plain 2x2/2:
    28 -> 3, 32 -> 4)."""
    kernel, stride = POOLINGS[pooling]
    for _ in range(3):
        side = (side - kernel) // stride + 1
    return side
