"""Cell and gene QC, normalisation and highly-variable-gene selection, as a scanpy user would do it."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import anndata as ad
import numpy as np
import scanpy as sc
import scipy.sparse as sp

from lifedl.errors import LifedlError


@dataclasses.dataclass(frozen=True)
class QCParams:
    min_genes: int = 200
    min_counts: int = 0
    max_pct_mito: float = 20.0
    min_cells: int = 3
    n_top_genes: int = 2000
    target_sum: float = 1e4
    # > 0: also drop cells further than this many median absolute deviations from the median in log total
    # counts or log genes per cell, or above it in % mitochondrial counts (scanpy's best-practice QC uses 5)
    outlier_mads: float = 0.0
    # True: also drop the cells scanpy's scrublet calls doublets (scored on the cells the other filters keep, every
    # gene's counts; its automatic threshold), as scanpy's best-practice QC does; off by default
    remove_doublets: bool = False


MIN_KEPT_FRACTION = 0.1  # QC that keeps less stops with an error


def annotate_qc_metrics(adata: ad.AnnData) -> None:
    adata.var["mt"] = adata.var_names.str.upper().str.startswith("MT-")
    sc.pp.calculate_qc_metrics(adata, qc_vars=["mt"], layer="counts", percent_top=None, log1p=False, inplace=True)


def run_qc(adata: ad.AnnData, params: QCParams, source: str = "raw.h5ad") -> ad.AnnData:
    """Filter cells and genes, select HVGs (seurat_v3 on counts) and log-normalise ``X``.

    The returned object holds only the selected genes (the models train on them);
    ``layers['counts']`` keeps their raw counts, ``obs``/``var`` the QC metrics and
    ``uns['qc']`` the thresholds and the numbers of cells and genes kept. ``adata``'s
    ``obs``/``var`` get the QC metrics too (for the QC figure); its ``X`` and other layers
    are not read: X is rebuilt from the counts.

    Memory: cells and genes are chosen from the counts without copying them, and the
    counts are copied once per selection that drops something (at 1.3M cells x 2,000
    genes one copy is 2 GiB), rather than once per step with X and every layer. Where QC
    drops nothing, the returned counts are ``adata``'s own matrix, not a copy.
    """
    annotate_qc_metrics(adata)
    n_cells_in, n_genes_in = adata.shape
    counts = sp.csr_matrix(adata.layers["counts"])  # no copy when already CSR
    if not adata.var["mt"].any() and params.max_pct_mito < 100:
        print(
            f"lifedl warning: {source} has no mitochondrial genes (names starting MT- or mt-), so "
            f"max_pct_mito={params.max_pct_mito} removes no cell (expected for simulated data; for real data "
            "check that var_names are gene symbols)",
            file=sys.stderr,
            flush=True,
        )
    passes = cell_filters(adata.obs, params)
    keep_cells = np.logical_and.reduce(list(passes.values()))
    if params.remove_doublets:
        passes["remove_doublets"] = ~scrublet_doublets(adata, counts, keep_cells, source)
        keep_cells &= passes["remove_doublets"]
    check_kept_cells(adata.obs, passes, keep_cells, params, source)
    keep_genes = kept_genes(cells_detecting_each_gene(counts, keep_cells), params, source)
    filtered = subset_counts(adata, counts, keep_cells, keep_genes)
    del counts

    n_top_genes = min(params.n_top_genes, filtered.n_vars)
    if params.n_top_genes >= filtered.n_vars:
        print(
            f"lifedl note: {source}: n_top_genes={params.n_top_genes} is not below the {filtered.n_vars} genes left "
            "after QC, so every gene is kept (no highly variable gene selection); lower qc.n_top_genes to select.",
            file=sys.stderr,
            flush=True,
        )
    sc.pp.highly_variable_genes(filtered, flavor="seurat_v3", n_top_genes=n_top_genes, layer="counts")
    highly_variable = filtered.var["highly_variable"].to_numpy()
    if not highly_variable.all():
        all_cells = np.ones(filtered.n_obs, dtype=bool)
        filtered = subset_counts(filtered, filtered.layers["counts"], all_cells, highly_variable)

    filtered.X = filtered.layers["counts"].astype(np.float32)
    sc.pp.normalize_total(filtered, target_sum=params.target_sum)
    sc.pp.log1p(filtered)
    filtered.uns["qc"] = {
        **dataclasses.asdict(params),
        "n_cells_before": n_cells_in,
        "n_genes_before": n_genes_in,
        "n_cells_after": filtered.n_obs,
        "n_genes_after": filtered.n_vars,
        "median_genes_per_cell": float(np.median(filtered.obs["n_genes_by_counts"])),
        "n_doublets_removed": int((~passes["remove_doublets"]).sum()) if params.remove_doublets else 0,
    }
    print(
        f"QC: kept {filtered.n_obs}/{n_cells_in} cells and {filtered.n_vars}/{n_genes_in} genes "
        f"({n_top_genes} highly variable requested)",
        flush=True,
    )
    return filtered


def cell_filters(obs, params: QCParams) -> dict[str, np.ndarray]:
    """Per filter (named with its threshold), the cells it keeps, from the QC metrics in ``obs`` (total_counts,
    n_genes_by_counts, pct_counts_mt)."""
    passes = {
        f"min_genes={params.min_genes}": obs["n_genes_by_counts"].to_numpy() >= params.min_genes,
        f"min_counts={params.min_counts}": obs["total_counts"].to_numpy() >= params.min_counts,
        # a cell without counts has no mito fraction (0/0): min_genes and min_counts judge it, not this filter
        f"max_pct_mito={params.max_pct_mito}": np.nan_to_num(obs["pct_counts_mt"].to_numpy()) <= params.max_pct_mito,
    }
    if params.outlier_mads > 0:
        passes[f"outlier_mads={params.outlier_mads:g}"] = ~mad_outliers(obs, params.outlier_mads)
    return passes


def check_kept_cells(obs, passes: dict[str, np.ndarray], keep_cells: np.ndarray, params: QCParams, source: str):
    """Keeping a sliver of the cells is a threshold made for other data, not a result: stop and say which."""
    n_cells_in = len(keep_cells)
    if keep_cells.sum() >= MIN_KEPT_FRACTION * n_cells_in:
        return
    removed = ", ".join(f"{name} removes {int((~ok).sum())}" for name, ok in passes.items())
    kept = "no cells pass QC" if not keep_cells.any() else f"QC keeps only {int(keep_cells.sum())}"
    genes_per_cell = obs["n_genes_by_counts"].to_numpy()
    # advice from the data, never the value that just failed: the genes per cell that 95 % of cells reach
    suggested = min(int(np.percentile(genes_per_cell, 5)), max(params.min_genes - 1, 0))
    dataset = Path(source).parent.name or "my_dataset"
    raise LifedlError(
        f"{source}: {kept} of {n_cells_in} (under {MIN_KEPT_FRACTION:.0%}): {removed} "
        f"(median genes per cell: {int(np.median(genes_per_cell))}). Lower the thresholds "
        "under 'qc:' in config/config.yaml, or for this data set alone under 'qc_per_dataset:' (e.g. "
        f"qc_per_dataset: {{{dataset}: {{min_genes: {suggested}}}}}, which 95 % of its cells reach), or filter "
        "by the data's own spread instead (qc.outlier_mads: 5, min_genes: 0)."
    )


def kept_genes(cells_per_gene: np.ndarray, params: QCParams, source: str) -> np.ndarray:
    keep_genes = cells_per_gene >= params.min_cells
    if not keep_genes.any():
        raise LifedlError(
            f"{source}: no genes are expressed in at least min_cells={params.min_cells} cells after cell QC. "
            "Lower qc.min_cells in config/config.yaml."
        )
    return keep_genes


def scrublet_components(n_cells: int, n_genes: int, wanted: int = 30) -> int:
    """Principal components scrublet can take: it keeps the 15 % most variable genes (above their 85th percentile),
    so a panel of a few hundred genes holds fewer than its default 30."""
    return max(2, min(wanted, n_cells - 1, int(0.15 * n_genes) - 1))


def scrublet_doublets(adata: ad.AnnData, counts: sp.csr_matrix, rows: np.ndarray, source: str) -> np.ndarray:
    """The cells among ``rows`` that scanpy's scrublet calls doublets at its automatic threshold (a mask over every
    cell); ``adata.obs`` gets ``doublet_score`` (NaN for cells not scored) and the threshold goes to the QC figure
    (``adata.uns['scrublet_threshold']``). Where scrublet finds no threshold it calls none, and says so."""
    sample = ad.AnnData(select(counts, rows, np.ones(counts.shape[1], dtype=bool)).astype(np.float32))
    sc.pp.scrublet(sample, n_prin_comps=scrublet_components(*sample.shape), random_state=0, verbose=False)
    called = sample.obs["predicted_doublet"].to_numpy()
    threshold = sample.uns.get("scrublet", {}).get("threshold")
    if threshold is None or not np.isfinite(threshold):
        print(f"lifedl note: {source}: scrublet found no threshold between singlets and doublets: none removed",
              file=sys.stderr, flush=True)  # fmt: skip
        called = np.zeros(sample.n_obs, dtype=bool)
    scores = np.full(adata.n_obs, np.nan)
    scores[rows] = sample.obs["doublet_score"].to_numpy()
    adata.obs["doublet_score"] = scores
    adata.uns["scrublet_threshold"] = float(threshold) if threshold is not None else float("nan")
    doublets = np.zeros(adata.n_obs, dtype=bool)
    doublets[np.flatnonzero(rows)[called.astype(bool)]] = True
    print(f"QC: scrublet calls {int(doublets.sum())} of {int(rows.sum())} cells doublets", flush=True)
    return doublets


def _mad_outside(values: np.ndarray, n_mads: float, upper_only: bool = False) -> np.ndarray:
    median = np.median(values)
    mad = np.median(np.abs(values - median))
    if mad == 0:  # no spread to measure against: nothing is an outlier
        return np.zeros(len(values), dtype=bool)
    deviation = (values - median) / mad
    return deviation > n_mads if upper_only else np.abs(deviation) > n_mads


def mad_outliers(obs, n_mads: float) -> np.ndarray:
    """Cells outside ``n_mads`` median absolute deviations in log1p total counts or log1p genes per cell,
    or above it in % mitochondrial counts (the adaptive QC of scanpy's single-cell best practices)."""
    return (
        _mad_outside(np.log1p(obs["total_counts"].to_numpy()), n_mads)
        | _mad_outside(np.log1p(obs["n_genes_by_counts"].to_numpy()), n_mads)
        | _mad_outside(obs["pct_counts_mt"].to_numpy(), n_mads, upper_only=True)
    )


def cells_detecting_each_gene(counts: sp.csr_matrix, rows: np.ndarray) -> np.ndarray:
    """Per gene, how many of the chosen rows have a non-zero count, without copying those rows."""
    stored = np.repeat(rows, np.diff(counts.indptr)) & (counts.data != 0)
    return np.bincount(counts.indices[stored], minlength=counts.shape[1])


def subset_counts(adata: ad.AnnData, counts: sp.csr_matrix, cells: np.ndarray, genes: np.ndarray) -> ad.AnnData:
    """``adata[cells, genes]`` with only obs, var, obsm, uns and ``layers['counts']`` (from ``counts``), copying
    the counts once: AnnData's own ``[...].copy()`` would also copy X and every other layer."""
    obs = adata.obs[cells].copy()
    for column in obs.select_dtypes("category"):  # as AnnData's own subsetting does
        obs[column] = obs[column].cat.remove_unused_categories()
    return ad.AnnData(
        obs=obs,
        var=adata.var[genes].copy(),
        obsm={key: value[cells] for key, value in adata.obsm.items()},
        uns=dict(adata.uns),
        layers={"counts": select(counts, cells, genes)},
    )


def select(matrix: sp.csr_matrix, rows: np.ndarray, columns: np.ndarray) -> sp.csr_matrix:
    """matrix[rows][:, columns], skipping a selection that keeps everything (each one copies the matrix)."""
    if not rows.all():
        matrix = matrix[rows]
    if not columns.all():
        matrix = matrix[:, columns]
    return matrix
