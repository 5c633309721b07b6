"""Multiome: the simulator's two planted single-modality pairs, and the joint VAE's loss falls."""

import numpy as np
import torch

from lifedl.data import SimulationParams, simulate_counts
from lifedl.nn.multiome import RnaAtacVAE


def test_the_simulation_plants_a_pair_only_each_modality_separates():
    cells = simulate_counts(SimulationParams(n_cells=600, n_genes=200, n_types=5, n_peaks=400, seed=3))
    peaks = cells.obsm["peak_counts"].toarray() > 0
    assert peaks.shape == (600, 400) and 0.01 < peaks.mean() < 0.15
    labels = cells.obs["cell_type"].astype(str).to_numpy()
    profile = {t: peaks[labels == t].mean(axis=0) for t in sorted(set(labels))}
    # types 1 and 2 (the RNA-only pair) open the same regions; types 3 and 4 (the peaks-only pair) do not
    assert np.corrcoef(profile["type_1"], profile["type_2"])[0, 1] > 0.9
    own_of_3 = np.asarray(cells.uns["peak_opened_by"]) == "type_3"
    assert profile["type_3"][own_of_3].mean() > 2 * profile["type_4"][own_of_3].mean()
    assert "type_2" not in set(cells.uns["peak_opened_by"])  # its own regions are those of type 1
    rna = np.log1p(cells.layers["counts"].toarray())
    mean = {t: rna[labels == t].mean(axis=0) for t in sorted(set(labels))}
    assert np.corrcoef(mean["type_3"], mean["type_4"])[0, 1] > np.corrcoef(mean["type_1"], mean["type_2"])[0, 1]
    assert set(cells.obs["separated_by"]) == {"both", "rna", "peaks"}
    without = simulate_counts(SimulationParams(n_cells=600, n_genes=200, n_types=5, seed=3, n_proteins=0))
    assert "peak_counts" not in without.obsm


def test_the_joint_vae_loss_falls_on_tiny_data():
    torch.manual_seed(0)
    cells = simulate_counts(SimulationParams(n_cells=200, n_genes=100, n_types=4, n_peaks=200, seed=1))
    batch = {
        "counts": torch.tensor(cells.layers["counts"].toarray(), dtype=torch.float32),
        "peaks": torch.tensor(cells.obsm["peak_counts"].toarray(), dtype=torch.float32),
    }
    network = RnaAtacVAE(100, 200, n_latent=4, n_hidden=32)
    optimiser = torch.optim.Adam(network.parameters(), lr=1e-2)
    losses = []
    for _ in range(60):
        optimiser.zero_grad()
        loss = sum(network.loss(batch).values())
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert np.mean(losses[-5:]) < 0.85 * np.mean(losses[:5])  # the NB part keeps its counts' own entropy
    assert network.embed(batch["counts"], batch["peaks"]).shape == (200, 4)


def test_the_multiome_model_embeds_through_lifedl_fit_and_comes_back(tmp_path):
    from fast_training import fit

    from lifedl.models.base import load_model, save_checkpoint

    cells = simulate_counts(SimulationParams(n_cells=200, n_genes=80, n_types=4, n_peaks=150, seed=2))
    model = fit("multiome_vae", cells, tmp_path, roles={"labels": "cell_type"})
    embedding = model.embed(cells)
    assert embedding.shape == (200, model.params["n_latent"]) and np.isfinite(embedding).all()
    save_checkpoint(model, tmp_path / "m.ckpt")
    np.testing.assert_allclose(load_model(tmp_path / "m.ckpt").embed(cells), embedding, rtol=1e-5, atol=1e-6)
