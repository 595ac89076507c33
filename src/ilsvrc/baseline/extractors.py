"""The three feature pipelines: images (N, side, side, C) uint8 -> feature vectors (N, F) float32.

    extractor = make_extractor("sift-fisher", side=56, channels=1)
    extractor.fit(sample_images)         # PCA + GMM on a sample of descriptors (HOG learns nothing)
    features = extractor.transform(images)

hog          HOG at two cell sizes + uniform-LBP histograms + the intensities (the hand-designed
             features of the ILSVRC 2010 winner, NEC-UIUC, were HOG and LBP)
hog-rbf      the same features, classified by RBF-kernel SVMs (Nystroem map, kernel_svm.py)
sift-bovw    dense SIFT -> k-means bag of visual words, 1x1 + 2x2 spatial pyramid
sift-fisher  dense SIFT -> PCA -> Fisher vectors over a diagonal GMM, 1x1 + 2x2 pyramid
             (the encoding of ILSVRC 2012's 2nd place, 26.2% top-5 error)

RGB data also gets per-channel colour histograms appended. An extractor is its settings
(`extractor_config`, JSON) plus its `arrays()` (numpy); `restore_extractor` rebuilds it from both.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from ilsvrc.baseline.encoding import BagOfWords, FisherVector, Pca, encode_pyramid
from ilsvrc.baseline.features import (color_histogram, dense_sift, grayscale, hog_grid, lbp_histograms,
                                      thumbnail)
from ilsvrc.errors import ConfigError, DataError

FEATURES = ("hog-rbf", "hog", "sift-bovw", "sift-fisher")
KERNEL = {"hog-rbf": "rbf"}  # pipelines whose SVMs are kernel SVMs; the rest are linear
ENCODE_BATCH = 32  # images whose SIFT descriptors are embedded together (~100 MB for Fisher vectors)
NAMES = {"hog-rbf": "HOG + LBP + RBF-kernel SVM", "hog": "HOG + LBP + linear SVM",
         "sift-bovw": "dense SIFT + bag of words + linear SVM",
         "sift-fisher": "dense SIFT + Fisher vectors + linear SVM"}


def check_features(features: str) -> str:
    if features not in FEATURES:
        raise ConfigError(f"unknown --features {features!r}; choose one of: {', '.join(FEATURES)}")
    return features


def _color(image: np.ndarray, bins: int) -> list[np.ndarray]:
    return [color_histogram(image, bins)] if bins and image.shape[2] == 3 else []


@dataclass
class HogExtractor:
    side: int
    channels: int
    grids: tuple[int, ...] = (7, 4)  # cells per side: 4- and 7-pixel cells on 28-pixel images
    orientations: int = 9
    lbp_cells: int = 4  # 0: no LBP
    thumbnail: int = 32  # intensities at min(this, side) pixels per side; 0: none
    color_bins: int = 16  # per channel, RGB data only; 0: none

    features = "hog"
    learns = False  # nothing to fit: the features are designed by hand

    def fit(self, images: np.ndarray, seed: int = 0) -> "HogExtractor":
        return self

    def describe(self, image: np.ndarray) -> np.ndarray:
        gray = grayscale(image)
        parts = [hog_grid(gray, cells, self.orientations) for cells in self.grids]
        if self.lbp_cells:
            parts.append(lbp_histograms(gray, self.lbp_cells))
        if self.thumbnail:
            parts.append(thumbnail(gray, min(self.thumbnail, self.side)))
        return np.concatenate(parts + _color(image, self.color_bins))

    def transform(self, images: np.ndarray) -> np.ndarray:
        return np.stack([self.describe(image) for image in images]).astype(np.float32)

    def arrays(self) -> dict[str, np.ndarray]:
        return {}


@dataclass
class SiftExtractor:
    side: int
    channels: int
    encoding: str = "bovw"  # or "fisher"
    grid: int = 14  # SIFT spatial bins of side / grid pixels, one descriptor every bin: 4 px at side 56
    vocabulary: int = 256  # visual words (bovw) or Gaussians (fisher)
    pca_dims: int = 32  # fisher only: descriptors are decorrelated for the diagonal GMM
    levels: tuple[int, ...] = (1, 2)  # spatial pyramid: 1x1 and 2x2 regions
    color_bins: int = 16
    fit_descriptors: int = 100_000  # descriptors sampled to fit the PCA and the codebook / GMM
    pca: Pca | None = field(default=None, repr=False)
    encoder: BagOfWords | FisherVector | None = field(default=None, repr=False)

    learns = True  # the codebook or GMM (and PCA) is fitted on training descriptors

    @property
    def features(self) -> str:
        return f"sift-{self.encoding}"

    @property
    def bin_size(self) -> int:
        return max(2, self.side // self.grid)

    def descriptors(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        descriptors, positions = dense_sift(grayscale(image), self.bin_size, self.bin_size)
        return (self.pca.project(descriptors) if self.pca else descriptors), positions

    def fit(self, images: np.ndarray, seed: int = 0) -> "SiftExtractor":
        raw = np.concatenate([dense_sift(grayscale(image), self.bin_size, self.bin_size)[0] for image in images])
        if len(raw) < self.vocabulary:
            raise DataError("training images", f"{len(raw)} SIFT descriptors cannot fit {self.vocabulary} "
                                               f"{'words' if self.encoding == 'bovw' else 'Gaussians'}")
        rng = np.random.default_rng(seed)
        sample = raw[rng.choice(len(raw), min(len(raw), self.fit_descriptors), replace=False)]
        if self.encoding == "fisher":
            self.pca = Pca.fit(sample, self.pca_dims, seed)
            self.encoder = FisherVector.fit(self.pca.project(sample), self.vocabulary, seed)
        else:
            self.encoder = BagOfWords.fit(sample, self.vocabulary, seed)
        return self

    def transform(self, images: np.ndarray) -> np.ndarray:
        return np.concatenate([self._encode(images[i:i + ENCODE_BATCH])
                               for i in range(0, len(images), ENCODE_BATCH)]).astype(np.float32)

    def _encode(self, images: np.ndarray) -> np.ndarray:
        """One embedding call for the descriptors of a few images (per-call overhead dominates otherwise)."""
        described = [self.descriptors(image) for image in images]
        embeddings = self.encoder.embed(np.concatenate([d for d, _ in described]))
        per_image = np.split(embeddings, np.cumsum([len(d) for d, _ in described])[:-1])
        return np.stack([np.concatenate([encode_pyramid(e, positions, self.levels)] + _color(image, self.color_bins))
                         for e, (_, positions), image in zip(per_image, described, images)])

    def arrays(self) -> dict[str, np.ndarray]:
        pca = {f"pca.{k}": v for k, v in self.pca.arrays().items()} if self.pca else {}
        return pca | {f"encoder.{k}": v for k, v in self.encoder.arrays().items()}


Extractor = HogExtractor | SiftExtractor


def make_extractor(features: str, side: int, channels: int, color: bool = True) -> Extractor:
    """A new (unfitted) extractor with the defaults measured on Fashion-MNIST."""
    check_features(features)
    bins = 16 if color else 0
    if features.startswith("hog"):
        return HogExtractor(side, channels, color_bins=bins)
    encoding = features.removeprefix("sift-")
    return SiftExtractor(side, channels, encoding, vocabulary=256 if encoding == "bovw" else 16, color_bins=bins)


def extractor_config(extractor: Extractor) -> dict:
    """The JSON-able settings of an extractor (its arrays are saved separately)."""
    config = {f.name: getattr(extractor, f.name) for f in fields(extractor) if f.name not in ("pca", "encoder")}
    return {"features": extractor.features} | {k: list(v) if isinstance(v, tuple) else v for k, v in config.items()}


def restore_extractor(config: dict, arrays: dict[str, np.ndarray]) -> Extractor:
    """Rebuild an extractor from `extractor_config` and `arrays()` (raises KeyError if arrays are missing)."""
    settings = {k: tuple(v) if isinstance(v, list) else v for k, v in config.items() if k != "features"}
    if check_features(config["features"]) == "hog":
        return HogExtractor(**settings)
    extractor = SiftExtractor(**settings)
    if extractor.encoding == "fisher":
        extractor.pca = Pca.from_arrays(_unprefix(arrays, "pca."))
        extractor.encoder = FisherVector.from_arrays(_unprefix(arrays, "encoder."))
    else:
        extractor.encoder = BagOfWords.from_arrays(_unprefix(arrays, "encoder."))
    return extractor


def _unprefix(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {k.removeprefix(prefix): v for k, v in arrays.items() if k.startswith(prefix)}


def learned_parameters(extractor: Extractor) -> int:
    """Numbers learned from data by the feature stage: PCA, codebook or GMM (none for HOG)."""
    return sum(int(a.size) for a in extractor.arrays().values())

