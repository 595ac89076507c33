"""Layers shared by the AlexNet family: the paper's local response normalisation and its init.

    norm = LocalResponseNorm()            # k=2, n=5, alpha=1e-4, beta=0.75, as in the paper
    y = norm(torch.relu(conv1(x)))        # (B, 96, 55, 55) -> (B, 96, 55, 55)
"""
from __future__ import annotations

import math
from typing import Iterable

import torch
from torch import nn
from torch.nn import functional as F

# The layers whose bias the paper sets to 1 "to accelerate the early stages of learning by
# providing the ReLUs with positive inputs".
POSITIVE_BIAS_LAYERS = ("conv2", "conv4", "conv5", "fc6", "fc7")
INITS = ("paper", "caffe", "kaiming")


class LocalResponseNorm(nn.Module):
    """b_i = a_i / (k + alpha * sum_{j=i-n/2}^{i+n/2} a_j^2)^beta, with alpha as in the PAPER.

    torch (like Caffe) divides alpha by n, so the paper's alpha=1e-4 is passed on as alpha * n.
    `groups` normalises each group of channels on its own: on two GPUs the 48 maps of one GPU
    never saw the other GPU's maps, so the grouped single-device net does the same.
    """

    def __init__(self, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 2.0,
                 groups: int = 1):
        super().__init__()
        self.size, self.alpha, self.beta, self.k, self.groups = size, alpha, beta, k, groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W)
        parts = x.chunk(self.groups, dim=1) if self.groups > 1 else (x,)
        out = [F.local_response_norm(p, self.size, self.alpha * self.size, self.beta, self.k) for p in parts]
        return out[0] if len(out) == 1 else torch.cat(out, dim=1)

    def extra_repr(self) -> str:
        return f"size={self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}, groups={self.groups}"


def init_alexnet_(layers: Iterable[tuple[str, nn.Module]], init: str = "paper") -> None:
    """AlexNet's initialisation of layers named conv1..conv5, fc6..fc8 (a tower's too).

    paper:   weights N(0, 0.01); biases 1 in conv2, conv4, conv5, fc6, fc7, else 0.
    caffe:   Caffe's bvlc_alexnet, which found bias 1 can leave the loss stuck at ln(1000):
             those biases 0.1, and std 0.005 for fc6 and fc7.
    kaiming: std sqrt(2 / fan-in) (He et al. 2015; 1 / sqrt(fan-in) for fc8, which no ReLU
             follows), biases as caffe. A fixed std of 0.01 only suits the large fan-ins and
             0-255 pixel scale of the 224x224 net: on small nets the signal dies out and the
             loss stays at ln(num_classes).
    """
    for role, layer in layers:
        nn.init.normal_(layer.weight, mean=0.0, std=weight_std(role, layer.weight, init))
        nn.init.constant_(layer.bias, bias_value(role, init))


def weight_std(role: str, weight: torch.Tensor, init: str) -> float:
    if init == "kaiming":
        gain = 1.0 if role == "fc8" else math.sqrt(2.0)
        return gain / math.sqrt(weight[0].numel())
    return 0.005 if init == "caffe" and role in ("fc6", "fc7") else 0.01


def bias_value(role: str, init: str) -> float:
    if role not in POSITIVE_BIAS_LAYERS:
        return 0.0
    return 1.0 if init == "paper" else 0.1
