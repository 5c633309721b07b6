"""TF-IDF + LSI and the PeakVI-like VAE through lifedl.fit: the depth component left out, embeddings of every
cell, and models that come back from their checkpoints."""

import numpy as np
import pytest
from fast_training import fit

from lifedl.data.chromatin import PeakSimulationParams, simulate_peaks
from lifedl.data.spec import DatasetSpec
from lifedl.pp.chromatin import peak_qc


@pytest.fixture(scope="module")
def peaks():
    adata = simulate_peaks(PeakSimulationParams(n_cells=300, n_peaks=800, n_types=3, seed=4))
    adata.uns["lifedl_dataset"] = DatasetSpec("atac", kind="peaks", labels="cell_type").to_uns()
    return peak_qc(adata, min_regions=5, min_cells=3, n_top_regions=600, where="test")


def test_peak_qc_keeps_the_most_open_regions_as_counts(peaks):
    raw = simulate_peaks(PeakSimulationParams(n_cells=300, n_peaks=800, n_types=3, seed=4))
    detected = np.asarray((raw.layers["counts"] > 0).sum(axis=0)).ravel()
    assert peaks.n_vars == min(600, int((detected >= 3).sum()))  # open in >= 3 cells, at most the 600 most open
    assert peaks.var["n_cells"].min() >= max(3, np.sort(detected)[-peaks.n_vars])
    assert (peaks.X != peaks.layers["counts"]).nnz == 0 and "kept" in peaks.uns["qc"]["summary"]


@pytest.mark.parametrize("arch", ["lsi", "peak_vae"])
def test_accessibility_models_embed_every_cell_and_come_back(peaks, tmp_path, arch):
    from lifedl.models.base import load_model, save_checkpoint

    model = fit(arch, peaks, tmp_path, roles={"labels": "cell_type"})
    embedding = model.embed(peaks)
    assert embedding.shape[0] == peaks.n_obs and np.isfinite(embedding).all()
    if arch == "lsi":  # the first component follows depth and is left out
        assert model.final_metrics["components_dropped_for_depth"] >= 1
        assert abs(model.final_metrics["first_component_depth_correlation"]) > 0.75
    save_checkpoint(model, tmp_path / "m.ckpt")
    np.testing.assert_allclose(load_model(tmp_path / "m.ckpt").embed(peaks), embedding, rtol=1e-5, atol=1e-6)
