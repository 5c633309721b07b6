"""Count-matrix helpers every count model and measure shares: the counts in a model's gene order, their
check, library sizes and log-normalisation (arrays and tensors alike)."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from lifedl.errors import LifedlError

TARGET_SUM = 1e4  # counts per cell after library-size normalisation (scanpy's and scVI's usual 10,000)


def counts_matrix(adata: ad.AnnData, gene_names: list[str] | None = None, what: str = "the cells") -> sp.csr_matrix:
    """``layers['counts']`` as float32 CSR, with genes in the order a trained model expects."""
    if "counts" not in adata.layers:
        raise LifedlError(
            f"{what}: no layers['counts'], where every model reads the raw integer counts (X may hold normalised "
            "values); put the raw counts there, e.g. adata.layers['counts'] = adata.X.copy() while X still holds "
            "them (lifedl.fit(..., layer='X') reads them from X), or run the data through the download and qc rules."
        )
    if gene_names is not None and list(adata.var_names) != list(gene_names):
        repeated = sorted(set(adata.var_names[adata.var_names.duplicated()]) & set(gene_names))
        if repeated:
            raise LifedlError(
                f"the cells name {len(repeated)} of the model's genes more than once (e.g. {repeated[:3]}); make "
                "var_names unique (sum or drop the repeats) so each gene is read once."
            )
        missing = [g for g in gene_names if g not in adata.var_names]
        if missing:
            raise LifedlError(
                f"the cells to embed lack {len(missing)} of the model's {len(gene_names)} genes "
                f"(e.g. {missing[:5]}); embed cells measured on the same genes."
            )
        adata = adata[:, gene_names]
    return sp.csr_matrix(adata.layers["counts"], dtype=np.float32)


def model_counts(adata: ad.AnnData, gene_names: list[str] | None = None, what: str = "the cells") -> sp.csr_matrix:
    """:func:`counts_matrix`, checked as counts (:func:`check_counts`): what every model reads, to fit, embed or
    score, so log-normalised values are refused in one place for every model (PCA and the pyfunc model too)."""
    counts = counts_matrix(adata, gene_names, what)
    check_counts(counts, f"{what} layers['counts']")
    return counts


def check_counts(counts, what: str) -> None:
    """Counts for a count likelihood must be finite, non-negative integers."""
    values = counts.data if sp.issparse(counts) else np.asarray(counts)
    if not np.all(np.isfinite(values)):
        raise LifedlError(f"{what}: the count matrix holds NaN or inf values; supply raw UMI counts.")
    if values.size and values.min() < 0:
        raise LifedlError(f"{what}: the count matrix holds negative values; supply raw UMI counts.")
    if not np.array_equal(values, np.round(values)):
        raise LifedlError(
            f"{what}: the count matrix holds non-integer values (normalised data?); lifedl's models read raw "
            "integer UMI counts (they normalise themselves): point the data at the raw counts (e.g. "
            "adata.layers['counts'] = the raw matrix, or adata.raw's)."
        )


def library_sizes(counts) -> np.ndarray:
    """Total counts per cell (row sums), as a flat array."""
    return np.asarray(counts.sum(axis=1)).ravel()


def log_normalise(counts: sp.csr_matrix, target_sum: float = TARGET_SUM) -> sp.csr_matrix:
    """log1p(counts / library size * target_sum), as scanpy's normalize_total + log1p."""
    library_size = library_sizes(counts)
    scale = np.divide(target_sum, library_size, out=np.zeros_like(library_size), where=library_size > 0)
    normalised = sp.diags(scale.astype(np.float32)) @ counts
    normalised.data = np.log1p(normalised.data)
    return sp.csr_matrix(normalised)


def scaled_cells(adata: ad.AnnData, gene_names: list[str], library_size: float) -> ad.AnnData:
    """Cells on a generator's scale: the counts of ``gene_names``, each cell scaled to ``library_size`` (no log),
    obs kept: the real cells that generated ones are compared with."""
    return ad.AnnData(
        X=library_size_normalise(model_counts(adata, gene_names), library_size),
        obs=adata.obs.copy(),
        var=pd.DataFrame(index=pd.Index(gene_names, dtype=str)),
    )


def library_size_normalise(counts: sp.csr_matrix, library_size: float) -> sp.csr_matrix:
    """Each cell's counts scaled to sum to ``library_size`` (no log): the scale scGAN learns on."""
    totals = library_sizes(counts)
    scale = np.divide(library_size, totals, out=np.zeros_like(totals, dtype=np.float64), where=totals > 0)
    return sp.csr_matrix(sp.diags(scale.astype(np.float32)) @ sp.csr_matrix(counts, dtype=np.float32))
