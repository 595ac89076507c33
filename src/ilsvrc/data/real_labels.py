"""The reassessed ImageNet validation labels, "ReaL" (Beyer et al. 2020, "Are we done with ImageNet?").

    real = read_real_labels("real.json")            # 50,000 lists of acceptable classes, in file-name order
    sets = align_real_labels(real, sources, 1000, "real.json")   # one set per scored image, None: left out

real.json is a JSON list whose k-th entry lists the classes (sorted-wnid indices, 0..999) acceptable for
ILSVRC2012_val_{k+1:08d}.JPEG; an empty list means the raters found no acceptable class, and the
image is left out of the score. Images are matched by their file name, so a split that holds a
subset of the 50,000, or holds them in another order, is scored correctly.
"""
from __future__ import annotations

import json
import os
import re

from ilsvrc.errors import DataError

VAL_NAME = re.compile(r"ILSVRC2012_val_(\d{8})\.JPEG$")


def read_real_labels(path: str | os.PathLike) -> list[list[int]]:
    try:
        with open(path, "rb") as f:
            real = json.load(f)
    except OSError as e:
        raise DataError(path, f"cannot read ({e.strerror or e})") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise DataError(path, f"not JSON ({e})") from None
    if not isinstance(real, list) or not all(isinstance(entry, list) for entry in real):
        raise DataError(path, "expected a JSON list with one list of class indices per validation image")
    for k, entry in enumerate(real):
        if not all(isinstance(c, int) and not isinstance(c, bool) for c in entry):
            raise DataError(path, f"entry {k} holds something other than class indices: {entry[:5]}")
    return real


def align_real_labels(real: list[list[int]], sources: list[str], num_classes: int,
                      path: str | os.PathLike) -> list[set[int] | None]:
    """The acceptable classes of each scored image (by its file name), None where ReaL has none."""
    numbers = []
    for i, name in enumerate(sources):
        match = VAL_NAME.search(name)
        if match is None:
            raise DataError(path, f"ReaL labels are for the ILSVRC-2012 validation images; scored image {i} is "
                                  f"{name!r}, not ILSVRC2012_val_NNNNNNNN.JPEG")
        numbers.append(int(match.group(1)))
    if numbers and max(numbers) > len(real):
        raise DataError(path, f"{len(real)} entries, but the split holds ILSVRC2012_val_{max(numbers):08d}.JPEG")
    wrong = [c for entry in real for c in entry if not 0 <= c < num_classes]
    if wrong:
        raise DataError(path, f"class index {wrong[0]} is outside the model's {num_classes} classes")
    return [set(real[n - 1]) or None for n in numbers]
