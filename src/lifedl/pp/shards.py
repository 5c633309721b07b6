"""QC and highly variable genes of a sharded data set (``lifedl.data.shards``), a block of cells at a time.

The same filters as ``lifedl.pp.qc.run_qc`` and the same genes as scanpy's ``highly_variable_genes(flavor=
"seurat_v3")``, from sums over blocks instead of one matrix in memory: memory holds one block and a few numbers per
cell and per gene. Four passes over the counts: the cells' metrics, the genes' sums over the cells kept, the sums of
clipped counts that seurat_v3's normalised variance needs, and the writing of the kept cells and genes.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from lifedl.data.shards import BLOCK_ROWS, Shards, write_shards
from lifedl.errors import LifedlError
from lifedl.pp.qc import QCParams, cell_filters, check_kept_cells, kept_genes

SEURAT_V3_SPAN = 0.3  # scanpy's default loess span


def cell_metrics(shards: Shards, block_rows: int = BLOCK_ROWS) -> pd.DataFrame:
    """Per cell: total_counts, n_genes_by_counts and pct_counts_mt (genes named MT-/mt-), as scanpy's
    calculate_qc_metrics names them."""
    mito = np.asarray(shards.var_names.str.upper().str.startswith("MT-"))
    totals, detected, mito_counts = (np.zeros(shards.n_cells) for _ in range(3))
    for start, block in shards.blocks(block_rows):
        rows = slice(start, start + block.shape[0])
        totals[rows] = np.asarray(block.sum(axis=1)).ravel()
        row_of_entry = np.repeat(np.arange(block.shape[0]), np.diff(block.indptr))
        detected[rows] = np.bincount(row_of_entry, weights=block.data != 0, minlength=block.shape[0])
        mito_counts[rows] = np.asarray(block[:, mito].sum(axis=1)).ravel() if mito.any() else 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        pct_mito = 100 * mito_counts / totals
    return pd.DataFrame({"total_counts": totals, "n_genes_by_counts": detected, "pct_counts_mt": pct_mito})


def gene_sums(
    shards: Shards, cells: np.ndarray, clip: np.ndarray | None = None, block_rows: int = BLOCK_ROWS
) -> dict[str, np.ndarray]:
    """Per gene over the chosen cells: cells detecting it, the sum and the sum of squares of its counts (each count
    first clipped at ``clip``, its gene's ceiling, where given)."""
    n_genes = len(shards.var_names)
    sums = {name: np.zeros(n_genes) for name in ("n_cells", "sum", "sum_squares")}
    for start, block in shards.blocks(block_rows):
        block = block[cells[start : start + block.shape[0]]]
        values = block.data.astype(np.float64)
        if clip is not None:
            values = np.minimum(values, clip[block.indices])
        sums["n_cells"] += np.bincount(block.indices, weights=values != 0, minlength=n_genes)
        sums["sum"] += np.bincount(block.indices, weights=values, minlength=n_genes)
        sums["sum_squares"] += np.bincount(block.indices, weights=values**2, minlength=n_genes)
    return sums


def seurat_v3_by_blocks(
    shards: Shards,
    cells: np.ndarray,
    genes: np.ndarray,
    n_top_genes: int,
    sums: dict[str, np.ndarray] | None = None,
    block_rows: int = BLOCK_ROWS,
) -> pd.DataFrame:
    """scanpy's seurat_v3 (one batch) on the chosen cells and genes: the log variance fitted on the log mean by
    loess, each count clipped at mean + sqrt(n) x the fitted sd, the genes ranked by the clipped counts' variance
    standardised by the fitted one. Columns as scanpy's: means, variances, variances_norm, highly_variable_rank,
    highly_variable (over ``genes``' rows; the other genes are not ranked). ``sums``: :func:`gene_sums` of these
    cells, where the caller has them (one pass over the counts fewer)."""
    from skmisc.loess import loess

    n = int(cells.sum())
    sums = sums if sums is not None else gene_sums(shards, cells, block_rows=block_rows)
    mean = sums["sum"][genes] / n
    variance = (sums["sum_squares"][genes] - n * mean**2) / (n - 1)
    not_constant = variance > 0
    fitted = np.zeros(len(mean))
    model = loess(np.log10(mean[not_constant]), np.log10(variance[not_constant]), span=SEURAT_V3_SPAN, degree=2)
    model.fit()
    fitted[not_constant] = model.outputs.fitted_values
    fitted_sd = np.sqrt(10**fitted)
    ceiling = np.full(len(genes), np.inf)
    ceiling[genes] = fitted_sd * np.sqrt(n) + mean
    clipped = gene_sums(shards, cells, clip=ceiling, block_rows=block_rows)
    clipped_sum, clipped_squares = clipped["sum"][genes], clipped["sum_squares"][genes]
    normalised = (n * mean**2 + clipped_squares - 2 * clipped_sum * mean) / ((n - 1) * fitted_sd**2)
    rank = np.argsort(np.argsort(-normalised, kind="stable"), kind="stable").astype(np.float32)
    table = pd.DataFrame(
        {"means": mean, "variances": variance, "variances_norm": normalised, "highly_variable_rank": rank},
        index=shards.var_names[genes],
    )
    table["highly_variable"] = rank < n_top_genes
    table.loc[~table["highly_variable"], "highly_variable_rank"] = np.nan
    return table


def qc_shards(
    shards: Shards, params: QCParams, out_dir: str | Path, source: str = "", block_rows: int = BLOCK_ROWS
) -> Shards:
    """``run_qc``'s cell and gene filters and its seurat_v3 genes, on a sharded data set: writes one shard per
    input shard with the kept cells and the selected genes' raw counts in X (no normalised copy: the models read
    the counts), their QC metrics in obs and the genes' statistics in var; returns the new shards."""
    source = source or str(shards.files[0].parent)
    if params.remove_doublets:
        raise LifedlError(
            f"{source}: qc.remove_doublets needs every cell in memory (scanpy's scrublet); it is not available for a "
            "sharded data set. Set qc.remove_doublets: false."
        )
    metrics = cell_metrics(shards, block_rows)
    passes = cell_filters(metrics, params)
    keep_cells = np.logical_and.reduce(list(passes.values()))
    check_kept_cells(metrics, passes, keep_cells, params, source)
    sums = gene_sums(shards, keep_cells, block_rows=block_rows)
    keep_genes = kept_genes(sums["n_cells"], params, source)
    n_top_genes = min(params.n_top_genes, int(keep_genes.sum()))
    genes = seurat_v3_by_blocks(shards, keep_cells, keep_genes, n_top_genes, sums, block_rows)
    selected = np.zeros(len(shards.var_names), dtype=bool)
    selected[np.flatnonzero(keep_genes)[genes["highly_variable"].to_numpy()]] = True
    var = genes[genes["highly_variable"]].copy()
    obs = shards.obs()
    for name, column in metrics.items():
        obs[name] = column.to_numpy()
    summary = {
        **dataclasses.asdict(params),
        "n_cells_before": shards.n_cells,
        "n_genes_before": len(shards.var_names),
        "n_cells_after": int(keep_cells.sum()),
        "n_genes_after": int(selected.sum()),
    }

    def kept_blocks():
        for shard, offset in enumerate(shards.offsets):
            rows = keep_cells[offset : offset + shards.n_obs[shard]]
            counts = shards.read_shard(shard)[rows][:, selected]
            yield ad.AnnData(X=counts, obs=obs.iloc[offset : offset + shards.n_obs[shard]][rows], var=var,
                             uns={"qc": summary})  # fmt: skip

    kept = write_shards(kept_blocks(), out_dir)
    print(
        f"QC: kept {summary['n_cells_after']}/{shards.n_cells} cells and {summary['n_genes_after']}/"
        f"{len(shards.var_names)} genes ({n_top_genes} highly variable requested), {len(shards.files)} shards",
        file=sys.stderr,
        flush=True,
    )
    return kept
