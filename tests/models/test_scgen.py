"""scGen: the held-out cells stay unseen, delta is balanced by type, and the prediction beats both baselines."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from fast_training import fit

import lifedl
from lifedl.data import SimulationParams, simulate_counts
from lifedl.errors import LifedlError
from lifedl.models.base import load_model, save_checkpoint
from lifedl.models.scgen import PREDICTED, balanced_delta
from lifedl.pp.counts import log_normalise
from lifedl.tl.perturbation import r2_table, response_means

# config/datasets.tsv's sim_perturbation
SIM_PERTURBATION = SimulationParams(
    n_cells=2000, n_genes=600, n_types=5, n_conditions=2, response_fraction=0.2, type_specific_fraction=0.3, seed=2
)
ROLES = {"labels": "cell_type", "condition": "condition", "control": "control", "heldout": "type_0"}
COLUMNS = ("cell_type", "condition", "control", "type_0")  # the same, as response_means' arguments


def _train(adata, work_dir, roles=ROLES, **overrides):
    return fit("scgen", adata, work_dir, roles=roles, **overrides)


@pytest.fixture(scope="module")
def perturbed():
    return simulate_counts(SIM_PERTURBATION)


@pytest.fixture(scope="module")
def trained(perturbed, tmp_path_factory):
    """The registry's defaults, unchanged (about 15 s): what the workflow trains on sim_perturbation."""
    return lifedl.fit(perturbed, "scgen", work_dir=tmp_path_factory.mktemp("scgen"), seed=0, roles=ROLES)


def _with_counts(adata, rows, value):
    """A copy whose counts in ``rows`` are replaced by ``value(counts)``."""
    dense = adata.layers["counts"].toarray().astype(np.float32)
    dense[rows] = value(dense[rows])
    copy = adata.copy()
    copy.X = copy.layers["counts"] = sp.csr_matrix(dense)
    return copy


def test_heldout_stimulated_cells_are_never_seen(tmp_path):
    adata = simulate_counts(SimulationParams(n_cells=600, n_genes=120, n_types=3, n_conditions=2, seed=5))
    heldout = (adata.obs["cell_type"] == "type_0").to_numpy()
    stimulated = (adata.obs["condition"] == "stimulated").to_numpy()
    settings = {"likelihood": "gaussian", "batch_size": 64}  # gaussian: no count check stops NaN at the door
    reference = _train(adata, tmp_path / "reference", **settings)
    # NaN counts: any arithmetic contact in training, validation or delta would make the results NaN.
    hidden = _train(_with_counts(adata, heldout & stimulated, lambda x: np.nan), tmp_path / "nan", **settings)
    # Not in the training split, the validation split (early stopping, best weights) or delta: all bit-identical.
    for name, weights in reference.vae.network.state_dict().items():
        assert torch.equal(weights, hidden.vae.network.state_dict()[name]), name
    np.testing.assert_array_equal(reference.delta, hidden.delta)
    np.testing.assert_array_equal(reference.predict(adata).X, hidden.predict(adata).X)
    assert reference.final_metrics == hidden.final_metrics
    metrics = reference.final_metrics
    not_test = (adata.obs["lifedl_split"] != "test").to_numpy()  # the split the first fit drew, in place
    assert metrics["n_train_cells"] + metrics["n_val_cells"] == np.sum(~(heldout & stimulated) & not_test)
    # The test can fail: changed counts of cells that are used (the held-out type's control cells) reach the weights.
    used = _train(_with_counts(adata, heldout & ~stimulated, lambda x: x[:, ::-1]), tmp_path / "used", **settings)
    assert not all(
        torch.equal(w, used.vae.network.state_dict()[n]) for n, w in reference.vae.network.state_dict().items()
    )


def test_delta_is_balanced_by_type():
    # Type a: 900 cells, moves +2 in dimension 0 on stimulation; type b: 30 cells, does not move.
    # Type c has control cells only and must not take part. Pooling all cells would give about 1.94.
    latent = np.zeros((900 + 30 + 50, 2))
    types = np.array(["a"] * 900 + ["b"] * 30 + ["c"] * 50)
    is_control = np.r_[np.arange(900) < 300, np.arange(30) < 20, np.ones(50, dtype=bool)]
    latent[:900][~is_control[:900], 0] = 2.0
    latent[930:] = 5.0
    delta, estimated_on = balanced_delta(latent, types, is_control, seed=0)
    np.testing.assert_allclose(delta, [1.0, 0.0])
    assert estimated_on == {"types": ["a", "b"], "cells_per_group": 600}
    # Sampling is seeded: with noise inside the groups the same seed gives the same delta, another seed another.
    noisy = latent + np.random.default_rng(0).normal(size=latent.shape)
    first, _ = balanced_delta(noisy, types, is_control, seed=1)
    np.testing.assert_array_equal(first, balanced_delta(noisy, types, is_control, seed=1)[0])
    assert not np.array_equal(first, balanced_delta(noisy, types, is_control, seed=2)[0])
    assert abs(first[0] - 1.0) < 0.3


def test_scgen_beats_no_change_and_average_response(perturbed, trained):
    predicted = trained.predict(perturbed)
    heldout_control = (perturbed.obs["cell_type"] == "type_0") & (perturbed.obs["condition"] == "control")
    assert list(predicted.obs_names) == list(perturbed.obs_names[heldout_control.to_numpy()])
    assert set(predicted.obs["condition"]) == {PREDICTED} and predicted.shape == (heldout_control.sum(), 600)
    table = r2_table(response_means(perturbed, predicted, *COLUMNS)).set_index("method")
    assert list(table.index) == ["scgen", "no_change", "average_response"] and set(table["n_top_genes"]) == {100}
    for column in ("r2_all_genes", "r2_top_genes"):
        assert table.loc["scgen", column] > table.loc["no_change", column], table
        assert table.loc["scgen", column] > table.loc["average_response", column], table


def test_response_table_scores_a_perfect_prediction_one(perturbed):
    heldout_stimulated = perturbed[
        ((perturbed.obs["cell_type"] == "type_0") & (perturbed.obs["condition"] == "stimulated")).to_numpy()
    ].copy()
    heldout_stimulated.X = log_normalise(heldout_stimulated.layers["counts"].astype(np.float32))
    table = r2_table(response_means(perturbed, heldout_stimulated, *COLUMNS, n_top_genes=50)).set_index("method")
    assert table.loc["scgen", "r2_all_genes"] == pytest.approx(1.0) and table.loc[
        "scgen", "r2_top_genes"
    ] == pytest.approx(1.0)
    assert table.loc["no_change", "r2_top_genes"] < 0.9 and table.loc["no_change", "n_top_genes"] == 50


def test_checkpoint_round_trip_predicts_identically_and_figure(perturbed, trained, tmp_path):
    from lifedl.pl.scgen import response_scatter_figure

    save_checkpoint(trained, tmp_path / "model.ckpt")
    loaded = load_model(tmp_path / "model.ckpt")
    np.testing.assert_array_equal(loaded.delta, trained.delta)
    assert loaded.settings == trained.settings and loaded.params == trained.params
    cells = perturbed[:50].copy()  # not a view: the notebook Model's embed also writes obsm['X_scgen']
    np.testing.assert_array_equal(loaded.embed(cells), trained.embed(cells))
    np.testing.assert_array_equal(loaded.predict(perturbed).X, trained.predict(perturbed).X)
    figure = response_scatter_figure(response_means(perturbed, loaded.predict(perturbed), *COLUMNS), "type_0")
    titles = [ax.get_title() for ax in figure.axes]
    assert len(titles) == 3 and all("R²" in title for title in titles)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"labels": ""}, r"^lifedl.fit\(\.\.\., 'scgen'\): 'scgen' needs the role\(s\) \['labels'\]"),
        ({"condition": "treatment"}, r"^lifedl.fit\(\.\.\., roles=\.\.\.\): condition='treatment' names no obs column"),
        (
            {"control": "ctrl"},
            r"^lifedl.fit\(\.\.\., roles=\.\.\.\): control='ctrl' is not a value of obs\['condition'\]",
        ),
        (
            {"heldout": "type_9"},
            r"^lifedl.fit\(\.\.\., roles=\.\.\.\): heldout='type_9' is not a value of obs\['cell_type'\]",
        ),
        ({"heldout": "only_stimulated"}, "^the AnnData passed to lifedl.fit: .*has no control cells"),
        ({"condition": "three_conditions"}, "^the AnnData passed to lifedl.fit: .*has 3 values .* needs exactly two"),
    ],
)
def test_missing_or_wrong_perturbation_columns_are_clear_errors(change, message, tmp_path):
    adata = simulate_counts(SimulationParams(n_cells=200, n_genes=50, n_types=2, n_conditions=2, seed=1))
    cell_type = adata.obs["cell_type"].astype(str)
    cell_type[(adata.obs["condition"] == "stimulated").to_numpy() & (cell_type == "type_1").to_numpy()] = (
        "only_stimulated"
    )
    adata.obs["cell_type"] = cell_type
    adata.obs["three_conditions"] = np.array(["control", "stimulated", "other"])[np.arange(200) % 3]
    with pytest.raises(LifedlError, match=message):  # each names the argument or the data it is about
        _train(adata, tmp_path, roles={**ROLES, **change})
