"""The neural sequence classifiers (cnn, cnn_embed, bilstm, transformer) on simulated motif tasks, trained by a plain
local loop (not the workflow's plan), and the plan's gradient clipping."""

import dataclasses
import io

import numpy as np
import pytest
import torch

from lifedl.data.batches import batch_loader, take_rows
from lifedl.data.sequences import SequenceSimulationParams, simulate_sequences
from lifedl.data.spec import DatasetSpec
from lifedl.data.splits import add_splits
from lifedl.errors import LifedlError
from lifedl.models import get_architecture, sequence
from lifedl.models.base import FitResult
from lifedl.tl.classification import classification_metrics
from lifedl.tl.motifs import best_matching_filter

SPEC = DatasetSpec(id="sim", kind="sequences", labels="label", split="split")
# The registry's defaults, with a higher learning rate and fewer epochs for a 2-3 s test.
PARAMS = {
    "n_filters": 32, "filter_width": 15, "n_hidden": 32, "dropout": 0.1, "learning_rate": 5e-3,
    "weight_decay": 1e-6, "batch_size": 64, "max_epochs": 12, "patience": 5,
    "kl_warmup_epochs": 0, "reverse_complement": False, "embedding_dim": 0, "embedding_k": 1, "gradient_clip": 0.0,
    "mc_samples": 0,
}  # fmt: skip


def split(adata):
    """The simulated sequences with the qc rule's train / validation / test split."""
    add_splits(adata, SPEC)
    return adata


def train(setup, params, seed=0) -> tuple[FitResult, list[float]]:
    """Adam over shuffled minibatches of the setup's arrays; the loss is the sum of the network's parts."""
    torch.manual_seed(seed)  # dropout
    train_index, val_index = np.flatnonzero(setup.split == "train"), np.flatnonzero(setup.split == "validation")
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
    adata = split(simulate_sequences(SequenceSimulationParams(n_sequences=800, length=60, seed=0)))
    setup = sequence.setup(adata, PARAMS, SPEC, seed=0)
    result, losses = train(setup, PARAMS)
    return adata, setup, setup.finish(result), losses


def test_setup_leaves_out_test_rows_and_declares_its_fields():
    adata = split(simulate_sequences(SequenceSimulationParams(n_sequences=100, length=40, seed=1)))
    setup = sequence.setup(adata, PARAMS, SPEC, seed=0)
    keep = (adata.obs["split"] != "test").to_numpy()
    assert set(setup.arrays) == {"sequence", "label"}
    assert setup.arrays["sequence"].dtype == np.int64 and setup.arrays["label"].dtype == np.int64
    np.testing.assert_array_equal(setup.arrays["sequence"], adata.X[keep])
    np.testing.assert_array_equal(setup.arrays["label"], (adata.obs["label"][keep] == "positive").astype(int))
    batch = next(iter(batch_loader(setup.arrays, 8, shuffle=False)))
    parts = setup.network.loss(batch)
    assert list(parts) == ["cross_entropy"]  # the plan sums the parts into the loss
    # the initial weights depend on the seed only
    again = sequence.setup(adata, PARAMS, SPEC, seed=0).network.state_dict()
    assert all(torch.equal(v, again[k]) for k, v in setup.network.state_dict().items())


def test_setup_errors_name_the_fix():
    adata = split(simulate_sequences(SequenceSimulationParams(n_sequences=40, length=30)))
    with pytest.raises(LifedlError, match="needs class labels"):
        sequence.setup(adata, PARAMS, dataclasses.replace(SPEC, labels=""), seed=0)
    with pytest.raises(LifedlError, match="cnn filter_width 31 .* is longer than the sequences"):
        sequence.setup(adata, {**PARAMS, "filter_width": 31}, SPEC, seed=0)


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
    untrained = sequence.setup(adata, PARAMS, SPEC, seed=0).network.body.first_layer_filters()
    assert score > 0.5 and score > best_matching_filter(untrained, pwm)[1] + 0.2


def test_checkpoint_round_trip(trained):
    adata, _, model, _ = trained
    buffer = io.BytesIO()
    torch.save(model.checkpoint(), buffer)
    buffer.seek(0)
    loaded = sequence.from_checkpoint(torch.load(buffer, weights_only=False))
    assert (loaded.classes, loaded.length, loaded.final_metrics) == (model.classes, 60, model.final_metrics)
    np.testing.assert_array_equal(loaded.predict_proba(adata), model.predict_proba(adata))
    with pytest.raises(LifedlError, match="trained on sequences 60 long"):
        loaded.predict_proba(adata[:, :50])


def test_mc_dropout_on_the_cnn_draws_differ_and_the_deterministic_cnn_gives_one(trained):
    adata, _, model, _ = trained
    test = adata[(adata.obs["split"] == "test").to_numpy()]
    deterministic = model.probability_draws(test)
    assert deterministic.shape == (1, test.n_obs, 2)
    np.testing.assert_array_equal(deterministic[0], model.predict_proba(test))
    params = {**model.params, "mc_samples": 30}
    mc = sequence.SequenceModel("cnn_mc_dropout", model.network, params, model.classes, model.length)
    draws = mc.probability_draws(test, seed=0)
    assert draws.shape == (30, test.n_obs, 2) and draws.std(axis=0).max() > 1e-3
    np.testing.assert_array_equal(draws, mc.probability_draws(test, seed=0))  # seeded
    np.testing.assert_allclose(mc.predict_proba(test), draws.mean(axis=0), rtol=1e-6)
    assert not model.network.training  # dropout is off again after the draws
    np.testing.assert_array_equal(model.predict_proba(test), deterministic[0])


def small(arch: str, **overrides) -> dict:
    """The registry's defaults for ``arch``, made small enough to train in a second or two."""
    sizes = {"n_filters": 16, "n_hidden": 16, "d_model": 16, "n_layers": 1, "embedding_dim": 8, "max_epochs": 12}
    defaults = get_architecture(arch).defaults
    return {**defaults, **{k: v for k, v in sizes.items() if k in defaults}, "learning_rate": 5e-3, **overrides}


@pytest.mark.parametrize("arch", ["cnn_embed", "bilstm", "transformer"])
def test_each_network_learns_on_tiny_data(arch):
    adata = split(simulate_sequences(SequenceSimulationParams(n_sequences=400, length=40, seed=2)))
    params = small(arch, **({"filter_width": 8} if arch == "cnn_embed" else {}))
    setup = sequence.setup(adata, params, SPEC, seed=0, arch=arch)
    _, losses = train(setup, params)
    assert losses[-1] < 0.9 * losses[0]
    model = setup.finish(FitResult({}, np.arange(10), np.arange(10, 60)))
    assert model.final_metrics["val_n"] == 50 and 0 <= model.final_metrics["val_auroc"] <= 1


def test_kmer_tokens_and_embedding_rows():
    from lifedl.nn.sequence import kmer_tokens
    from lifedl.pl.sequences import kmer_names

    codes = torch.tensor([[0, 1, 2, 3, 3]])  # ACGTT
    assert kmer_tokens(codes, 3).tolist() == [[0 * 16 + 1 * 4 + 2, 1 * 16 + 2 * 4 + 3, 2 * 16 + 3 * 4 + 3]]
    names = kmer_names(3)
    assert [names[t] for t in kmer_tokens(codes, 3)[0]] == ["ACG", "CGT", "GTT"]
    assert [names[t] for t in kmer_tokens(codes, 3, stride=2)[0]] == ["ACG", "GTT"]
    assert [kmer_names(2)[t] for t in kmer_tokens(codes, 2, stride=2)[0]] == ["AC", "GT"]
    from lifedl.nn.sequence import SequenceInput

    strided = SequenceInput(embedding_dim=4, embedding_k=2, stride=2)
    features, mask = strided(codes)
    assert features.shape == (1, strided.length(5), 4) == (1, 2, 4) and mask is None


def test_attention_weights_are_distributions_over_positions():
    adata = split(simulate_sequences(SequenceSimulationParams(n_sequences=60, length=30, seed=4)))
    params = small("transformer", n_heads=4, n_layers=2, token_stride=1)
    setup = sequence.setup(adata, params, SPEC, seed=0, arch="transformer")
    model = setup.finish(FitResult({}, np.arange(10), np.arange(0)))
    maps = model.attention_maps(adata[:5])
    tokens = 30 - params["embedding_k"] + 1
    assert maps.shape == (2, 5, 4, tokens, tokens)
    assert (maps >= 0).all() and np.allclose(maps.sum(axis=-1), 1, atol=1e-5)
    with pytest.raises(LifedlError, match="has no attention"):
        sequence.setup(adata, small("bilstm"), SPEC, 0, "bilstm").finish(FitResult({}, [], [])).attention_maps(adata)


def test_reverse_complement_option_scores_both_strands_alike():
    from lifedl.data.sequences import reverse_complement

    adata = split(simulate_sequences(SequenceSimulationParams(n_sequences=60, length=30, seed=5)))
    params = {**PARAMS, "reverse_complement": True}
    network = sequence.setup(adata, params, SPEC, seed=0).network.eval()
    codes = torch.as_tensor(adata.X[:8].astype(np.int64))
    flipped = torch.as_tensor(reverse_complement(adata.X[:8]).astype(np.int64))
    torch.testing.assert_close(network(codes), network(flipped))
    one_strand = sequence.setup(adata, PARAMS, SPEC, seed=0).network.eval()
    assert not torch.allclose(one_strand(codes), one_strand(flipped))


def test_gradient_clipping_bounds_the_logged_norm(tmp_path):
    import lightning as L

    from lifedl.train.context import TrainingContext
    from lifedl.train.plans import fit_architecture

    class Epochs(L.Callback):
        def __init__(self):
            self.means = []

        def on_train_epoch_end(self, trainer, module):
            self.means.append(dict(module.epoch_means))

    adata = split(simulate_sequences(SequenceSimulationParams(n_sequences=300, length=30, seed=6)))
    logged = {}
    for clip in (0.0, 0.05):
        epochs = Epochs()
        context = TrainingContext(seed=0, work_dir=tmp_path / str(clip), callbacks=[epochs], accelerator="cpu")
        fit_architecture(adata, "bilstm", small("bilstm", max_epochs=3, gradient_clip=clip), context, SPEC)
        logged[clip] = epochs.means
    for means in logged[0.05]:
        assert means["train/grad_norm_max"] > 0.05  # the raw norm exceeds the threshold ...
        assert means["train/grad_norm_clipped_max"] <= 0.05 + 1e-6  # ... and no step applied more
    for means in logged[0.0]:  # no clipping: what is applied is the raw norm
        assert means["train/grad_norm_clipped_max"] == means["train/grad_norm_max"]


def test_a_transformer_too_long_for_memory_is_refused_before_allocating():
    """10 kb sequences used to try to allocate ~25 GB of attention weights; the message names the limit and a
    token_stride that fits."""
    params = get_architecture("transformer").defaults
    sequence.check_attention_memory(params, 100, "x.h5ad")  # sim_motif's length passes
    with pytest.raises(LifedlError, match=r"x.h5ad: .* 10000 letters attends over 4999 tokens: .* 47.7 GiB") as error:
        sequence.check_attention_memory(params, 10_000, "x.h5ad")
    stride = int(str(error.value).split("token_stride to ")[1].split()[0])
    sequence.check_attention_memory({**params, "token_stride": stride}, 10_000, "x.h5ad")  # the advice fits
