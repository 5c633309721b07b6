"""What each architecture promises beyond the shared contract."""

import numpy as np
import pandas as pd
import pytest
import torch
from fast_training import ValidationLosses, fit

from lifedl.data import SimulationParams, simulate_counts
from lifedl.models import get_architecture
from lifedl.tl.metrics import batch_asw

NEURAL = ["ae", "dae", "vae", "ldvae", "vega"]


def _train(arch, adata, tmp_path, batch_key="", callbacks=(), **overrides):
    return fit(arch, adata, tmp_path / arch, roles={"batch": batch_key}, callbacks=callbacks, **overrides)


@pytest.mark.parametrize("arch", NEURAL)
def test_validation_loss_falls_on_simulated_counts(arch, small_counts, tmp_path):
    losses = ValidationLosses()
    _train(arch, small_counts, tmp_path, callbacks=[losses.callback], max_epochs=15, patience=15, learning_rate=3e-3)
    assert len(losses.values) == 15
    assert min(losses.values[-3:]) < 0.95 * losses.values[0]  # the first value is after one epoch already


@pytest.mark.parametrize("likelihood", ["nb", "zinb", "poisson", "gaussian"])
def test_every_likelihood_trains_and_reports_test_bounds(likelihood, small_counts, tmp_path):
    model = _train("vae", small_counts, tmp_path, likelihood=likelihood)
    test = (small_counts.obs["lifedl_split"] == "test").to_numpy()  # the split fit_architecture drew
    scores = model.test_scores(small_counts[test], small_counts[~test])
    assert np.isfinite(scores["test_iwae_per_cell"]) and scores["iwae_samples"] == 100
    assert scores["test_iwae_per_cell"] > scores["test_elbo_per_cell"]  # the IWAE bound is the tighter


def test_ldvae_decoder_is_linear_in_the_latent_space(small_counts, tmp_path):
    model = _train("ldvae", small_counts, tmp_path)
    network = model.network
    z = torch.randn(7, network.decoder_out.in_features)
    logits, _ = network.decode(z, torch.zeros(7, dtype=torch.long))
    loadings = network.loadings()
    assert loadings.shape == (small_counts.n_vars, 4)
    torch.testing.assert_close(logits, z @ loadings.T + network.decoder_out.bias)
    # so the embedding AnnData carries the loadings
    annotated = small_counts.copy()
    model.annotate(annotated)
    np.testing.assert_array_equal(annotated.varm["loadings_ldvae"], loadings.numpy())


def test_vega_mask_gives_no_weight_outside_a_program(small_counts, tmp_path):
    model = _train("vega", small_counts, tmp_path)
    network, programs = model.network, model.programs
    assert programs == sorted(small_counts.uns["gene_programs"])[: len(programs)] or set(programs) <= set(
        small_counts.uns["gene_programs"]
    )
    weights = network.loadings().numpy()  # genes x programs
    members = {name: set(small_counts.uns["gene_programs"][name]) for name in programs}
    genes = list(small_counts.var_names)
    for p, name in enumerate(programs):
        outside = [i for i, g in enumerate(genes) if g not in members[name]]
        inside = [i for i, g in enumerate(genes) if g in members[name]]
        assert np.all(weights[outside, p] == 0) and np.any(weights[inside, p] != 0)
    # Moving one program's activity changes only the logits of its member genes.
    z = torch.zeros(1, len(programs))
    shifted = z.clone()
    shifted[0, 0] = 3.0
    batch = torch.zeros(1, dtype=torch.long)
    change = (network.decode(shifted, batch)[0] - network.decode(z, batch)[0]).abs()[0].detach().numpy()
    outside0 = [i for i, g in enumerate(genes) if g not in members[programs[0]]]
    assert np.all(change[outside0] == 0) and change.max() > 0


def test_batch_conditioned_vae_mixes_batches_better(tmp_path):
    adata = simulate_counts(
        SimulationParams(n_cells=1200, n_genes=300, n_types=3, n_batches=2, batch_effect_sd=0.8, seed=4)
    )
    settings = {"max_epochs": 80, "patience": 80, "n_hidden": 64, "n_latent": 6}
    plain = _train("vae", adata, tmp_path / "plain", **settings).embed(adata)
    conditioned_model = _train("vae", adata, tmp_path / "conditioned", batch_key="batch", **settings)
    assert conditioned_model.batch_categories == ["batch_0", "batch_1"]
    conditioned = conditioned_model.embed(adata)
    labels, batches = adata.obs["cell_type"], adata.obs["batch"]
    assert batch_asw(conditioned, batches, labels) > batch_asw(plain, batches, labels) + 0.02


def test_dae_writes_denoised_expression_and_recovers_hidden_entries(small_counts, tmp_path):
    model = _train("dae", small_counts, tmp_path, max_epochs=60, patience=60, learning_rate=3e-3)
    test = (small_counts.obs["lifedl_split"] == "test").to_numpy()  # cells the model never trained on
    metrics = model.test_scores(small_counts[test], small_counts[~test])
    assert metrics["denoise_hidden_entries"] > 50
    # Better than leaving the hidden entries at their corrupted value. (Whether it beats the per-gene mean
    # depends on how much of the data is cell-type structure; it is reported, not assumed.)
    assert metrics["denoise_mse_hidden_entries"] < 0.5 * metrics["denoise_mse_zero_baseline"]
    assert np.isfinite(metrics["denoise_mse_gene_mean_baseline"])
    annotated = small_counts.copy()
    model.annotate(annotated)
    assert annotated.layers["denoised_dae"].shape == small_counts.shape


def test_vega_positive_decoder_puts_each_program_highest_in_its_own_type(tmp_path):
    """On a simulation whose programs are each type's up-regulated genes, every program's activity is highest in
    the type whose genes form it: with non-negative weights an activity's sign means something (Seninge et al.)."""
    import lifedl

    cells = simulate_counts(SimulationParams(n_cells=600, n_genes=300, n_types=4, seed=5))
    model = lifedl.fit(cells, "vega", work_dir=tmp_path, max_epochs=100, patience=20, n_hidden=64)
    assert (model.network.loadings().numpy() >= 0).all()
    from lifedl.tl.enrichment import program_peaks

    activity = pd.DataFrame(model.embed(cells), columns=model.programs)
    peaks = program_peaks(activity, cells.obs["cell_type"].astype(str).to_numpy()).set_index("program")
    assert peaks["peak_label"].to_dict() == {f"type_{t}_up": f"type_{t}" for t in range(4)}
    assert (peaks["peak_z"] > 1).all()  # clearly highest, not by a hair


def test_peptides_get_their_alphabets_defaults_and_the_config_still_overrides_them():
    kmer, transformer = get_architecture("kmer"), get_architecture("transformer")
    assert kmer.resolve_params(None)["k_values"] == [1, 2, 3, 4, 5, 6]  # DNA: the entry's defaults
    peptides = kmer.resolve_params(None, alphabet="protein")
    assert peptides["k_values"] == [1, 2] and peptides["shorter_kmers"] is True
    assert kmer.resolve_params({"k_values": [1]}, alphabet="protein")["k_values"] == [1]
    assert transformer.resolve_params(None, alphabet="protein")["embedding_k"] == 1
    assert transformer.resolve_params(None, alphabet="DNA")["embedding_k"] == 4
