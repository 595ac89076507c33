"""`ilsvrc demo`: the main job, run by `make demo`.

Today it prepares the embedded dataset (Fashion-MNIST, from Debian's dataset-fashion-mnist) into
the packed format and prints its summary; the 2012 moment in miniature builds on it.
"""
from __future__ import annotations

from pathlib import Path

from ilsvrc.data.info import info_command
from ilsvrc.data.prepare import prepare
from ilsvrc.data.readers import packed


def demo_command(data: str = "fashion-mnist", out: str = "runs/demo") -> int:
    packed_dir = Path(out) / "data" / Path(data).name
    if not (packed_dir / packed.INDEX).exists():
        print(f"preparing {data} -> {packed_dir}")
        prepare(data, packed_dir)
    return info_command(str(packed_dir))
