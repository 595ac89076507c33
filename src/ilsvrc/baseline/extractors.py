"""The three feature pipelines: images (N, side, side, C) uint8 -> feature vectors (N, F) float32.

    extractor = make_extractor("sift-fisher", side=128, channels=3)   # the 2012 settings from 96 px up
    extractor.fit(sample_images)         # PCA + GMM on a sample of descriptors (HOG learns nothing)
    features = extractor.transform(images)

hog          HOG at two cell sizes + uniform-LBP histograms + the intensities (the hand-designed
             features of the ILSVRC 2010 winner, NEC-UIUC, were HOG and LBP)
hog-rbf      the same features, classified by RBF-kernel SVMs (Nystroem map, kernel_svm.py)
sift-bovw    dense SIFT -> k-means bag of visual words, 1x1 + 2x2 spatial pyramid
sift-fisher  dense SIFT -> PCA -> Fisher vectors over a diagonal GMM, 1x1 + 2x2 pyramid
             (the encoding of ILSVRC 2012's 2nd place, 26.2% top-5 error); on photos at the
             2012 settings: SIFT at 4 scales, PCA 64, 256 Gaussians, 163,840 numbers per image;
             on 28-32 px data one scale, PCA 32, 16 Gaussians (see make_extractor)

RGB data also gets per-channel colour histograms appended. An extractor is its settings
(`extractor_config`, JSON) plus its `arrays()` (numpy); `restore_extractor` rebuilds it from both.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from ilsvrc.baseline.encoding import BagOfWords, FisherVector, Pca, encode_pyramid
from ilsvrc.baseline.features import (color_histogram, color_histograms_batch, dense_sift, grayscale,
                                      grayscale_batch, hog_grid, hog_grids_batch, lbp_histograms,
                                      lbp_histograms_batch, thumbnail, thumbnails_batch)
from ilsvrc.errors import ConfigError, DataError

FEATURES = ("hog-rbf", "hog", "sift-bovw", "sift-fisher")
KERNEL = {"hog-rbf": "rbf"}  # pipelines whose SVMs are kernel SVMs; the rest are linear
HOG_BATCH_PIXELS = 200_000  # pixels per batch of HogExtractor.transform: 255 images of 28 px, ~15 MB of temporaries
ENCODE_DESCRIPTORS = 16_384  # descriptors assigned in one call: 16 MB of float32 posteriors at K = 256
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

    @property
    def dimension(self) -> int:
        """Length of the feature vector."""
        return len(self.describe(np.zeros((self.side, self.side, self.channels), np.uint8)))

    def describe(self, image: np.ndarray) -> np.ndarray:
        gray = grayscale(image)
        parts = [hog_grid(gray, cells, self.orientations) for cells in self.grids]
        if self.lbp_cells:
            parts.append(lbp_histograms(gray, self.lbp_cells))
        if self.thumbnail:
            parts.append(thumbnail(gray, min(self.thumbnail, self.side)))
        return np.concatenate(parts + _color(image, self.color_bins))

    def transform(self, images: np.ndarray) -> np.ndarray:
        """`describe` of every image, computed a batch of images at a time (~10x faster)."""
        step = max(1, HOG_BATCH_PIXELS // (self.side * self.side))
        batches = [self._describe_batch(images[i:i + step]) for i in range(0, len(images), step)]
        return np.concatenate(batches) if batches else np.zeros((0, self.dimension), np.float32)

    def _describe_batch(self, images: np.ndarray) -> np.ndarray:
        grays = grayscale_batch(images)
        parts = [hog_grids_batch(grays, self.grids, self.orientations)] if self.grids else []
        if self.lbp_cells:
            parts.append(lbp_histograms_batch(grays, self.lbp_cells))
        if self.thumbnail:
            parts.append(thumbnails_batch(grays, min(self.thumbnail, self.side)))
        if self.color_bins and images.shape[3] == 3:
            parts.append(color_histograms_batch(images, self.color_bins))
        return np.concatenate(parts, axis=1).astype(np.float32)

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
    scales: tuple[float, ...] = (1.0,)  # bin sizes as multiples of side / grid, all on that one step (vl_phow)
    pca: Pca | None = field(default=None, repr=False)
    encoder: BagOfWords | FisherVector | None = field(default=None, repr=False)

    learns = True  # the codebook or GMM (and PCA) is fitted on training descriptors

    @property
    def features(self) -> str:
        return f"sift-{self.encoding}"

    @property
    def bin_size(self) -> int:
        """The grid step, and the bin size of scale 1."""
        return max(2, self.side // self.grid)

    @property
    def bin_sizes(self) -> tuple[int, ...]:
        return tuple(max(2, round(self.bin_size * scale)) for scale in self.scales)

    @property
    def dimension(self) -> int:
        """Length of the feature vector (before fitting: with the full PCA dimension)."""
        regions = sum(n * n for n in self.levels)
        per_region = self.vocabulary if self.encoding == "bovw" else 2 * self.vocabulary * self.pca_dims
        return regions * per_region + (3 * self.color_bins if self.channels == 3 else 0)

    def raw_descriptors(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(T, 128) SIFT descriptors of one image at every scale, and their (T, 2) positions."""
        return dense_sift(grayscale(image), self.bin_sizes, self.bin_size)

    def descriptors(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        descriptors, positions = self.raw_descriptors(image)
        return (self.pca.project(descriptors) if self.pca else descriptors), positions

    def fit(self, images: np.ndarray, seed: int = 0) -> "SiftExtractor":
        rng = np.random.default_rng(seed)
        per_image = -(-self.fit_descriptors // max(1, len(images)))  # a share of every image: bounded memory
        sample = np.concatenate([_sample(self.raw_descriptors(image)[0], per_image, rng) for image in images])
        if len(sample) < self.vocabulary:
            raise DataError("training images", f"{len(sample)} SIFT descriptors cannot fit {self.vocabulary} "
                                               f"{'words' if self.encoding == 'bovw' else 'Gaussians'}")
        if self.encoding == "fisher":
            self.pca = Pca.fit(sample, self.pca_dims, seed)
            self.encoder = FisherVector.fit(self.pca.project(sample), self.vocabulary, seed)
        else:
            self.encoder = BagOfWords.fit(sample, self.vocabulary, seed)
        return self

    def transform(self, images: np.ndarray) -> np.ndarray:
        return np.stack([np.concatenate([vector] + _color(image, self.color_bins))
                         for vector, image in zip(self._encode_all(images), images)]).astype(np.float32)

    def _encode_all(self, images: np.ndarray):
        """The pyramid encodings of the images, assigning the descriptors of several images in one call
        (about ENCODE_DESCRIPTORS of them: per-call overhead dominates on small images, memory on large)."""
        batch: list[tuple[np.ndarray, np.ndarray]] = []
        for image in images:
            batch.append(self.descriptors(image))
            if sum(len(d) for d, _ in batch) >= ENCODE_DESCRIPTORS:
                yield from self._encode(batch)
                batch = []
        yield from self._encode(batch)

    def _encode(self, described: list[tuple[np.ndarray, np.ndarray]]):
        if not described:
            return
        assignments = self.encoder.assign(np.concatenate([d for d, _ in described]))  # (sum T, K)
        per_image = np.split(assignments, np.cumsum([len(d) for d, _ in described])[:-1])
        for a, (d, positions) in zip(per_image, described):
            yield encode_pyramid(self.encoder, d, positions, self.levels, a)

    def arrays(self) -> dict[str, np.ndarray]:
        pca = {f"pca.{k}": v for k, v in self.pca.arrays().items()} if self.pca else {}
        return pca | {f"encoder.{k}": v for k, v in self.encoder.arrays().items()}


def _sample(rows: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    return rows[rng.choice(len(rows), min(len(rows), count), replace=False)]


Extractor = HogExtractor | SiftExtractor


LARGE_SIDE = 96  # SIFT on images at least this large gets the 2012 settings (photos are brought to 128 px)
# The 2012 settings of the Fisher-vector entries (Sánchez et al. 2013), at 128 px: dense SIFT every 4 px
# at bins of 4, 6, 8 and 10 px (vl_phow's scales), PCA to 64 dimensions, 256 Gaussians. The pyramid
# stays 1x1 + 2x2, as sift-bovw's (Lazebnik et al. 2006), so the two SIFT pipelines pool the same
# regions and differ only in the encoding; the Perronnin/Sánchez entries used 1x1 + 3x1 horizontal
# stripes instead, 4 regions rather than 5 (a vector a fifth shorter).
SIFT_2012 = {"grid": 32, "scales": (1.0, 1.5, 2.0, 2.5)}
FISHER_2012 = {"vocabulary": 256, "pca_dims": 64}


def make_extractor(features: str, side: int, channels: int, color: bool = True) -> Extractor:
    """A new (unfitted) extractor.

    SIFT on large images (side >= LARGE_SIDE) gets the 2012 settings: multi-scale dense SIFT and,
    for sift-fisher, PCA 64 and 256 Gaussians, 5 x 2 x 256 x 64 = 163,840 numbers per image.
    Small images (28-32 px data, upscaled to 56-64 for SIFT) keep the settings measured on
    Fashion-MNIST: one scale of 4-px bins, PCA 32 and 16 Gaussians (what fits the demo's time budget).
    """
    check_features(features)
    bins = 16 if color else 0
    if features.startswith("hog"):
        return HogExtractor(side, channels, color_bins=bins)
    encoding = features.removeprefix("sift-")
    large = side >= LARGE_SIDE
    settings = dict(SIFT_2012) if large else {}
    if encoding == "fisher":
        settings |= FISHER_2012 if large else {"vocabulary": 16}
    return SiftExtractor(side, channels, encoding, color_bins=bins, **settings)


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

