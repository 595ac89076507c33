"""The verdict rule: computed from the per-seed figures, never written by hand.

    diff, se = difference(arm_values, control_values, paired=False)
    verdict(diff, se, sign=+1)   # "reproduced" | "not significant at this scale" | "opposite"

The effect is arm - control in the measured quantity. It is *reproduced* when it has the paper's sign
and |diff| > 2 standard errors of the difference; *opposite* when it is that large with the other sign;
otherwise *not significant at this scale*. With fewer than two seeds per arm there is no standard error,
and nothing is significant.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

REPRODUCED = "reproduced"
NOT_SIGNIFICANT = "not significant at this scale"
OPPOSITE = "opposite"
NOT_MEASURED = "not measured"  # an arm has no figures (e.g. no GPU on this machine)
VERDICTS = (REPRODUCED, NOT_SIGNIFICANT, OPPOSITE, NOT_MEASURED)
Z = 2.0  # standard errors a difference must exceed


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof 1; NaN for one value)."""
    v = np.asarray(values, dtype=float)
    if len(v) == 0:
        return math.nan, math.nan
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else math.nan


def difference(arm: Sequence[float], control: Sequence[float], paired: bool = False) -> tuple[float, float]:
    """(mean difference arm - control, its standard error).

    Paired (the same trained models measured two ways): the standard error of the per-seed differences.
    Unpaired: Welch's sqrt(s_a^2 / n_a + s_c^2 / n_c).
    """
    a, c = np.asarray(arm, dtype=float), np.asarray(control, dtype=float)
    if len(a) == 0 or len(c) == 0:
        return math.nan, math.nan
    if paired:
        if len(a) != len(c):
            raise ValueError(f"paired figures need as many of each, got {len(a)} and {len(c)}")
        d = a - c
        return float(d.mean()), float(d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else math.nan
    if len(a) < 2 or len(c) < 2:
        return float(a.mean() - c.mean()), math.nan
    return float(a.mean() - c.mean()), float(math.sqrt(a.var(ddof=1) / len(a) + c.var(ddof=1) / len(c)))


def verdict(diff: float, se: float, sign: int) -> str:
    """The verdict on an effect `diff` with standard error `se`, given the paper's sign (+1 or -1)."""
    if sign not in (1, -1):
        raise ValueError(f"the paper's sign is +1 or -1, got {sign!r}")
    if math.isnan(diff):
        return NOT_MEASURED
    if math.isnan(se) or abs(diff) <= Z * se:
        return NOT_SIGNIFICANT
    return REPRODUCED if diff * sign > 0 else OPPOSITE
