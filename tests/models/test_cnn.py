"""The cnn architecture on a simulated motif task, trained by a plain local loop (not the workflow's plan)."""

import dataclasses
import io

import numpy as np
import pytest
import torch

from lifedl.data.batches import batch_loader, split_rows, take_rows
from lifedl.data.sequences import SequenceSimulationParams, simulate_sequences
from lifedl.data.spec import DatasetSpec
from lifedl.errors import LifedlError
from lifedl.models import cnn
from lifedl.models.base import FitResult
from lifedl.tl.classification import classification_metrics
from lifedl.tl.motifs import best_matching_filter

SPEC = DatasetSpec(id="sim", kind="sequences", labels="label", split="split")
# The registry's defaults, with a higher learning rate and fewer epochs for a 2-3 s test.
PARAMS = {
    "n_filters": 32, "filter_width": 15, "n_hidden": 32, "dropout": 0.1, "learning_rate": 5e-3,
    "weight_decay": 1e-6, "batch_size": 64, "max_epochs": 12, "patience": 5, "val_fraction": 0.1,
    "kl_warmup_epochs": 0,
}  # fmt: skip


def train(setup, params, seed=0) -> tuple[FitResult, list[float]]:
    """Adam over shuffled minibatches of the setup's arrays; the loss is the sum of the network's parts."""
    torch.manual_seed(seed)  # dropout
    train_index, val_index = split_rows(len(setup.arrays["label"]), params["val_fraction"], seed)
    network = setup.network
    optimiser = torch.optim.Adam(network.parameters(), lr=params["learning_rate"], weight_decay=params["weight_decay"])
    loader = batch_loader(take_rows(setup.arrays, train_index), params["batch_size"], shuffle=True, seed=seed)
    epoch_losses = []
    for epoch in range(params["max_epochs"]):
        loader.sampler.set_epoch(epoch)
        network.train()
        losses = []
        for batch in loader:
            loss = sum(network.loss(batch).values())
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
        epoch_losses.append(float(np.mean(losses)))
    network.eval()
    return FitResult({"train_loss": epoch_losses[-1]}, train_index, val_index), epoch_losses


@pytest.fixture(scope="module")
def trained():
    adata = simulate_sequences(SequenceSimulationParams(n_sequences=800, length=60, seed=0))
    setup = cnn.setup(adata, PARAMS, SPEC, seed=0)
    result, losses = train(setup, PARAMS)
    return adata, setup, setup.finish(result), losses


def test_setup_leaves_out_test_rows_and_declares_its_fields():
    adata = simulate_sequences(SequenceSimulationParams(n_sequences=100, length=40, seed=1))
    setup = cnn.setup(adata, PARAMS, SPEC, seed=0)
    keep = (adata.obs["split"] != "test").to_numpy()
    assert set(setup.arrays) == {"sequence", "label"}
    assert setup.arrays["sequence"].dtype == np.int64 and setup.arrays["label"].dtype == np.int64
    np.testing.assert_array_equal(setup.arrays["sequence"], adata.X[keep])
    np.testing.assert_array_equal(setup.arrays["label"], (adata.obs["label"][keep] == "positive").astype(int))
    batch = next(iter(batch_loader(setup.arrays, 8, shuffle=False)))
    parts = setup.network.loss(batch)
    assert list(parts) == ["cross_entropy"]  # the plan sums the parts into the loss
    # the initial weights depend on the seed only
    again = cnn.setup(adata, PARAMS, SPEC, seed=0).network.state_dict()
    assert all(torch.equal(v, again[k]) for k, v in setup.network.state_dict().items())


def test_setup_errors_name_the_fix():
    adata = simulate_sequences(SequenceSimulationParams(n_sequences=40, length=30))
    with pytest.raises(LifedlError, match="needs class labels"):
        cnn.setup(adata, PARAMS, dataclasses.replace(SPEC, labels=""), seed=0)
    with pytest.raises(LifedlError, match="filter_width 31 is longer than the sequences"):
        cnn.setup(adata, {**PARAMS, "filter_width": 31}, SPEC, seed=0)


def test_cnn_learns_the_planted_motif(trained):
    adata, _, model, losses = trained
    assert losses[-1] < 0.5 * losses[0]
    test = (adata.obs["split"] == "test").to_numpy()
    probabilities = model.predict_proba(adata[test])
    assert probabilities.shape == (test.sum(), 2) and np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    assert classification_metrics(adata.obs["label"][test], probabilities, model.classes)["auroc"] >= 0.9
    assert model.final_metrics["val_auroc"] >= 0.9

    pwm = adata.uns["motif"]["pwm"]
    _, score, _, _ = best_matching_filter(model.first_layer_filters(), pwm)
    untrained = cnn.setup(adata, PARAMS, SPEC, seed=0).network.first_layer_filters()
    assert score > 0.5 and score > best_matching_filter(untrained, pwm)[1] + 0.2


def test_checkpoint_round_trip(trained):
    adata, _, model, _ = trained
    buffer = io.BytesIO()
    torch.save(model.checkpoint(), buffer)
    buffer.seek(0)
    loaded = cnn.from_checkpoint(torch.load(buffer, weights_only=False))
    assert (loaded.classes, loaded.length, loaded.final_metrics) == (model.classes, 60, model.final_metrics)
    np.testing.assert_array_equal(loaded.predict_proba(adata), model.predict_proba(adata))
    with pytest.raises(LifedlError, match="trained on sequences 60 long"):
        loaded.predict_proba(adata[:, :50])
