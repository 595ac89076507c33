"""The report's sections, each from numbers already computed: a results table, then the paper's figures.

    results_section(entries, reference)          # best first, and the ConvNet's margin
    curves_section(convnets)                     # learning curves
    filters_section(entry, weights)              # Figure 3
    confusion_section(entry, scores)
    predictions_section(entry, predictions)      # Figure 4, left
    neighbours_section(entry, rows, pool, dim)   # Figure 4, right
"""
from __future__ import annotations

import numpy as np
import torch

from ilsvrc import metrics
from ilsvrc.engine.evaluation import RunScores
from ilsvrc.report import figures
from ilsvrc.report.document import Figure, Paragraph, Section, Table
from ilsvrc.report.examples import class_names, confused_pairs
from ilsvrc.report.runs import Entry, margin

RESULT_COLUMNS = (("entry", "name", "l"), ("approach", "approach", "l"), ("top-1 error", "top1_error", "r"),
                  ("top-5 error", "top5_error", "r"), ("training time", "train_seconds", "r"),
                  ("parameters", "params", "r"), ("note", "note", "l"))


# ---- formatting ----


def percent(value) -> str:
    return "–" if value is None else f"{float(value) * 100:.2f}%"


def duration(seconds) -> str:
    if seconds is None:
        return "–"
    seconds = float(seconds)
    if seconds < 90:
        return f"{seconds:.1f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def count(value) -> str:
    return "–" if value is None else f"{int(value):,}"


def cell(key: str, value) -> str:
    formats = {"top1_error": percent, "top5_error": percent, "train_seconds": duration, "params": count}
    return formats.get(key, lambda v: "–" if v is None else str(v))(value)


# ---- results ----


def results_table(rows: list[dict], caption: str) -> Table:
    """The columns that at least one row fills, in RESULT_COLUMNS order."""
    columns = [c for c in RESULT_COLUMNS if any(row.get(c[1]) is not None for row in rows)]
    return Table([h for h, _, _ in columns], [[cell(key, row.get(key)) for _, key, _ in columns] for row in rows],
                 "".join(a for _, _, a in columns), caption)


def results_section(entries: list[Entry], reference: list[dict]) -> Section:
    blocks = [Paragraph(_scored_on(entries)),
              results_table([e.summary | {"name": e.name} for e in entries],
                            "Entries, best (lowest top-1 error) first")]
    m = margin(entries)
    if m:
        blocks.append(Paragraph(_margin_sentence(m)))
    if reference:
        blocks.append(results_table(reference, "For context: reference results"))
    return Section("Results", blocks)


def _scored_on(entries: list[Entry]) -> str:
    places = sorted({f"the {e.split} split of {e.summary.get('data', '?')}" for e in entries})
    return (f"Top-1 and top-5 error of each entry on {' and '.join(places)}, as its run recorded them "
            "(summary.json); training time is wall-clock time of the whole run.")


def _margin_sentence(m: dict) -> str:
    verb = "beats" if m["top1_points"] >= 0 else "trails"
    return (f"Margin: the best ConvNet, {m['convnet']}, {verb} the best traditional entry, {m['traditional']}, "
            f"by {abs(m['top1_points']):.2f} points of top-1 error and {m['top5_points']:.2f} points of top-5 error.")


# ---- learning curves ----


def curves_section(convnets: list[Entry]) -> Section:
    png = figures.learning_curves({e.name: e.curves for e in convnets})
    return Section("Learning curves", [
        Paragraph("Training error (dashed: measured on the augmented batches while the weights change) and "
                  "validation top-1 error (solid) after each epoch, for every ConvNet run."),
        Figure("learning_curves", png, "learning curves: error per epoch for each ConvNet",
               f"Error (%) per epoch of {', '.join(e.name for e in convnets)}; one colour per run."),
    ])


# ---- first-layer filters ----


def filters_section(entry: Entry, weights: torch.Tensor) -> Section:
    out, channels, k, _ = weights.shape
    png = figures.filter_grid(weights.numpy())
    colour = "in colour (RGB)" if channels == 3 else ("in gray" if channels == 1 else "as the gray of their mean")
    return Section("First-layer filters", [
        Paragraph(f"The {out} filters of size {k}×{k}×{channels} that {entry.name}'s first convolutional layer "
                  f"learned, each scaled to 0..1 on its own and shown {colour}. The paper's Figure 3 shows "
                  "AlexNet's 96 filters of 11×11×3: oriented edges and frequencies, and colour blobs."),
        Figure("first_layer_filters", png, f"{out} first-layer filters of {entry.name}",
               f"First-layer filters of {entry.name} ({out} × {k}×{k}×{channels})."),
    ])


# ---- confusion matrix ----


def confusion_section(entry: Entry, scores: RunScores, pairs: int = 5) -> Section:
    k = len(scores.classes)
    confusion = metrics.confusion_matrix(scores.scores.argmax(1), scores.labels, k).numpy()
    names = class_names(scores)
    n = int(confusion.sum())
    error = 1 - np.trace(confusion) / max(n, 1)
    mistakes = [[names[t], names[p], f"{c:,}", percent(c / max(confusion[t].sum(), 1))]
                for t, p, c in confused_pairs(confusion, pairs)]
    blocks = [
        Paragraph(f"{entry.name}, the entry with the lowest top-1 error, on the {n:,} images of the "
                  f"{scores.split} split (top-1 error {percent(error)}): rows are the true classes, columns "
                  "the predicted ones, colour the fraction of each true class."),
        Figure("confusion_matrix", figures.confusion_matrix(confusion, names),
               f"confusion matrix of {entry.name}", f"Confusion matrix of {entry.name} ({k} classes)."),
    ]
    if mistakes:
        blocks.append(Table(["true class", "predicted as", "images", "of the true class"], mistakes, "llrr",
                            "Most frequent mistakes"))
    return Section("Confusion matrix", blocks)


# ---- Figure 4: predictions and nearest neighbours ----


def predictions_section(entry: Entry, predictions: list[figures.Prediction], split: str) -> Section:
    n = len(predictions)
    top1 = sum(p.top[0][2] for p in predictions)
    top5 = sum(any(right for _, _, right in p.top) for p in predictions)
    return Section("Top-5 predictions", [
        Paragraph(f"{n} images of the {split} split, drawn at random (one per class while classes last), with "
                  f"the {len(predictions[0].top)} classes {entry.name} finds most probable. The true class's bar "
                  f"is red; it has no bar when it is not among them. Right at top-1: {top1} of {n}; "
                  f"within the top 5: {top5} of {n}. As the paper's Figure 4 (left)."),
        Figure("top5_predictions", figures.top5_panels(predictions), f"top-5 predictions of {entry.name}",
               f"Test images (titled with their true class) and {entry.name}'s top-5 probabilities."),
    ])


def neighbours_section(entry: Entry, rows: list[figures.NeighbourRow], pool: int, dim: int) -> Section:
    k = len(rows[0].neighbours)
    same = sum(name == row.query_name for row in rows for _, name in row.neighbours)
    return Section("Nearest neighbours", [
        Paragraph(f"For {len(rows)} test images (left), the {k} training images whose {dim}-value last hidden "
                  f"layer (forward_features of {entry.name}) lies closest in Euclidean distance, searched among "
                  f"{pool:,} training images drawn at random. Names in green share the test image's class: "
                  f"{same} of {len(rows) * k}. As the paper's Figure 4 (right): images close in this space need "
                  "not be close in pixels."),
        Figure("nearest_neighbours", figures.neighbour_grid(rows), f"nearest neighbours in {entry.name}'s features",
               "Each row: a test image, then its nearest training images, closest first."),
    ])


def seeing_differently_section(old: Entry, new: Entry, gained: list[figures.SeenTwice],
                               lost: list[figures.SeenTwice]) -> Section:
    """Test images the pre-2012 entry gets wrong and the ConvNet right, and the reverse, with both top-5 lists."""
    names = (old.name, new.name)
    blocks = [Paragraph(f"Where the two approaches see differently: test images (drawn at random, one per class while "
                        f"classes last) that {old.name} gets wrong at top-1 and {new.name} right, then the reverse. "
                        f"Each shows both top-5 lists; the true class's bar is red. {old.name}'s bars are a softmax "
                        "of its SVM decision values, put on the same scale as the ConvNet's probabilities.")]
    for rows, what in ((gained, f"{new.name} right, {old.name} wrong"), (lost, f"{old.name} right, {new.name} wrong")):
        if rows:
            stem = "seeing-differently-" + ("gained" if rows is gained else "lost")
            blocks.append(Figure(stem, figures.two_top5_panels(rows, names), what, f"{what}: both top-5 lists."))
        else:
            blocks.append(Paragraph(f"No test image with {what}."))
    return Section("Seeing differently", blocks)
