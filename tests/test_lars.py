"""LARS (optim.name: lars): each weight tensor's step scaled by its trust ratio, worked by hand."""
import pytest
import torch

from ilsvrc.config import load_config
from ilsvrc.engine.optim import Lars
from ilsvrc.engine.train import make_optimizer
from ilsvrc.errors import ConfigError


def test_one_step_and_the_carried_velocity_by_hand():
    w = torch.nn.Parameter(torch.tensor([[3.0, 4.0], [0.0, 0.0]]))  # ||w|| = 5
    b = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    opt = Lars([w, b], lr=0.5, momentum=0.9, weight_decay=0.1, eta=0.01)
    w.grad = torch.tensor([[0.0, 0.0], [0.6, 0.8]])  # ||g|| = 1
    b.grad = torch.tensor([0.5, 0.5])
    opt.step()
    trust = 0.01 * 5 / (1 + 0.1 * 5)  # 1/30
    v_w = 0.5 * trust * torch.tensor([[0.3, 0.4], [0.6, 0.8]])  # lr * trust * (g + wd w)
    torch.testing.assert_close(w.detach(), torch.tensor([[3.0, 4.0], [0.0, 0.0]]) - v_w)
    v_b = 0.5 * torch.tensor([0.6, 0.7])  # a bias: trust 1
    torch.testing.assert_close(b.detach(), torch.tensor([0.7, 1.65]))
    b_before = b.detach().clone()
    opt.step()
    torch.testing.assert_close(b.detach(), b_before - (0.9 * v_b + 0.5 * (b.grad + 0.1 * b_before)))


def test_chosen_by_the_config():
    model = torch.nn.Linear(3, 2)
    config = load_config("fashion-mnist-lenet5", ["optim.name=lars", "optim.lars_eta=0.02"])
    optimizer = make_optimizer(config, model)
    assert isinstance(optimizer, Lars) and optimizer.param_groups[0]["eta"] == 0.02
    with pytest.raises(ConfigError, match="optim.lars_eta must be positive"):
        load_config("fashion-mnist-lenet5", ["optim.name=lars", "optim.lars_eta=0"])
