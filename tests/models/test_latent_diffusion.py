"""Latent diffusion (lifedl.models.diffusion) in a trained VAE's latent space: its loss falls, a cell type asked for
is the type generated, the same seed gives the same cells from a checkpoint alone, and the VAE stays as it was."""

import numpy as np
import pandas as pd
import pytest
import torch
from fast_training import ValidationLosses, fit

from lifedl.data import SimulationParams, simulate_counts
from lifedl.errors import LifedlError
from lifedl.models.base import load_model, save_checkpoint
from lifedl.models.diffusion import LatentDiffusionModel
from lifedl.pp.counts import log_normalise, model_counts

DIFFUSION = {"n_steps": 200, "n_hidden": 64, "max_epochs": 60, "patience": 60, "learning_rate": 3e-3}


@pytest.fixture(scope="module")
def cells():
    adata = simulate_counts(SimulationParams(n_cells=600, n_genes=150, n_types=3, seed=7, mean_library_size=1500))
    adata.obs["lifedl_split"] = pd.Categorical(np.repeat(["train", "validation", "test"], [420, 90, 90]))
    return adata


@pytest.fixture(scope="module")
def vae(cells, tmp_path_factory):
    # a VAE whose decoded latent means keep the types (at 40 epochs, 6 dimensions and dropout they did not)
    settings = {"max_epochs": 60, "patience": 60, "n_latent": 4, "n_hidden": 64, "dropout": 0.0, "learning_rate": 1e-2}
    return fit("vae", cells, tmp_path_factory.mktemp("vae"), **settings)


@pytest.fixture(scope="module")
def trained(cells, vae, tmp_path_factory):
    losses = ValidationLosses()
    before = {name: value.clone() for name, value in vae.network.state_dict().items()}
    model = fit(
        "latent_diffusion",
        cells,
        tmp_path_factory.mktemp("diffusion"),
        roles={"labels": "cell_type"},
        models={"vae": vae},
        callbacks=[losses.callback],
        conditional=True,
        **DIFFUSION,
    )
    return model.trained, losses.values, before


def test_the_noise_prediction_loss_falls_and_the_vae_is_left_as_it_was(trained, vae):
    model, losses, before = trained
    assert isinstance(model, LatentDiffusionModel) and model.cell_types == ["type_0", "type_1", "type_2"]
    assert min(losses[-5:]) < 0.8 * losses[0], losses
    after = vae.network.state_dict()
    assert all(torch.equal(before[name], after[name]) for name in before)


def _centroids(adata, labels, genes):
    expression = log_normalise(model_counts(adata, genes)).toarray()
    return {label: expression[labels == label].mean(axis=0) for label in sorted(set(labels))}


def test_the_type_asked_for_is_the_type_generated(trained, cells):
    """Each generated cell is nearest (log-normalised expression) to the real centroid of the type it was asked as."""
    model = trained[0]
    real = cells[(cells.obs["lifedl_split"] == "test").to_numpy()]
    centroids = _centroids(real, real.obs["cell_type"].astype(str).to_numpy(), model.gene_names)
    asked = np.repeat(model.cell_types, 40)
    generated = model.generate(len(asked), seed=1, cell_types=list(asked))
    assert list(generated.obs["cell_type"].astype(str)) == list(asked)
    assert np.allclose(generated.X.sum(axis=1), model.params["library_size"], rtol=1e-4)
    expression = np.log1p(generated.X / model.params["library_size"] * 1e4)
    names = list(centroids)
    nearest = np.array(names)[
        np.argmin([[np.square(cell - centroids[name]).sum() for name in names] for cell in expression], axis=1)
    ]
    assert (nearest == asked).mean() > 0.8


def test_prior_samples_are_counts_at_the_depths_given(trained):
    counts = trained[0].sample(50, np.full(50, 2000.0), seed=3)
    assert counts.shape == (50, 150) and counts.dtype.kind == "i" and (counts >= 0).all()
    assert 1000 < counts.sum(axis=1).mean() < 3000


def test_a_checkpoint_alone_generates_the_same_cells(trained, tmp_path):
    model = trained[0]
    save_checkpoint(model, tmp_path / "model.ckpt")
    again = load_model(tmp_path / "model.ckpt")
    np.testing.assert_array_equal(again.generate(30, seed=5).X, model.generate(30, seed=5).X)
    assert not np.array_equal(model.generate(30, seed=6).X, model.generate(30, seed=5).X)


def test_an_unconditioned_model_refuses_cell_types(cells, vae, tmp_path):
    model = fit("latent_diffusion", cells, tmp_path, models={"vae": vae}, max_epochs=2, n_steps=20)
    assert model.generate(10, seed=0).n_obs == 10
    with pytest.raises(LifedlError, match="conditional: false"):
        model.generate(2, seed=0, cell_types=["type_0", "type_1"])
