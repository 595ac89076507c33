"""One-vs-rest linear SVMs trained by averaged SGD, as the large-scale entries of 2010-2012 did.

    svm = LinearSvm.fit(features, labels, num_classes=10, C=1.0)
    scores = svm.decision(features)      # (N, K) float32 one-vs-rest decision values

The objective is the usual soft-margin one, C * sum(hinge) + ||w||^2 / 2, i.e. sklearn's
SGDClassifier with alpha = 1 / (C n). Averaged SGD (Bottou 2010) reaches the batch solver's
accuracy here in a few passes, while liblinear took minutes on 60,000 dense HOG vectors.
Features are standardised first; the scaling is then folded into the weights, so the saved
model is only W and b.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ilsvrc.errors import DataError


SCALER_CHUNK = 8_000_000  # numbers standardised at a time while fitting the scaler (64 MB of float64)


@dataclass
class LinearSvm:
    weights: np.ndarray  # (K, F) float32
    biases: np.ndarray  # (K,) float32

    @classmethod
    def fit(cls, features: np.ndarray, labels: np.ndarray, num_classes: int, C: float = 1.0,
            epochs: int = 10, seed: int = 0, workers: int = 1) -> "LinearSvm":
        from sklearn.linear_model import SGDClassifier
        from sklearn.preprocessing import StandardScaler

        _check_every_class(labels, num_classes)
        scaler = StandardScaler()
        for rows in np.array_split(features, max(1, features.size // SCALER_CHUNK)):
            scaler.partial_fit(rows)  # its float64 temporaries chunk by chunk, not the size of all the features
        sgd = SGDClassifier(loss="hinge", alpha=1 / (C * len(labels)), max_iter=epochs, tol=None, average=True,
                            random_state=seed, n_jobs=workers)
        sgd.fit(scaler.transform(features), labels)
        weights, biases = _one_vs_rest(sgd.coef_, sgd.intercept_)
        # w . (x - mean) / scale + b  ==  (w / scale) . x + (b - (w / scale) . mean)
        weights = weights / scaler.scale_
        return cls(weights.astype(np.float32), (biases - weights @ scaler.mean_).astype(np.float32))

    def decision(self, features: np.ndarray) -> np.ndarray:
        """(N, K) decision values: higher is more confident; the top-5 of a row ranks the classes."""
        return features @ self.weights.T + self.biases

    @property
    def parameters(self) -> int:
        return int(self.weights.size + self.biases.size)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"weights": self.weights, "biases": self.biases}

    @classmethod
    def from_arrays(cls, arrays: dict) -> "LinearSvm":
        return cls(arrays["weights"], arrays["biases"])


def _check_every_class(labels: np.ndarray, num_classes: int) -> None:
    missing = sorted(set(range(num_classes)) - set(np.unique(labels).tolist()))
    if missing:
        shown = ", ".join(map(str, missing[:10])) + (", ..." if len(missing) > 10 else "")
        raise DataError("training images", f"no training image of class(es) {shown}; every class needs one")


def _one_vs_rest(coef: np.ndarray, intercept: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(K, F) weights; sklearn keeps a single hyperplane for two classes (positive = class 1)."""
    if len(coef) == 1:
        return np.concatenate([-coef, coef]), np.concatenate([-intercept, intercept])
    return coef.astype(np.float64), intercept.astype(np.float64)
