"""The experiment's table (experiment.md) and figure (experiment.png), from experiment.json's content.

    write_report(results, out_dir)
    read_experiment(out_dir)          # experiment.json back, checked; `ilsvrc report` shows it as a section
"""
from __future__ import annotations

import io
from pathlib import Path

from ilsvrc.files import read_json_record, write_bytes_atomic, write_text_atomic

FORMAT, VERSION = "ilsvrc-label-experiment", 1
RECORD = "experiment.json"

COLUMNS = (  # header, row key, format
    ("workers / image", "workers", "{}"),
    ("method", "method", "{}"),
    ("answers / candidate", "votes_per_task", "{:.2f}"),
    ("cost", "cost", "${:,.0f}"),
    ("cost / kept image", "cost_per_image", "${:.3f}"),
    ("question accuracy", "accuracy", "{:.2%}"),
    ("precision", "precision", "{:.2%}"),
    ("recall", "recall", "{:.2%}"),
    ("images kept", "images_kept", "{:,}"),
    ("kept labels right", "image_label_accuracy", "{:.2%}"),
    ("LeNet-5 test accuracy", "test_accuracy", "{:.2%}"),
)


NOTE = ("precision and recall: of the candidates (questions) the crowd said yes to; images kept: one label per "
        "image after conflicts are resolved (most confident yes; ties dropped). clean: exactly the true members, "
        "with their true labels.")


def write_report(results: dict, out: Path) -> None:
    write_text_atomic(out / "experiment.md", markdown(results))
    write_bytes_atomic(out / "experiment.png", plot_png(results))


def read_experiment(folder: Path) -> dict:
    """The results `ilsvrc label experiment` saved in `folder`."""
    return read_json_record(Path(folder) / RECORD, FORMAT, "label experiment record",
                            "not a folder written by `ilsvrc label experiment`")


def is_experiment_folder(path: Path) -> bool:
    return (Path(path) / RECORD).is_file()


def title(results: dict) -> str:
    quick = results["budget"]["label"] == "quick"
    return f"Crowd labelling on {results['data']}" + (" (QUICK settings: fewer images and epochs than the full "
                                                       "study)" if quick else "")


def description(results: dict) -> str:
    job, budget = results["job"], results["budget"]
    return (f"A simulated ImageNet-style yes/no job: {job['candidates']:,} candidates, "
            f"{job['candidate_precision']:.1%} of them true members of the class asked about; "
            f"{job['answers']:,} answers from {job['workers']:,} workers ({_crowd(job['crowd'])}); "
            f"${results['price']:.4f} per answer. LeNet-5 trained {budget['epochs']} epoch(s) per label set; "
            f"test accuracy on the untouched test split. {results['seconds']:.0f} s in all.")


def table(results: dict) -> tuple[list[str], list[list[str]]]:
    """(header, rows of formatted cells): one row per label set."""
    return ([header for header, _, _ in COLUMNS],
            [[_cell(row, key, form) for _, key, form in COLUMNS] for row in results["rows"]])


def markdown(results: dict) -> str:
    header, rows = table(results)
    lines = [f"# {title(results)}", "", description(results), "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines += ["", NOTE, ""]
    return "\n".join(lines)


def _cell(row: dict, key: str, form: str) -> str:
    value = row.get(key)
    if row["method"] == "clean" and key == "workers":
        return "-"
    return "-" if value is None else form.format(value)


def _crowd(counts: dict) -> str:
    return ", ".join(f"{n} {kind}" for kind, n in counts.items() if n)


PANELS = (("precision", "precision of the kept candidates"), ("recall", "recall: members kept"),
          ("cost_per_image", "cost per kept image ($, log scale)"), ("test_accuracy", "LeNet-5 test accuracy"))


def plot_png(results: dict) -> bytes:
    """Precision, recall, cost per kept image and test accuracy against workers per image, per method."""
    from matplotlib import ticker
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure state to switch or close

    rows = [r for r in results["rows"] if r["method"] != "clean"]
    methods = list(dict.fromkeys(r["method"] for r in rows))
    fig = Figure(figsize=(18, 4.2))
    axes = fig.subplots(1, len(PANELS))
    for ax, (key, title) in zip(axes, PANELS):
        for color, method in enumerate(methods):
            points = [(r["workers"], r[key]) for r in rows if r["method"] == method and r.get(key) is not None]
            if points:
                ax.plot(*zip(*points), "o-", color=f"C{color}", label=method)
        ax.set_title(title)
        ax.set_xlabel("workers per image")
        ax.set_xticks(results["budget"]["workers"])
        ax.grid(alpha=0.3)
    axes[2].set_yscale("log")
    axes[2].yaxis.set_major_locator(ticker.LogLocator(subs=(1, 2, 5)))
    axes[2].yaxis.set_major_formatter(ticker.FormatStrFormatter("%.2f"))
    axes[2].yaxis.set_minor_formatter(ticker.NullFormatter())
    clean = next((r for r in results["rows"] if r["method"] == "clean"), None)
    if clean and "test_accuracy" in clean:
        axes[3].axhline(clean["test_accuracy"], color="k", linestyle="--", label="clean labels")
    for ax in axes:
        ax.legend(fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    return buffer.getvalue()
