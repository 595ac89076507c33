"""LeNet-5: the paper's parameter counts, C3's connection table, its layers, shapes and training."""
from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from ilsvrc.errors import ConfigError
from ilsvrc.models import create_model
from ilsvrc.models.lenet import C3_CONNECTIONS, EuclideanRBF, PartialConv2d, ScaledTanh, Subsampling

# Table I of LeCun et al. 1998 as printed: row = S2 map, column = C3 map, X = connected.
TABLE_I = (
    "X...XXX..XXXX.XX",
    "XX...XXX..XXXX.X",
    "XXX...XXX..X.XXX",
    ".XXX..XXXX..X.XX",
    "..XXX..XXXX.XX.X",
    "...XXX..XXXX.XXX",
)


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def test_paper_parameter_counts_per_layer_and_total():
    model = create_model("lenet5")
    layers = {name: count(getattr(model, name)) for name in ("c1", "s2", "c3", "s4", "c5", "f6")}
    assert layers == {"c1": 156, "s2": 12, "c3": 1516, "s4": 32, "c5": 48120, "f6": 10164}
    assert sum(layers.values()) == 60_000
    assert count(model.head) == 850
    assert count(model) == sum(p.numel() for p in model.parameters()) == 60_850


def test_rbf_output_has_no_trainable_parameters():
    model = create_model("lenet5", output="rbf")
    assert count(model) == sum(p.numel() for p in model.parameters()) == 60_000
    assert model.head.codes.shape == (10, 84)
    assert "head.codes" in model.state_dict()


def test_modern_form_counts_full_c3():
    model = create_model("lenet5", modern=True)
    assert count(model.c3) == 16 * 6 * 25 + 16
    assert count(model) == 156 + 2416 + 48120 + 10164 + 850
    assert isinstance(model.act, torch.nn.ReLU) and isinstance(model.s2, torch.nn.MaxPool2d)


def test_c3_connections_are_table_one():
    connected = {(row, col) for row, line in enumerate(TABLE_I) for col, c in enumerate(line) if c == "X"}
    assert {(i, o) for o, inputs in enumerate(C3_CONNECTIONS) for i in inputs} == connected
    assert sum(len(inputs) for inputs in C3_CONNECTIONS) == 60


def test_c3_output_map_depends_only_on_its_connected_inputs():
    torch.manual_seed(0)
    c3 = PartialConv2d(6, C3_CONNECTIONS, 5)
    x = torch.randn(1, 6, 14, 14)
    base = c3(x)
    for j in range(6):
        bumped = x.clone()
        bumped[:, j] += 1.0
        changed = (c3(bumped) - base).abs().amax(dim=(0, 2, 3)) > 0  # (16,)
        assert changed.tolist() == [TABLE_I[j][o] == "X" for o in range(16)], f"S2 map {j}"


def test_c3_equals_a_convolution_with_zeroed_unconnected_kernels():
    torch.manual_seed(0)
    c3 = PartialConv2d(6, C3_CONNECTIONS, 5)
    full = torch.zeros(16, 6, 5, 5)
    for n, (o, i) in enumerate((o, i) for o, inputs in enumerate(C3_CONNECTIONS) for i in inputs):
        full[o, i] = c3.weight.detach()[n]
    x = torch.randn(2, 6, 14, 14)
    torch.testing.assert_close(c3(x), F.conv2d(x, full, c3.bias.detach()), rtol=0, atol=1e-5)
    c3(x).sum().backward()
    assert c3.weight.grad.shape == (60, 5, 5) and c3.weight.grad.abs().min() > 0


def test_c3_init_bound_follows_each_units_fan_in():
    torch.manual_seed(0)
    c3 = PartialConv2d(6, C3_CONNECTIONS, 5)
    start = 0
    for inputs in C3_CONNECTIONS:
        w = c3.weight.detach()[start:start + len(inputs)]
        bound = 2.4 / (len(inputs) * 25)
        assert 0.8 * bound < w.abs().max() <= bound
        start += len(inputs)


def test_subsampling_is_a_scaled_2x2_sum_plus_bias():
    s = Subsampling(3)
    with torch.no_grad():
        s.weight.copy_(torch.tensor([0.5, -1.0, 2.0]))
        s.bias.copy_(torch.tensor([0.0, 1.0, -3.0]))
    x = torch.randn(2, 3, 6, 8)
    sums = x.reshape(2, 3, 3, 2, 4, 2).sum(dim=(3, 5))
    expected = sums * s.weight[:, None, None] + s.bias[:, None, None]
    torch.testing.assert_close(s(x), expected)


def test_squashing_function_maps_plus_minus_one_to_itself():
    f = ScaledTanh()
    out = f(torch.tensor([-1.0, 0.0, 1.0]))
    torch.testing.assert_close(out, torch.tensor([-1.0, 0.0, 1.0]), rtol=0, atol=1e-3)


@pytest.mark.parametrize("options", [{}, {"output": "rbf"}, {"modern": True}])
def test_shapes_for_28_and_32_pixel_inputs(options):
    model = create_model("lenet5", num_classes=37, **options).eval()
    for side in (28, 32):
        x = torch.randn(3, 1, side, side)
        assert model.forward_features(x).shape == (3, 84)
        assert model(x).shape == (3, 37)


def test_28_pixel_input_is_padded_with_zeros_to_32():
    model = create_model("lenet5").eval()
    x = torch.randn(2, 1, 28, 28)
    torch.testing.assert_close(model(x), model(F.pad(x, (2, 2, 2, 2))), rtol=0, atol=0)


def test_28_pixel_input_is_framed_with_the_pad_value():
    model = create_model("lenet5", pad_value=-0.8).eval()
    x = torch.randn(2, 1, 28, 28)
    torch.testing.assert_close(model(x), model(F.pad(x, (2, 2, 2, 2), value=-0.8)), rtol=0, atol=0)
    assert not torch.allclose(model(x), model(F.pad(x, (2, 2, 2, 2))))


def test_other_input_sizes_are_refused():
    with pytest.raises(ConfigError, match=r"^lenet5 takes 32x32 or 28x28 images, got 30x30$"):
        create_model("lenet5")(torch.randn(1, 1, 30, 30))


def test_rbf_output_is_minus_squared_distance_to_fixed_codes():
    rbf = EuclideanRBF(84, 10)
    again = EuclideanRBF(84, 10)
    assert torch.equal(rbf.codes, again.codes)  # seeded: the same codes every time
    assert set(rbf.codes.unique().tolist()) == {-1.0, 1.0}
    assert len({tuple(c.tolist()) for c in rbf.codes}) == 10
    x = torch.randn(5, 84)
    torch.testing.assert_close(rbf(x), -torch.cdist(x, rbf.codes) ** 2, rtol=1e-4, atol=1e-4)
    assert torch.equal(rbf(rbf.codes).argmax(dim=1), torch.arange(10))


def test_in_channels_option():
    model = create_model("lenet5", in_channels=3)
    assert model.c1.weight.shape == (6, 3, 5, 5)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


@pytest.mark.parametrize("options, problem", [
    ({"output": "softmax"}, "lenet5: output must be one of 'linear', 'rbf', got 'softmax'"),
    ({"modern": True, "output": "rbf"},
     "lenet5: output='rbf' compares F6's squashed outputs with +1/-1 codes; it needs modern=False"),
    ({"modern": "yes"}, "lenet5: modern must be true or false, got 'yes'"),
    ({"in_channels": 0}, "lenet5: in_channels must be a positive integer, got 0"),
    ({"num_classes": 0}, "lenet5: num_classes must be a positive integer, got 0"),
    ({"num_classes": True}, "lenet5: num_classes must be a positive integer, got True"),
])
def test_bad_options_raise_config_error(options, problem):
    with pytest.raises(ConfigError) as e:
        create_model("lenet5", **options)
    assert str(e.value) == problem


@pytest.mark.parametrize("options", [{}, {"output": "rbf"}, {"modern": True}])
def test_overfits_one_small_batch(options):
    torch.manual_seed(0)
    model = create_model("lenet5", **options)
    x, y = torch.randn(16, 1, 28, 28), torch.arange(16) % 10
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(200):
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert F.cross_entropy(model(x), y) < 0.01
    assert torch.equal(model(x).argmax(dim=1), y)
