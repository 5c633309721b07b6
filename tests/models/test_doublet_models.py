"""The doublet detectors (lifedl.models.doublets) on planted doublets: they score without the labels, SOLO's loss
falls, each finds heterotypic doublets above chance, and a checkpoint alone scores new cells the same."""

import numpy as np
import pytest
from fast_training import ValidationLosses, fit

from lifedl.data import SimulationParams, simulate_counts
from lifedl.data.doublets import DoubletParams, plant_doublets
from lifedl.data.spec import DatasetSpec
from lifedl.data.splits import add_splits
from lifedl.models.base import load_model, save_checkpoint
from lifedl.tl.doublets import doublet_metrics

SOURCE = "doublets:rate=0.15,types=cell_type,seed=0:simulated:n_cells=460,n_genes=300,n_types=4,seed=3"


@pytest.fixture(scope="module")
def planted():
    cells = simulate_counts(SimulationParams(n_cells=460, n_genes=300, n_types=4, seed=3, mean_library_size=1500))
    adata = plant_doublets(cells, DoubletParams(rate=0.15, types="cell_type", seed=0))
    spec = DatasetSpec("planted", source=SOURCE, labels="doublet")
    adata.uns["lifedl_dataset"] = spec.to_uns()
    add_splits(adata, spec)
    return adata


@pytest.fixture(scope="module")
def vae(planted, tmp_path_factory):
    return fit(
        "vae", planted, tmp_path_factory.mktemp("vae"), max_epochs=40, patience=40, n_latent=8, learning_rate=1e-2
    )


def _test_scores(model, adata):
    test = adata[(adata.obs["lifedl_split"] == "test").to_numpy()]
    scores = model.doublet_scores(test)
    assert scores.shape == (test.n_obs,) and np.isfinite(scores).all()
    return doublet_metrics(test.obs["doublet"], scores, test.obs["doublet_kind"])


@pytest.mark.parametrize("arch", ["library_size", "scrublet"])
def test_the_baselines_find_heterotypic_doublets(planted, tmp_path, arch):
    model = fit(arch, planted, tmp_path)
    scores = _test_scores(model, planted)
    assert scores["auroc_heterotypic"] > 0.75, scores
    assert 0 <= model.final_metrics["val_auroc"] <= 1


def test_solo_learns_simulated_doublets_from_the_vae_latent(planted, vae, tmp_path):
    losses = ValidationLosses()
    model = fit(
        "solo",
        planted,
        tmp_path,
        models={"vae": vae},
        callbacks=[losses.callback],
        max_epochs=30,
        patience=30,
        learning_rate=1e-2,
    )
    assert losses.values[-1] < losses.values[0]
    scores = _test_scores(model, planted)
    assert scores["auroc_heterotypic"] > 0.75, scores
    save_checkpoint(model, tmp_path / "solo.ckpt")
    again = load_model(tmp_path / "solo.ckpt")
    np.testing.assert_allclose(again.doublet_scores(planted[:50]), model.doublet_scores(planted[:50]), rtol=1e-6)


def test_the_reconstruction_error_keeps_the_scale_the_validation_cells_prefer(planted, vae, tmp_path, capsys):
    model = fit("recon_error", planted, tmp_path, models={"vae": vae})
    assert model.scale in ("cell", "count") and "kept per" in capsys.readouterr().out
    other = "count" if model.scale == "cell" else "cell"
    alternative = fit("recon_error", planted, tmp_path / "other", models={"vae": vae}, scales=[other])
    assert model.final_metrics["val_auroc"] >= alternative.final_metrics["val_auroc"]
    save_checkpoint(model, tmp_path / "recon.ckpt")
    np.testing.assert_allclose(
        load_model(tmp_path / "recon.ckpt").doublet_scores(planted), model.doublet_scores(planted)
    )
