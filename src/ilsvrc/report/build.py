"""From run folders to a Document: evaluate what the figures need, then assemble the sections.

    document = build_document([Path("runs/lenet5"), Path("runs/hog-svm")], data=None, title="Results")

Scores of every entry, ConvNet or baseline, come from `ilsvrc.scoring.run_scores`; the best
ConvNet is also opened (`convnet.load_convnet`) for its filters, images and features. A folder of
`ilsvrc label experiment` among the runs becomes a section of its own (report.crowd); folders of
`ilsvrc experiment` (or the folder `experiment all` filled) become "What made it work" (report.claims).
"""
from __future__ import annotations

from pathlib import Path

from ilsvrc import scoring
from ilsvrc.engine.evaluation import RunScores
from ilsvrc.errors import ConfigError, DataError
from ilsvrc.label.experiment_crowds import is_crowds_folder, read_crowds
from ilsvrc.label.experiment_report import is_experiment_folder, read_experiment
from ilsvrc.report import claims, sections
from ilsvrc.report.crowd import crowd_section, crowds_section
from ilsvrc.report.convnet import LoadedConvNet, first_layer_weights, load_convnet
from ilsvrc.report.document import Document, Paragraph, Section
from ilsvrc.report.examples import as_probabilities, class_names, one_right, pick_examples, top_k
from ilsvrc.report.figures import NeighbourRow, Prediction, SeenTwice
from ilsvrc.report.neighbours import nearest, pool_indices
from ilsvrc.report.runs import Entry, best_convnet, load_entries

EXAMPLES = 8      # test images with their top-5 (the paper shows 8)
QUERIES = 5       # test images whose nearest neighbours are shown
NEIGHBOURS = 6    # training images per query, as the paper
SEEN = 4          # images each way in "seeing differently"


def build_document(runs: list[Path], data: str | None, title: str, context: dict, device: str = "auto",
                   feature_pool: int = 5000) -> Document:
    """Sections for the run folders, then one per folder of `ilsvrc label experiment` among `runs`."""
    if not runs:
        raise ConfigError("report: give at least one run folder")
    if feature_pool < 1:
        raise ConfigError(f"report: the feature pool must hold at least 1 training image, got {feature_pool}")
    experiment_folders = [r for r in runs if is_experiment_folder(r)]
    experiments = [read_experiment(r) for r in experiment_folders]
    crowd_sweeps = [r for r in runs if r not in experiment_folders and is_crowds_folder(r)]
    experiment_folders += crowd_sweeps
    claim_folders = [r for r in runs if r not in experiment_folders and claims.is_experiments_folder(r)]
    runs = [r for r in runs if r not in experiment_folders and r not in claim_folders]
    document = Document(title, notes=[str(n) for n in context.get("notes", [])])
    if claim_folders:
        document.sections.append(claims.claims_section(claims.load_results(claims.experiment_folders(claim_folders))))
    if runs:
        entries = load_entries(runs)
        document.sections.append(sections.results_section(entries, list(context.get("reference", []))))
        convnets = [e for e in entries if e.is_convnet]
        if convnets:
            document.sections.append(sections.curves_section(convnets))
        document.sections += figure_sections(entries, data, device, feature_pool)
    document.sections += [crowd_section(results, i) for i, results in enumerate(experiments)]
    document.sections += [crowds_section(read_crowds(r)) for r in crowd_sweeps]
    return document


def figure_sections(entries: list[Entry], data: str | None, device: str, feature_pool: int) -> list[Section]:
    """Filters, confusion matrix and Figure 4: the best entry's scores, the best ConvNet's insides."""
    best, cnn = entries[0], best_convnet(entries)
    best_scores = scores_of(best, data, device)
    confusion = sections.confusion_section(best, best_scores)
    if cnn is None:
        return [confusion, Section("ConvNet figures", [Paragraph(
            "No ConvNet among the entries: no filters, top-5 predictions or nearest neighbours to show.")])]
    net = load_convnet(str(cnn.run), data, device)
    cnn_scores = best_scores if cnn is best else scores_of(cnn, data, device)
    found = [sections.filters_section(cnn, first_layer_weights(net.model)), confusion,
             *convnet_sections(cnn, cnn_scores, net, feature_pool)]
    old = next((e for e in entries if not e.is_convnet), None)  # the best pre-2012 entry, if any
    if old is not None:
        old_scores = best_scores if old is best else scores_of(old, data, device)
        found.append(seeing_differently(old, old_scores, cnn, cnn_scores, net))
    return found


def seeing_differently(old: Entry, old_scores: RunScores, new: Entry, new_scores: RunScores,
                       net: LoadedConvNet) -> Section:
    """The demo's "seeing differently" panel: images one approach gets right and the other wrong, both ways."""
    if len(old_scores.labels) != len(new_scores.labels) or not bool((old_scores.labels == new_scores.labels).all()):
        return Section("Seeing differently", [Paragraph(
            f"{old.name} and {new.name} were scored on different images: no side-by-side to show.")])
    test, names = net.dataset(new_scores.split), class_names(new_scores)
    old_probabilities, new_probabilities = as_probabilities(old_scores), as_probabilities(new_scores)

    def row(i: int) -> SeenTwice:
        label = int(new_scores.labels[i])
        tops = [[(names[c], p, c == label) for c, p in top_k(probabilities[i], 5)]
                for probabilities in (old_probabilities, new_probabilities)]
        return SeenTwice(net.image(test, i), names[label], *tops)

    return sections.seeing_differently_section(old, new, [row(i) for i in one_right(old_scores, new_scores, SEEN)],
                                               [row(i) for i in one_right(new_scores, old_scores, SEEN)])


def scores_of(entry: Entry, data: str | None, device: str) -> RunScores:
    scores = scoring.run_scores(str(entry.run), data, split=entry.split, device=device)
    if scores.multilabel:
        raise ConfigError(f"{entry.run}: multi-label data (PASCAL VOC) has no top-5 or confusion matrix to report")
    return scores


def convnet_sections(entry: Entry, scores: RunScores, net: LoadedConvNet, feature_pool: int) -> list[Section]:
    """Figure 4 of the paper: top-5 predictions (left) and nearest neighbours (right) of the same test images."""
    test = net.dataset(scores.split)
    if len(test) != len(scores.labels):
        raise DataError(test.root, f"split {scores.split!r} has {len(test)} images, "
                                   f"but {len(scores.labels)} were scored")
    picks = pick_examples(scores.labels.numpy(), EXAMPLES)
    names = class_names(scores)
    predictions = [Prediction(net.image(test, i), names[int(scores.labels[i])], top5(scores, i))
                   for i in picks]
    train = net.dataset(net.pipeline.config.train_split)
    pool = pool_indices(len(train), feature_pool)
    rows = neighbour_rows(net, test, train, pool, picks[:QUERIES], names)
    return [sections.predictions_section(entry, predictions, scores.split),
            sections.neighbours_section(entry, rows, len(pool), int(net.model.num_features))]


def top5(scores: RunScores, i: int) -> list[tuple[str, float, bool]]:
    names, label = class_names(scores), int(scores.labels[i])
    return [(names[c], p, c == label) for c, p in top_k(scores.scores[i], 5)]


def neighbour_rows(net: LoadedConvNet, test, train, pool, queries: list[int], names: list[str]) -> list[NeighbourRow]:
    """Each query's NEIGHBOURS nearest training images among `pool`, by last-hidden-layer features."""
    _, positions = nearest(net.features(test, queries), net.features(train, pool), NEIGHBOURS)
    rows = []
    for q, row in zip(queries, positions.tolist()):
        closest = [int(pool[p]) for p in row]
        rows.append(NeighbourRow(net.image(test, q), names[test.label(q)],
                                 [(net.image(train, i), names[train.label(i)]) for i in closest]))
    return rows
