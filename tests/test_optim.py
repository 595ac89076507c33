"""The paper's SGD rule (lr inside the velocity) against its formula across a learning-rate drop, and the
bias weight-decay switch."""
import pytest
import torch

from ilsvrc.config import load_config
from ilsvrc.engine.optim import PaperSGD
from ilsvrc.engine.train import make_optimizer
from ilsvrc.errors import ConfigError
from ilsvrc.models import create_model

GRADS = [torch.tensor([0.5, -1.0]), torch.tensor([0.25, 2.0]), torch.tensor([-1.0, 0.5]), torch.tensor([1.0, 1.0])]
RATES = [0.1, 0.1, 0.01, 0.01]  # a /10 drop after two steps


def run(optimizer_class, rates=RATES):
    w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    opt = optimizer_class([w], lr=rates[0], momentum=0.9, weight_decay=0.0005)
    for lr, g in zip(rates, GRADS):
        opt.param_groups[0]["lr"] = lr
        w.grad = g.clone()
        opt.step()
    return w.detach()


def paper_formula() -> torch.Tensor:
    """Sec. 5, by hand: v <- 0.9 v - 0.0005 lr w - lr g; w <- w + v."""
    w, v = torch.tensor([1.0, -2.0]), torch.zeros(2)
    for lr, g in zip(RATES, GRADS):
        v = 0.9 * v - 0.0005 * lr * w - lr * g
        w = w + v
    return w


def test_paper_sgd_follows_the_paper_formula_across_a_drop():
    torch.testing.assert_close(run(PaperSGD), paper_formula(), rtol=1e-6, atol=1e-7)


def test_torch_sgd_differs_from_the_paper_after_the_drop_only():
    # At a constant rate the two rules are one; after the drop torch's buffer carries 10x less momentum.
    w_torch = run(torch.optim.SGD)
    assert not torch.allclose(w_torch, paper_formula(), rtol=1e-4, atol=1e-5)
    constant = [0.1] * len(GRADS)
    torch.testing.assert_close(run(torch.optim.SGD, constant), run(PaperSGD, constant), rtol=1e-6, atol=1e-7)


def test_the_paper_preset_uses_the_paper_rule_and_leaves_biases_undecayed():
    config = load_config("paper")
    assert config.optim.lr_in_velocity and not config.optim.decay_biases
    model = create_model("alexnet-small", in_channels=1, image_size=28)
    opt = make_optimizer(config, model)
    assert isinstance(opt, PaperSGD)
    weights, biases = opt.param_groups
    names = {id(p): n for n, p in model.named_parameters()}
    assert all(names[id(p)].endswith("bias") for p in biases["params"]) and biases["weight_decay"] == 0.0
    assert weights["weight_decay"] == 0.0005 and len(weights["params"]) + len(biases["params"]) == 16


def test_a_bias_without_decay_keeps_its_value_when_its_gradient_is_zero():
    config = load_config("paper", ["optim.lr=0.1"])
    model = torch.nn.Linear(2, 1)
    with torch.no_grad():
        model.weight.fill_(1.0)
        model.bias.fill_(1.0)
    opt = make_optimizer(config, model)
    model.weight.grad, model.bias.grad = torch.zeros(1, 2), torch.zeros(1)
    opt.step()
    assert model.bias.item() == 1.0 and model.weight[0, 0].item() == pytest.approx(1 - 0.1 * 0.0005)


def test_lr_in_velocity_refuses_nesterov():
    with pytest.raises(ConfigError, match=r"^optim.lr_in_velocity is the paper's plain momentum SGD: it needs "
                                          r"optim.name=sgd and nesterov false$"):
        load_config("fashion-mnist-alexnet", ["optim.lr_in_velocity=true"])
