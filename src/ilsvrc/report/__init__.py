"""The results report: one self-contained HTML page and a Markdown twin, with the paper's figures.

    ilsvrc report runs/lenet5 runs/alexnet runs/hog-svm --out runs/report

    from ilsvrc.report import write_report
    write_report([Path("runs/lenet5"), Path("runs/hog-svm")], Path("runs/report"))
"""
from ilsvrc.report.command import write_report

__all__ = ["write_report"]
