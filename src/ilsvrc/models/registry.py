"""Build any model by name, and rebuild it from the config a checkpoint stored.

    model = create_model("alexnet", num_classes=1000)      # or lenet5, alexnet-small, ...
    saved = config_to_dict(model)                          # plain types: fit for JSON or YAML
    again = model_from_config(saved)                       # the same architecture
    list_models()                                          # ['lenet5', 'alexnet', ...]

Every model keeps its options as a dataclass on `model.config` (`name`, `num_classes`,
`in_channels`, `dropout` and its own options) and splits `forward(x)` into
`forward_head(forward_features(x))`, where the features are the last hidden layer, (B, D),
with D = `model.num_features`.
"""
from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass
from typing import Any, Mapping

import torch
from torch import nn

from ilsvrc.errors import ConfigError

# name -> "module:Class"; modules are imported only when their model is built.
MODELS = {
    "lenet5": "ilsvrc.models.lenet:LeNet5",
    "alexnet": "ilsvrc.models.alexnet:AlexNet",
    "alexnet-two-tower": "ilsvrc.models.alexnet_two_tower:AlexNetTwoTower",
    "alexnet-owt": "ilsvrc.models.alexnet:AlexNetOWT",
    "alexnet-small": "ilsvrc.models.alexnet:AlexNetSmall",
    "convnet-bn": "ilsvrc.models.convnet_bn:ConvNetBN",
}


@dataclass
class ModelConfig:
    """The options every model takes; each model's config extends it and validates its own."""

    name: str = ""
    num_classes: int = 1000
    in_channels: int = 3
    dropout: float = 0.0

    def __post_init__(self) -> None:
        require(is_positive_int(self.num_classes), self,
                f"num_classes must be a positive integer, got {self.num_classes!r}")
        require(is_positive_int(self.in_channels), self,
                f"in_channels must be a positive integer, got {self.in_channels!r}")
        require(isinstance(self.dropout, (int, float)) and 0 <= self.dropout < 1,
                self, f"dropout must be in [0, 1), got {self.dropout!r}")


def is_positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


class Classifier(nn.Module):
    """The split every model shares: `forward(x) = forward_head(forward_features(x))`.

    Subclasses define `forward_features(x) -> (B, D)`, the last hidden layer (the features the
    SVM baseline and the report's nearest neighbours use), and `forward_head(features)`.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def require(condition: bool, config: ModelConfig, problem: str) -> None:
    """Raise a ConfigError naming the model unless `condition` holds."""
    if not condition:
        raise ConfigError(f"{config.name}: {problem}")


def require_choice(config: ModelConfig, option: str, choices: tuple) -> None:
    value = getattr(config, option)
    require(value in choices, config, f"{option} must be one of {', '.join(map(repr, choices))}, got {value!r}")


def list_models() -> list[str]:
    return list(MODELS)


def model_class(name: str) -> type[nn.Module]:
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}; choose one of: {', '.join(MODELS)}")
    module, cls = MODELS[name].split(":")
    return getattr(importlib.import_module(module), cls)


def create_model(name: str, num_classes: int | None = None, **options: Any) -> nn.Module:
    """A freshly initialised model; `num_classes=None` keeps the model's default (10 or 1000)."""
    return model_class(name)(model_config(name, num_classes, **options))


def model_config(name: str, num_classes: int | None = None, **options: Any) -> ModelConfig:
    """The model's validated config, without building its weights: a bad option fails here, in one line."""
    config_class = model_class(name).config_class
    known = {f.name for f in dataclasses.fields(config_class)} - {"name", "num_classes"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise ConfigError(f"{name}: unknown option(s) {', '.join(unknown)}; "
                          f"options are: num_classes, {', '.join(sorted(known))}")
    if num_classes is not None:
        options["num_classes"] = num_classes
    return config_class(name=name, **options)


def config_to_dict(model: nn.Module) -> dict[str, Any]:
    """The model's config as plain types (tuples become lists), enough to rebuild the model."""
    config = getattr(model, "config", None)
    if not dataclasses.is_dataclass(config):
        raise ConfigError(f"{type(model).__name__} has no model config; build it with create_model")
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()}


def model_from_config(config: Mapping[str, Any], **overrides: Any) -> nn.Module:
    """Rebuild a model from `config_to_dict`'s output; `overrides` replace options (e.g. devices)."""
    options = {**config, **overrides}
    if "name" not in options:
        raise ConfigError(f"model config has no 'name'; choose one of: {', '.join(MODELS)}")
    return create_model(options.pop("name"), **options)
