"""lifedl's WNN (``lifedl.tl.wnn``) beside muon's (``muon.pp.neighbors``, the implementation scverse users run) on the
same two PCAs of the same CITE-seq cells: time, modality weights, neighbour sets and Leiden clusters.

Both get the RNA PCA and the protein PCA that lifedl's ``wnn`` architecture computes, each cell scaled to unit
L2 norm (muon.pp.l2norm, as muon's documentation asks for Seurat's results), and 20 neighbours (Seurat's and
muon's default). Writes ``wnn_muon.tsv`` (one row per tool and a row comparing them).

    .venv-bench/bin/python benchmarks/wnn_muon.py --qc results/sim_citeseq/qc.h5ad
"""

from __future__ import annotations

import argparse
import time
import warnings

import anndata as ad
import numpy as np
import pandas as pd
from common import check_machine_idle, output_dir
from sklearn.metrics import adjusted_rand_score

import lifedl
from lifedl.io import write_tsv
from lifedl.tl.cluster import cache_numba_compilation

N_NEIGHBORS = 20


def _leiden(adata: ad.AnnData, key: str, seed: int) -> pd.Series:
    import scanpy as sc

    sc.tl.leiden(
        adata,
        resolution=1.0,
        flavor="igraph",
        n_iterations=2,
        directed=False,
        random_state=seed,
        neighbors_key=key,
        key_added=f"leiden_{key}",
    )
    return adata.obs[f"leiden_{key}"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qc", default="results/sim_citeseq/qc.h5ad", help="a cells+protein qc.h5ad of the workflow")
    parser.add_argument("--labels", default="cell_type", help="obs column of the true types ('' = none)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-dir", default=None)
    args = parser.parse_args(argv)
    busy = check_machine_idle(1)
    cache_numba_compilation()
    import mudata
    import muon
    import scanpy as sc

    from lifedl.tl.wnn import knn_graph, l2_normalise, wnn_neighbors

    adata = ad.read_h5ad(args.qc)
    model = lifedl.fit(adata, "wnn", seed=args.seed)
    projections = model.trained._projections(adata)
    rows = []

    start = time.perf_counter()
    index, distance, weights = wnn_neighbors([projections["rna"], projections["protein"]], N_NEIGHBORS)
    distances, connectivities = knn_graph(index, distance)
    ours_seconds = time.perf_counter() - start
    adata.obsp["lifedl_distances"], adata.obsp["lifedl_connectivities"] = distances, connectivities
    adata.uns["lifedl"] = {
        "connectivities_key": "lifedl_connectivities",
        "distances_key": "lifedl_distances",
        "params": {"n_neighbors": N_NEIGHBORS, "method": "umap"},
    }

    modalities = {}
    for name in ("rna", "protein"):
        modality = ad.AnnData(obs=pd.DataFrame(index=adata.obs_names))
        modality.obsm["X_pca"] = l2_normalise(projections[name])  # muon.pp.l2norm: Seurat's input (lifedl's does it)
        sc.pp.neighbors(modality, n_neighbors=N_NEIGHBORS, use_rep="X_pca", random_state=args.seed)
        modalities[name] = modality
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        both = mudata.MuData(modalities)
        muon.pp.neighbors(both, n_neighbors=N_NEIGHBORS, key_added="wnn", random_state=args.seed)
    muon_seconds = time.perf_counter() - start
    adata.obsp["muon_distances"] = both.obsp["wnn_distances"]
    adata.obsp["muon_connectivities"] = both.obsp["wnn_connectivities"]
    adata.uns["muon"] = {
        "connectivities_key": "muon_connectivities",
        "distances_key": "muon_distances",
        "params": {"n_neighbors": N_NEIGHBORS, "method": "umap"},
    }
    muon_rna_weight = both.obs["rna:mod_weight"].to_numpy()

    labels = adata.obs[args.labels] if args.labels else None
    clusters = {tool: _leiden(adata, tool, args.seed) for tool in ("lifedl", "muon")}
    for tool, seconds, rna_weight in (("lifedl", ours_seconds, weights[:, 0]), ("muon", muon_seconds, muon_rna_weight)):
        rows.append(
            {
                "tool": tool,
                "n_cells": adata.n_obs,
                "seconds": seconds,
                "mean_rna_weight": float(np.mean(rna_weight)),
                "ari_leiden": adjusted_rand_score(labels, clusters[tool]) if labels is not None else np.nan,
                "n_clusters": clusters[tool].nunique(),
                "cpu_busy_before": busy,
            }
        )
    neighbours = {tool: adata.obsp[f"{tool}_distances"].tolil().rows for tool in ("lifedl", "muon")}
    overlap = np.mean([len(set(a) & set(b)) / len(set(a) | set(b)) for a, b in zip(*neighbours.values())])
    rows.append(
        {
            "tool": "agreement",
            "n_cells": adata.n_obs,
            "rna_weight_correlation": float(np.corrcoef(weights[:, 0], muon_rna_weight)[0, 1]),
            "neighbour_jaccard": float(overlap),
            "ari_between_clusterings": adjusted_rand_score(clusters["lifedl"], clusters["muon"]),
        }
    )
    table = pd.DataFrame(rows)
    path = output_dir(args.out_dir, False) / "wnn_muon.tsv"
    write_tsv(table, path)
    print(table.to_string(index=False), f"\nwritten {path}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
