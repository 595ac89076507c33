"""From a bag of local descriptors to one vector per image: bag of visual words, Fisher vectors.

    pca = Pca.fit(descriptors, dims=32)
    words = BagOfWords.fit(descriptors, words=256)            # k-means codebook (Sivic & Zisserman 2003)
    fisher = FisherVector.fit(pca.project(descriptors), 16)   # diagonal GMM (Perronnin et al. 2010)
    vector = encode_pyramid(words.embed(descriptors), positions, levels=(1, 2))   # 1x1 + 2x2 regions

Every encoder is plain arrays (`arrays()`, `from_arrays()`), so a fitted pipeline is saved as
an .npz without pickles. Each pyramid region is power- and L2-normalised on its own (the
"improved" normalisation of Perronnin et al. 2010), so a region with few descriptors counts
as much as the whole image.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp


def power_l2(vector: np.ndarray) -> np.ndarray:
    """Signed square root, then L2 normalisation (a zero vector stays zero)."""
    vector = np.sign(vector) * np.sqrt(np.abs(vector))
    norm = np.linalg.norm(vector)
    return vector / norm if norm > 0 else vector


def pyramid_regions(positions: np.ndarray, levels: tuple[int, ...]) -> list[np.ndarray]:
    """Boolean masks of the descriptors in each cell of an n x n grid, for each n in `levels`."""
    masks = []
    for n in levels:
        cell = np.minimum((positions * n).astype(np.int64), n - 1)  # (T, 2) column, row
        region = cell[:, 1] * n + cell[:, 0]
        masks.extend(region == r for r in range(n * n))
    return masks


def encode_pyramid(embeddings: np.ndarray, positions: np.ndarray, levels: tuple[int, ...]) -> np.ndarray:
    """Mean of the per-descriptor embeddings (T, E) in every pyramid region, each normalised, concatenated.

    Both encodings are such means: of one-hot word assignments (a histogram) or of each
    descriptor's share of the GMM log-likelihood gradient (a Fisher vector).
    """
    pooled = [embeddings[mask].mean(0) if mask.any() else np.zeros(embeddings.shape[1])
              for mask in pyramid_regions(positions, levels)]
    return np.concatenate([power_l2(v) for v in pooled]).astype(np.float32)


@dataclass
class Pca:
    """Decorrelating projection of descriptors (the diagonal GMM assumes uncorrelated dimensions)."""

    mean: np.ndarray  # (D,)
    components: np.ndarray  # (d, D)

    @classmethod
    def fit(cls, descriptors: np.ndarray, dims: int, seed: int = 0) -> "Pca":
        from sklearn.decomposition import PCA

        pca = PCA(n_components=min(dims, *descriptors.shape), random_state=seed).fit(descriptors)
        return cls(pca.mean_.astype(np.float32), pca.components_.astype(np.float32))

    def project(self, descriptors: np.ndarray) -> np.ndarray:
        return (descriptors - self.mean) @ self.components.T

    def arrays(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean, "components": self.components}

    @classmethod
    def from_arrays(cls, arrays: dict) -> "Pca":
        return cls(arrays["mean"], arrays["components"])


@dataclass
class BagOfWords:
    """Hard assignment of each descriptor to its nearest visual word; a histogram per region."""

    codebook: np.ndarray  # (K, D)

    @classmethod
    def fit(cls, descriptors: np.ndarray, words: int, seed: int = 0) -> "BagOfWords":
        from sklearn.cluster import MiniBatchKMeans

        kmeans = MiniBatchKMeans(n_clusters=words, random_state=seed, n_init=3, batch_size=4096)
        return cls(kmeans.fit(descriptors).cluster_centers_.astype(np.float32))

    def embed(self, descriptors: np.ndarray) -> np.ndarray:
        """(T, K) one-hot assignment of each descriptor to its nearest word."""
        from sklearn.metrics import pairwise_distances_argmin

        one_hot = np.zeros((len(descriptors), len(self.codebook)), np.float32)
        if len(descriptors):
            one_hot[np.arange(len(descriptors)), pairwise_distances_argmin(descriptors, self.codebook)] = 1
        return one_hot

    def histogram(self, descriptors: np.ndarray) -> np.ndarray:
        """(K,) fraction of the T >= 1 descriptors assigned to each word: sums to 1."""
        return self.embed(descriptors).mean(0)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"codebook": self.codebook}

    @classmethod
    def from_arrays(cls, arrays: dict) -> "BagOfWords":
        return cls(arrays["codebook"])


@dataclass
class FisherVector:
    """Gradients of a diagonal GMM's log-likelihood w.r.t. its means and variances (Sánchez et al. 2013)."""

    weights: np.ndarray  # (K,)
    means: np.ndarray  # (K, D)
    variances: np.ndarray  # (K, D)

    @classmethod
    def fit(cls, descriptors: np.ndarray, components: int, seed: int = 0) -> "FisherVector":
        from sklearn.mixture import GaussianMixture

        gmm = GaussianMixture(components, covariance_type="diag", reg_covar=1e-4, random_state=seed)
        gmm.fit(descriptors)
        return cls(*(a.astype(np.float64) for a in (gmm.weights_, gmm.means_, gmm.covariances_)))

    def posteriors(self, x: np.ndarray) -> np.ndarray:
        """(T, K) soft assignments gamma_t(k) of descriptors x (T, D)."""
        # The log-density of a diagonal Gaussian, written out: the model is stored as plain arrays,
        # and sklearn exposes it only through a fitted GaussianMixture object.
        z2 = ((x[:, None, :] - self.means) ** 2 / self.variances).sum(-1)  # (T, K)
        log_norm = np.log(2 * np.pi * self.variances).sum(-1)  # (K,)
        log_p = np.log(self.weights) - 0.5 * (log_norm + z2)
        return np.exp(log_p - logsumexp(log_p, axis=1, keepdims=True))

    def embed(self, x: np.ndarray) -> np.ndarray:
        """(T, 2 K D) each descriptor's term of the Fisher vector: their mean is `gradients(x)`."""
        x = x.astype(np.float64)
        gamma = self.posteriors(x)[:, :, None]  # (T, K, 1)
        z = (x[:, None, :] - self.means) / np.sqrt(self.variances)  # (T, K, D)
        g_mu = gamma * z / np.sqrt(self.weights)[:, None]
        g_sigma = gamma * (z ** 2 - 1) / np.sqrt(2 * self.weights)[:, None]
        return np.concatenate([g_mu.reshape(len(x), -1), g_sigma.reshape(len(x), -1)], axis=1)

    def gradients(self, x: np.ndarray) -> np.ndarray:
        """The raw Fisher vector (2 K D,): [G_mu (K, D), G_sigma (K, D)] averaged over the T descriptors."""
        return self.embed(x).mean(0)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"weights": self.weights, "means": self.means, "variances": self.variances}

    @classmethod
    def from_arrays(cls, arrays: dict) -> "FisherVector":
        return cls(arrays["weights"], arrays["means"], arrays["variances"])
