"""Weighted nearest neighbours (WNN, Hao et al. 2021, Seurat v4): one neighbour graph of cells from two
modalities, each cell weighting the modality that describes its neighbourhood better.

As Seurat's ``FindMultiModalNeighbors`` and muon's ``muon.pp.neighbors`` (with ``muon.pp.l2norm`` first, as its
documentation asks for Seurat's results). Per modality m (an embedding, e.g. RNA PCs and protein PCs):

1. every cell's coordinates are scaled to unit L2 norm;
2. the k nearest neighbours of each cell (k = n_neighbors - 1, scanpy's count without the cell itself);
   ``d_first`` the distance to the nearest one;
3. the kernel width ``sigma``: the mean distance to the ``N_BANDWIDTH_NEIGHBORS`` cells whose neighbour sets
   overlap the cell's own most (Jaccard index of the kNN sets, ties broken by the larger distance, a cell with
   the very same set left out, as muon does);
4. two predictions of cell i's coordinates in m: the mean of its m-neighbours (within) and the mean of its
   neighbours in the other modality (cross); affinities theta = exp(-max(d(x_i, prediction) - d_first, 0) /
   (sigma - d_first)), and the ratio theta_within / (theta_cross + 1e-4);
5. the modality weights: a softmax over modalities of those ratios.

The WNN similarity of cells i and j is sum_m w_m(i) exp(-d_m(i, j) / sigma_m(i)), over the union of each
modality's ``N_CANDIDATES`` nearest cells; distance sqrt((1 - similarity) / 2); the n_neighbors - 1 nearest (the
cell itself first) make the graph, whose UMAP connectivities feed Leiden and UMAP as any neighbour graph does.

Written here rather than called from muon, which compiles its Jaccard metrics with numba in every process (87 s
measured on this machine for 1,500 cells); ``benchmarks/wnn_muon.py`` compares the two on the same input.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.neighbors import NearestNeighbors

RATIO_EPSILON = 1e-4  # Seurat's and muon's
N_BANDWIDTH_NEIGHBORS = 20  # muon's n_bandwidth_neighbors: the cells whose distances set the kernel width
N_CANDIDATES = 200  # muon's n_multineighbors: per modality, the nearest cells that may become WNN neighbours


def l2_normalise(embedding: np.ndarray) -> np.ndarray:
    """Each cell's coordinates divided by their L2 norm (a cell at the origin stays there), as ``muon.pp.l2norm``."""
    norm = np.linalg.norm(embedding, axis=1, keepdims=True)
    return np.divide(embedding, norm, out=np.zeros_like(embedding, dtype=np.float64), where=norm > 0)


def _nearest(embedding: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest cells of each cell (without itself): indices and distances, nearest first."""
    distance, index = NearestNeighbors(n_neighbors=k + 1).fit(embedding).kneighbors(embedding)
    return index[:, 1:], distance[:, 1:]


def jaccard_bandwidth(embedding: np.ndarray, index: np.ndarray, n_bandwidth: int = N_BANDWIDTH_NEIGHBORS):
    """Per cell, the mean distance to the ``n_bandwidth`` cells whose kNN sets (``index``) share the largest
    fraction of its own (Jaccard), ties broken by the larger distance; fewer where fewer cells share any."""
    n_cells, k = index.shape
    sets = sp.csr_matrix((np.ones(index.size), index.ravel(), np.arange(0, index.size + 1, k)), (n_cells, n_cells))
    shared = (sets @ sets.T).tocsr()
    sigma = np.empty(n_cells)
    for cell in range(n_cells):
        row = slice(shared.indptr[cell], shared.indptr[cell + 1])
        others, common = shared.indices[row], shared.data[row]
        jaccard = common / (2 * k - common)
        keep = (others != cell) & (jaccard < 1)
        others, jaccard = others[keep], jaccard[keep]
        distance = np.linalg.norm(embedding[others] - embedding[cell], axis=1)
        chosen = np.lexsort((-distance, -jaccard))[:n_bandwidth]
        sigma[cell] = distance[chosen].mean() if len(chosen) else 0.0
    return sigma


def _affinity(distance: np.ndarray, d_first: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    width = np.maximum(sigma - d_first, 1e-12)
    return np.exp(-np.maximum(distance - d_first, 0.0) / width)


def modality_weights(embeddings: list[np.ndarray], n_neighbors: int = 20) -> tuple[np.ndarray, list[dict]]:
    """Per cell the weight of each modality (cells x modalities, rows sum to 1), and per modality its L2-normalised
    ``embedding``, kNN (``index``, ``distance``, ``d_first``) and kernel width ``sigma``."""
    if len(embeddings) != 2:
        raise ValueError(f"WNN here weighs two modalities, got {len(embeddings)}")
    k = max(1, min(n_neighbors - 1, embeddings[0].shape[0] - 1))
    modalities = []
    for embedding in embeddings:
        normalised = l2_normalise(np.asarray(embedding, dtype=np.float64))
        index, distance = _nearest(normalised, k)
        modalities.append(
            {
                "embedding": normalised,
                "index": index,
                "distance": distance,
                "d_first": distance[:, 0],
                "sigma": jaccard_bandwidth(normalised, index),
            }
        )
    ratios = []
    for m, own in enumerate(modalities):
        theta = {}
        for name, index in (("within", own["index"]), ("cross", modalities[1 - m]["index"])):
            predicted = own["embedding"][index].mean(axis=1)
            error = np.linalg.norm(own["embedding"] - predicted, axis=1)
            theta[name] = _affinity(error, own["d_first"], own["sigma"])
        ratios.append(theta["within"] / (theta["cross"] + RATIO_EPSILON))
    ratios = np.stack(ratios, axis=1)
    weights = np.exp(ratios - ratios.max(axis=1, keepdims=True))
    return weights / weights.sum(axis=1, keepdims=True), modalities


def wnn_neighbors(embeddings: list[np.ndarray], n_neighbors: int = 20) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The WNN graph as n_neighbors nearest cells per cell (itself first, as UMAP expects): indices, distances
    (sqrt((1 - WNN similarity) / 2)) and the modality weights."""
    weights, modalities = modality_weights(embeddings, n_neighbors)
    n_cells = embeddings[0].shape[0]
    n_candidates = min(N_CANDIDATES, n_cells - 1)
    candidates = np.concatenate([_nearest(m["embedding"], n_candidates)[0] for m in modalities], axis=1)
    similarity = np.zeros(candidates.shape)
    for m, modality in enumerate(modalities):
        embedding = modality["embedding"]
        distance = np.linalg.norm(embedding[candidates] - embedding[:, None, :], axis=2)
        sigma = np.maximum(modality["sigma"], 1e-12)[:, None]
        similarity += weights[:, m : m + 1] * np.exp(-distance / sigma)
    # the union may hold a cell twice (a candidate in both modalities): keep its first occurrence
    order = np.argsort(candidates, axis=1, kind="stable")
    sorted_candidates = np.take_along_axis(candidates, order, axis=1)
    duplicate = np.zeros_like(sorted_candidates, dtype=bool)
    duplicate[:, 1:] = sorted_candidates[:, 1:] == sorted_candidates[:, :-1]
    np.put_along_axis(similarity, order, np.where(duplicate, -np.inf, np.take_along_axis(similarity, order, 1)), 1)
    k = max(1, min(n_neighbors - 1, n_cells - 1))
    best = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
    distance = np.sqrt(0.5 * np.maximum(1.0 - np.take_along_axis(similarity, best, 1), 0.0))
    index = np.concatenate([np.arange(n_cells)[:, None], np.take_along_axis(candidates, best, 1)], axis=1)
    return index, np.concatenate([np.zeros((n_cells, 1)), distance], axis=1), weights


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
