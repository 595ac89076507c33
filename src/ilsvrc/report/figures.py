"""The report's figures, drawn with matplotlib's Agg renderer straight to PNG bytes.

    png = learning_curves({"lenet5": {"epoch": [1, 2], "train_error": [.3, .2], "val_top1_error": [.25, .2]}})
    png = filter_grid(model.c1.weight.detach().numpy())          # the paper's Figure 3
    png = confusion_matrix(confusion, class_names)
    png = top5_panels(examples)                                  # Figure 4, left
    png = neighbour_grid(rows)                                   # Figure 4, right

Figures are built on `matplotlib.figure.Figure`, not pyplot: no global state, no display needed.
They are small (100 dpi) so that a page embedding all of them stays a few hundred kilobytes.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

DPI = 100
RIGHT, OTHER = "#c0392b", "#9db4d0"  # the true class's bar, the other bars
SAME, DIFFERENT = "#1e7b34", "#a12a2a"


def to_png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", pad_inches=0.08)
    return buffer.getvalue()


def short(name: str, width: int = 18) -> str:
    """A class name fit for a tick label: the first synonym ('tench, Tinca tinca' -> 'tench'), clipped."""
    name = name.split(",")[0].strip()
    return name if len(name) <= width else name[:width - 1] + "…"


# ---- learning curves ----


def learning_curves(curves: dict[str, dict[str, list[float]]]) -> bytes:
    """Training and validation top-1 error per epoch, one colour per run (dashed: training)."""
    fig = Figure(figsize=(7, 3.8))
    ax = fig.add_subplot()
    for (name, curve), colour in zip(curves.items(), _colours(len(curves))):
        epochs = curve["epoch"]
        ax.plot(epochs, np.multiply(curve["val_top1_error"], 100), "-o", color=colour, ms=3,
                label=f"{name}: validation top-1")
        ax.plot(epochs, np.multiply(curve["train_error"], 100), "--o", color=colour, ms=3, alpha=0.7,
                label=f"{name}: training")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("error (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False)
    return to_png(fig)


def _colours(n: int) -> list:
    return [colormaps["tab10"](i % 10) for i in range(n)]


# ---- first-layer filters ----


def filter_mosaic(weights: np.ndarray, columns: int = 16) -> np.ndarray:
    """(rows*(k+1)-1, cols*(k+1)-1, 3) float image of (out, in, k, k) kernels on a white ground.

    Each kernel is scaled to 0..1 on its own (over all its channels, so colours keep their
    balance); 3 input channels show as RGB, any other number as the gray of their mean.
    """
    out, channels, k, _ = weights.shape
    kernels = weights.transpose(0, 2, 3, 1)  # (out, k, k, in)
    kernels = kernels if channels == 3 else np.repeat(kernels.mean(-1, keepdims=True), 3, axis=-1)
    low = kernels.min(axis=(1, 2, 3), keepdims=True)
    span = kernels.max(axis=(1, 2, 3), keepdims=True) - low
    kernels = np.where(span > 0, (kernels - low) / np.where(span > 0, span, 1), 0.5)
    columns = min(columns, out)
    rows = math.ceil(out / columns)
    mosaic = np.ones((rows * (k + 1) - 1, columns * (k + 1) - 1, 3))
    for i, kernel in enumerate(kernels):
        r, c = divmod(i, columns)
        mosaic[r * (k + 1):r * (k + 1) + k, c * (k + 1):c * (k + 1) + k] = kernel
    return mosaic


def filter_grid(weights: np.ndarray) -> bytes:
    mosaic = filter_mosaic(weights)
    scale = min(0.12, 8 / mosaic.shape[1])  # inches per kernel pixel: at most 8 inches wide, few filters larger
    fig = Figure(figsize=(max(1.5, mosaic.shape[1] * scale), max(0.6, mosaic.shape[0] * scale)))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(mosaic, interpolation="nearest")
    ax.set_axis_off()
    return to_png(fig)


# ---- confusion matrix ----


def confusion_matrix(confusion: np.ndarray, class_names: list[str]) -> bytes:
    """Rows: true class; columns: predicted. Colour: the fraction of the row; counts written when few classes."""
    counts = np.asarray(confusion)
    k = len(counts)
    rates = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    side = min(9.0, 2.5 + 0.42 * k)
    fig = Figure(figsize=(side + 1.2, side))
    ax = fig.add_subplot()
    # Hundreds of classes span fewer pixels than cells: average them, or the diagonal would vanish.
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1, interpolation="nearest" if k <= 100 else "antialiased")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    if k <= 40:
        names = [short(n) for n in class_names]
        ax.set_xticks(range(k), names, rotation=60, ha="right", fontsize=8)
        ax.set_yticks(range(k), names, fontsize=8)
    if k <= 15:
        for (t, p), n in np.ndenumerate(counts):
            ax.text(p, t, str(n), ha="center", va="center", fontsize=7,
                    color="white" if rates[t, p] > 0.5 else "black")
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    return to_png(fig)


# ---- top-5 predictions (Figure 4, left) ----


@dataclass(frozen=True)
class Prediction:
    image: np.ndarray  # (H, W, C) uint8
    true_name: str
    top: list[tuple[str, float, bool]]  # (class name, probability, is the true class), best first


def top5_panels(predictions: list[Prediction], columns: int = 2) -> bytes:
    """Each test image with its top-5 classes as bars to its right; the true class's bar in red."""
    rows = math.ceil(len(predictions) / columns)
    fig = Figure(figsize=(4.6 * columns, 1.45 * rows))
    grid = fig.add_gridspec(rows, 2 * columns, width_ratios=[1, 2.2] * columns, wspace=0.08, hspace=0.45)
    for i, prediction in enumerate(predictions):
        r, c = divmod(i, columns)
        _show(fig.add_subplot(grid[r, 2 * c]), prediction.image, short(prediction.true_name, 22), "black")
        _bars(fig.add_subplot(grid[r, 2 * c + 1]), prediction.top)
    return to_png(fig)


@dataclass(frozen=True)
class SeenTwice:
    """A test image with the top-5 lists of two models."""

    image: np.ndarray  # (H, W, C) uint8
    true_name: str
    first: list[tuple[str, float, bool]]
    second: list[tuple[str, float, bool]]


def two_top5_panels(rows: list[SeenTwice], names: tuple[str, str]) -> bytes:
    """One row per image: the image, then each model's top-5 bars (titled with the model)."""
    fig = Figure(figsize=(8.4, 1.5 * len(rows) + 0.3))
    grid = fig.add_gridspec(len(rows), 3, width_ratios=[1, 2.2, 2.2], wspace=0.1, hspace=0.5)
    for r, row in enumerate(rows):
        _show(fig.add_subplot(grid[r, 0]), row.image, short(row.true_name, 22), "black")
        for c, (top, name) in enumerate(((row.first, names[0]), (row.second, names[1])), start=1):
            ax = fig.add_subplot(grid[r, c])
            _bars(ax, top)
            ax.set_title(short(name, 40), fontsize=7, pad=2)
    return to_png(fig)


def _bars(ax, top: list[tuple[str, float, bool]]) -> None:
    positions = np.arange(len(top))[::-1]  # best at the top
    colours = [RIGHT if right else OTHER for _, _, right in top]
    ax.barh(positions, [p for _, p, _ in top], color=colours, height=0.8)
    for y, (name, p, right) in zip(positions, top):
        ax.text(0.02, y, f"{short(name, 24)}  {p * 100:.0f}%", va="center", fontsize=7,
                fontweight="bold" if right else "normal")
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.5, len(top) - 0.5)
    ax.set_xticks([])
    ax.set_yticks([])
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)


def _show(ax, image: np.ndarray, title: str, colour: str) -> None:
    if image.shape[2] == 1:
        ax.imshow(image[:, :, 0], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    else:
        ax.imshow(image, interpolation="nearest")
    ax.set_title(title, fontsize=8, color=colour, pad=2)
    ax.set_xticks([])
    ax.set_yticks([])


# ---- nearest neighbours (Figure 4, right) ----


@dataclass(frozen=True)
class NeighbourRow:
    query: np.ndarray  # (H, W, C) uint8 test image
    query_name: str
    neighbours: list[tuple[np.ndarray, str]]  # training images, closest first, with their class names


def neighbour_grid(rows: list[NeighbourRow]) -> bytes:
    """A test image (left) and its nearest training images; names in green where the class matches."""
    columns = 1 + max(len(r.neighbours) for r in rows)
    fig = Figure(figsize=(1.15 * columns + 0.3, 1.3 * len(rows)))
    grid = fig.add_gridspec(len(rows), columns + 1, width_ratios=[1, 0.15] + [1] * (columns - 1),
                            wspace=0.05, hspace=0.35)
    for r, row in enumerate(rows):
        _show(fig.add_subplot(grid[r, 0]), row.query, f"test: {short(row.query_name, 14)}", "black")
        for c, (image, name) in enumerate(row.neighbours):
            colour = SAME if name == row.query_name else DIFFERENT
            _show(fig.add_subplot(grid[r, c + 2]), image, short(name, 14), colour)
    return to_png(fig)
