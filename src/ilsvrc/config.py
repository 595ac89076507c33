"""Run configuration: typed dataclasses, YAML presets in configs/, and `--set a.b=value` overrides.

    config = load_config("fashion-mnist-lenet5", overrides=["optim.lr=0.05", "train.epochs=3"])
    save_config(config, run_dir / "config.yaml")      # the resolved config, saved next to every run

A preset is a name from configs/ (`paper`, `fashion-mnist-lenet5`, ...) or a path to a YAML file.
Every field's type is checked against its annotation and its value in `__post_init__`, so a bad
value fails, in one line naming the file or the --set item, before any work starts.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ilsvrc.errors import ConfigError
from ilsvrc.files import parse_yaml, write_text_atomic

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
# test views: centre; centre + mirror image; the paper's 10 crops; small images' 1-pixel shifts, each mirrored too
TTA_CHOICES = ("center", "flip", "10crop", "shift")


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


@dataclass
class DataConfig:
    path: str = "fashion-mnist"  # a packed folder, a dataset name or any readable path (packed on first use)
    train_split: str = "train"
    val_split: str = "test"
    crop: int | None = None  # random crop side for large images (224, the paper); None: small-image recipe
    region: int = 256  # large images: the central region the random crop is taken from
    pad: int = 0  # small images: zero padding before a random crop back to full size
    flip: bool = True  # random horizontal flips
    random_crop: bool = True  # false: train on the central crop (large) or the unshifted image (small), no random one
    lighting: float = 0.0  # std of the PCA lighting alphas (0.1 in the paper; 0 disables)
    normalize: str = "mean_image"  # subtract the mean image (paper), or "channel": per-channel mean/std
    workers: int = 0  # loader worker processes
    decode: str = "cpu"  # large JPEG-stored images decoded by the workers ("cpu") or on the training device
    early_side: int = 0  # progressive resizing: the first early_epochs epochs train on images scaled to this side
    early_epochs: int = 0  # (0 and 0: every epoch at full size)

    def __post_init__(self):
        _check(self.decode in ("cpu", "device"), f"data.decode must be 'cpu' or 'device', got {self.decode!r}")
        _check(self.normalize in ("mean_image", "channel"),
               f"data.normalize must be 'mean_image' or 'channel', got {self.normalize!r}")
        _check(self.crop is None or self.crop > 0, f"data.crop must be positive, got {self.crop}")
        _check(self.pad >= 0 and self.workers >= 0 and self.lighting >= 0,
               "data.pad, data.workers and data.lighting must not be negative")
        _check(min(self.early_side, self.early_epochs) >= 0,
               "data.early_side and data.early_epochs must not be negative")
        _check((self.early_side > 0) == (self.early_epochs > 0),
               f"data.early_side ({self.early_side}) and data.early_epochs ({self.early_epochs}) go together: "
               "set both (progressive resizing) or neither")


@dataclass
class ModelSection:
    name: str = "alexnet-small"
    options: dict = field(default_factory=dict)  # passed to create_model (e.g. dropout, bias_init)


@dataclass
class OptimConfig:
    name: str = "sgd"  # sgd (the paper), adamw, or lars (layer-wise rates for very large batches, docs/SCALING.md)
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    nesterov: bool = False
    batch_size: int = 128
    label_smoothing: float = 0.0
    lr_in_velocity: bool = False  # sgd: the paper's v <- m v - wd lr w - lr g (True) or torch's lr outside (False)
    decay_biases: bool = True  # weight decay on biases too (the paper's formula) or on weights only
    lars_eta: float = 0.001  # lars: the trust coefficient (You et al. 2017)

    def __post_init__(self):
        _check(self.name in ("sgd", "adamw", "lars"), f"optim.name must be sgd, adamw or lars, got {self.name!r}")
        _check(self.lars_eta > 0, f"optim.lars_eta must be positive, got {self.lars_eta}")
        _check(not (self.lr_in_velocity and (self.name != "sgd" or self.nesterov)),
               "optim.lr_in_velocity is the paper's plain momentum SGD: it needs optim.name=sgd and nesterov false")
        _check(self.lr > 0 and self.batch_size >= 1, "optim.lr and optim.batch_size must be positive")
        _check(0 <= self.label_smoothing < 1, f"optim.label_smoothing must be in [0, 1), got {self.label_smoothing}")
        _check(0 <= self.momentum < 1, f"optim.momentum must be in [0, 1), got {self.momentum}")
        _check(self.weight_decay >= 0, f"optim.weight_decay must not be negative, got {self.weight_decay}")


@dataclass
class ScheduleConfig:
    kind: str = "plateau"  # plateau (the paper: divide by 10 when val error stalls), step, cosine, onecycle
    factor: float = 0.1  # plateau/step: multiply the lr by this
    patience: int = 5  # plateau: epochs without improvement of the val error before dividing
    max_drops: int = 3  # plateau: at most this many divisions (3 in the paper)
    step_epochs: int = 30  # step: divide every this many epochs
    warmup_epochs: float = 0.0  # linear warm-up from lr/10 over this many epochs (cosine, onecycle)

    def __post_init__(self):
        _check(self.kind in ("plateau", "step", "cosine", "onecycle"),
               f"schedule.kind must be plateau, step, cosine or onecycle, got {self.kind!r}")
        _check(0 < self.factor < 1, f"schedule.factor must be in (0, 1), got {self.factor}")
        _check(self.step_epochs >= 1, f"schedule.step_epochs must be at least 1, got {self.step_epochs}")
        _check(min(self.patience, self.max_drops, self.warmup_epochs) >= 0,
               "schedule.patience, schedule.max_drops and schedule.warmup_epochs must not be negative")


@dataclass
class TrainConfig:
    epochs: int = 90
    seed: int = 0
    device: str = "auto"  # auto: CUDA when present, else CPU
    precision: str = "fp32"  # fp32, or bf16 autocast
    channels_last: bool = False
    compile: bool = False  # torch.compile the model
    eval_tta: str = "center"  # center, flip (+ mirror image), 10crop or shift (small images), for the validation
    eval_every: int = 1  # validate every N epochs and after the last (0: after the last only)
    threads: int = 0  # CPU threads for torch (0: torch's default)
    sync_bn: bool = False  # under torchrun on GPUs: BatchNorm statistics over the global batch
    checkpoint_every: int = 0  # also write checkpoints/last.pt every N steps (0: at the end of each epoch only)

    def __post_init__(self):
        _check(self.epochs >= 1, f"train.epochs must be at least 1, got {self.epochs}")
        _check(self.precision in ("fp32", "bf16"), f"train.precision must be fp32 or bf16, got {self.precision!r}")
        _check(self.eval_every >= 0, f"train.eval_every must not be negative, got {self.eval_every}")
        _check(self.threads >= 0, f"train.threads must not be negative (0: torch's default), got {self.threads}")
        _check(self.checkpoint_every >= 0,
               f"train.checkpoint_every must not be negative (0: every epoch), got {self.checkpoint_every}")
        _check(self.eval_tta in TTA_CHOICES,
               f"train.eval_tta must be one of {', '.join(TTA_CHOICES)}, got {self.eval_tta!r}")


@dataclass
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelSection = field(default_factory=ModelSection)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self):
        _check(self.schedule.kind != "plateau" or self.train.eval_every == 1,
               "schedule.kind plateau watches every epoch's validation error: it needs train.eval_every=1")
        _check(self.train.eval_tta != "shift" or self.data.crop is None,
               "train.eval_tta shift (1-pixel shifts) is for small images (data.crop unset); large ones have 10crop")


SECTIONS = {f.name: f.default_factory for f in dataclasses.fields(RunConfig)}


def presets() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def preset_path(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise ConfigError(f"{path}: no such config file")
        return path
    path = CONFIG_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise ConfigError(f"unknown config {name_or_path!r}; presets: {', '.join(presets())}, or a .yaml path")
    return path


def load_config(name_or_path: str, overrides: list[str] | None = None) -> RunConfig:
    """A preset or YAML file, with `section.field=value` overrides applied, validated."""
    path = preset_path(name_or_path)
    raw = read_yaml(path)
    _check_sections(raw, str(path))
    for item in overrides or []:
        _apply_override(raw, item)
    return from_dict(raw, str(path))


def read_yaml(path: Path) -> dict:
    """The mapping a config file holds; any other content is a one-line error naming the file."""
    try:
        raw = parse_yaml(path.read_text(encoding="utf-8"), str(path))
    except OSError as e:
        raise ConfigError(f"{path}: cannot read ({e.strerror or e})") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    if raw is None:
        raise ConfigError(f"{path}: empty; a config holds sections of {', '.join(SECTIONS)}")
    return raw


def from_dict(raw: dict, where: str = "config") -> RunConfig:
    _check_sections(raw, where)
    return RunConfig(**{name: _section(name, raw.get(name) or {}, where) for name in SECTIONS})


def _check_sections(raw, where: str) -> None:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping of sections ({', '.join(SECTIONS)}), "
                          f"got a {type(raw).__name__}")
    unknown = set(map(str, raw)) - set(SECTIONS)
    if unknown:
        raise ConfigError(f"{where}: unknown section(s) {', '.join(sorted(unknown))}; sections: {', '.join(SECTIONS)}")
    for name, values in raw.items():
        if values is not None and not isinstance(values, dict):
            raise ConfigError(f"{where}: section {name} must be a mapping of fields, got {values!r}")


def _section(name: str, values: dict, where: str):
    hints = field_types(name)
    bad = set(map(str, values)) - set(hints)
    if bad:
        raise ConfigError(f"{where}: unknown field(s) {', '.join(f'{name}.{b}' for b in sorted(bad))}; "
                          f"{name} has: {', '.join(sorted(hints))}")
    checked = {key: typed_value(where, f"{name}.{key}", value, hints[key]) for key, value in values.items()}
    try:
        return SECTIONS[name](**checked)
    except TypeError as e:
        raise ConfigError(f"{where}: {name}: {e}") from None


def field_types(section: str) -> dict[str, Any]:
    """The fields of a config section and their types (int, float, str, bool, dict, int | None...)."""
    return typing.get_type_hints(SECTIONS[section])


def typed_value(where: str, name: str, value, hint):
    """`value` if it is of the field's type (an int is a float; a float written 1e-3, which PyYAML
    reads as a string, becomes one), else a ConfigError naming `where` and the field."""
    kinds = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    if value is None and type(None) in kinds:
        return None
    numeric = not isinstance(value, bool)
    for kind in kinds:
        if kind is float and isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                continue
        if kind is float and numeric and isinstance(value, (int, float)):
            return float(value)
        if kind is int and numeric and isinstance(value, int):
            return value
        if kind in (str, bool, dict) and isinstance(value, kind):
            return value
    raise ConfigError(f"{where}: {name} must be {' or '.join(_KIND_NAMES[k] for k in kinds)}, got {value!r}")


_KIND_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false",
               dict: "a mapping", type(None): "null"}


def _apply_override(raw: dict, item: str) -> None:
    key, sep, text = item.partition("=")
    parts = key.split(".")
    if not sep or len(parts) < 2 or parts[0] not in SECTIONS:
        raise ConfigError(f"--set takes SECTION.FIELD=VALUE with a section of {', '.join(SECTIONS)}; got {item!r}")
    where, (section, name) = f"--set {item}", parts[:2]
    hints = field_types(section)
    if name not in hints:
        raise ConfigError(f"{where}: unknown field {section}.{name}; {section} has: {', '.join(sorted(hints))}")
    if len(parts) > 2 and hints[name] is not dict:
        raise ConfigError(f"{where}: {section}.{name} is not a mapping; it has no field {parts[2]!r}")
    value = _override_value(where, text, hints[name])
    if len(parts) == 2:
        typed_value(where, f"{section}.{name}", value, hints[name])
    node = raw
    for part in parts[:-1]:
        if node.get(part) is None:
            node[part] = {}
        node = node[part]
        if not isinstance(node, dict):
            raise ConfigError(f"{where}: {part} is not a mapping")
    node[parts[-1]] = value


def _override_value(where: str, text: str, hint):
    """A --set value read as YAML (numbers, true/false, null, lists); a string field takes the text as is,
    so that a path such as `--data 2007` or `--data 'a: b'` stays a path."""
    if hint is str:
        return text
    return parse_yaml(text, where, "not a valid value")


def to_dict(config: RunConfig) -> dict[str, Any]:
    return dataclasses.asdict(config)


def save_config(config: RunConfig, path: Path) -> None:
    write_text_atomic(path, yaml.safe_dump(to_dict(config), sort_keys=False))
