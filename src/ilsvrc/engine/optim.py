"""The paper's SGD update, with the learning rate inside the velocity; and LARS for very large batches.

    optimizer = PaperSGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    optimizer = Lars(model.parameters(), lr=2.0, momentum=0.9, weight_decay=5e-4, eta=0.001)   # optim.name: lars

Krizhevsky et al. 2012, Sec. 5:  v <- 0.9 v - 0.0005 lr w - lr dL/dw;  w <- w + v.
torch.optim.SGD keeps the learning rate outside its buffer (b <- 0.9 b + g + wd w; w <- w - lr b). At a
constant rate the two are the same (v = -lr b); when the rate is divided by 10, the paper's velocity still
carries the steps taken at the old rate, while torch's buffer is rescaled at once, so the carried
momentum shrinks tenfold on the drop. The `paper` preset asks for this rule (optim.lr_in_velocity).
"""
from __future__ import annotations

import torch


class _VelocityOptimizer(torch.optim.Optimizer):
    """What both rules share: the closure, and each parameter group updated by `_group_step`."""

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            self._group_step(group)
        return loss

    def _group_step(self, group: dict) -> None:
        raise NotImplementedError


class PaperSGD(_VelocityOptimizer):
    def __init__(self, params, lr: float, momentum: float = 0.9, weight_decay: float = 0.0):
        super().__init__(params, {"lr": lr, "momentum": momentum, "weight_decay": weight_decay})

    def _group_step(self, group: dict) -> None:
        lr, momentum, decay = group["lr"], group["momentum"], group["weight_decay"]
        params = [p for p in group["params"] if p.grad is not None]
        for p in params:
            if "velocity" not in self.state[p]:
                self.state[p]["velocity"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        if not params:
            return
        velocities = [self.state[p]["velocity"] for p in params]
        # Multi-tensor ops: one kernel launch per step of the formula for all tensors, not one per tensor.
        torch._foreach_mul_(velocities, momentum)
        torch._foreach_add_(velocities, [p.grad for p in params], alpha=-lr)
        if decay:
            torch._foreach_add_(velocities, params, alpha=-decay * lr)
        torch._foreach_add_(params, velocities)


class Lars(_VelocityOptimizer):
    """Layer-wise adaptive rate scaling (You, Gitman and Ginsburg 2017), the rule that trained AlexNet at
    batch 8K-32K: each weight tensor's step is scaled by its trust ratio eta ||w|| / (||g|| + wd ||w||),

        v <- m v + lr * trust * (g + wd w);   w <- w - v

    Biases and other 1-dimensional tensors take the plain step (trust 1), as the paper's implementations do.
    """

    def __init__(self, params, lr: float, momentum: float = 0.9, weight_decay: float = 0.0, eta: float = 0.001):
        super().__init__(params, {"lr": lr, "momentum": momentum, "weight_decay": weight_decay, "eta": eta})

    def _group_step(self, group: dict) -> None:
        for p in group["params"]:
            if p.grad is not None:
                self._update(p, group)

    def _update(self, p: torch.Tensor, group: dict) -> None:
        decay, grad = group["weight_decay"], p.grad
        trust = 1.0
        if p.ndim > 1:
            w_norm, g_norm = p.norm().item(), grad.norm().item()
            if w_norm > 0 and g_norm > 0:
                trust = group["eta"] * w_norm / (g_norm + decay * w_norm)
        state = self.state[p]
        if "velocity" not in state:
            state["velocity"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        v = state["velocity"]
        v.mul_(group["momentum"]).add_(grad, alpha=group["lr"] * trust)
        if decay:
            v.add_(p, alpha=group["lr"] * trust * decay)
        p.sub_(v)
