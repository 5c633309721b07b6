"""Neighbour graph, UMAP and Leiden clustering on an embedding in ``obsm['X_{arch}']``."""

from __future__ import annotations

import anndata as ad
import numpy as np


def leiden_key(arch: str, resolution: float) -> str:
    return f"leiden_{arch}_{resolution:g}"


def cache_numba_compilation() -> None:
    """Cache the numba functions that pynndescent and umap compile when imported.

    pynndescent compiles about a hundred functions with explicit signatures at import time and
    does not cache them: 12 s in every process that builds a neighbour graph or a UMAP. With
    ``cache=True`` numba stores the machine code beside the package (or in the user cache
    directory where that is read-only) and later imports load it in under a second.
    Must run before umap or pynndescent is first imported.
    """
    import numba

    if getattr(numba.njit, "lifedl_caches", False):
        return
    compile_uncached = numba.njit

    def njit(*args, **kwargs):
        kwargs.setdefault("cache", True)
        return compile_uncached(*args, **kwargs)

    njit.lifedl_caches = True
    numba.njit = njit


def compile_numba_caches() -> None:
    """Compile and cache (:func:`cache_numba_compilation`) the numba code a neighbour graph and a UMAP run, on a few
    random points: ``make venv`` calls it once, so that the first embed jobs of a fresh installation load the
    machine code instead of each compiling it (30-40 s a job on 2 cores, measured in a fresh clone's ``make run``)."""
    points = np.random.default_rng(0).normal(size=(300, 10)).astype(np.float32)
    adata = ad.AnnData(np.zeros((len(points), 1), dtype=np.float32))
    adata.obsm["X_warm"] = points
    neighbors(adata, "warm", 15, seed=0)
    umap(adata, "warm", seed=0)


# Up to this many cells the kNN graph is exact (brute force): on 10-50 dimensions it takes 1.3 s at 10,000 cells and
# 14-28 s at 100,000 on 2 cores, while pynndescent compiles for 20-55 s in every process (numba cannot cache its
# search) before it starts. scanpy itself is exact below 8,192 cells, so smaller data sets get the same graph.
EXACT_NEIGHBORS_MAX_CELLS = 120_000


def neighbors_method(n_cells: int, requested: str = "auto") -> str:
    """``auto``: exact (``sklearn``) up to :data:`EXACT_NEIGHBORS_MAX_CELLS`, ``pynndescent`` above."""
    if requested not in ("auto", "sklearn", "pynndescent"):
        raise ValueError(f"neighbour method '{requested}' is not one of auto, sklearn, pynndescent")
    if requested != "auto":
        return requested
    return "sklearn" if n_cells <= EXACT_NEIGHBORS_MAX_CELLS else "pynndescent"


def neighbors(adata: ad.AnnData, arch: str, n_neighbors: int, seed: int, graph=None, method: str = "auto") -> None:
    """The kNN graph of the embedding ``obsm['X_{arch}']`` in scanpy's place (``obsp``, ``uns['neighbors']``),
    or ``graph``, a model's own (distances, connectivities), e.g. WNN's. ``method``: ``auto`` (exact up to
    :data:`EXACT_NEIGHBORS_MAX_CELLS`, pynndescent above), ``sklearn`` (exact) or ``pynndescent``."""
    cache_numba_compilation()
    import scanpy as sc  # here, not at the top: leiden_key's callers (evaluate, figures) need no scanpy

    if graph is None:
        # named, not None: scanpy's None is exact below 4,096 cells whatever is asked
        transformer = neighbors_method(adata.n_obs, method)
        if transformer == "pynndescent":
            transformer = graph_only_nndescent(n_neighbors, seed)
        sc.pp.neighbors(adata, n_neighbors=n_neighbors, use_rep=f"X_{arch}", random_state=seed, transformer=transformer)
        return
    adata.obsp["distances"], adata.obsp["connectivities"] = graph
    adata.uns["neighbors"] = {
        "connectivities_key": "connectivities",
        "distances_key": "distances",
        "params": {"n_neighbors": n_neighbors, "method": "umap", "random_state": seed, "use_rep": f"X_{arch}"},
    }


def graph_only_nndescent(n_neighbors: int, seed: int):
    """The transformer scanpy makes for ``transformer="pynndescent"`` (the same settings, so the same graph), but
    keeping no search index. pynndescent's own ``fit_transform`` prepares one after the graph is made (a hub
    tree, the graph's diversification and the compilation of its search), which scanpy never queries: at 1.3M
    cells that was paid in every neighbour graph. Without the index scanpy keeps no random-projection forest
    either, as after pynndescent's own ``fit_transform``."""
    from pynndescent import PyNNDescentTransformer

    class GraphOnly(PyNNDescentTransformer):
        def fit_transform(self, X, y=None, **fit_params):
            self.fit(X, compress_index=False)
            graph = self.transform(X=None)
            del self.index_
            return graph

    return GraphOnly(n_neighbors=n_neighbors, metric="euclidean", metric_kwds={}, random_state=seed)


def umap(adata: ad.AnnData, arch: str, seed: int) -> None:
    """UMAP on the neighbour graph :func:`neighbors` left, into ``obsm['X_umap_{arch}']``."""
    cache_numba_compilation()
    import scanpy as sc

    sc.tl.umap(adata, random_state=seed)
    adata.obsm[f"X_umap_{arch}"] = adata.obsm["X_umap"]


def neighbors_and_umap(adata: ad.AnnData, arch: str, n_neighbors: int, seed: int, graph=None) -> None:
    """:func:`neighbors`, then :func:`umap` on that graph."""
    neighbors(adata, arch, n_neighbors, seed, graph)
    umap(adata, arch, seed)


def igraph_from_adjacency(adjacency):
    """An undirected igraph graph with one edge per stored entry of the sparse ``adjacency`` (both (i, j) and
    (j, i) of a symmetric kNN graph, in scanpy's order: its Leiden gives the same clusters), and the entries,
    one float64 weight per edge in the graph's edge order.

    igraph reads the edges as text from a temporary file (in ``$TMPDIR``, about 16 bytes per edge, removed at
    once): python-igraph turns a list or an int64 buffer of edges into one Python object per edge first, which
    at 1.3M cells (35M stored entries) took 60 s and 5.5 GiB above the graph itself; its C reader takes half
    that time and no Python objects. Arrow writes the file (3.5M edges: 0.6 s; pandas' writer took 5.8 s). The
    weights stay a numpy array for the same reason (as an edge attribute igraph keeps one Python float per edge,
    1.3 GiB there)."""
    import tempfile
    from pathlib import Path

    import igraph as ig
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as arrow_csv
    import scipy.sparse as sp

    adjacency = sp.csr_matrix(adjacency)
    adjacency.sort_indices()  # scanpy's adjacency.nonzero() order: row by row, columns ascending
    stored = adjacency.data != 0
    edges = pa.table(
        {
            "source": np.repeat(np.arange(adjacency.shape[0], dtype=np.int64), np.diff(adjacency.indptr))[stored],
            "target": adjacency.indices[stored],
        }
    )
    with tempfile.TemporaryDirectory(prefix="lifedl-edges-") as directory:
        path = Path(directory) / "edges.txt"
        options = arrow_csv.WriteOptions(include_header=False, delimiter=" ", quoting_style="none")
        arrow_csv.write_csv(edges, str(path), options)
        del edges
        graph = ig.Graph.Read_Edgelist(str(path), directed=False)
    graph.add_vertices(adjacency.shape[0] - graph.vcount())  # cells after the last one with an edge
    return graph, adjacency.data[stored].astype(np.float64)


class _IgraphRandom:
    """igraph's random source drawn from numpy's RandomState(seed), as scanpy seeds it (so the clusters match
    ``sc.tl.leiden``'s), leaving Python's global ``random`` untouched."""

    def __init__(self, seed: int):
        import numpy as np

        self._rng = np.random.RandomState(seed)

    def getrandbits(self, k: int) -> int:
        return self._rng.tomaxint() & ((1 << k) - 1)

    def randint(self, a: int, b: int) -> int:
        return self._rng.randint(a, b + 1)

    def random(self) -> float:
        return self._rng.random_sample()

    def gauss(self, mu: float, sigma: float) -> float:
        return self._rng.normal(mu, sigma)


def leiden_on_graph(graph, weights, resolution: float, seed: int):
    """igraph's Leiden on ``graph`` with one weight per edge (modularity, 2 iterations: scanpy's
    ``flavor="igraph"``) seeded as scanpy seeds it; a categorical of cluster names ordered as scanpy orders them."""
    import random

    import igraph as ig
    import numpy as np
    import pandas as pd
    from natsort import natsorted

    ig.set_random_number_generator(_IgraphRandom(seed))
    try:
        partition = graph.community_leiden(
            objective_function="modularity", weights=weights, resolution=resolution, n_iterations=2
        )
    finally:
        ig.set_random_number_generator(random)
    groups = np.asarray(partition.membership).astype("U")
    return pd.Categorical(groups, categories=natsorted(np.unique(groups)))


def leiden(adata: ad.AnnData, arch: str, resolutions: list[float], seed: int) -> list[str]:
    """Leiden at each resolution on ``obsp['connectivities']``, the same clusters as scanpy's
    ``sc.tl.leiden(flavor="igraph", n_iterations=2)``, with the graph built once for every resolution."""
    graph, weights = igraph_from_adjacency(adata.obsp["connectivities"])
    keys = []
    for resolution in resolutions:
        key = leiden_key(arch, resolution)
        adata.obs[key] = leiden_on_graph(graph, weights, resolution, seed)
        adata.uns[key] = {"params": {"resolution": resolution, "random_state": seed, "n_iterations": 2}}
        keys.append(key)
    return keys


def gaussian_mixture_components(fit: np.ndarray, scored: np.ndarray, n_components: int, seed: int) -> np.ndarray:
    """Each scored row's most likely component of a Gaussian mixture (diagonal covariances, as the DGD's default
    prior) fitted to ``fit``."""
    from sklearn.mixture import GaussianMixture

    n_components = max(1, min(n_components, len(fit)))
    mixture = GaussianMixture(n_components, covariance_type="diag", reg_covar=1e-4, n_init=3, random_state=seed)
    return mixture.fit(fit).predict(scored).astype(str)
