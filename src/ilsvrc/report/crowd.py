"""The report's sections for folders of `ilsvrc label experiment`: its job, table and figure; and the
crowd-type sweep of `ilsvrc label experiment --crowds`: which method to use, crowd by crowd.

    crowd_section(read_experiment(Path("runs/label-experiment")), index=0)
    crowds_section(read_crowds(Path("runs/label-crowds")))
"""
from __future__ import annotations

from ilsvrc.label import experiment_crowds, experiment_report
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


def crowds_section(results: dict) -> Section:
    best, summary = experiment_crowds.best_rows(results), experiment_crowds.summary_rows(results)
    return Section("Which aggregator, crowd by crowd", [
        Paragraph(experiment_crowds.description(results) + " Where a method does not beat majority by more than "
                  "its spread over seeds, the table says \"no gain\"."),
        Table(experiment_crowds.BEST_HEADER, best, "lrlrr", caption="The most accurate method per crowd type and "
              "answers per question"),
        Table(experiment_crowds.SUMMARY_HEADER, summary, "lrlrrr", caption="Every method on every crowd type"),
    ])
