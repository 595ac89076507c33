import subprocess
import sys

import pytest

from ilsvrc.cli import COMMANDS, main


@pytest.mark.parametrize("path", [c.path for c in COMMANDS], ids=lambda p: " ".join(p))
def test_every_command_has_help(path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*path, "--help"])
    assert exit_.value.code == 0
    assert "usage: ilsvrc " + " ".join(path) in capsys.readouterr().out


def test_group_without_command_prints_help(capsys):
    assert main(["data"]) == 2
    assert "prepare" in capsys.readouterr().out


def test_bad_flag_is_a_one_line_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["data", "info", "x", "--no-such-flag"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unrecognized arguments: --no-such-flag" in err


def test_missing_path_is_a_one_line_error(capsys):
    assert main(["data", "info", "/no/such/dataset"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ilsvrc: error: /no/such/dataset: no such file or directory") and err.count("\n") == 1


def test_python_dash_m_runs_the_same_cli():
    out = subprocess.run([sys.executable, "-m", "ilsvrc", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("ilsvrc ")


def interrupted_with_a_bar_open(target, options):
    from tqdm import tqdm

    bar = tqdm(total=10, desc="epoch 1")
    bar.update(3)
    raise KeyboardInterrupt


def test_ctrl_c_closes_progress_bars_and_exits_130(monkeypatch, capsys):
    from tqdm import tqdm

    monkeypatch.setattr("ilsvrc.cli.call", interrupted_with_a_bar_open)
    assert main(["bench", "matmul"]) == 130
    err = capsys.readouterr().err
    assert err.endswith("\nilsvrc: interrupted\n")  # on a line of its own, not after the bar
    assert not list(tqdm._instances)
