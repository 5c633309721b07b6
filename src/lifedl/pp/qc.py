"""Cell and gene QC, normalisation and highly-variable-gene selection, as a scanpy user would do it."""

from __future__ import annotations

import dataclasses

import anndata as ad
import numpy as np
import scanpy as sc

from lifedl.errors import LifedlError


@dataclasses.dataclass(frozen=True)
class QCParams:
    min_genes: int = 200
    min_counts: int = 0
    max_pct_mito: float = 20.0
    min_cells: int = 3
    n_top_genes: int = 2000
    target_sum: float = 1e4


def annotate_qc_metrics(adata: ad.AnnData) -> None:
    adata.var["mt"] = adata.var_names.str.upper().str.startswith("MT-")
    sc.pp.calculate_qc_metrics(adata, qc_vars=["mt"], layer="counts", percent_top=None, log1p=False, inplace=True)


def run_qc(adata: ad.AnnData, params: QCParams, source: str = "raw.h5ad") -> ad.AnnData:
    """Filter cells and genes, select HVGs (seurat_v3 on counts) and log-normalise ``X``.

    The returned object holds only the selected genes (the models train on them);
    ``layers['counts']`` keeps their raw counts, ``obs``/``var`` the QC metrics and
    ``uns['qc']`` the thresholds and the numbers of cells and genes kept.
    """
    annotate_qc_metrics(adata)
    n_cells_in, n_genes_in = adata.shape
    keep_cells = (
        (adata.obs["n_genes_by_counts"] >= params.min_genes)
        & (adata.obs["total_counts"] >= params.min_counts)
        & (adata.obs["pct_counts_mt"] <= params.max_pct_mito)
    ).to_numpy()
    adata = adata[keep_cells].copy()
    if adata.n_obs == 0:
        raise LifedlError(
            f"{source}: no cells pass QC (min_genes={params.min_genes}, min_counts={params.min_counts}, "
            f"max_pct_mito={params.max_pct_mito}) out of {n_cells_in}. Lower the thresholds under 'qc:' in "
            "config/config.yaml."
        )
    cells_per_gene = np.asarray((adata.layers["counts"] > 0).sum(axis=0)).ravel()
    adata = adata[:, cells_per_gene >= params.min_cells].copy()
    if adata.n_vars == 0:
        raise LifedlError(
            f"{source}: no genes are expressed in at least min_cells={params.min_cells} cells after cell QC. "
            "Lower qc.min_cells in config/config.yaml."
        )

    n_top_genes = min(params.n_top_genes, adata.n_vars)
    sc.pp.highly_variable_genes(adata, flavor="seurat_v3", n_top_genes=n_top_genes, layer="counts")
    adata = adata[:, adata.var["highly_variable"].to_numpy()].copy()

    adata.X = adata.layers["counts"].astype(np.float32)
    sc.pp.normalize_total(adata, target_sum=params.target_sum)
    sc.pp.log1p(adata)
    adata.uns["qc"] = {
        **dataclasses.asdict(params),
        "n_cells_before": n_cells_in,
        "n_genes_before": n_genes_in,
        "n_cells_after": adata.n_obs,
        "n_genes_after": adata.n_vars,
    }
    print(
        f"QC: kept {adata.n_obs}/{n_cells_in} cells and {adata.n_vars}/{n_genes_in} genes "
        f"({n_top_genes} highly variable requested)",
        flush=True,
    )
    return adata
