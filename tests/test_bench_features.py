"""`ilsvrc bench features`: both sides describe the same images, the same numbers, and bad flags fail in one line."""
import json

import pytest

from ilsvrc.bench import features as bench
from ilsvrc.cli import main
from ilsvrc.errors import ConfigError
from test_baseline import packed  # noqa: F401 (the fixture: 4 classes of gratings, packed)


def test_both_sides_compute_the_same_features(packed):
    result = bench.run(str(packed), images=25, repeats=1)
    assert result["images"] == 25 and result["side"] == 28 and result["channels"] == 1
    assert result["dimension"] == 2564  # HOG at 7 and 4 cells, LBP, the 28 x 28 intensities
    assert result["max_abs_difference"] < 1e-6
    assert result["ours_img_s"] > 0 and result["ratio"] == pytest.approx(result["ours_img_s"] / result["reference_img_s"])


def test_command_prints_json(packed, capsys):
    assert main(["bench", "features", "--data", str(packed), "--images", "5", "--repeats", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["images"] == 5


@pytest.mark.parametrize("images, repeats", [(0, 1), (5, 0)])
def test_non_positive_counts_are_refused(packed, images, repeats):
    with pytest.raises(ConfigError, match="must be positive"):
        bench.run(str(packed), images=images, repeats=repeats)
