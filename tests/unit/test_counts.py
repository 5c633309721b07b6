import numpy as np
import pytest
import scanpy as sc
import scipy.sparse as sp

from lifedl.data import DatasetSpec, load_source
from lifedl.data.sources import recover_counts_from_lognormalised
from lifedl.errors import LifedlError
from lifedl.pp.counts import check_counts


def test_recovery_inverts_normalise_log1p_exactly():
    rng = np.random.default_rng(0)
    counts = sp.random(50, 80, density=0.3, random_state=1, data_rvs=lambda n: rng.integers(1, 60, n)).tocsr()
    counts = counts[np.asarray(counts.sum(axis=1)).ravel() > 0]
    total = np.asarray(counts.sum(axis=1)).ravel()
    log_normalised = sp.csr_matrix(counts.multiply(1e4 / total[:, None]))
    log_normalised.data = np.log1p(log_normalised.data).astype(np.float32)  # float32, as stored by scanpy
    recovered = recover_counts_from_lognormalised(log_normalised, total)
    assert (recovered != counts).nnz == 0


def test_pbmc68k_reduced_counts_are_integers_with_the_stored_totals(tmp_path):
    adata = load_source(DatasetSpec("pbmc68k_reduced", "builtin:pbmc68k_reduced", labels="bulk_labels"), tmp_path)
    bundled = sc.datasets.pbmc68k_reduced()
    counts = adata.layers["counts"]
    assert adata.shape == bundled.raw.shape == (700, 765)
    assert np.array_equal(counts.data, np.round(counts.data)) and counts.data.min() >= 1
    # raw.X covers 765 of the genes that n_counts was summed over, so per-cell sums are a fraction of it.
    fraction = np.asarray(counts.sum(axis=1)).ravel() / bundled.obs["n_counts"].to_numpy()
    assert 0.05 < fraction.min() and fraction.max() <= 1.0 + 1e-6
    # Relative error of the reconstruction before rounding stays far below one count.
    raw = sp.csr_matrix(bundled.raw.X)
    unrounded = np.expm1(raw.data) * np.repeat(bundled.obs["n_counts"].to_numpy(), np.diff(raw.indptr)) / 1e4
    assert np.abs(unrounded - np.rint(unrounded)).max() < 0.1
    assert list(adata.obs["bulk_labels"].cat.categories) == list(bundled.obs["bulk_labels"].cat.categories)


@pytest.mark.parametrize(
    "values, message",
    [
        ([[1.0, -2.0]], "negative"),
        ([[1.5, 2.0]], "non-integer"),
        ([[np.nan, 2.0]], "NaN or inf"),
        ([[np.inf, 2.0]], "NaN or inf"),
    ],
)
def test_check_counts_rejects_bad_counts(values, message):
    with pytest.raises(LifedlError, match=message):
        check_counts(sp.csr_matrix(np.array(values)), "test.h5ad")
