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

    `groups` normalises each group of channels on its own: on two GPUs the 48 maps of one GPU
    never saw the other GPU's maps, so the grouped single-device net does the same.
    `fused` (the default) runs `local_response_norm` below; `fused=False` runs torch's
    F.local_response_norm, the standard layer (which, like Caffe, divides alpha by n, so the
    paper's alpha=1e-4 is passed on as alpha * n). Both compute the same function.
    """

    def __init__(self, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 2.0,
                 groups: int = 1, fused: bool = True):
        super().__init__()
        if size % 2 == 0:
            raise ValueError(f"LRN size must be odd (a window centred on each channel), got {size}")
        self.size, self.alpha, self.beta, self.k, self.groups = size, alpha, beta, k, groups
        self.fused = fused

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W)
        if self.fused:
            return local_response_norm(x, self.size, self.alpha, self.beta, self.k, self.groups)
        parts = x.chunk(self.groups, dim=1) if self.groups > 1 else (x,)
        out = [F.local_response_norm(p, self.size, self.alpha * self.size, self.beta, self.k) for p in parts]
        return out[0] if len(out) == 1 else torch.cat(out, dim=1)

    def extra_repr(self) -> str:
        return (f"size={self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}, groups={self.groups}, "
                f"fused={self.fused}")


def local_response_norm(x: torch.Tensor, size: int = 5, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 2.0, groups: int = 1) -> torch.Tensor:
    """The paper's LRN across channels (alpha multiplies the plain sum), with a hand-written backward.

    torch's F.local_response_norm builds the channel sums with avg_pool3d on a 5-D copy and
    lets autograd differentiate a dozen elementwise ops: on a CPU that made LRN about two
    thirds of AlexNet's training step. Here the sums are shifted adds along the channel axis,
    which channels_last memory makes the contiguous one, and the gradient is the closed form
        dL/da_j = g_j s_j^-beta - 2 alpha beta a_j sum_{i: j in window(i)} g_i b_i / s_i,
    with s_i = k + alpha sum_j a_j^2. The window is symmetric, so one window-sum serves both.
    Arithmetic is in float32 at least (bfloat16 inputs come back as bfloat16).
    """
    return _LocalResponseNorm.apply(x, size, alpha, beta, k, groups)


class _LocalResponseNorm(torch.autograd.Function):
    # Every pass over conv1's activations costs as much as a small layer on a CPU: each line below
    # is one or two passes, with as few temporaries as the arithmetic allows.
    @staticmethod
    def forward(ctx, x, size, alpha, beta, k, groups):
        a = _channels_last_view(x)
        s = _scaled_square_window_sum(a, size, alpha, k, groups)
        s_pow = _inverse_power(s, beta)
        ctx.save_for_backward(x, s, s_pow)
        ctx.params = size, alpha, beta, groups
        y = torch.empty_like(x)
        torch.mul(a, s_pow, out=y.movedim(1, -1))
        return y

    @staticmethod
    def backward(ctx, grad):
        x, s, s_pow = ctx.saved_tensors
        size, alpha, beta, groups = ctx.params
        a = _channels_last_view(x)
        g_s_pow = torch.mul(grad.movedim(1, -1), s_pow)  # float32 however grad is stored
        window = _window_sum(torch.mul(g_s_pow, a).div_(s), size, groups).mul_(a)
        dx = g_s_pow.add_(window, alpha=-2 * alpha * beta)  # in float32: an add casting to bf16 is 3x slower
        return dx.to(x.dtype).movedim(-1, 1), None, None, None, None, None


def _scaled_square_window_sum(a: torch.Tensor, size: int, alpha: float, k: float, groups: int) -> torch.Tensor:
    """k + alpha * (sum of a_j^2 over the window of each channel), squaring on the fly (addcmul)."""
    grouped = a.unflatten(-1, (groups, a.shape[-1] // groups))
    out = torch.addcmul(torch.tensor(k, dtype=a.dtype), grouped, grouped, value=alpha)
    for d in range(1, size // 2 + 1):
        out[..., :-d].addcmul_(grouped[..., d:], grouped[..., d:], value=alpha)
        out[..., d:].addcmul_(grouped[..., :-d], grouped[..., :-d], value=alpha)
    return out.flatten(-2)


def _inverse_power(s: torch.Tensor, beta: float) -> torch.Tensor:
    """s ** -beta; for the paper's beta = 3/4 as rsqrt(s) * sqrt(rsqrt(s)): vectorised, ~3x pow's speed."""
    if beta != 0.75:
        return s.pow(-beta)
    r = s.rsqrt()
    return r.mul_(r.sqrt())


def _channels_last_view(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, H, W, C) in at least float32: a view for channels_last memory."""
    return x.movedim(1, -1).to(torch.promote_types(x.dtype, torch.float32))


def _window_sum(t: torch.Tensor, size: int, groups: int) -> torch.Tensor:
    """out[..., i] = sum of t[..., j] for j within size // 2 of i, inside i's group of channels."""
    grouped = t.unflatten(-1, (groups, t.shape[-1] // groups))
    out = grouped.clone()
    for d in range(1, size // 2 + 1):  # shifted adds: exact, unlike differences of a cumulative sum
        out[..., :-d] += grouped[..., d:]
        out[..., d:] += grouped[..., :-d]
    return out.flatten(-2)


def init_alexnet_(layers: Iterable[tuple[str, nn.Module]], init: str = "paper", bias: float | None = None) -> None:
    """AlexNet's initialisation of layers named conv1..conv5, fc6..fc8 (a tower's too).

    paper:   weights N(0, 0.01); biases 1 in conv2, conv4, conv5, fc6, fc7, else 0.
    caffe:   Caffe's bvlc_alexnet, which found bias 1 can leave the loss stuck at ln(1000):
             those biases 0.1, and std 0.005 for fc6 and fc7.
    kaiming: std sqrt(2 / fan-in) (He et al. 2015; 1 / sqrt(fan-in) for fc8, which no ReLU
             follows), biases as caffe. A fixed std of 0.01 only suits the large fan-ins and
             0-255 pixel scale of the 224x224 net: on small nets the signal dies out and the
             loss stays at ln(num_classes).
    `bias`, where given, replaces the bias of conv2, conv4, conv5, fc6 and fc7 (1 in the paper, 0.1 in Caffe).
    """
    for role, layer in layers:
        nn.init.normal_(layer.weight, mean=0.0, std=weight_std(role, layer.weight, init))
        nn.init.constant_(layer.bias, bias_value(role, init, bias))


def weight_std(role: str, weight: torch.Tensor, init: str) -> float:
    if init == "kaiming":
        gain = 1.0 if role == "fc8" else math.sqrt(2.0)
        return gain / math.sqrt(weight[0].numel())
    return 0.005 if init == "caffe" and role in ("fc6", "fc7") else 0.01


def bias_value(role: str, init: str, bias: float | None = None) -> float:
    if role not in POSITIVE_BIAS_LAYERS:
        return 0.0
    if bias is not None:
        return float(bias)
    return 1.0 if init == "paper" else 0.1
