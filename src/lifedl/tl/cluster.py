"""Neighbour graph, UMAP and Leiden clustering on an embedding in ``obsm['X_{arch}']``."""

from __future__ import annotations

import anndata as ad


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


def neighbors_and_umap(adata: ad.AnnData, arch: str, n_neighbors: int, seed: int, graph=None) -> None:
    """The kNN graph of the embedding ``obsm['X_{arch}']`` (or ``graph``, a model's own (distances,
    connectivities), e.g. WNN's), and UMAP on it."""
    cache_numba_compilation()
    import scanpy as sc  # here, not at the top: leiden_key's callers (evaluate, figures) need no scanpy

    if graph is None:
        sc.pp.neighbors(adata, n_neighbors=n_neighbors, use_rep=f"X_{arch}", random_state=seed)
    else:
        adata.obsp["distances"], adata.obsp["connectivities"] = graph
        adata.uns["neighbors"] = {
            "connectivities_key": "connectivities",
            "distances_key": "distances",
            "params": {"n_neighbors": n_neighbors, "method": "umap", "random_state": seed, "use_rep": f"X_{arch}"},
        }
    sc.tl.umap(adata, random_state=seed)
    adata.obsm[f"X_umap_{arch}"] = adata.obsm["X_umap"]


def leiden(adata: ad.AnnData, arch: str, resolutions: list[float], seed: int) -> list[str]:
    """Leiden at each resolution (igraph's implementation, scanpy's future default)."""
    import scanpy as sc

    keys = []
    for resolution in resolutions:
        key = leiden_key(arch, resolution)
        sc.tl.leiden(
            adata,
            resolution=resolution,
            key_added=key,
            flavor="igraph",
            n_iterations=2,
            directed=False,
            random_state=seed,
        )
        keys.append(key)
    return keys
