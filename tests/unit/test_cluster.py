"""lifedl's Leiden: the graph built from the sparse arrays once, the clusters scanpy's igraph flavour finds."""

import os

import anndata as ad
import numpy as np
import pytest
import scanpy as sc

from lifedl.tl.cluster import igraph_from_adjacency, leiden, leiden_key


def _embedded(n_cells: int = 600, seed: int = 0) -> ad.AnnData:
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(6, 10))
    points = centres[rng.integers(0, 6, n_cells)] + rng.normal(size=(n_cells, 10))
    adata = ad.AnnData(obs={"cell": [f"c{i}" for i in range(n_cells)]}, obsm={"X_test": points.astype(np.float32)})
    sc.pp.neighbors(adata, n_neighbors=15, use_rep="X_test", random_state=0)
    return adata


def test_graph_holds_every_stored_entry_in_scanpy_order():
    adata = _embedded(200)
    adjacency = adata.obsp["connectivities"]
    graph, weights = igraph_from_adjacency(adjacency)
    sources, targets = adjacency.nonzero()
    assert graph.vcount() == adata.n_obs and not graph.is_directed()
    # an undirected edge reads back as (smaller, larger) end
    expected = [tuple(sorted(pair)) for pair in zip(sources.tolist(), targets.tolist(), strict=True)]
    assert graph.get_edgelist() == expected
    np.testing.assert_allclose(weights, np.asarray(adjacency[sources, targets]).ravel())


def test_cells_without_edges_stay_vertices():
    import scipy.sparse as sp

    adjacency = sp.csr_matrix(([0.5, 0.5], ([0, 1], [1, 0])), shape=(4, 4))  # cells 2 and 3 have no neighbours
    graph, weights = igraph_from_adjacency(adjacency)
    assert graph.vcount() == 4 and graph.get_edgelist() == [(0, 1), (0, 1)] and list(weights) == [0.5, 0.5]
    empty, no_weights = igraph_from_adjacency(sp.csr_matrix((3, 3)))
    assert empty.vcount() == 3 and empty.ecount() == 0 and len(no_weights) == 0


@pytest.mark.parametrize("seed", [0, 3])
def test_leiden_matches_scanpys_igraph_flavour(seed):
    adata = _embedded(seed=seed)
    resolutions = [0.1, 1.0, 4.0]
    keys = leiden(adata, "test", resolutions, seed)
    assert keys == [leiden_key("test", r) for r in resolutions]
    for resolution, key in zip(resolutions, keys, strict=True):
        sc.tl.leiden(
            adata,
            resolution=resolution,
            key_added="scanpy",
            flavor="igraph",
            n_iterations=2,
            directed=False,
            random_state=seed,
        )
        assert list(adata.obs[key]) == list(adata.obs["scanpy"])
        assert list(adata.obs[key].cat.categories) == list(adata.obs["scanpy"].cat.categories)
    assert adata.obs[keys[0]].nunique() < adata.obs[keys[-1]].nunique()  # the resolution reaches the clustering


def test_leiden_leaves_pythons_random_state_alone():
    import random

    adata = _embedded(100)
    random.seed(5)
    expected = random.random()
    random.seed(5)
    leiden(adata, "test", [1.0], 0)
    assert random.random() == expected


def test_neighbors_are_exact_up_to_the_limit_and_the_graph_is_scanpys():
    from lifedl.tl.cluster import EXACT_NEIGHBORS_MAX_CELLS, neighbors, neighbors_method

    assert neighbors_method(EXACT_NEIGHBORS_MAX_CELLS) == "sklearn"
    assert neighbors_method(EXACT_NEIGHBORS_MAX_CELLS + 1) == "pynndescent"
    assert neighbors_method(10, "pynndescent") == "pynndescent"
    with pytest.raises(ValueError, match="not one of"):
        neighbors_method(10, "annoy")
    expected = _embedded(300)
    adata = expected.copy()
    del adata.obsp["connectivities"], adata.obsp["distances"]
    neighbors(adata, "test", 15, seed=0)
    assert (adata.obsp["connectivities"] != expected.obsp["connectivities"]).nnz == 0  # scanpy is exact here too


def test_the_approximate_graph_is_scanpys_pynndescent_graph_without_its_search_index():

    from lifedl.tl.cluster import neighbors

    points = np.random.default_rng(3).normal(size=(2000, 8)).astype(np.float32)
    ours, theirs = (ad.AnnData(obsm={"X_test": points.copy()}) for _ in range(2))
    neighbors(ours, "test", 15, seed=0, method="pynndescent")
    sc.pp.neighbors(theirs, n_neighbors=15, use_rep="X_test", random_state=0, transformer="pynndescent")
    for key in ("distances", "connectivities"):
        assert (ours.obsp[key] != theirs.obsp[key]).nnz == 0, key
    assert ours.uns["neighbors"]["params"] == theirs.uns["neighbors"]["params"]
    assert "rp_forest" not in ours.uns["neighbors"]  # nothing kept of the index scanpy never queries


def test_the_installation_step_caches_the_numba_code_of_neighbours_and_umap(tmp_path):
    """make venv runs compile_numba_caches once; the code it compiles must land in numba's cache, where the jobs'
    processes load it (here a fresh cache directory, as a fresh installation has)."""
    import subprocess
    import sys

    code = "from lifedl.tl.cluster import compile_numba_caches; compile_numba_caches()"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, timeout=600)
    cached = {path.parent.name.split("_")[0] for path in tmp_path.rglob("*.nbi")}
    assert {"pynndescent", "umap"} <= cached
