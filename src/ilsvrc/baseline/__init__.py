"""The pre-2012 pipeline that AlexNet beat: hand-designed features + SVM.

    ilsvrc baseline --features hog-rbf|hog|sift-bovw|sift-fisher --data fashion-mnist --out runs/hog

    from ilsvrc.baseline import fit_baseline, load_baseline
    run = fit_baseline("hog-rbf", "fashion-mnist", "runs/hog") # fit, score, save; returns the folder
    load_baseline(run).run_scores(split="val")                 # ilsvrc.engine.evaluation.RunScores

features.py (HOG, LBP, dense SIFT) -> encoding.py (bag of words, Fisher vectors) ->
extractors.py (the pipelines) -> svm.py (one-vs-rest linear SVMs), kernel_svm.py (RBF-kernel
SVMs through a Nystroem map) -> pipeline.py (fit, score, predict) -> store.py (the run folder)
-> command.py (`ilsvrc baseline`).
"""
from ilsvrc.baseline.command import fit_baseline
from ilsvrc.baseline.extractors import FEATURES
from ilsvrc.baseline.pipeline import BaselineOptions, FittedBaseline, train_baseline
from ilsvrc.baseline.store import is_baseline_run, load_baseline

__all__ = ["FEATURES", "BaselineOptions", "FittedBaseline", "fit_baseline", "is_baseline_run", "load_baseline", "train_baseline"]
