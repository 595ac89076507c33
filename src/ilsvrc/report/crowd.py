"""The report's section for a folder of `ilsvrc label experiment`: its job, table and figure.

    crowd_section(read_experiment(Path("runs/label-experiment")), index=0)
"""
from __future__ import annotations

from ilsvrc.label import experiment_report
from ilsvrc.report.document import Figure, Paragraph, Section, Table


def crowd_section(results: dict, index: int) -> Section:
    header, rows = experiment_report.table(results)
    return Section(experiment_report.title(results), [
        Paragraph(experiment_report.description(results)),
        Table(header, rows, "ll" + "r" * (len(header) - 2), caption="Label sets, by workers per image and method"),
        Paragraph(experiment_report.NOTE),
        Figure(f"crowd-labels-{index}", experiment_report.plot_png(results),
               alt="precision, recall, cost per kept image and test accuracy against workers per image",
               caption="Label quality, cost and the accuracy of LeNet-5 trained on each label set, by workers per "
                       "image and aggregation method."),
    ])
