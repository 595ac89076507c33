"""Write an ImageNet-sized multi-class votes file for the label benchmarks (BENCHMARKS.md).

    python scripts/label_scale_votes.py --tasks 2000000 --answers 5 --classes 1000 --workers 50000 \
        --out /tmp/votes-1000.csv          # 10 million answers, + gold.csv beside it

Each image has a true class; distinct workers per image are drawn with Zipf(1) activity (the crowd
of ilsvrc.label.crowd: good, sloppy and spammer kinds of the realistic preset); an honest mistake names
any other class uniformly (no image data to say which classes look alike). Written in blocks of
tasks, so the file can be larger than memory would allow as one table.
"""
from __future__ import annotations

import argparse

import numpy as np

from ilsvrc.files import written_atomically
from ilsvrc.label.crowd import KINDS, Crowd, assign
from ilsvrc.label.crowd_types import PRESETS

BLOCK = 200_000  # tasks per block


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, required=True)
    parser.add_argument("--answers", type=int, default=5)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=50_000)
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    kind = PRESETS["realistic"]
    crowd = Crowd.draw(args.workers, kind.mix, rng, args.classes, kind.activity)
    truth = rng.integers(0, args.classes, args.tasks)
    gold = args.out.rsplit("/", 1)[0] + "/gold.csv" if "/" in args.out else "gold.csv"
    with written_atomically(args.out, "w") as f, written_atomically(gold, "w") as g:
        f.write("task,worker,label\n")
        g.write("task,label\n")
        for start in range(0, args.tasks, BLOCK):
            block = np.arange(start, min(start + BLOCK, args.tasks))
            picks = assign(rng, np.full(len(block), args.answers), args.workers, crowd.weight)
            task = np.repeat(block, args.answers)
            worker = picks.ravel()
            answer = _answers(crowd, worker, truth[task], args.classes, rng)
            order = rng.permutation(len(task))  # arrival order within the block
            f.writelines(f"i{t},w{w},c{a}\n" for t, w, a in zip(task[order].tolist(), worker[order].tolist(),
                                                                  answer[order].tolist()))
            g.writelines(f"i{t},c{c}\n" for t, c in zip(block.tolist(), truth[block].tolist()))
    print(f"wrote {args.out}: {args.tasks * args.answers:,} answers, {args.tasks:,} tasks, {args.classes} classes, "
          f"{args.workers:,} workers ({', '.join(f'{n} {k}' for k, n in crowd.counts().items())})")


def _answers(crowd: Crowd, worker, truth, k: int, rng) -> np.ndarray:
    other = (truth + rng.integers(1, k, len(truth))) % k  # any other class, uniformly
    answer = np.where(rng.random(len(worker)) < crowd.accuracy[worker], truth, other)
    kind = crowd.kind[worker]
    answer = np.where(kind == KINDS.index("random"), rng.integers(0, k, len(worker)), answer)
    return np.where(kind == KINDS.index("always-yes"), crowd.favourite[worker], answer)


if __name__ == "__main__":
    main()
