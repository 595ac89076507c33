"""Progress: bars on a terminal, whole lines now and then in a log, nothing when quiet or silenced."""
import io

import pytest

from ilsvrc import progress
from ilsvrc.cli import main


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def loud():
    progress.set_quiet(False)
    yield
    progress.set_quiet(False)


def run(stream, total=100, step=10, **options):
    with progress.bar(total, desc="train", file=stream, **options) as bar:
        for _ in range(total // step):
            bar.update(step)
    return stream.getvalue()


def test_a_log_gets_whole_lines_with_count_rate_and_eta():
    text = run(io.StringIO(), mininterval=0, delay=0)
    lines = text.splitlines()
    assert "\r" not in text and text.endswith("\n")
    assert lines[0].startswith("train:   0% 0/100") and lines[-1].startswith("train: 100% 100/100")
    assert all("img/s" in line for line in lines) and "<" in lines[-1]
    assert len(lines) <= 11 and lines.count(lines[-1]) == 1  # one line per update at most; the end once


def test_work_shorter_than_the_log_interval_logs_nothing():
    assert run(io.StringIO()) == ""


def test_a_terminal_gets_a_redrawn_bar():
    text = run(Terminal())
    assert text.startswith("\r") and "train:" in text  # redrawn in place (cleared when done: leave=False)


def test_quiet_and_silenced_show_nothing():
    progress.set_quiet(True)
    assert not progress.enabled() and run(Terminal()) == ""
    progress.set_quiet(False)
    with progress.silenced():
        with progress.silenced(False):
            assert not progress.enabled()
        assert run(Terminal()) == ""
    assert progress.enabled() and run(Terminal()) != ""


def test_each_command_line_sets_the_switch(tmp_path):
    assert main(["data", "synth", "--out", str(tmp_path / "a"), "--classes", "2", "--train-per-class", "1",
                 "--val-per-class", "1", "--quiet"]) == 0
    assert not progress.enabled()
    assert main(["data", "synth", "--out", str(tmp_path / "b"), "--classes", "2", "--train-per-class", "1",
                 "--val-per-class", "1"]) == 0
    assert progress.enabled()
