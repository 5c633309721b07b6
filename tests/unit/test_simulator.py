import numpy as np
import pytest

from lifedl.data import DatasetSpec, SimulationParams, load_source, simulate_counts
from lifedl.errors import LifedlError


def test_same_seed_same_counts_and_different_seed_differs():
    params = SimulationParams(n_cells=200, n_genes=100, n_types=3, n_batches=2, seed=5)
    a, b = simulate_counts(params), simulate_counts(params)
    c = simulate_counts(SimulationParams(n_cells=200, n_genes=100, n_types=3, n_batches=2, seed=6))
    assert (a.layers["counts"] != b.layers["counts"]).nnz == 0
    assert (a.layers["counts"] != c.layers["counts"]).nnz > 0


def test_chunking_does_not_change_the_shape_or_labels():
    params = SimulationParams(n_cells=250, n_genes=50, seed=1)
    whole, chunked = simulate_counts(params), simulate_counts(params, chunk_size=60)
    assert whole.shape == chunked.shape
    assert whole.obs.equals(chunked.obs)


def test_cell_types_batches_and_library_sizes_are_real_structure():
    adata = simulate_counts(SimulationParams(n_cells=3000, n_genes=400, n_types=4, n_batches=2, seed=0))
    counts = adata.layers["counts"]
    assert counts.dtype.kind == "i" and counts.data.min() >= 1
    assert set(adata.obs["cell_type"]) == {f"type_{t}" for t in range(4)}
    assert set(adata.obs["batch"]) == {"batch_0", "batch_1"}
    library = np.asarray(counts.sum(axis=1)).ravel()
    assert 1500 < np.median(library) < 2600  # mean_library_size 2000, log-normal
    assert library.std() / library.mean() > 0.25  # library-size variation
    # Cell types differ in mean expression far more than random halves of one type do.
    dense = np.log1p(counts.toarray() / library[:, None] * 1e4)
    types = adata.obs["cell_type"].to_numpy()
    between = np.abs(dense[types == "type_0"].mean(0) - dense[types == "type_1"].mean(0)).max()
    t0 = np.flatnonzero(types == "type_0")
    within = np.abs(dense[t0[::2]].mean(0) - dense[t0[1::2]].mean(0)).max()
    assert between > 3 * within
    assert adata.var_names[:13].str.startswith("MT-").all()


def test_simulated_source_parses_parameters_and_rejects_unknown_ones(tmp_path):
    adata = load_source(DatasetSpec("sim", "simulated:n_cells=120,n_genes=60,n_types=2,seed=4"), tmp_path)
    assert adata.shape == (120, 60)
    with pytest.raises(LifedlError, match="unknown simulation parameter 'n_cellz'"):
        load_source(DatasetSpec("sim", "simulated:n_cellz=10"), tmp_path)
