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


def _counts_digest(adata) -> str:
    import hashlib

    counts, digest = adata.layers["counts"], hashlib.sha256()
    for array in (counts.indptr, counts.indices, counts.data):
        digest.update(np.ascontiguousarray(array).tobytes())
    for column in ("cell_type", "batch"):
        digest.update(",".join(adata.obs[column].astype(str)).encode())
    return digest.hexdigest()


@pytest.mark.parametrize(
    "params, expected",
    [
        # digests taken with the simulator as it was before the perturbation fields existed
        (
            SimulationParams(n_cells=300, n_genes=120, n_types=3, n_batches=2, seed=7),
            "8a37fb465f5f14df9966b1f8c8abda50b77b248784b82342c50a5c7ceb3d938d",
        ),
        (  # the sheet's sim_batches
            SimulationParams(n_cells=1500, n_genes=600, n_types=6, n_batches=2, seed=1),
            "15fb87815dcdadba07d0236a600ac7bb1c7dd8d5beb11381448fddccb1d6bead",
        ),
    ],
)
def test_simulations_without_perturbation_are_what_they_were(params, expected):
    adata = simulate_counts(params)
    assert _counts_digest(adata) == expected
    assert list(adata.obs.columns) == ["cell_type", "batch"] and adata.var.shape[1] == 0 and not adata.varm


def _log_means(adata, mask):
    counts = adata.layers["counts"][mask].toarray()
    return np.log1p(counts / counts.sum(axis=1, keepdims=True) * 1e4).mean(axis=0)


def test_perturbation_response_has_a_shared_and_a_type_specific_part():
    params = SimulationParams(
        n_cells=3000, n_genes=300, n_types=3, n_conditions=2, response_fraction=0.2, type_specific_fraction=0.3, seed=0
    )
    adata = simulate_counts(params)
    types, condition = adata.obs["cell_type"].to_numpy(), adata.obs["condition"].to_numpy()
    assert set(condition) == {"control", "stimulated"}
    fold_changes = adata.var["stimulation_log_fold_change"].to_numpy()
    silenced = adata.varm["silenced"]  # genes x types
    responding = fold_changes != 0
    assert responding.sum() == 60 and np.all(silenced.sum(axis=0) == 18) and not silenced[~responding].any()
    shifts = np.stack(
        [
            _log_means(adata, (types == t) & (condition == "stimulated"))
            - _log_means(adata, (types == t) & (condition == "control"))
            for t in ("type_0", "type_1", "type_2")
        ],
        axis=1,
    )
    for t in range(3):
        expressed = responding & ~silenced[:, t]
        # shared: the responding genes a type expresses move with the shared fold changes, in every type
        assert np.mean(np.sign(shifts[expressed, t]) == np.sign(fold_changes[expressed])) > 0.95
        assert np.abs(shifts[expressed, t]).mean() > 5 * np.abs(shifts[~responding, t]).mean()
        # type-specific: the genes this type silences barely move in it, but do in the types that express them
        own = silenced[:, t] & ~silenced.all(axis=1)
        elsewhere = np.array([np.abs(shifts[g, ~silenced[g]]).mean() for g in np.flatnonzero(own)])
        assert np.abs(shifts[own, t]).mean() < 0.25 * elsewhere.mean()
    # so neither "no change" nor "the other types' average response" is the response of type_0
    average_of_others = shifts[:, 1:].mean(axis=1)
    assert np.abs(average_of_others - shifts[:, 0])[silenced[:, 0]].mean() > 0.2


def test_perturbation_is_seeded_and_parsed_from_the_sheet(tmp_path):
    source = (
        "simulated:n_cells=200,n_genes=80,n_types=2,n_conditions=2,response_fraction=0.25,type_specific_fraction=0.5,"
        "seed=4"
    )
    a, b = load_source(DatasetSpec("sim", source), tmp_path), load_source(DatasetSpec("sim", source), tmp_path)
    assert (a.layers["counts"] != b.layers["counts"]).nnz == 0
    assert set(a.obs["condition"]) == {"control", "stimulated"} and a.varm["silenced"].sum() == 2 * 10
    with pytest.raises(LifedlError, match="n_conditions must be 1 .* or 2"):
        load_source(DatasetSpec("sim", "simulated:n_cells=50,n_genes=40,n_conditions=3"), tmp_path)


def _dispersion(adata):
    """Per-gene variance over mean of counts within one cell type at similar depths: 1 for Poisson, > 1 for NB."""
    counts = adata.layers["counts"].toarray().astype(float)
    one_type = counts[(adata.obs["cell_type"] == "type_0").to_numpy()]
    mean, variance = one_type.mean(axis=0), one_type.var(axis=0)
    expressed = mean > 5
    return np.median(variance[expressed] / mean[expressed]), one_type


def test_count_models_draw_poisson_nb_and_zero_inflated_cells():
    from lifedl.data.simulate import true_likelihood

    base = {"n_cells": 600, "n_genes": 80, "n_types": 2, "library_size_sd": 0.0, "seed": 3}
    poisson = simulate_counts(SimulationParams(**base, count_model="poisson"))
    nb = simulate_counts(SimulationParams(**base, dispersion_theta=2.0))
    zinb = simulate_counts(SimulationParams(**base, dispersion_theta=2.0, zero_inflation=0.3))
    assert 0.8 < _dispersion(poisson)[0] < 1.3 < _dispersion(nb)[0]  # fixed depth: Poisson variance = mean
    zeros = {name: (_dispersion(a)[1] == 0).mean() for name, a in (("nb", nb), ("zinb", zinb))}
    assert zeros["zinb"] > zeros["nb"] + 0.2  # 30 % of entries zeroed, most of them non-zero before
    assert [true_likelihood(a.uns["simulation"]) for a in (poisson, nb, zinb)] == ["poisson", "nb", "zinb"]
    with pytest.raises(ValueError, match="count_model"):
        simulate_counts(SimulationParams(**base, count_model="gaussian"))
    with pytest.raises(ValueError, match="zero_inflation"):
        simulate_counts(SimulationParams(**base, zero_inflation=1.5))


def test_a_sample_source_keeps_that_many_of_its_inner_sources_cells_unchanged(tmp_path):
    inner = "simulated:n_cells=300,n_genes=40,n_types=3,seed=2"
    whole = load_source(DatasetSpec("whole", source=inner), tmp_path)
    sample = load_source(DatasetSpec("s", source=f"sample:cells=120,seed=4:{inner}", labels="cell_type"), tmp_path)
    again = load_source(DatasetSpec("s", source=f"sample:cells=120,seed=4:{inner}", labels="cell_type"), tmp_path)
    other = load_source(DatasetSpec("s", source=f"sample:cells=120,seed=5:{inner}", labels="cell_type"), tmp_path)
    assert sample.n_obs == 120 and len(set(sample.obs_names)) == 120
    assert list(sample.obs_names) == [name for name in whole.obs_names if name in set(sample.obs_names)]  # in order
    assert (sample.layers["counts"] != whole[sample.obs_names].layers["counts"]).nnz == 0  # the cells' own counts
    assert list(again.obs_names) == list(sample.obs_names) and list(other.obs_names) != list(sample.obs_names)
    assert sample.uns["lifedl_dataset"]["labels"] == "cell_type"  # the row's own spec


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("sample:cells=300:simulated:n_cells=300", "holds 300 cells, not more than cells=300"),
        ("sample:seed=1:simulated:n_cells=300", "say how many cells to keep"),
        ("sample:n=10:simulated:n_cells=300", "unknown sample parameter 'n'"),
        ("sample:cells=10", "whose own source follows the parameters"),
    ],
)
def test_a_bad_sample_source_says_what_to_write(tmp_path, source, message):
    with pytest.raises(LifedlError, match=message) as error:
        load_source(DatasetSpec("bad", source=source), tmp_path)
    assert "dataset 'bad'" in str(error.value)
