"""The AlexNet family and the model registry: counts, LRN, two towers, torchvision, round trips."""
from __future__ import annotations

import json

import pytest
import torch
import torchvision
from torch.nn import functional as F

from ilsvrc.errors import ConfigError
from ilsvrc.models import config_to_dict, create_model, list_models, model_from_config
from ilsvrc.models.alexnet_two_tower import alexnet_from_two_tower, two_tower_from_alexnet
from ilsvrc.models.layers import LocalResponseNorm, local_response_norm

SMALL = {"in_channels": 1, "image_size": 28}


@pytest.fixture(scope="module")
def alexnet():
    torch.manual_seed(0)
    return create_model("alexnet").eval()


@pytest.fixture(scope="module")
def image():
    """Mean-subtracted pixels on the 0-255 scale, as the paper feeds them: large enough for LRN to bite."""
    return 60 * torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))


def count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def paper_lrn(a: torch.Tensor, n: int = 5, k: float = 2.0, alpha: float = 1e-4, beta: float = 0.75):
    """Section 3.3 of the paper, term by term: b_i = a_i / (k + alpha sum_j a_j^2)^beta."""
    channels = a.shape[1]
    out = torch.empty_like(a)
    for i in range(channels):
        lo, hi = max(0, i - n // 2), min(channels - 1, i + n // 2)
        out[:, i] = a[:, i] / (k + alpha * (a[:, lo:hi + 1] ** 2).sum(dim=1)) ** beta
    return out


# --- local response normalisation ---------------------------------------------------------

def test_lrn_matches_the_papers_formula():
    a = torch.rand(2, 12, 5, 5, dtype=torch.float64) * 50  # ReLU outputs on the 0-255 scale
    torch.testing.assert_close(LocalResponseNorm()(a), paper_lrn(a), rtol=1e-12, atol=0)


def test_grouped_lrn_normalises_each_half_on_its_own():
    a = torch.rand(2, 12, 5, 5, dtype=torch.float64) * 50
    expected = torch.cat([paper_lrn(a[:, :6]), paper_lrn(a[:, 6:])], dim=1)
    torch.testing.assert_close(LocalResponseNorm(groups=2)(a), expected, rtol=1e-12, atol=0)
    assert not torch.allclose(LocalResponseNorm()(a), expected)


@pytest.mark.parametrize("groups", [1, 2])
def test_fused_lrn_has_the_exact_gradient(groups):
    a = (torch.rand(2, 8, 3, 3, dtype=torch.float64) * 50).requires_grad_()
    assert torch.autograd.gradcheck(lambda t: local_response_norm(t, groups=groups), (a,))


@pytest.mark.parametrize("groups", [1, 2])
def test_fused_lrn_equals_torchs_layer_in_value_and_gradient(groups):
    a = (torch.rand(4, 12, 6, 6, dtype=torch.float64) * 300).requires_grad_()  # large: LRN bites
    grad = torch.randn(4, 12, 6, 6, dtype=torch.float64)
    outputs, grads = [], []
    for fused in (True, False):
        a.grad = None
        out = LocalResponseNorm(groups=groups, fused=fused)(a)
        out.backward(grad)
        outputs.append(out)
        grads.append(a.grad)
    torch.testing.assert_close(outputs[0], outputs[1], rtol=1e-12, atol=0)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-10, atol=1e-14)


def test_fused_lrn_in_bfloat16_channels_last_keeps_dtype_and_layout():
    a = (torch.rand(2, 16, 7, 7) * 100).contiguous(memory_format=torch.channels_last)
    low = a.bfloat16().requires_grad_()
    out = LocalResponseNorm(groups=2)(low)
    assert out.dtype == torch.bfloat16 and out.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out.float(), LocalResponseNorm(groups=2, fused=False)(a), rtol=2e-2, atol=1e-2)
    grad = torch.randn_like(a)
    out.backward(grad.bfloat16())
    reference = a.clone().requires_grad_()
    LocalResponseNorm(groups=2, fused=False)(reference).backward(grad)
    assert low.grad.dtype == torch.bfloat16 and low.grad.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(low.grad.float(), reference.grad, rtol=2e-2, atol=2e-2)


def test_lrn_window_must_be_odd():
    with pytest.raises(ValueError, match="must be odd"):
        LocalResponseNorm(size=4)


# --- alexnet --------------------------------------------------------------------------------

def test_alexnet_has_the_papers_parameter_count(alexnet):
    assert count(alexnet) == 60_965_224
    assert count(alexnet.conv2) == 256 * 48 * 25 + 256  # two groups: each kernel sees 48 maps


def test_alexnet_with_one_group_is_dense():
    model = create_model("alexnet", groups=1)
    dense_extra = 256 * 48 * 25 + 384 * 192 * 9 + 256 * 192 * 9
    assert count(model) == 60_965_224 + dense_extra


def test_alexnet_shapes_at_224(alexnet, image):
    seen = {}
    hooks = [getattr(alexnet, name).register_forward_hook(
        lambda m, inputs, out, name=name: seen.update({name: tuple(out.shape)}))
        for name in ("conv1", "conv2", "conv5", "avgpool")]
    hooks.append(alexnet.avgpool.register_forward_hook(lambda m, inputs, out: seen.update(pool5=inputs[0].shape)))
    with torch.no_grad():
        features = alexnet.forward_features(image)
    for hook in hooks:
        hook.remove()
    assert seen["conv1"] == (1, 96, 55, 55) and seen["conv2"] == (1, 256, 27, 27)
    assert seen["conv5"] == (1, 256, 13, 13)
    assert tuple(seen["pool5"]) == seen["avgpool"] == (1, 256, 6, 6)  # the adaptive pool does nothing at 224
    assert features.shape == (1, 4096)
    assert alexnet.forward_head(features).shape == (1, 1000)


def test_alexnet_non_default_classes_and_grayscale():
    model = create_model("alexnet", num_classes=37, in_channels=1).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 1, 224, 224)).shape == (1, 37)


def pooled_shapes(model, image) -> dict:
    """The output shape of every convolution and of each pooling, by layer name (pool1, pool2, pool5)."""
    seen, pools = {}, iter(("pool1", "pool2", "pool5"))
    hooks = [getattr(model, name).register_forward_hook(
        lambda m, inputs, out, name=name: seen.update({name: tuple(out.shape)}))
        for name in ("conv1", "conv2", "conv3", "conv4", "conv5") if getattr(model, name) is not None]
    hooks.append(model.pool.register_forward_hook(lambda m, inputs, out: seen.update({next(pools): tuple(out.shape)})))
    with torch.no_grad():
        model.forward_features(image)
    for hook in hooks:
        hook.remove()
    return seen


def test_alexnet_plain_pooling_gives_the_same_sides_at_224(image):
    """The paper: non-overlapping 2x2/2 pooling 'produces output of equivalent dimensions' (55 -> 27 -> 13 -> 6)."""
    torch.manual_seed(0)
    plain = create_model("alexnet", pooling="plain").eval()
    seen = pooled_shapes(plain, image)
    assert plain.pool.kernel_size == 2 and plain.pool.stride == 2
    assert (seen["conv1"], seen["pool1"], seen["pool2"], seen["pool5"]) == (
        (1, 96, 55, 55), (1, 96, 27, 27), (1, 256, 13, 13), (1, 256, 6, 6))
    assert count(plain) == 60_965_224


def test_alexnet_tanh_and_no_lrn_keep_the_shapes_and_parameters(alexnet, image):
    torch.manual_seed(0)
    tanh = create_model("alexnet", activation="tanh", lrn=False).eval()
    assert tanh.act is torch.tanh and isinstance(tanh.norm, torch.nn.Identity) and count(tanh) == 60_965_224
    assert type(alexnet.norm).__name__ == "LocalResponseNorm" and alexnet.act is F.relu
    with torch.no_grad():
        features = tanh.forward_features(image)
    assert features.shape == (1, 4096) and float(features.abs().max()) <= 1.0  # tanh's range
    assert pooled_shapes(tanh, image) == pooled_shapes(alexnet, image)


@pytest.mark.parametrize("removed, lost", [
    ("conv3", 384 * 256 * 9 + 384 + 384 * 192 * 9 - 384 * 128 * 9),  # conv4 then takes conv2's 256 maps
    ("conv4", 384 * 192 * 9 + 384),                                   # conv5 takes conv3's 384 maps as before
])
def test_alexnet_without_a_middle_layer(removed, lost, image):
    model = create_model("alexnet", remove_conv=removed).eval()
    assert getattr(model, removed) is None and count(model) == 60_965_224 - lost
    assert model(image).shape == (1, 1000)


def test_alexnet_one_tower_with_half_the_kernels_in_conv1_to_conv4(image):
    """Sec. 3.2's comparison net: one tower, half the kernels in conv1-conv4, conv5 and the fc layers kept."""
    model = create_model("alexnet", groups=1, channels=(48, 128, 192, 192, 256)).eval()
    assert [getattr(model, f"conv{i}").out_channels for i in range(1, 6)] == [48, 128, 192, 192, 256]
    assert model.fc6.in_features == 256 * 6 * 6 and model.conv2.groups == 1
    convs = 3 * 48 * 121 + 48 + 48 * 128 * 25 + 128 + 128 * 192 * 9 + 192 + 192 * 192 * 9 + 192 + 192 * 256 * 9 + 256
    fcs = 9216 * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * 1000 + 1000
    assert count(model) == convs + fcs
    assert model(image).shape == (1, 1000)


def test_alexnet_bias_option_replaces_the_positive_biases():
    model = create_model("alexnet", bias=0.0)
    assert all(bool((getattr(model, name).bias == 0).all()) for name in ("conv2", "conv4", "conv5", "fc6", "fc7"))
    assert bool((create_model("alexnet").fc6.bias == 1).all())


def test_alexnet_takes_smaller_crops_through_the_adaptive_pool():
    model = create_model("alexnet", num_classes=3).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 64, 64)).shape == (2, 3)


def test_paper_init(alexnet):
    for name in ("conv1", "conv3", "fc8"):
        assert torch.all(getattr(alexnet, name).bias == 0), name
    for name in ("conv2", "conv4", "conv5", "fc6", "fc7"):
        assert torch.all(getattr(alexnet, name).bias == 1), name
    assert alexnet.fc6.weight.mean().abs() < 1e-4
    assert alexnet.fc6.weight.std().item() == pytest.approx(0.01, rel=1e-3)


def test_caffe_init():
    model = create_model("alexnet", init="caffe")
    assert torch.all(model.conv2.bias == 0.1) and torch.all(model.fc7.bias == 0.1)
    assert torch.all(model.conv3.bias == 0)
    assert model.fc6.weight.std().item() == pytest.approx(0.005, rel=1e-3)
    assert model.conv3.weight.std().item() == pytest.approx(0.01, rel=1e-2)


def test_kaiming_init_scales_with_fan_in():
    model = create_model("alexnet", init="kaiming")
    assert model.conv3.weight.std().item() == pytest.approx((2 / (256 * 9)) ** 0.5, rel=1e-2)
    assert model.fc8.weight.std().item() == pytest.approx((1 / 4096) ** 0.5, rel=1e-2)


# --- alexnet-two-tower ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def two_tower():
    torch.manual_seed(1)
    return create_model("alexnet-two-tower", devices=("cpu", "cpu")).eval()


def test_two_tower_has_the_same_parameter_count(two_tower):
    assert count(two_tower) == 60_965_224
    assert two_tower.towers[0].fc6.weight.shape == (2048, 9216)  # half the neurons, both towers' inputs


def test_two_tower_computes_the_grouped_network(alexnet, two_tower, image):
    with torch.no_grad():
        assert not torch.allclose(two_tower(image), alexnet(image))  # different weights before loading
        two_tower.load_state_dict(two_tower_from_alexnet(alexnet.state_dict()))
        torch.testing.assert_close(two_tower(image), alexnet(image), rtol=1e-5, atol=1e-5)


def test_group_zero_is_tower_zero(alexnet):
    towers = two_tower_from_alexnet(alexnet.state_dict())
    assert torch.equal(towers["towers.0.conv2.weight"], alexnet.conv2.weight[:128])
    assert torch.equal(towers["towers.1.conv4.weight"], alexnet.conv4.weight[192:])
    assert torch.equal(towers["towers.1.fc7.bias"], alexnet.fc7.bias[2048:])
    assert torch.equal(towers["fc8.weight"], alexnet.fc8.weight)


def test_grouped_network_computes_the_two_towers(image):
    torch.manual_seed(2)
    two_tower = create_model("alexnet-two-tower", devices=("cpu", "cpu"), init="caffe").eval()
    grouped = create_model("alexnet").eval()
    grouped.load_state_dict(alexnet_from_two_tower(two_tower.state_dict()))
    with torch.no_grad():
        torch.testing.assert_close(grouped(image), two_tower(image), rtol=1e-5, atol=1e-5)


def test_conversion_round_trip_is_exact(alexnet):
    back = alexnet_from_two_tower(two_tower_from_alexnet(alexnet.state_dict()))
    original = alexnet.state_dict()
    assert back.keys() == original.keys()
    assert all(torch.equal(back[k], original[k]) for k in original)


def test_one_group_alexnet_cannot_become_two_towers():
    state = {"conv2.weight": torch.zeros(256, 96, 5, 5)}
    with pytest.raises(ConfigError, match="needs the state dict of alexnet with groups=2"):
        two_tower_from_alexnet(state)


@pytest.mark.parametrize("devices, problem", [
    (("cpu",), "alexnet-two-tower: devices must name 2 devices, one per tower, got ('cpu',)"),
    ("cpu", "alexnet-two-tower: devices must name 2 devices, one per tower, got 'cpu'"),
    (("cpu", "gpu9"), "alexnet-two-tower: 'gpu9' is not a device (e.g. 'cuda:0', 'cpu')"),
])
def test_bad_devices(devices, problem):
    with pytest.raises(ConfigError) as e:
        create_model("alexnet-two-tower", devices=devices)
    assert str(e.value) == problem


def test_missing_gpu_is_a_config_error():
    with pytest.raises(ConfigError, match=r"device 'cuda:9' is not here"):
        create_model("alexnet-two-tower", devices=("cuda:9", "cpu"))


# --- alexnet-owt ----------------------------------------------------------------------------

def test_owt_matches_torchvision(image):
    torch.manual_seed(0)
    ours = create_model("alexnet-owt").eval()
    reference = torchvision.models.alexnet(weights=None).eval()
    reference.load_state_dict(ours.state_dict())  # strict: the same key names and shapes
    assert count(ours) == 61_100_840
    with torch.no_grad():
        torch.testing.assert_close(ours(image), reference(image), rtol=0, atol=0)
        torch.testing.assert_close(ours.forward_head(ours.forward_features(image)), reference(image))


def test_owt_grayscale():
    model = create_model("alexnet-owt", in_channels=1, num_classes=37).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 1, 224, 224)).shape == (1, 37)


# --- alexnet-small --------------------------------------------------------------------------

@pytest.mark.parametrize("options, side, flat", [(SMALL, 28, 64 * 2 * 2), ({}, 32, 64 * 3 * 3)])
def test_small_shapes(options, side, flat):
    model = create_model("alexnet-small", num_classes=37, **options).eval()
    assert model.fc6.in_features == flat
    x = torch.randn(2, options.get("in_channels", 3), side, side)
    assert model.forward_features(x).shape == (2, 512)
    assert model(x).shape == (2, 37)


def test_small_with_two_groups_has_grouped_convs():
    one, two = create_model("alexnet-small", **SMALL), create_model("alexnet-small", groups=2, **SMALL)
    assert two.conv2.weight.shape == (64, 16, 5, 5)
    saved = (32 * 64 * 25 + 96 * 96 * 9 + 96 * 64 * 9) // 2
    assert count(one) - count(two) == saved


def test_small_refuses_other_sizes():
    with pytest.raises(ConfigError) as e:
        create_model("alexnet-small", **SMALL)(torch.randn(1, 1, 32, 32))
    assert str(e.value) == "alexnet-small was built for 28x28 images (image_size), got 32x32"


def test_small_overfits_one_small_batch():
    torch.manual_seed(0)
    model = create_model("alexnet-small", dropout=0.0, **SMALL)
    x, y = torch.randn(16, 1, 28, 28), torch.arange(16) % 10
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(60):
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        assert F.cross_entropy(model(x), y) < 0.01
        assert torch.equal(model(x).argmax(dim=1), y)


# --- registry -------------------------------------------------------------------------------

def test_list_models():
    assert list_models() == ["lenet5", "alexnet", "alexnet-two-tower", "alexnet-owt", "alexnet-small", "convnet-bn"]


def test_unknown_model_lists_the_choices():
    with pytest.raises(ConfigError) as e:
        create_model("vgg16")
    assert str(e.value) == ("unknown model 'vgg16'; choose one of: "
                            "lenet5, alexnet, alexnet-two-tower, alexnet-owt, alexnet-small, convnet-bn")


def test_unknown_option_lists_the_options():
    with pytest.raises(ConfigError) as e:
        create_model("alexnet", bias_init="caffe")
    assert str(e.value) == ("alexnet: unknown option(s) bias_init; options are: num_classes, activation, bias, "
                            "channels, dropout, groups, in_channels, init, lrn, pooling, remove_conv")


@pytest.mark.parametrize("name, options, problem", [
    ("alexnet", {"groups": 4}, "alexnet: groups must be one of 1, 2, got 4"),
    ("alexnet", {"init": "xavier"}, "alexnet: init must be one of 'paper', 'caffe', 'kaiming', got 'xavier'"),
    ("alexnet", {"dropout": 1.0}, "alexnet: dropout must be in [0, 1), got 1.0"),
    ("alexnet", {"activation": "sigmoid"}, "alexnet: activation must be one of 'relu', 'tanh', got 'sigmoid'"),
    ("alexnet", {"remove_conv": "conv2"}, "alexnet: remove_conv must be one of None, 'conv3', 'conv4', got 'conv2'"),
    ("alexnet", {"channels": (95, 256, 384, 384, 256)},
     "alexnet: channels (95, 256, 384, 384, 256) must divide into 2 groups"),
    ("alexnet-small", {"channels": (32, 64)},
     "alexnet-small: channels must be 5 positive integers (conv1..conv5), got (32, 64)"),
    ("alexnet-small", {"channels": (33, 64, 96, 96, 64), "groups": 2},
     "alexnet-small: channels (33, 64, 96, 96, 64) must divide into 2 groups"),
    ("alexnet-small", {"image_size": 8}, "alexnet-small: image_size must be an integer >= 15, got 8"),
    ("alexnet-small", {"hidden": 0}, "alexnet-small: hidden must be a positive integer, got 0"),
])
def test_bad_options(name, options, problem):
    with pytest.raises(ConfigError) as e:
        create_model(name, **options)
    assert str(e.value) == problem


def test_config_without_a_name():
    with pytest.raises(ConfigError, match="^model config has no 'name'; choose one of: lenet5, "):
        model_from_config({"num_classes": 10})


ROUND_TRIPS = [
    ("lenet5", {"output": "rbf", "num_classes": 7}, (1, 1, 28, 28)),
    ("lenet5", {"modern": True, "dropout": 0.1}, (1, 1, 32, 32)),
    ("alexnet", {"num_classes": 37, "init": "caffe"}, (1, 3, 224, 224)),
    ("alexnet-two-tower", {"num_classes": 5, "devices": ("cpu", "cpu")}, (1, 3, 224, 224)),
    ("alexnet-owt", {"in_channels": 1}, (1, 1, 224, 224)),
    ("alexnet-small", {"groups": 2, "channels": (16, 32, 48, 48, 32), **SMALL}, (2, 1, 28, 28)),
]


@pytest.mark.parametrize("name, options, shape", ROUND_TRIPS, ids=[r[0] for r in ROUND_TRIPS])
def test_config_round_trip(name, options, shape):
    torch.manual_seed(0)
    model = create_model(name, **options).eval()
    saved = json.loads(json.dumps(config_to_dict(model)))  # as a checkpoint would store it
    assert saved["name"] == name and all(saved[k] == (list(v) if isinstance(v, tuple) else v)
                                         for k, v in options.items())
    torch.manual_seed(1)
    rebuilt = model_from_config(saved).eval()
    assert rebuilt.config == model.config
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {k: v.shape for k, v in model.state_dict().items()}
    rebuilt.load_state_dict(model.state_dict())
    x = torch.randn(shape)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(x), model(x), rtol=0, atol=0)
        torch.testing.assert_close(model.forward_head(model.forward_features(x)), model(x), rtol=0, atol=0)
        assert model.forward_features(x).shape == (shape[0], model.num_features)


def test_overrides_replace_stored_options():
    model = create_model("alexnet-small", **SMALL)
    rebuilt = model_from_config(config_to_dict(model), num_classes=3)
    assert rebuilt.fc8.out_features == 3 and rebuilt.config.image_size == 28
