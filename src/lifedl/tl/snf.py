"""Similarity network fusion (Wang et al. 2014, Nature Methods; the network-fusion step of scCAN, seed 002), as its
paper defines it.

Each view of the same cells (an embedding) gives an affinity matrix W (eq. 1: a Gaussian kernel whose width for a
pair is mu times the mean of both cells' distances to their K nearest neighbours and their own distance), from which come a
full kernel P (eq. 2: each row's off-diagonal weights normalised to sum to 1/2, the diagonal 1/2) and a sparse local
kernel S (eq. 3: each row's K nearest neighbours, normalised to sum to 1). Each view's P is then diffused through its
own S towards the mean of the other views' (eq. 4: P_v <- S_v (mean of the other P) S_v^T), t times; the fused
network is the mean of the views' P. Edges that every view supports grow, those only one view has fade.

Dense: a matrix of cells x cells per view (at 5,000 cells, 200 MB each); the local kernels are sparse.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.spatial.distance import cdist

EPS = np.finfo(float).eps


def affinity_matrix(embedding: np.ndarray, k: int = 20, mu: float = 0.5) -> np.ndarray:
    """Eq. 1 as the paper's code computes it (SNFtool's ``affinityMatrix``, snfpy's ``affinity_matrix``): a Gaussian
    density of the Euclidean distance rho(i, j) with scale mu * eps(i, j), eps(i, j) the mean of rho(i, j) and the
    two cells' mean distances to their ``k`` nearest neighbours (themselves left out)."""
    distance = cdist(embedding, embedding)
    k = min(k, len(distance) - 1)
    nearest = np.sort(distance, axis=1)[:, 1 : k + 1].mean(axis=1) + EPS
    scale = mu * np.maximum((nearest[:, None] + nearest[None, :] + distance) / 3, EPS)
    return np.exp(-0.5 * (distance / scale) ** 2) / (scale * np.sqrt(2 * np.pi))


def full_kernel(weights: np.ndarray) -> np.ndarray:
    """Eq. 2: each row's off-diagonal weights scaled to sum to 1/2, the diagonal 1/2."""
    off = weights - np.diag(np.diag(weights))
    kernel = off / (2 * np.maximum(off.sum(axis=1, keepdims=True), EPS))
    np.fill_diagonal(kernel, 0.5)
    return kernel


def _symmetric_full_kernel(weights: np.ndarray) -> np.ndarray:
    kernel = full_kernel(weights)
    return (kernel + kernel.T) / 2


def local_kernel(weights: np.ndarray, k: int = 20) -> sp.csr_matrix:
    """Eq. 3: each row keeps its ``k`` largest off-diagonal weights (its nearest neighbours), scaled to sum to 1."""
    n = len(weights)
    k = min(k, n - 1)
    off = weights - np.diag(np.inf * np.ones(n))  # the cell itself is never its own neighbour
    columns = np.argpartition(-off, k - 1, axis=1)[:, :k]
    values = np.take_along_axis(weights, columns, axis=1)
    values = values / np.maximum(values.sum(axis=1, keepdims=True), EPS)
    return sp.csr_matrix((values.ravel(), columns.ravel(), np.arange(0, n * k + 1, k)), shape=(n, n))


def fuse(affinities: list[np.ndarray], k: int = 20, iterations: int = 20) -> np.ndarray:
    """Eq. 4 for ``iterations`` rounds over the views' affinity matrices (at least two), each round's kernels
    normalised (eq. 2) and made symmetric, as SNFtool's ``SNF`` does; the fused network is the mean of the views'
    kernels after the last round, normalised and made symmetric once more."""
    if len(affinities) < 2:
        raise ValueError(f"network fusion needs two views or more, got {len(affinities)}")
    full = [_symmetric_full_kernel(w) for w in affinities]
    local = [local_kernel(kernel, k) for kernel in full]
    for _ in range(iterations):
        total = sum(full)
        full = [
            _symmetric_full_kernel(neighbours @ (neighbours @ ((total - own) / (len(full) - 1)).T).T)
            for own, neighbours in zip(full, local, strict=True)
        ]  # S (mean of the other views' kernels) S^T, S sparse
    return _symmetric_full_kernel(sum(full) / len(full))


def fused_neighbors(fused: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each cell's ``k`` most similar cells in the fused network, itself first (as a kNN search returns them): their
    indices and a distance that falls as the similarity grows (1 - similarity / the row's largest off-diagonal one)."""
    n = len(fused)
    off = fused - np.diag(np.inf * np.ones(n))
    k = min(k, n)
    index = np.argsort(-off, axis=1, kind="stable")[:, : k - 1]
    similarity = np.take_along_axis(fused, index, axis=1)
    distance = 1 - similarity / np.maximum(similarity[:, :1], np.finfo(float).tiny)
    index = np.hstack([np.arange(n)[:, None], index])
    return index, np.hstack([np.zeros((n, 1)), distance])
