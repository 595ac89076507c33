"""Nearest neighbours in a ConvNet's last hidden layer: the paper's Figure 4 (right).

    pool = pool_indices(len(train), 5000)            # a seeded subset of the training split
    distances, positions = nearest(query_features, pool_features, k=6)

Two images are close when the Euclidean distance of their `forward_features` vectors is small,
however far apart their pixels are.
"""
from __future__ import annotations

import numpy as np
import torch


def pool_indices(size: int, cap: int, seed: int = 0) -> np.ndarray:
    """At most `cap` indices of 0..size-1, drawn without replacement and sorted.

    Drawn rather than taken from the front: packed ImageNet is ordered by class.
    """
    if size <= cap:
        return np.arange(size)
    return np.sort(np.random.default_rng(seed).choice(size, cap, replace=False))


def nearest(queries: torch.Tensor, pool: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(distances, positions), each (Q, k): the k pool rows closest to each query row, closest first."""
    # Direct differences, not the faster |a|^2 - 2ab + |b|^2 expansion, whose rounding can split ties.
    distances = torch.cdist(queries.double(), pool.double(), compute_mode="donot_use_mm_for_euclid_dist")  # (Q, N)
    order = torch.sort(distances, dim=1, stable=True).indices[:, :k]
    return distances.gather(1, order), order
