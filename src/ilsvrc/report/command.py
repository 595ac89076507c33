"""`ilsvrc report`: one self-contained HTML page and its Markdown twin comparing finished runs.

    ilsvrc report runs/lenet5 runs/alexnet runs/hog-svm --out runs/report
    ilsvrc report runs/lenet5 --out docs/lenet5.html --title "LeNet-5 on Fashion-MNIST"

    write_report([Path("runs/lenet5")], Path("runs/report"), context={"notes": [...], "reference": [...]})

A folder OUT receives report.html, report.md and figures/*.png (the Markdown's images); an OUT
ending in .html names the page itself, with the .md and figures/ beside it.
"""
from __future__ import annotations

from pathlib import Path

from ilsvrc.files import check_output_folder, make_output_folder, write_bytes_atomic, write_text_atomic
from ilsvrc.report import html, markdown
from ilsvrc.report.build import build_document

DEFAULT_TITLE = "ILSVRC-style results"
FIGURE_DIR = "figures"


def output_paths(out: Path) -> tuple[Path, Path, Path]:
    """(page, Markdown twin, figure folder) for a folder or a .html path."""
    page = out if out.suffix.lower() == ".html" else out / "report.html"
    return page, page.with_suffix(".md"), page.parent / FIGURE_DIR


def write_report(runs: list[Path], out: Path, data: str | None = None, title: str = DEFAULT_TITLE,
                 context: dict | None = None, device: str = "auto", feature_pool: int = 5000) -> Path:
    """Write the page, its Markdown twin and the twin's figures; returns the page's path.

    `context` may carry "notes" (lines shown at the top) and "reference" (rows with the keys of
    summary.json, e.g. the paper's own results, shown beside the entries' table).
    """
    page, twin, figure_dir = output_paths(Path(out))
    check_output_folder(figure_dir)  # before the work: an --out that is a file fails now
    document = build_document([Path(r) for r in runs], data, title, context or {}, device, feature_pool)
    make_output_folder(figure_dir)
    for figure in document.figures():
        write_bytes_atomic(figure_dir / f"{figure.name}.png", figure.png)
    write_text_atomic(twin, markdown.render(document, FIGURE_DIR))
    write_text_atomic(page, html.render(document))
    return page


def report_command(runs: list[str], out: str, data: str | None = None, title: str = DEFAULT_TITLE,
                   device: str = "auto", feature_pool: int = 5000) -> int:
    page = write_report([Path(r) for r in runs], Path(out), data, title, None, device, feature_pool)
    print(f"wrote {page} and {page.with_suffix('.md')}")
    return 0
