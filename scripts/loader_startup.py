"""Worker start-up per epoch: a new loader every epoch (what training did before) vs the training
pipeline's one loader for the whole run. Prints the milliseconds `iter()` takes at each epoch.

    python scripts/loader_startup.py PACKED_DIR [SPLIT]
"""
import dataclasses
import statistics
import sys
import time

import torch

from ilsvrc.config import load_config
from ilsvrc.data.loader import make_loader
from ilsvrc.engine.pipeline import Pipeline

EPOCHS, BATCH, WORKERS = 6, 32, 2


def main(packed: str, split: str = "train") -> None:
    config = dataclasses.replace(load_config("paper").data, path=packed, workers=WORKERS, train_split=split,
                                 val_split=split)
    pipe = Pipeline.build(config, seed=0, device=torch.device("cpu"))
    fresh, kept = [], []
    for epoch in range(EPOCHS):
        loader = make_loader(pipe.dataset(split), BATCH, pipe.train_transform().sample, 0, shuffle=True,
                             drop_last=True, num_workers=WORKERS)
        loader.set_epoch(epoch)
        began = time.perf_counter()
        batches = iter(loader)
        fresh.append(time.perf_counter() - began)
        next(batches)
        del batches, loader
        persistent, _ = pipe._train_loader(BATCH)
        persistent.set_epoch(epoch)
        began = time.perf_counter()
        batches = iter(persistent)
        kept.append(time.perf_counter() - began)
        for _ in batches:
            pass
    print("iter() in ms, new loader each epoch:", [round(1e3 * s) for s in fresh],
          "median", round(1e3 * statistics.median(fresh)))
    print("iter() in ms, one loader per run:   ", [round(1e3 * s) for s in kept],
          "median after the first", round(1e3 * statistics.median(kept[1:])))


if __name__ == "__main__":
    main(*sys.argv[1:])
