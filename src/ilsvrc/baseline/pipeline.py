"""A baseline: hand-designed features + one-vs-rest linear SVMs, fitted on a packed training split.

    baseline, scores, record = train_baseline(BaselineOptions("hog"), "fashion-mnist")
    scores.result()["top1_error"]                  # scored like the ConvNets (ilsvrc.engine.evaluation.RunScores)
    baseline.run_scores("fashion-mnist", "val")    # what `ilsvrc eval RUN` shows (test where no val)
    baseline.predict_files(["shirt.png"], top=5)   # what `ilsvrc predict RUN shirt.png` shows

Images are brought to one square size first: 28-pixel images stay 28 pixels for HOG and are
upscaled to 56 for SIFT (room for 16-pixel patches); large photos become 64 (HOG) or 128 (SIFT).
"""
from __future__ import annotations

import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ilsvrc.baseline.extract import SplitImages, extract, fit_image, stratified_subset
from ilsvrc.baseline.extractors import KERNEL, NAMES, Extractor, check_features, learned_parameters, make_extractor
from ilsvrc.baseline.kernel_svm import DEFAULT_LANDMARKS, RbfSvm
from ilsvrc.baseline.svm import LinearSvm
from ilsvrc.data.images import read_image
from ilsvrc.data.packing import ensure_packed, scored_split
from ilsvrc.data.readers.packed import PackedDataset
from ilsvrc.engine.evaluation import RunScores
from ilsvrc.errors import ConfigError, DataError

DEFAULT_C = 16.0  # measured on Fashion-MNIST: test accuracy rises with C up to about 16, then levels off


@dataclass(frozen=True)
class BaselineOptions:
    features: str = "hog-rbf"
    C: float = DEFAULT_C  # linear SVM soft-margin constant (SGD's alpha = 1 / (C n)); kernel SVMs tune their own
    landmarks: int = DEFAULT_LANDMARKS  # kernel SVMs: k-means centres of the training images spanning the Nystroem map
    epochs: int = 10  # SGD passes over the training features
    train_limit: int | None = None  # a stratified sample of this many training images
    side: int | None = None  # images are brought to side x side pixels; None: see the module docstring
    color: bool = True  # append colour histograms for RGB data
    fit_images: int = 2000  # training images whose descriptors fit the codebook / GMM (SIFT)
    seed: int = 0
    workers: int | None = None  # extraction processes; None: all cores

    def __post_init__(self):
        check_features(self.features)
        for name in ("epochs", "train_limit", "side", "fit_images", "workers", "landmarks"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be positive, got {value}")
        if not self.C > 0:
            raise ConfigError(f"--C must be positive, got {self.C}")
        if self.side is not None and self.side < 16:
            raise ConfigError(f"--side must be at least 16 pixels, got {self.side}")


SMALL_IMAGE_SIDE = 64  # MNIST, CIFAR: features at (twice for SIFT) their own size; photos are resized


def default_side(features: str, storage: str, native: int) -> int:
    if storage == "raw" and native <= SMALL_IMAGE_SIDE:  # raw storage also holds 256-pixel photos
        return native if features.startswith("hog") else 2 * native
    return 64 if features.startswith("hog") else 128


@dataclass
class FittedBaseline:
    extractor: Extractor
    svm: LinearSvm | RbfSvm
    classes: list[str]
    class_names: list[str]
    data: str  # the dataset it was fitted on, as given (a name or a path)
    workers: int | None = None
    features: str = "hog"  # the pipeline's name (FEATURES): the extractor's, or that of extractor + kernel

    @property
    def name(self) -> str:
        return NAMES[self.features]

    @property
    def parameters(self) -> int:
        """Learned numbers: SVM weights and biases, plus PCA and codebook / GMM for SIFT."""
        return self.svm.parameters + learned_parameters(self.extractor)

    def scores(self, images: np.ndarray) -> np.ndarray:
        """(N, K) decision values of (N, side, side, C) uint8 images."""
        return self.svm.decision(self.extractor.transform(images))

    def split_scores(self, root, split: str) -> tuple[np.ndarray, np.ndarray]:
        """(N, K) decision values and (N,) labels of a packed split."""
        dataset = PackedDataset(root, split)
        if list(dataset.classes) != list(self.classes):
            raise DataError(root, f"its {len(dataset.classes)} classes differ from the {len(self.classes)} "
                                  "this baseline was fitted on")
        if not len(dataset):
            raise DataError(root, f"split {split!r} holds no images")
        source = SplitImages(str(root), split, self.extractor.side, self.extractor.channels)
        # scored chunk by chunk: a split's features are never all held at once
        scores = extract(self.extractor, source, np.arange(len(dataset)), self.workers, f"{split} features",
                         then=self.svm.decision)
        return scores, dataset.labels()

    def run_scores(self, data: str | None = None, split: str = "val") -> RunScores:
        """Decision scores on a split of `data` (default: the training dataset), as ConvNet runs give."""
        root = ensure_packed(data or self.data)
        split = scored_split(root, split)
        scores, labels = self.split_scores(root, split)
        return RunScores(torch.from_numpy(scores), torch.from_numpy(labels).long(), list(self.classes),
                         list(self.class_names), split, "center", root=root)

    def predict_files(self, paths: list[str], top: int = 5) -> list[dict]:
        """The `top` classes of each image file, as ilsvrc.predict.predict_files."""
        mode = "L" if self.extractor.channels == 1 else "RGB"
        images = np.stack([fit_image(read_image(p, mode), self.extractor.side, self.extractor.channels)
                           for p in paths])
        # SVM decision values are not probabilities: their softmax keeps the ranking and sums to 1,
        # which is all `predict` shows; it is not a calibrated confidence.
        probabilities = torch.from_numpy(self.scores(images)).softmax(-1)
        values, indices = probabilities.topk(min(top, len(self.classes)))
        return [{"image": path, "top": [{"class": self.classes[i], "name": self.class_names[i], "probability": v}
                                        for v, i in zip(vs.tolist(), ix.tolist())]}
                for path, vs, ix in zip(paths, values, indices)]


class Timings(dict):
    """Seconds per stage: `with timings.stage("svm_s"): ...`."""

    @contextmanager
    def stage(self, key: str):
        began = time.perf_counter()
        yield
        self[key] = round(time.perf_counter() - began, 2)


def train_baseline(options: BaselineOptions, data: str = "fashion-mnist", split: str = "val") -> tuple[FittedBaseline, RunScores, dict]:
    """Fit on the train split of `data`, score `split`; returns the baseline, its scores and facts to record."""
    timings = Timings()
    with timings.stage("total_s"):
        with timings.stage("train_seconds"):
            root = ensure_packed(data)
            split = scored_split(root, split)
            PackedDataset(root, split)  # a missing or truncated shard of the scored split fails now, not after fitting
            baseline, fit_facts = _fit(options, root, data, timings)
        with timings.stage("eval_features_s"):
            scores = baseline.run_scores(str(root), split)
    facts = fit_facts | {"packed": str(root), "timings": timings}
    return baseline, scores, facts


def _fit(options: BaselineOptions, root: Path, data: str, timings: Timings) -> tuple[FittedBaseline, dict]:
    """The fitted baseline, and facts: the number of training images, the feature dimension, C's tuning."""
    train = PackedDataset(root, "train")
    extractor = make_extractor(options.features, *_geometry(train, options), options.color)
    labels = train.labels()
    indices = stratified_subset(labels, options.train_limit, options.seed)
    _check_kernel_memory(options, len(indices))
    _check_feature_memory(options, extractor.dimension, len(indices), len(train.classes))
    source = SplitImages(str(root), "train", extractor.side, extractor.channels)
    with timings.stage("fit_features_s"):
        _fit_features(extractor, source, indices, options)
    with timings.stage("train_features_s"):
        features = extract(extractor, source, indices, options.workers, "train features")
    with timings.stage("svm_s"):
        svm, tuning = _fit_svm(options, features, labels[indices], len(train.classes))
    # A path is kept absolute, so that `ilsvrc eval RUN` finds the data from any folder; a name as is.
    data = str(Path(data).resolve()) if Path(data).exists() else str(data)
    baseline = FittedBaseline(extractor, svm, list(train.classes), list(train.class_names), data, options.workers,
                              options.features)
    facts = {"train_images": len(indices), "feature_dim": int(features.shape[1])}
    return baseline, facts | ({"svm_tuning": tuning} if tuning else {})


# float64 (m + 1)^2 matrices the solver holds at once: K(L, L), two Grams and their sum, Cholesky factors
# (measured peak RSS on 60,000 images: 5.3 GB at 6,000 landmarks, 7.2 GB at 8,000, 9.8 GB at 10,000: the map 2.4 GB)
SOLVER_MATRICES = 8
FEATURE_MEMORY_SHARE = 0.8  # of the physical memory, for the training features at their peak
WEIGHT_BYTES = 32  # per class and feature while the linear SVMs are fitted (measured: ~25 at 20 classes)


def _check_kernel_memory(options: BaselineOptions, images: int) -> None:
    """Refuse, before any extraction, a kernel map and solver that would not fit in memory: ImageNet-sized
    training sets (the float32 map, N x m) or tens of thousands of landmarks (its float64 m x m matrices)."""
    side = min(options.landmarks, images) + 1
    gigabytes = (images * side * 4 + SOLVER_MATRICES * side * side * 8) / 1e9
    if options.features in KERNEL and gigabytes > FEATURE_MEMORY_SHARE * physical_memory_gb():
        raise ConfigError(f"--features {options.features} on {images:,} training images with {side - 1:,} landmarks "
                          f"needs {gigabytes:.0f} GB for its kernel map and solver, more than "
                          f"{FEATURE_MEMORY_SHARE:.0%} of this machine's {physical_memory_gb():.0f} GB; use "
                          "--train-limit, fewer --landmarks or --features hog")


def physical_memory_gb() -> float:
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 1e9


def _check_feature_memory(options: BaselineOptions, dimension: int, images: int, classes: int) -> None:
    """Refuse, before any fitting, training features that would not fit in memory. They are held twice at
    the peak (the parts and their concatenation; the features and the SVM's standardised copy), and the
    SVMs add WEIGHT_BYTES per class and feature (sklearn's and ours). Scored splits go chunk by chunk."""
    weights = WEIGHT_BYTES * classes * dimension / 1e9
    peak = 2 * images * dimension * 4 / 1e9 + weights
    limit = FEATURE_MEMORY_SHARE * physical_memory_gb()
    if peak > limit:
        at_most = max(0, int((limit - weights) * 1e9 / (2 * dimension * 4)))
        raise ConfigError(f"--features {options.features}: {images:,} training images x {dimension:,} features "
                          f"and {classes:,} SVMs need {peak:,.1f} GB at their peak, more than "
                          f"{FEATURE_MEMORY_SHARE:.0%} of this machine's {physical_memory_gb():.0f} GB; use "
                          f"--train-limit (at most {at_most:,} images fit)")


def _fit_svm(options: BaselineOptions, features: np.ndarray, labels: np.ndarray, num_classes: int,
             ) -> tuple[LinearSvm | RbfSvm, dict | None]:
    """The SVMs, and for kernel SVMs the C picked on held-out training images with their accuracies."""
    if options.features not in KERNEL:
        return LinearSvm.fit(features, labels, num_classes, options.C, options.epochs, options.seed,
                             options.workers or -1), None
    svm, tuning = RbfSvm.fit(features, labels, num_classes, options.landmarks, seed=options.seed)
    return svm, tuning


def _geometry(train: PackedDataset, options: BaselineOptions) -> tuple[int, int]:
    """(side, channels) of the images the extractor sees."""
    if train.multilabel:
        raise ConfigError(f"{train.root}: multi-label data (PASCAL VOC) needs one SVM per label; the baseline "
                          "scores single-label classification")
    if not len(train):
        raise DataError(train.root, "the train split holds no images")
    image = train.image(0)
    return options.side or default_side(options.features, train.storage, min(image.shape[:2])), image.shape[2]


def _fit_features(extractor: Extractor, source: SplitImages, indices: np.ndarray, options: BaselineOptions) -> None:
    """Fit the codebook or GMM on a sample of the training images (SIFT; HOG learns nothing)."""
    if extractor.learns:
        rng = np.random.default_rng(options.seed)
        sample = np.sort(rng.choice(indices, min(options.fit_images, len(indices)), replace=False))
        extractor.fit(source.load(sample), options.seed)
