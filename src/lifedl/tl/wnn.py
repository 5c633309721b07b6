"""Weighted nearest neighbours (WNN, Hao et al. 2021, Seurat v4): one neighbour graph of cells from two
modalities, each cell weighting the modality that describes its neighbourhood better.

Per modality m (an embedding, e.g. RNA PCs and protein PCs) and cell i:

1. the k nearest neighbours in m; ``d_first`` the distance to the nearest one, ``sigma`` the mean
   distance to the k (the kernel's width);
2. two predictions of cell i's coordinates in m: the mean of its m-neighbours (within) and the mean
   of its neighbours in the other modality (cross);
3. affinities theta = exp(-max(d(x_i, prediction) - d_first, 0) / (sigma - d_first)) of each
   prediction; the ratio theta_within / (theta_cross + 1e-4) says how much m's own neighbourhood
   predicts the cell beyond what the other modality's does;
4. the modality weights: a softmax over modalities of those ratios.

The WNN similarity of cells i and j is sum_m w_m(i) theta_m(i, j), over the union of both modalities'
neighbours of i; its k most similar cells (distance 1 - similarity) make the graph, whose UMAP
connectivities (fuzzy simplicial set) feed Leiden and UMAP as any neighbour graph does.

Written here rather than called from muon (``muon.pp.neighbors``), which implements the same method:
muon compiles its Jaccard metrics with numba in every process (87 s measured on this machine for 1,500
cells), longer than the rest of a small data set's analysis; exact neighbours take under a second.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.neighbors import NearestNeighbors

RATIO_EPSILON = 1e-4  # Seurat's


def _affinity(distance: np.ndarray, d_first: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    width = np.maximum(sigma - d_first, 1e-12)
    return np.exp(-np.maximum(distance - d_first, 0.0) / width)


def modality_weights(embeddings: list[np.ndarray], n_neighbors: int = 20) -> tuple[np.ndarray, list[dict]]:
    """Per cell the weight of each modality (cells x modalities, rows sum to 1), and each modality's kNN
    (``index``, ``distance`` without the cell itself, ``d_first``, ``sigma``)."""
    if len(embeddings) != 2:
        raise ValueError(f"WNN here weighs two modalities, got {len(embeddings)}")
    n_cells = embeddings[0].shape[0]
    k = min(n_neighbors, n_cells - 1)
    neighbours = []
    for embedding in embeddings:
        distance, index = NearestNeighbors(n_neighbors=k + 1).fit(embedding).kneighbors(embedding)
        distance, index = distance[:, 1:], index[:, 1:]  # without the cell itself
        neighbours.append({"index": index, "distance": distance, "d_first": distance[:, 0], "sigma": distance.mean(1)})
    ratios = []
    for m, embedding in enumerate(embeddings):
        own, other = neighbours[m], neighbours[1 - m]
        theta = {}
        for name, index in (("within", own["index"]), ("cross", other["index"])):
            predicted = embedding[index].mean(axis=1)
            theta[name] = _affinity(np.linalg.norm(embedding - predicted, axis=1), own["d_first"], own["sigma"])
        ratios.append(theta["within"] / (theta["cross"] + RATIO_EPSILON))
    ratios = np.stack(ratios, axis=1)
    weights = np.exp(ratios - ratios.max(axis=1, keepdims=True))
    return weights / weights.sum(axis=1, keepdims=True), neighbours


def wnn_neighbours(embeddings: list[np.ndarray], n_neighbors: int = 20) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The WNN graph as k nearest neighbours per cell (itself first, as UMAP expects): indices, distances
    (1 - WNN similarity) and the modality weights."""
    weights, neighbours = modality_weights(embeddings, n_neighbors)
    n_cells = embeddings[0].shape[0]
    candidates = np.concatenate([neighbours[0]["index"], neighbours[1]["index"]], axis=1)
    similarity = np.zeros(candidates.shape)
    for m, embedding in enumerate(embeddings):
        distance = np.linalg.norm(embedding[candidates] - embedding[:, None, :], axis=2)
        theta = _affinity(distance, neighbours[m]["d_first"][:, None], neighbours[m]["sigma"][:, None])
        similarity += weights[:, m : m + 1] * theta
    # the union may hold a cell twice (a neighbour in both modalities): keep its first occurrence
    order = np.argsort(candidates, axis=1, kind="stable")
    sorted_candidates = np.take_along_axis(candidates, order, axis=1)
    duplicate = np.zeros_like(sorted_candidates, dtype=bool)
    duplicate[:, 1:] = sorted_candidates[:, 1:] == sorted_candidates[:, :-1]
    np.put_along_axis(similarity, order, np.where(duplicate, -np.inf, np.take_along_axis(similarity, order, 1)), 1)
    k = min(n_neighbors, n_cells - 1)
    best = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
    index = np.concatenate([np.arange(n_cells)[:, None], np.take_along_axis(candidates, best, 1)], axis=1)
    distance = np.concatenate([np.zeros((n_cells, 1)), 1.0 - np.take_along_axis(similarity, best, 1)], axis=1)
    return index, np.maximum(distance, 0.0), weights


def knn_graph(index: np.ndarray, distance: np.ndarray) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """(distances, connectivities) as scanpy stores a neighbour graph: the kNN distances without the cell itself,
    and UMAP's fuzzy simplicial set (what ``sc.pp.neighbors`` computes from its own kNN)."""
    from lifedl.tl.cluster import cache_numba_compilation

    cache_numba_compilation()
    from umap.umap_ import fuzzy_simplicial_set

    n_cells, k = index.shape
    connectivities, _, _ = fuzzy_simplicial_set(
        sp.coo_matrix((n_cells, 1)), k, None, None, knn_indices=index, knn_dists=distance
    )
    rows = np.repeat(np.arange(n_cells), k - 1)
    distances = sp.csr_matrix((distance[:, 1:].ravel(), (rows, index[:, 1:].ravel())), shape=(n_cells, n_cells))
    return distances, sp.csr_matrix(connectivities)
