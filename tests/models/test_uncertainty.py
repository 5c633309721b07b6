"""The uncertainty family (mlp, mc_dropout, bnn): draws, the ELBO's parts, the held-out class, and the classify
step's measures on a simulation with a cell type no classifier trains on."""

import numpy as np
import pandas as pd
import pytest
import torch
from fast_training import ValidationLosses, fit

from lifedl import steps
from lifedl.data import SimulationParams, simulate_counts
from lifedl.data.spec import UNS_KEY, DatasetSpec
from lifedl.nn.bayes import BayesLinear

ROLES = {"labels": "cell_type", "split": "split", "heldout": "type_3"}


@pytest.fixture(scope="module")
def cells():
    return simulate_counts(SimulationParams(n_cells=400, n_genes=120, n_types=4, test_fraction=0.3, seed=3))


@pytest.fixture(scope="module")
def trained(cells, tmp_path_factory):
    models, losses = {}, {}
    for arch in ("mlp", "mc_dropout", "bnn"):
        recorder = ValidationLosses()
        models[arch] = fit(arch, cells, tmp_path_factory.mktemp(arch), roles=ROLES, callbacks=[recorder.callback])
        losses[arch] = recorder.values
    return models, losses


def test_no_classifier_trains_on_the_held_out_class_and_training_lowers_the_loss(trained):
    models, losses = trained
    for arch, model in models.items():
        assert model.classes == ["type_0", "type_1", "type_2"], arch
        assert losses[arch][-1] < losses[arch][0], arch


def test_mc_dropout_draws_differ_and_the_deterministic_network_gives_one(trained, cells):
    models, _ = trained
    test = cells[cells.obs["split"] == "test"]
    deterministic = models["mlp"].probability_draws(test)
    assert deterministic.shape == (1, test.n_obs, 3)
    np.testing.assert_allclose(models["mlp"].predict_proba(test), deterministic[0])
    for arch in ("mc_dropout", "bnn"):
        draws = models[arch].probability_draws(test, seed=0)
        assert draws.shape == (30, test.n_obs, 3)
        assert draws.std(axis=0).max() > 1e-3, f"{arch}: every draw is the same network"
        np.testing.assert_array_equal(draws, models[arch].probability_draws(test, seed=0))  # seeded
        np.testing.assert_allclose(draws.sum(axis=2), 1.0, rtol=1e-5)


def test_bnn_loss_has_a_kl_part_equal_to_the_closed_form(trained):
    network = trained[0]["bnn"].network
    batch = {"features": torch.zeros(4, network.hidden.weight_mean.shape[1]), "label": torch.zeros(4, dtype=torch.long)}
    parts = network.loss(batch)
    assert set(parts) == {"cross_entropy", "kl"} and parts["kl"] > 0
    layer = network.output
    q = torch.distributions.Normal(layer.weight_mean, torch.nn.functional.softplus(layer.weight_rho))
    p = torch.distributions.Normal(0.0, layer.prior_sd)
    q_bias = torch.distributions.Normal(layer.bias_mean, torch.nn.functional.softplus(layer.bias_rho))
    expected = torch.distributions.kl_divergence(q, p).sum() + torch.distributions.kl_divergence(q_bias, p).sum()
    torch.testing.assert_close(layer.kl(), expected)


def test_bayes_linear_draws_one_network_per_pass():
    torch.manual_seed(0)
    layer = BayesLinear(3, 2, initial_sd=0.5)
    x = torch.ones(5, 3)
    first, second = layer(x), layer(x)
    assert not torch.equal(first, second)  # another draw of the weights
    assert torch.allclose(first, first[:1].expand(5, 2))  # one draw for every row of the batch


def test_classify_scores_calibration_and_the_unseen_class(trained, cells, tmp_path):
    adata = cells.copy()
    adata.uns[UNS_KEY] = DatasetSpec(id="sim", **ROLES).to_uns()
    qc = tmp_path / "qc.h5ad"
    adata.write_h5ad(qc)
    checkpoint = tmp_path / "bnn.ckpt"
    from lifedl.models.base import save_checkpoint

    save_checkpoint(trained[0]["bnn"], checkpoint)
    steps.classify(str(qc), str(checkpoint), str(tmp_path / "m.tsv"), str(tmp_path / "p.tsv"), "bnn", "sim")
    metrics = pd.read_csv(tmp_path / "m.tsv", sep="\t").iloc[0]
    predictions = pd.read_csv(tmp_path / "p.tsv", sep="\t")
    unseen_cells = int((cells.obs["cell_type"] == "type_3").sum())
    seen_test = int(((cells.obs["split"] == "test") & (cells.obs["cell_type"] != "type_3")).sum())
    assert metrics["n_unseen"] == unseen_cells and metrics["n_test"] == seen_test
    assert predictions["unseen_class"].sum() == unseen_cells and len(predictions) == seen_test + unseen_cells
    assert 0 <= metrics["ece"] <= 1 and 0 <= metrics["unseen_class_auroc"] <= 1 and metrics["nll"] > 0
    assert metrics["accuracy"] > 0.9  # the simulated types are well apart
