"""The report's "What made it work" section: folders of `ilsvrc experiment` as one table of claims and verdicts.

    claims_section([read_result(Path("runs/experiments/lrn")), ...])

One row per comparison: the claim, the paper's figure and where the paper gives it, ours (the effect
mean +- its standard error, and each arm's mean +- spread over the seeds), the verdict; then each
experiment's figure.
"""
from __future__ import annotations

from pathlib import Path

from ilsvrc.experiment.figure import plot_png
from ilsvrc.experiment.result import RECORD, read_result, show
from ilsvrc.report.document import Figure, Paragraph, Section, Table

HEADER = ["experiment", "comparison", "the paper", "ours: effect", "ours: arms (mean +- spread)", "seeds", "verdict"]


def experiment_folders(paths: list[Path]) -> list[Path]:
    """The folders of `ilsvrc experiment` among `paths`: each one itself, or the folders `all` wrote under it."""
    found = []
    for path in map(Path, paths):
        if (path / RECORD).is_file():
            found.append(path)
        elif path.is_dir():
            found += sorted(p for p in path.iterdir() if (p / RECORD).is_file())
    return found


def is_experiments_folder(path: Path) -> bool:
    return bool(experiment_folders([path]))


def rows(result: dict) -> list[list[str]]:
    unit = result["quantity"]["unit"]
    points = " points" if unit == "error" else ""
    arms = {a["name"]: a for a in result["arms"]}
    out = []
    for c in result["comparisons"]:
        spread = "; ".join(f"{arms[n]['label']} {show(arms[n]['mean'], unit)} +- {show(arms[n]['std'], unit)}"
                           for n in (c["arm"], c["control"]))
        out.append([result["name"] + (" (QUICK)" if result["quick"] else ""), f"{c['arm']} vs {c['control']}",
                    f"{c['paper']['figure']} [{c['paper']['source']}]",
                    f"{show(c['diff'], unit, True)}{points} +- {show(c['se'], unit, difference=True)}", spread,
                    str(len(result["seeds"])), c["verdict"]])
    return out


def claims_section(results: list[dict]) -> Section:
    table = Table(HEADER, [row for r in results for row in rows(r)], "lllrrrl",
                  caption="Effect = arm - control in the measured quantity, +- its standard error; reproduced when it "
                          "has the paper's sign and exceeds 2 standard errors")
    blocks = [Paragraph("Each claim of Krizhevsky, Sutskever & Hinton (2012) with a figure, run on this machine: "
                        "the paper's number beside ours, and a verdict computed from the numbers "
                        "(`ilsvrc experiment`, docs/experiments.md)."), table]
    for r in results:
        machine = r["machine"]
        blocks.append(Figure(f"experiment-{r['name']}", plot_png(r), alt=f"{r['name']}: {r['quantity']['label']}",
                             caption=f"{r['name']}: {r['question']} ({r['date'][:10]}, {r['wall_seconds']:.0f} s on "
                                     f"{machine['cpu']}, {machine['device']}, load {machine['load_average'][0]})"))
    return Section("What made it work", blocks)


def load_results(folders: list[Path]) -> list[dict]:
    return [read_result(f) for f in folders]
