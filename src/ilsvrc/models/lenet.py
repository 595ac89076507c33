"""LeNet-5 as published (LeCun, Bottou, Bengio and Haffner, 1998), and its common modern form.

    model = create_model("lenet5")                         # the paper's net, linear 84 -> 10 output
    model = create_model("lenet5", output="rbf")           # the paper's Euclidean RBF output units
    model = create_model("lenet5", modern=True)            # ReLU, max-pooling, full C3

Input 32x32 (28x28 images are padded by 2 inside the model, as the paper centred its 28x28
digits in a 32x32 field). Trainable parameters C1..F6: 156 + 12 + 1,516 + 32 + 48,120 +
10,164 = 60,000, the paper's figure; the linear output adds 850 for 10 classes.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ilsvrc.errors import ConfigError
from ilsvrc.models.registry import Classifier, ModelConfig, require, require_choice

# Table I of the paper: the S2 maps each C3 map takes. Maps 0-5 take 3 contiguous maps, 6-11
# take 4 contiguous, 12-14 take 4 non-contiguous, 15 takes all 6 (wrapping around 5 -> 0).
C3_CONNECTIONS = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (4, 5, 0), (5, 0, 1),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (3, 4, 5, 0), (4, 5, 0, 1), (5, 0, 1, 2),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)
# The paper's output codes were stylised 7x12 bitmaps of the characters; for arbitrary classes
# each class gets a fixed random +1/-1 code of length 84 drawn from a generator with this seed.
RBF_CODE_SEED = 1998
OUTPUTS = ("linear", "rbf")


@dataclass
class LeNet5Config(ModelConfig):
    name: str = "lenet5"
    num_classes: int = 10
    in_channels: int = 1
    output: str = "linear"  # "linear": 84 -> num_classes; "rbf": the paper's fixed Euclidean RBF units
    modern: bool = False    # True: ReLU, 2x2 max-pooling, full C3, default PyTorch init
    pad_value: float = 0.0  # what 28x28 inputs are framed with: the normalised background (set by training)

    def __post_init__(self) -> None:
        super().__post_init__()
        require_choice(self, "output", OUTPUTS)
        require(isinstance(self.modern, bool), self, f"modern must be true or false, got {self.modern!r}")
        require(not (self.modern and self.output == "rbf"), self,
                "output='rbf' compares F6's squashed outputs with +1/-1 codes; it needs modern=False")


class ScaledTanh(nn.Module):
    """The paper's squashing function f(a) = A tanh(S a), A = 1.7159, S = 2/3 (so f(1) = 1)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 1.7159 * torch.tanh(x * (2.0 / 3.0))


class Subsampling(nn.Module):
    """S2 / S4: each map's 2x2 sums times one trainable coefficient, plus one trainable bias."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, C, H/2, W/2)
        sums = F.avg_pool2d(x, 2, divisor_override=1)
        return sums * self.weight[:, None, None] + self.bias[:, None, None]


class PartialConv2d(nn.Module):
    """A convolution whose output map o sees only the input maps `connections[o]` (C3).

    Only the connected kernels exist: a packed (connections, k, k) weight is scattered into a
    zero (out, in, k, k) kernel for a single conv2d, so gradients reach only real weights and
    `sum(p.numel())` counts exactly the paper's parameters.
    """

    def __init__(self, in_channels: int, connections: tuple[tuple[int, ...], ...], kernel_size: int):
        super().__init__()
        pairs = [(o, i) for o, inputs in enumerate(connections) for i in inputs]
        self.in_channels, self.out_channels, self.kernel_size = in_channels, len(connections), kernel_size
        self.register_buffer("out_index", torch.tensor([o for o, _ in pairs]), persistent=False)
        self.register_buffer("in_index", torch.tensor([i for _, i in pairs]), persistent=False)
        self.weight = nn.Parameter(torch.empty(len(pairs), kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(self.out_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The paper's init; a unit's fan-in is (the maps its output map sees) * k * k."""
        maps_seen = torch.bincount(self.out_index, minlength=self.out_channels)
        bound = 2.4 / (maps_seen[self.out_index] * self.kernel_size ** 2)  # (connections,)
        with torch.no_grad():
            self.weight.uniform_(-1, 1).mul_(bound[:, None, None].to(self.weight.dtype))
            self.bias.zero_()

    def full_weight(self) -> torch.Tensor:
        k = self.kernel_size
        full = self.weight.new_zeros(self.out_channels, self.in_channels, k, k)
        return full.index_put((self.out_index, self.in_index), self.weight)  # (out, in, k, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.full_weight(), self.bias)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"connections={self.weight.shape[0]}")


class EuclideanRBF(nn.Module):
    """The paper's output units y_k = sum_j (x_j - w_kj)^2 with fixed +1/-1 codes w_k.

    Returns -y so that the largest output is the predicted class and cross-entropy on it is
    the paper's criterion without its constant j term.
    """

    def __init__(self, in_features: int, num_classes: int):
        super().__init__()
        generator = torch.Generator().manual_seed(RBF_CODE_SEED)
        codes = torch.randint(0, 2, (num_classes, in_features), generator=generator) * 2 - 1
        self.register_buffer("codes", codes.float())  # a buffer: saved, never trained

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 84) -> (B, K)
        return -(x[:, None, :] - self.codes[None]).square().sum(dim=2)


class LeNet5(Classifier):
    config_class = LeNet5Config

    def __init__(self, config: LeNet5Config):
        super().__init__()
        self.config = config
        paper = not config.modern
        self.c1 = nn.Conv2d(config.in_channels, 6, 5)
        self.s2 = nn.Sequential(Subsampling(6), ScaledTanh()) if paper else nn.MaxPool2d(2)
        self.c3 = PartialConv2d(6, C3_CONNECTIONS, 5) if paper else nn.Conv2d(6, 16, 5)
        self.s4 = nn.Sequential(Subsampling(16), ScaledTanh()) if paper else nn.MaxPool2d(2)
        self.c5 = nn.Conv2d(16, 120, 5)
        self.f6 = nn.Linear(120, 84)
        self.act = ScaledTanh() if paper else nn.ReLU()
        self.drop = nn.Dropout(config.dropout)
        rbf = config.output == "rbf"
        self.head = EuclideanRBF(84, config.num_classes) if rbf else nn.Linear(84, config.num_classes)
        self.num_features = 84
        if paper:
            init_lecun_(self)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = pad_to_32(x, self.config.pad_value)  # (B, C, 32, 32)
        x = self.act(self.c1(x))         # (B, 6, 28, 28)
        x = self.s2(x)                   # (B, 6, 14, 14)
        x = self.act(self.c3(x))         # (B, 16, 10, 10)
        x = self.s4(x)                   # (B, 16, 5, 5)
        x = self.act(self.c5(x))         # (B, 120, 1, 1)
        return self.act(self.f6(x.flatten(1)))  # (B, 84)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(features))  # (B, num_classes)


def pad_to_32(x: torch.Tensor, value: float = 0.0) -> torch.Tensor:
    """32x32 as is; 28x28 centred in a 32x32 field of `value`.

    The paper centred each digit in a field of background; after normalisation the background is not 0
    (per-channel mean/std puts Fashion-MNIST's black at about -0.8), so training passes the normalised
    background level (Pipeline.background_level) and a zero frame would be a bright border instead.
    """
    size = tuple(x.shape[-2:])
    if size == (28, 28):
        return F.pad(x, (2, 2, 2, 2), value=value)
    if size != (32, 32):
        raise ConfigError(f"lenet5 takes 32x32 or 28x28 images, got {size[0]}x{size[1]}")
    return x


def init_lecun_(model: LeNet5) -> None:
    """The paper's init: every weight uniform in +-2.4 / F, F the fan-in of its unit; biases 0.

    C3 initialises itself the same way (its units' fan-ins differ); the RBF codes are fixed.
    """
    for layer in (model.c1, model.c5, model.f6, model.head):
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            bound = 2.4 / layer.weight[0].numel()
            nn.init.uniform_(layer.weight, -bound, bound)
            nn.init.zeros_(layer.bias)
    for subsampling in (model.s2[0], model.s4[0]):
        nn.init.uniform_(subsampling.weight, -2.4 / 4, 2.4 / 4)
