import numpy as np
import pytest
import torch
from fast_training import FAST_PARAMS, fit

import lifedl
from lifedl.data import SimulationParams, simulate_counts
from lifedl.data.batches import batch_loader
from lifedl.errors import LifedlError
from lifedl.models import ARCHITECTURES, architectures_of_task, get_architecture

# the cell representations that run without a batch column and in lifedl's environment (the batch-correcting
# baselines: test_batch_baselines; the scvi-tools peers: tests/models/test_peers.py; snf, which uses the pca and ae:
# tests/models/test_network_fusion.py)
UNBATCHED = [
    a
    for a in architectures_of_task("representation", data_kind="cells")
    if not get_architecture(a).needs and not get_architecture(a).environment and not get_architecture(a).uses_models
]
from lifedl.models.base import load_model, save_checkpoint
from lifedl.models.vae import VAE


def test_vae_loss_falls_on_simulated_counts(small_counts):
    """A few hundred Adam steps on NB counts: the negative ELBO must fall well below its start."""
    torch.manual_seed(0)
    network = VAE(small_counts.n_vars, n_latent=5, n_hidden=64)
    optimiser = torch.optim.Adam(network.parameters(), lr=3e-3)
    loader = batch_loader({"counts": small_counts.layers["counts"]}, batch_size=64, shuffle=True, seed=0)
    epoch_losses = []
    for _ in range(15):
        total = 0.0
        for batch in loader:
            parts = network.loss(batch)
            loss = sum(parts.values())  # the training plan's loss: the sum of the named parts
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item() * len(batch["counts"])
        epoch_losses.append(total / small_counts.n_obs)
    assert set(parts) == {"reconstruction", "kl"}
    assert epoch_losses[-1] < 0.8 * epoch_losses[0]
    assert epoch_losses[-1] < min(epoch_losses[:3])


@pytest.mark.parametrize("arch", UNBATCHED)
def test_checkpoint_round_trip_embeds_new_cells_identically(arch, small_counts, tmp_path):
    params = get_architecture(arch).resolve_params(FAST_PARAMS[arch])
    model = fit(arch, small_counts, tmp_path / "work")
    save_checkpoint(model, tmp_path / "model.ckpt")
    state = torch.load(tmp_path / "model.ckpt", weights_only=False)
    # one format: the envelope every model's checkpoint shares (lifedl.models.base.TrainedModel), then its own fields
    assert list(state)[:4] == ["lifedl_arch", "arch", "params", "final_metrics"] and state["arch"] == arch
    loaded = load_model(tmp_path / "model.ckpt")
    # New cells from the same generative process, genes given in a shuffled order.
    new = simulate_counts(SimulationParams(n_cells=120, n_genes=300, n_types=4, seed=3, mean_library_size=1500))
    new = new[:, np.random.default_rng(0).permutation(new.n_vars)].copy()
    expected, actual = model.embed(new), loaded.embed(new)
    n_dims = {"pca": 8, "vega": len(small_counts.uns["gene_programs"])}.get(arch, params.get("n_latent"))
    assert expected.shape == (120, n_dims)
    np.testing.assert_array_equal(actual, expected)
    assert np.isfinite(actual).all() and actual.std() > 0


def test_vae_trains_on_the_split_and_bounds_the_test_likelihood(small_counts, tmp_path):
    model = lifedl.fit(small_counts, "vae", work_dir=tmp_path, seed=0, max_epochs=4, patience=4)
    metrics = model.final_metrics
    split = small_counts.obs["lifedl_split"]  # drawn in place by lifedl.fit: 20 % test, 20 % of the rest validates
    assert (split == "test").sum() == 80 and metrics["n_val_cells"] == 64 and metrics["n_train_cells"] == 256
    test = (split == "test").to_numpy()
    # a log-likelihood of counts is negative and of the order of (genes x log count) per cell
    assert -5000 < model.test_scores(small_counts[test], small_counts[~test])["test_iwae_per_cell"] < 0


def test_embedding_cells_without_the_model_genes_is_a_clear_error(small_counts, tmp_path):
    model = lifedl.fit(small_counts, "pca", work_dir=tmp_path, n_components=4)
    with pytest.raises(LifedlError, match="lack 10 of the model's 300 genes"):
        model.embed(small_counts[:, 10:].copy())


def test_registry_entries_import_and_have_defaults():
    for name, architecture in ARCHITECTURES.items():
        assert architecture.name == name and architecture.defaults


@pytest.mark.parametrize("arch", UNBATCHED)
def test_same_seed_gives_identical_embeddings_and_another_seed_differs(arch, small_counts, tmp_path):
    def embedding(seed, name):
        torch.manual_seed(12345 + len(name))  # disturb the global generator between runs
        np.random.seed(len(name))
        model = fit(arch, small_counts, tmp_path / name, seed=seed)
        return model.embed(small_counts)

    first, second = embedding(0, "a"), embedding(0, "bb")
    assert np.abs(first - second).max() == 0
    if arch != "pca":  # PCA has no randomness to change: the full SVD is exact
        assert np.abs(first - embedding(1, "ccc")).max() > 1e-3


@pytest.mark.parametrize("arch", ["pca_combat", "pca_harmony"])
def test_batch_baselines_mix_batches_that_pca_keeps_apart(arch, tmp_path):
    from lifedl.tl.metrics import knn_batch_entropy

    cells = simulate_counts(SimulationParams(n_cells=600, n_genes=200, n_types=3, n_batches=2, seed=4))
    cells.obs["batch"] = cells.obs["batch"].astype(str)
    plain = fit("pca", cells, tmp_path / "pca", roles={"batch": "batch"})
    corrected = fit(arch, cells, tmp_path / arch, roles={"batch": "batch"})
    entropy = {name: knn_batch_entropy(model.embed(cells), cells.obs["batch"]) for name, model in
               (("pca", plain), (arch, corrected))}  # fmt: skip
    assert entropy[arch] > entropy["pca"] + 0.2, entropy
    save_checkpoint(corrected, tmp_path / "model.ckpt")
    np.testing.assert_array_equal(load_model(tmp_path / "model.ckpt").embed(cells), corrected.embed(cells))
    with pytest.raises(LifedlError, match=r"needs the role\(s\) \['batch'\]"):
        fit(arch, cells, tmp_path / "none")  # no batch column named
