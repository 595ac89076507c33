"""`ilsvrc bench train`: ours is the step `ilsvrc train` runs, timed beside a plain float32 loop."""
import pytest

from ilsvrc.bench import train_step as bench
from ilsvrc.engine import train as engine_train


def test_ours_is_the_training_engines_step(monkeypatch):
    calls = {"make_step": 0, "steps": 0}
    real = engine_train.make_step

    def counted(*args, **kwargs):
        calls["make_step"] += 1
        step = real(*args, **kwargs)

        def run(x, y):
            calls["steps"] += 1
            return step(x, y)
        return run

    monkeypatch.setattr(engine_train, "make_step", counted)
    result = bench.run("lenet5", batch=4, device="cpu", compile=False, repeats=1)
    assert calls["make_step"] == 1 and calls["steps"] >= 3  # warm-up and the timed repeat
    assert result["ratio"] == pytest.approx(result["ours_img_s"] / result["reference_img_s"])
    assert result["ours_img_s"] > 0 and result["gflop_per_image"] > 0
