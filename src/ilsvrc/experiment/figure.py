"""An experiment's figure: the measured quantity per arm (bars, mean +- std, each seed a dot) and, where the
arms trained, their training-error curves (mean over seeds); `scale` draws error against training images.

    png = plot_png(result)     # PNG bytes, drawn on a matplotlib Figure (no pyplot, no display)
"""
from __future__ import annotations

import io

import numpy as np
from matplotlib.figure import Figure


def plot_png(result: dict) -> bytes:
    series = result.get("series")
    curves = [a for a in result["arms"] if any(r.get("curve") for r in a["runs"])]
    panels = 1 + bool(curves) + bool(series)
    fig = Figure(figsize=(5.5 * panels, 4))
    axes = np.atleast_1d(fig.subplots(1, panels))
    _bars(axes[0], result)
    if series:
        _series(axes[1], series)
    elif curves:
        _curves(axes[1], curves)
    title = f"{result['name']}: {result['verdict']}" + (" (QUICK)" if result["quick"] else "")
    fig.suptitle(title)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def _scale(result: dict) -> float:
    return 100.0 if result["quantity"]["unit"] == "error" else 1.0


def _bars(ax, result: dict) -> None:
    k = _scale(result)
    arms = result["arms"]
    x = np.arange(len(arms))
    means = [0 if a["mean"] is None else a["mean"] * k for a in arms]  # None: not measured
    stds = [0 if a["std"] is None else a["std"] * k for a in arms]  # None: one seed, no spread
    ax.bar(x, means, yerr=stds, color=[f"C{i}" for i in range(len(arms))], alpha=0.7, capsize=4)
    for i, arm in enumerate(arms):
        ax.plot([i] * len(arm["values"]), [v * k for v in arm["values"]], "k.", alpha=0.6)
    ax.set_xticks(x, [a["label"] for a in arms], rotation=20 if len(arms) > 3 else 0, ha="right" if len(arms) > 3
                  else "center", fontsize=8)
    ax.set_ylabel(result["quantity"]["label"] + (" (%)" if k == 100 else ""))
    ax.grid(axis="y", alpha=0.3)


def _curves(ax, arms: list[dict]) -> None:
    for i, arm in enumerate(arms):
        curves = [r["curve"] for r in arm["runs"] if r.get("curve")]
        length = min(len(c) for c in curves)
        mean = np.mean([c[:length] for c in curves], axis=0) * 100
        ax.plot(np.arange(1, length + 1), mean, "o-", color=f"C{i}", label=arm["label"], markersize=3)
    ax.set_xlabel("epoch")
    ax.set_ylabel("training error (%), mean over seeds")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)


def _series(ax, series: dict) -> None:
    for i, (name, points) in enumerate(series.items()):
        sizes = [p["train_images"] for p in points]
        ax.errorbar(sizes, [p["mean"] * 100 for p in points], yerr=[p["std"] * 100 for p in points], fmt="o-",
                    color=f"C{i}", label=name, capsize=3)
    ax.set_xscale("log")
    ax.set_xlabel("training images")
    ax.set_ylabel("test top-1 error (%)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
