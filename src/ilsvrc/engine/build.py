"""What a run is built from: the model, sized for the data (and started from it where it asks), and its optimizer.

    model = build_model(config, pipeline, num_classes=10)
    check_early_side(model, config, pipeline)    # data.early_side: a one-line error if the model cannot take it
    optimizer = make_optimizer(config, model)
"""
from __future__ import annotations

import dataclasses

import torch

from ilsvrc.config import RunConfig
from ilsvrc.engine.optim import Lars, PaperSGD
from ilsvrc.engine.pipeline import Pipeline
from ilsvrc.errors import ConfigError
from ilsvrc.models import create_model
from ilsvrc.models.registry import model_class


def build_model(config: RunConfig, pipeline: Pipeline, num_classes: int) -> torch.nn.Module:
    """The configured model, sized for the data: classes, channels and (where it has one) image size."""
    channels, height, _ = pipeline.image_shape
    options = dict(config.model.options)
    fields = {f.name for f in dataclasses.fields(model_class(config.model.name).config_class)}
    options.setdefault("in_channels", channels)
    if "image_size" in fields:
        options.setdefault("image_size", height)
    if "pad_value" in fields and pipeline.small:
        options.setdefault("pad_value", pipeline.background_level())
    model = create_model(config.model.name, num_classes=num_classes, **options)
    if getattr(model.config, "whiten", False):
        model.init_whitening(pipeline.image_sample(WHITENING_SAMPLE))
    return model


WHITENING_SAMPLE = 5000  # training images whose 3x3 patches give the whitening filters (~4M patches at 28x28)


def make_optimizer(config: RunConfig, model: torch.nn.Module) -> torch.optim.Optimizer:
    o = config.optim
    params = parameter_groups(model, o.weight_decay, o.decay_biases)
    if o.name == "adamw":
        return fused_if_supported(torch.optim.AdamW, params, lr=o.lr, weight_decay=o.weight_decay)
    if o.name == "lars":
        return Lars(params, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay, eta=o.lars_eta)
    if o.lr_in_velocity:
        return PaperSGD(params, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay)
    return fused_if_supported(torch.optim.SGD, params, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay,
                              nesterov=o.nesterov)


def parameter_groups(model: torch.nn.Module, weight_decay: float, decay_biases: bool) -> list:
    """All parameters in one group, or (decay_biases False) the biases in a second one without weight decay."""
    if decay_biases:
        return list(model.parameters())
    named = list(model.named_parameters())
    biases = [p for name, p in named if name.endswith("bias")]
    weights = [p for name, p in named if not name.endswith("bias")]
    return [{"params": weights, "weight_decay": weight_decay}, {"params": biases, "weight_decay": 0.0}]


def fused_if_supported(optimizer_class, params: list, **options) -> torch.optim.Optimizer:
    """The optimizer with its fused kernel (one pass over each tensor: on a CPU AlexNet's SGD update
    runs 6x faster than the default multi-tensor one), or the default where this torch lacks it."""
    try:
        return optimizer_class(params, fused=True, **options)
    except (RuntimeError, ValueError, TypeError):  # older torch: fused kernels for CUDA only
        return optimizer_class(params, **options)


def check_early_side(model: torch.nn.Module, config: RunConfig, pipeline: Pipeline) -> None:
    """Progressive resizing (data.early_side) needs a model that takes that size: one forward pass on the CPU,
    before the model is placed and anything is written, says."""
    side = config.data.early_side
    if not side:
        return
    channels = pipeline.image_shape[0]
    was_training = model.training
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(2, channels, side, side))
    except (RuntimeError, ConfigError) as e:  # a shape mismatch inside, or the model's own size check
        raise ConfigError(f"data.early_side {side}: model {config.model.name} does not take {side}x{side} images "
                          f"({str(e).splitlines()[0]}); progressive resizing needs a model that pools globally, "
                          "such as convnet-bn") from None
    finally:
        model.train(was_training)
