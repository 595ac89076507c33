"""Run configuration: every bad file or --set item is a one-line ConfigError naming where it came from."""
import pytest

from ilsvrc.config import load_config
from ilsvrc.errors import ConfigError

PRESET = "fashion-mnist-lenet5"


@pytest.mark.parametrize("text, problem", [
    ("- a\n- b\n", "expected a mapping of sections (data, model, optim, schedule, train), got a list"),
    ("train: 5\n", "section train must be a mapping of fields, got 5"),
    ("train: [1, 2\n", "not valid YAML (while parsing a flow sequence)"),
    ("", "empty; a config holds sections of data, model, optim, schedule, train"),
    ("# only a comment\n", "empty; a config holds sections of data, model, optim, schedule, train"),
    ("bogus:\n  x: 1\n", "unknown section(s) bogus; sections: data, model, optim, schedule, train"),
    ("train:\n  epochs: abc\n", "train.epochs must be an integer, got 'abc'"),
    ("train:\n  epochs: 2.5\n", "train.epochs must be an integer, got 2.5"),
    ("train:\n  compile: 3\n", "train.compile must be true or false, got 3"),
    ("data:\n  crop: big\n", "data.crop must be an integer or null, got 'big'"),
    ("model:\n  options: 3\n", "model.options must be a mapping, got 3"),
])
def test_bad_config_files_name_the_file(tmp_path, text, problem):
    path = tmp_path / "run.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_config(str(path))
    assert str(e.value) == f"{path}: {problem}"


def test_a_config_file_that_is_not_utf8_is_named(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_bytes(b"\xff\xfe train:\n")
    with pytest.raises(ConfigError) as e:
        load_config(str(path))
    assert str(e.value) == f"{path}: not UTF-8 text (invalid start byte at byte 0)"


def test_overrides_apply_to_a_file_checked_first(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("- not a mapping\n")
    with pytest.raises(ConfigError, match="expected a mapping of sections"):
        load_config(str(path), ["data.path=x"])  # not an AttributeError from applying the override


@pytest.mark.parametrize("item, problem", [
    ("train.epochs=abc", "train.epochs must be an integer, got 'abc'"),
    ("optim.lr=abc", "optim.lr must be a number, got 'abc'"),
    ("train.bogus=1", "unknown field train.bogus; train has: channels_last, checkpoint_every, compile, device, epochs, "
                      "eval_every, eval_tta, precision, seed, sync_bn, threads"),
    ("train.epochs.x=1", "train.epochs is not a mapping; it has no field 'x'"),
    ("optim.lr=[1", "not a valid value (while parsing a flow sequence)"),
    ("model.options=3", "model.options must be a mapping, got 3"),
    ("train.compile=3", "train.compile must be true or false, got 3"),
])
def test_bad_overrides_name_the_set_item(item, problem):
    with pytest.raises(ConfigError) as e:
        load_config(PRESET, [item])
    assert str(e.value) == f"--set {item}: {problem}"


def test_values_pyyaml_reads_as_strings_or_ints_take_the_fields_type():
    config = load_config(PRESET, ["optim.lr=1e-3", "optim.momentum=0", "data.path=2007",
                                  "model.options.dropout=0.25", "data.crop=null"])
    assert config.optim.lr == 0.001 and isinstance(config.optim.momentum, float)
    assert config.data.path == "2007"  # a path, even one YAML would read as a number
    assert config.model.options == {"dropout": 0.25} and config.data.crop is None


@pytest.mark.parametrize("item, message", [
    ("train.threads=-2", "train.threads must not be negative (0: torch's default), got -2"),
    ("optim.momentum=1.5", "optim.momentum must be in [0, 1), got 1.5"),
    ("optim.weight_decay=-1", "optim.weight_decay must not be negative, got -1.0"),
    ("schedule.step_epochs=0", "schedule.step_epochs must be at least 1, got 0"),
    ("schedule.patience=-1",
     "schedule.patience, schedule.max_drops and schedule.warmup_epochs must not be negative"),
])
def test_out_of_range_values_are_refused(item, message):
    with pytest.raises(ConfigError) as e:
        load_config(PRESET, [item])
    assert str(e.value) == message
