"""The embedded real dataset: Fashion-MNIST from Debian's dataset-fashion-mnist, packed and read back."""
import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from ilsvrc.cli import main

DEBIAN = Path("/usr/share/datasets/fashion-mnist")
pytestmark = pytest.mark.skipif(not DEBIAN.is_dir(), reason="needs Debian's dataset-fashion-mnist (make test installs it)")


def idx_labels(name):
    with gzip.open(DEBIAN / name) as f:
        return np.frombuffer(f.read()[8:], np.uint8)


def test_prepare_and_info_report_the_real_counts_and_labels(tmp_path, capsys):
    out = tmp_path / "fmnist"
    assert main(["data", "prepare", "fashion-mnist", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["data", "info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert {k: (v["n"], v["classes"]) for k, v in info["splits"].items()} == {"train": (60000, 10), "test": (10000, 10)}
    assert info["classes"][0] == "T-shirt/top" and info["classes"][9] == "Ankle boot"

    from ilsvrc.data import open_dataset
    for split, name in (("train", "train-labels-idx1-ubyte.gz"), ("test", "t10k-labels-idx1-ubyte.gz")):
        np.testing.assert_array_equal(open_dataset(out, split).labels(), idx_labels(name))
    train = open_dataset(out, "train")
    assert train.stats["mean_image"].shape == (28, 28, 1)
    assert 60 < float(train.stats["mean"][0]) < 80  # Fashion-MNIST's mean pixel is about 72.9
