"""The uncertainty family (mlp, mc_dropout, bnn): draws, the ELBO's parts, the held-out class, and the classify
step's measures on a simulation with a cell type no classifier trains on."""

import dataclasses

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
    steps.score_held_out(str(qc), str(checkpoint), str(tmp_path / "m.tsv"), str(tmp_path / "p.tsv"), "bnn", "sim",
                         curves=str(tmp_path / "c.tsv"))  # fmt: skip
    metrics = pd.read_csv(tmp_path / "m.tsv", sep="\t").iloc[0]
    # the curve table is the reliability diagram of the seen test rows: its share-weighted gap is the ECE
    curve = pd.read_csv(tmp_path / "c.tsv", sep="\t")
    assert curve["share"].sum() == pytest.approx(1.0) and (curve["arch"] == "bnn").all()
    assert (curve["share"] * (curve["accuracy"] - curve["confidence"]).abs()).sum() == pytest.approx(metrics["ece"])
    predictions = pd.read_csv(tmp_path / "p.tsv", sep="\t")
    unseen_cells = int((cells.obs["cell_type"] == "type_3").sum())
    seen_test = int(((cells.obs["split"] == "test") & (cells.obs["cell_type"] != "type_3")).sum())
    assert metrics["n_unseen"] == unseen_cells and metrics["n_test"] == seen_test
    assert predictions["unseen_class"].sum() == unseen_cells and len(predictions) == seen_test + unseen_cells
    assert 0 <= metrics["ece"] <= 1 and 0 <= metrics["unseen_class_auroc"] <= 1 and metrics["nll"] > 0
    assert metrics["accuracy"] > 0.9  # the simulated types are well apart


def test_temperature_scaling_recovers_a_planted_temperature():
    from lifedl.tl.classification import fit_temperature

    rng = np.random.default_rng(0)
    true_logits = rng.normal(size=(4000, 3)) * 2
    labels = np.array([rng.choice(3, p=np.exp(row) / np.exp(row).sum()) for row in true_logits])
    # a classifier three times too sure of itself: its logits are the calibrated ones times 3
    assert fit_temperature(3 * true_logits, labels) == pytest.approx(3.0, rel=0.1)
    assert fit_temperature(true_logits, labels) == pytest.approx(1.0, rel=0.1)


def test_the_calibration_baselines_fit_on_validation_cells(cells, tmp_path):
    from lifedl.tl.classification import uncertainty_metrics

    mlp = fit("mlp", cells, tmp_path / "mlp", roles=ROLES)
    scaled = fit("mlp_temperature", cells, tmp_path / "ts", roles=ROLES, models={"mlp": mlp})
    for name, weights in mlp.trained.network.state_dict().items():  # the mlp's network, not trained again
        torch.testing.assert_close(scaled.trained.network.state_dict()[name], weights)
    assert mlp.trained.temperature == 1.0  # the mlp itself unscaled
    validation = (cells.obs["lifedl_split"] == "validation").to_numpy() & (
        cells.obs["cell_type"] != "type_3"
    ).to_numpy()
    truth = cells.obs["cell_type"].astype(str).to_numpy()[validation]
    logits = scaled.logits(scaled.features(cells[validation]))
    nll = {}
    for temperature in (1.0, scaled.temperature):
        scaled.trained.temperature = temperature
        nll[temperature] = uncertainty_metrics(truth, scaled.predict_proba(cells[validation]), scaled.classes)["nll"]
    assert scaled.final_metrics["temperature"] == scaled.temperature != 1.0
    assert nll[scaled.temperature] <= nll[1.0]  # the temperature that minimises the validation NLL
    assert logits.shape == (validation.sum(), 3)
    ensemble = fit("mlp_ensemble", cells, tmp_path / "ensemble", roles=ROLES)
    members = ensemble.probability_draws(cells[:50])
    assert members.shape == (3, 50, 3) and np.abs(members[0] - members[1]).max() > 1e-3  # different inits
    np.testing.assert_allclose(ensemble.predict_proba(cells[:50]), members.mean(axis=0), rtol=1e-6)


def test_the_search_keeps_the_setting_with_the_lowest_validation_nll(cells, tmp_path):
    """Every classifier is tuned on its validation cells: each setting trained, the lowest val_nll kept, and the
    final model is that setting refitted (same seed: the same validation score)."""
    from lifedl.models import get_architecture

    grid = {"learning_rate": [1e-4, 1e-2], "n_hidden": [8, 32]}
    assert get_architecture("mlp").defaults["search"], "the classifiers are searched by default"
    scores = {}
    for lr in grid["learning_rate"]:
        for hidden in grid["n_hidden"]:
            alone = fit("mlp", cells, tmp_path / f"{lr}-{hidden}", roles=ROLES, learning_rate=lr, n_hidden=hidden)
            scores[(lr, hidden)] = alone.final_metrics["val_nll"]
    searched = fit("mlp", cells, tmp_path / "searched", roles=ROLES, search=grid)
    best = min(scores, key=scores.get)
    assert (searched.params["learning_rate"], searched.params["n_hidden"]) == best
    assert searched.params["search"] == {} and searched.final_metrics["search_settings"] == 4
    assert searched.final_metrics["val_nll"] == pytest.approx(scores[best], rel=1e-5)
    assert len(set(np.round(list(scores.values()), 4))) > 1, "the settings must differ for the choice to mean much"


def test_a_search_over_an_unknown_or_empty_setting_is_refused():
    from lifedl.errors import LifedlError
    from lifedl.models import get_architecture

    mlp = get_architecture("mlp")
    with pytest.raises(LifedlError, match="search names 'width'"):
        mlp.resolve_params({"search": {"width": [1, 2]}})
    with pytest.raises(LifedlError, match="non-empty list"):
        mlp.resolve_params({"search": {"n_hidden": []}})
    with pytest.raises(LifedlError, match="search.dropout"):
        mlp.resolve_params({"search": {"dropout": [0.5, "high"]}})
    # a hyper-parameter the user sets is used, not searched over; the rest of the grid stays
    assert set(mlp.resolve_params({"n_hidden": 64})["search"]) == set(mlp.defaults["search"]) - {"n_hidden"}


def test_a_replicate_seed_retrains_the_setting_the_main_seed_chose(cells, tmp_path):
    """steps.train writes what the search chose into run.json; a replicate's settings take those values and
    search no more (the 8 fits per seed the calibration family's replicates would otherwise repeat)."""
    import json

    from lifedl.models import get_architecture

    qc = tmp_path / "qc.h5ad"
    adata = cells.copy()
    adata.uns[UNS_KEY] = DatasetSpec("cells", kind="cells", **ROLES).to_uns()
    adata.write_h5ad(qc)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    grid = {"learning_rate": [1e-4, 1e-2], "n_hidden": [8, 32]}
    params = {"max_epochs": 3, "search": grid, "search_metric": "val_nll"}
    main = steps.TrainSettings("mlp", "cells", params, 0, uri)
    steps.train(str(qc), str(tmp_path / "main" / "model.ckpt"), str(tmp_path / "main" / "run.json"), main)
    chosen = json.loads((tmp_path / "main" / "run.json").read_text())["chosen"]
    assert set(chosen) == set(grid) and all(chosen[name] in grid[name] for name in grid)

    replicate = dataclasses.replace(main, seed=1).with_choices_of(str(tmp_path / "main" / "run.json"))
    resolved = get_architecture("mlp").resolve_params(replicate.hyper_parameters)
    assert resolved["search"] == {} and {name: resolved[name] for name in grid} == chosen
    steps.train(str(qc), str(tmp_path / "rep" / "model.ckpt"), str(tmp_path / "rep" / "run.json"), replicate)
    record = json.loads((tmp_path / "rep" / "run.json").read_text())
    assert "chosen" not in record and "search_settings" not in record["final_metrics"]  # no search ran
    # a run without a search leaves the settings as they were
    assert replicate.with_choices_of(str(tmp_path / "rep" / "run.json")) == replicate
