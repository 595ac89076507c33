"""convnet-bn: exact parameter counts, layer order and shapes, options, validation, a learning step."""
from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from ilsvrc.errors import ConfigError
from ilsvrc.models import config_to_dict, create_model, model_from_config


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def conv_bn(cin: int, cout: int) -> int:
    """A bias-free 3x3 conv and its BN (weight and bias)."""
    return cin * cout * 9 + 2 * cout


def test_default_parameter_count_by_hand():
    model = create_model("convnet-bn")
    stages = (conv_bn(1, 32) + conv_bn(32, 32)) + (conv_bn(32, 64) + conv_bn(64, 64)) \
        + (conv_bn(64, 128) + conv_bn(128, 128))
    assert count(model.stages) == stages == 288 + 64 + 9216 + 64 + 18432 + 128 + 36864 + 128 \
        + 73728 + 256 + 147456 + 256
    assert count(model.head) == 128 * 10 + 10
    assert count(model) == 288_170


def test_stem_depth_and_widths_change_the_count_as_computed():
    model = create_model("convnet-bn", num_classes=7, in_channels=3, widths=(16, 24), depth=3, stem=8)
    expected = conv_bn(3, 8) + conv_bn(8, 16) + 2 * conv_bn(16, 16) + conv_bn(16, 24) + 2 * conv_bn(24, 24) \
        + 24 * 7 + 7
    assert count(model) == expected == 20_231


def test_stage_order_is_conv_pool_bn_relu():
    first = create_model("convnet-bn").stages[0]
    assert [type(m) for m in first[0]] == [nn.Conv2d, nn.MaxPool2d, nn.BatchNorm2d, nn.ReLU]
    assert [type(m) for m in first[1]] == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU]
    assert first[0][0].bias is None and first[0][0].kernel_size == (3, 3)


def test_shapes_and_feature_head_split():
    torch.manual_seed(0)
    model = create_model("convnet-bn", num_classes=10).eval()
    x = torch.randn(3, 1, 28, 28)
    assert model.stages(model.stem(x)).shape == (3, 128, 3, 3)
    features = model.forward_features(x)
    assert features.shape == (3, model.num_features) == (3, 128)
    assert torch.equal(model(x), model.forward_head(features))
    cifar = create_model("convnet-bn", in_channels=3, widths=(8, 16, 32, 64), depth=1)
    assert cifar(torch.randn(2, 3, 32, 32)).shape == (2, 10)  # 32 -> 16 -> 8 -> 4 -> 2


def test_features_are_the_global_max_of_the_last_stage():
    torch.manual_seed(0)
    model = create_model("convnet-bn", widths=(8, 16), depth=1).eval()
    x = torch.randn(2, 1, 28, 28)
    maps = model.stages(model.stem(x))  # (2, 16, 7, 7)
    assert torch.equal(model.forward_features(x), maps.amax(dim=(2, 3)))


def test_config_round_trip_rebuilds_the_same_architecture():
    model = create_model("convnet-bn", widths=(16, 32), depth=1, stem=8, dropout=0.1)
    saved = config_to_dict(model)
    assert saved["widths"] == [16, 32] and saved["stem"] == 8
    again = model_from_config(saved)
    again.load_state_dict(model.state_dict())
    assert again.config == model.config


@pytest.mark.parametrize("options, problem", [
    ({"widths": ()}, "widths must be one or more positive integers"),
    ({"widths": (32, 0)}, "widths must be one or more positive integers"),
    ({"depth": 0}, "depth must be a positive integer"),
    ({"stem": -1}, "stem must be a non-negative integer"),
    ({"dropout": 1.0}, "dropout must be in"),
])
def test_bad_options_are_config_errors(options, problem):
    with pytest.raises(ConfigError, match=f"convnet-bn: {problem}"):
        create_model("convnet-bn", **options)


def test_a_few_steps_fit_a_tiny_batch():
    torch.manual_seed(0)
    model = create_model("convnet-bn", widths=(8, 16), depth=1)
    x, y = torch.randn(16, 1, 28, 28), torch.arange(16) % 10
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    first = None
    for _ in range(30):
        loss = F.cross_entropy(model(x), y)
        first = first if first is not None else loss.item()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < first / 4


def test_pooling_before_bn_and_relu_is_the_same_function_for_fixed_statistics():
    """conv -> pool -> BN -> ReLU equals conv -> BN -> ReLU -> pool once BN's statistics are fixed."""
    torch.manual_seed(0)
    block = create_model("convnet-bn").stages[0][0].eval()  # conv, pool, BN, ReLU
    conv, pool, bn, _ = block
    with torch.no_grad():
        bn.running_mean.normal_()
        bn.running_var.uniform_(0.5, 2)
        bn.weight.uniform_(0.5, 2)  # a positive scale keeps BN increasing, so it commutes with max
        bn.bias.normal_()
        x = torch.randn(2, 1, 28, 28)
        assert torch.allclose(block(x), pool(F.relu(bn(conv(x)))), atol=1e-6)


@pytest.mark.parametrize("preset, stem, widths, params", [("fashion-mnist-fast", 0, (32, 64, 128), 288_170),
                                                          ("fashion-mnist-fast-long", 16, (48, 96, 192), 653_178)])
def test_preset_models_have_the_parameter_counts_their_presets_state(preset, stem, widths, params):
    from ilsvrc.config import load_config

    a, b, c = widths
    section = load_config(preset).model
    model = create_model(section.name, num_classes=10, in_channels=1, **section.options)
    first = conv_bn(1, stem) + conv_bn(stem, a) if stem else conv_bn(1, a)
    by_hand = first + conv_bn(a, a) + conv_bn(a, b) + conv_bn(b, b) + conv_bn(b, c) + conv_bn(c, c) + c * 10 + 10
    assert count(model) == by_hand == params
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 10)


def test_whitening_start_decorrelates_the_first_layers_view_of_the_images():
    generator = torch.Generator().manual_seed(0)
    images = F.avg_pool2d(torch.randn(300, 3, 16, 16, generator=generator), 3, 1, 1) * 4 + 1  # correlated pixels
    model = create_model("convnet-bn", in_channels=3, widths=(64, 128), whiten=True)
    untouched = model.first_conv().weight[54:].clone()
    model.init_whitening(images, eps=1e-5)  # barely damped: the responses are white
    weight = model.first_conv().weight.detach()
    responses = F.conv2d(images, weight[:27]).permute(0, 2, 3, 1).reshape(-1, 27)  # every 3x3 patch
    raw = F.unfold(images, 3).transpose(1, 2).reshape(-1, 27)
    assert (torch.cov(raw.T) - torch.eye(27)).abs().max() > 1  # the patches themselves are far from white
    torch.testing.assert_close(torch.cov(responses.T), torch.eye(27), atol=0.02, rtol=0)
    assert torch.equal(weight[27:54], -weight[:27]) and torch.equal(weight[54:], untouched)
    assert model.first_conv() is model.stages[0][0][0]


def test_whitening_needs_room_for_each_filter_and_its_negative():
    with pytest.raises(ConfigError, match=r"whiten needs at least 18 maps in the first convolution .* got 16"):
        create_model("convnet-bn", widths=(16, 32), whiten=True)
    assert create_model("convnet-bn", widths=(8, 32), stem=18, whiten=True).first_conv().out_channels == 18
