"""From a bag of local descriptors to one vector per image: bag of visual words, Fisher vectors.

    pca = Pca.fit(descriptors, dims=32)
    words = BagOfWords.fit(descriptors, words=256)            # k-means codebook (Sivic & Zisserman 2003)
    fisher = FisherVector.fit(pca.project(descriptors), 16)   # diagonal GMM (Perronnin et al. 2010)
    vector = encode_pyramid(fisher, pca.project(descriptors), positions, levels=(1, 2))   # 1x1 + 2x2 regions

An encoder assigns descriptors to its words or Gaussians (`assign`: one-hot, or posteriors) and
pools a region's assignments (`pool`: a histogram, or the GMM gradients from the region's
sufficient statistics), so no per-descriptor vector of length 2KD is ever formed: at the 2012
settings (K = 256, D = 64) that would be 32,768 numbers for each of thousands of descriptors.
Every encoder is plain arrays (`arrays()`, `from_arrays()`), so a fitted pipeline is saved as
an .npz without pickles. Each pyramid region is power- and L2-normalised on its own (the
"improved" normalisation of Perronnin et al. 2010), so a region with few descriptors counts
as much as the whole image.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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


def encode_pyramid(encoder: "BagOfWords | FisherVector", descriptors: np.ndarray, positions: np.ndarray,
                   levels: tuple[int, ...], assignments: np.ndarray | None = None) -> np.ndarray:
    """Each pyramid region's pooled encoding, normalised on its own, concatenated: (regions * E,) float32.

    `assignments` are `encoder.assign(descriptors)` when already computed (for several images at once).
    """
    assignments = encoder.assign(descriptors) if assignments is None else assignments
    pooled = [encoder.pool(descriptors[mask], assignments[mask]) for mask in pyramid_regions(positions, levels)]
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

    def assign(self, descriptors: np.ndarray) -> np.ndarray:
        """(T, K) one-hot assignment of each descriptor to its nearest word."""
        from sklearn.metrics import pairwise_distances_argmin

        one_hot = np.zeros((len(descriptors), len(self.codebook)), np.float32)
        if len(descriptors):
            one_hot[np.arange(len(descriptors)), pairwise_distances_argmin(descriptors, self.codebook)] = 1
        return one_hot

    def pool(self, descriptors: np.ndarray, assignments: np.ndarray) -> np.ndarray:
        """(K,) the histogram of one region's assignments: fractions summing to 1 (zeros for no descriptor)."""
        return assignments.mean(0) if len(assignments) else np.zeros(len(self.codebook), np.float32)

    def histogram(self, descriptors: np.ndarray) -> np.ndarray:
        """(K,) fraction of the T >= 1 descriptors assigned to each word: sums to 1."""
        return self.pool(descriptors, self.assign(descriptors))

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

    def assign(self, x: np.ndarray) -> np.ndarray:
        """(T, K) posteriors gamma_t(k) of descriptors x (T, D), computed in x's dtype (float32 or float64)."""
        # log N(x; mu, var) written as matrix products, never a (T, K, D) array:
        # sum_d (x - mu)^2 / var = x^2 @ (1 / var).T - 2 x @ (mu / var).T + sum_d mu^2 / var
        inverse = 1 / self.variances
        constant = np.log(self.weights) - 0.5 * (np.log(2 * np.pi * self.variances).sum(1)
                                                 + (self.means ** 2 * inverse).sum(1))  # (K,)
        log_p = (x * x) @ (-0.5 * inverse.T).astype(x.dtype)  # (T, K)
        log_p += x @ (self.means * inverse).T.astype(x.dtype)
        log_p += constant.astype(x.dtype)
        log_p -= log_p.max(1, keepdims=True)
        np.exp(log_p, out=log_p)
        log_p /= log_p.sum(1, keepdims=True)
        return log_p

    def pool(self, x: np.ndarray, gamma: np.ndarray) -> np.ndarray:
        """(2 K D,) the raw Fisher vector of one region's descriptors x (T, D) from their posteriors (T, K).

        From the sufficient statistics S0 = sum_t gamma, S1 = gamma.T x, S2 = gamma.T x^2 (Sánchez et
        al. 2013, Eq. 16-18, normalised by 1 / (T sqrt(w_k)) and 1 / (T sqrt(2 w_k))):
            G_mu    = (S1 - mu S0) / (sigma T sqrt(w))
            G_sigma = (S2 - 2 mu S1 + (mu^2 - var) S0) / (var T sqrt(2 w))
        Zeros for a region without descriptors.
        """
        if not len(x):
            return np.zeros(2 * self.means.size)
        # The sums in x's dtype (BLAS), the differences of large terms in float64.
        s0 = gamma.sum(0, dtype=np.float64)[:, None]  # (K, 1)
        s1 = (gamma.T @ x).astype(np.float64)  # (K, D)
        s2 = (gamma.T @ (x * x)).astype(np.float64)  # (K, D)
        mu, var, t = self.means, self.variances, len(x)
        g_mu = (s1 - mu * s0) / (np.sqrt(var) * t * np.sqrt(self.weights)[:, None])
        g_sigma = (s2 - 2 * mu * s1 + (mu ** 2 - var) * s0) / (var * t * np.sqrt(2 * self.weights)[:, None])
        return np.concatenate([g_mu.ravel(), g_sigma.ravel()])

    def gradients(self, x: np.ndarray) -> np.ndarray:
        """The raw Fisher vector (2 K D,): [G_mu (K, D), G_sigma (K, D)] of all the T descriptors x."""
        return self.pool(x, self.assign(x))

    def arrays(self) -> dict[str, np.ndarray]:
        return {"weights": self.weights, "means": self.means, "variances": self.variances}

    @classmethod
    def from_arrays(cls, arrays: dict) -> "FisherVector":
        return cls(arrays["weights"], arrays["means"], arrays["variances"])
