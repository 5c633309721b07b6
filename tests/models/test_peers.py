"""scvi-tools' SCVI as a peer architecture: trained in its own environment on the same split, embedding and scoring
through the same interface. The end-to-end test needs that environment (`make bench-venv`) and skips without it."""

import numpy as np
import pytest

from lifedl.errors import LifedlError
from lifedl.models import get_architecture, peers
from lifedl.models.base import load_model, save_checkpoint
from lifedl.models.peers import PEER_PYTHON_VARIABLE, peer_cells, peer_python


def test_without_scvi_tools_environment_the_error_says_how_to_make_one(monkeypatch, tmp_path):
    monkeypatch.setenv(PEER_PYTHON_VARIABLE, str(tmp_path / "no" / "python"))
    with pytest.raises(LifedlError, match=r"does not exist; run `make bench-venv`"):
        peer_python()


def test_the_peers_output_reaches_a_workflow_jobs_log(monkeypatch, tmp_path):
    """In a job, stderr is a tee to the log with no file descriptor (subprocess could not hand it to the child: the
    first make reproduce with peers stopped there); the peer's lines are relayed into the log."""
    import sys

    from lifedl.logs import logged

    monkeypatch.setenv(peers.PEER_PYTHON_VARIABLE, sys.executable)  # this environment stands in for scvi-tools'
    log = tmp_path / "job.log"
    with pytest.raises(SystemExit), logged(str(log)):
        peers.run_peer("no_such_command")
    text = log.read_text()
    assert "no_such_command" in text.split("lifedl error")[0]  # the child's own output, relayed
    assert "the scvi-tools peer's 'no_such_command' failed (exit" in text


def test_the_cells_a_peer_reads_keep_the_models_genes_batch_and_split(small_counts):
    small_counts.obs["lifedl_split"] = "train"
    genes = list(small_counts.var_names[::-1][:50])  # the model's order, not the data's
    cells = peer_cells(small_counts, genes, "batch", [])
    assert list(cells.var_names) == genes and cells.layers["counts"].shape == (small_counts.n_obs, 50)
    assert set(cells.obs.columns) == {"batch", "lifedl_split"}
    np.testing.assert_array_equal(cells.layers["counts"][:, 0].toarray().ravel(),
                                  small_counts[:, genes[0]].layers["counts"].toarray().ravel())  # fmt: skip


def _peer_environment() -> bool:
    try:
        peer_python()
    except LifedlError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.skipif(not _peer_environment(), reason="no scvi-tools environment (make bench-venv)")
def test_scvi_trains_on_the_split_embeds_and_bounds_the_test_cells(small_counts, tmp_path):
    import lifedl

    params = {"max_epochs": 5, "patience": 5, "n_latent": 4, "n_hidden": 32}
    model = lifedl.fit(small_counts, "scvi", work_dir=tmp_path, roles={"labels": "cell_type"}, **params)
    split = small_counts.obs["lifedl_split"]
    assert model.final_metrics["n_train_cells"] == (split == "train").sum()
    assert model.final_metrics["n_val_cells"] == (split == "validation").sum()
    test = (split == "test").to_numpy()
    embedding = model.embed(small_counts[test])
    assert embedding.shape == (test.sum(), 4) and np.isfinite(embedding).all()
    scores = model.test_scores(small_counts[test], small_counts[~test])
    assert -5000 < scores["test_iwae_per_cell"] < 0
    save_checkpoint(model, tmp_path / "model.ckpt")  # the checkpoint holds scvi-tools' files: it embeds alone
    np.testing.assert_allclose(load_model(tmp_path / "model.ckpt").embed(small_counts[test]), embedding, rtol=1e-5)
    assert get_architecture("scvi").environment == "peer"  # so the workflow logs no pyfunc model for it


@pytest.mark.skipif(not _peer_environment(), reason="no scvi-tools environment (make bench-venv)")
def test_totalvi_trains_with_its_own_network_sizes_and_embeds_the_test_cells(tmp_path):
    """TOTALVI takes encoder and decoder depths, not n_layers (the first make reproduce with peers stopped there)."""
    import lifedl
    from lifedl.data import SimulationParams, simulate_counts

    cells = simulate_counts(SimulationParams(n_cells=200, n_genes=60, n_types=4, n_batches=2, n_proteins=6, seed=2))
    params = {"max_epochs": 3, "patience": 3, "n_latent": 4, "n_hidden": 16}
    roles = {"labels": "cell_type", "batch": "batch"}
    model = lifedl.fit(cells, "totalvi", work_dir=tmp_path, roles=roles, **params)
    test = (cells.obs["lifedl_split"] == "test").to_numpy()
    embedding = model.embed(cells[test])
    assert embedding.shape == (test.sum(), 4) and np.isfinite(embedding).all()
    assert set(get_architecture("totalvi").defaults) >= {"n_layers_encoder", "n_layers_decoder"}


@pytest.mark.skipif(not _peer_environment(), reason="no scvi-tools environment (make bench-venv)")
def test_peakvi_trains_on_accessibility_with_its_own_sizes_and_embeds_the_test_cells(tmp_path):
    """PEAKVI takes no network sizes from lifedl (its own, from the number of regions) and reads the region counts."""
    import lifedl
    from lifedl.data.chromatin import PeakSimulationParams, simulate_peaks
    from lifedl.data.spec import DatasetSpec

    cells = simulate_peaks(PeakSimulationParams(n_cells=200, n_peaks=400, n_types=3, seed=2))
    cells.uns["lifedl_dataset"] = DatasetSpec("atac", kind="peaks", labels="cell_type").to_uns()
    model = lifedl.fit(cells, "peakvi", work_dir=tmp_path, roles={"labels": "cell_type"}, max_epochs=3, patience=3)
    test = (cells.obs["lifedl_split"] == "test").to_numpy()
    embedding = model.embed(cells[test])
    # PEAKVI's latent size: sqrt(its hidden width), the width sqrt(400 regions) = 20 -> 4
    assert embedding.shape == (test.sum(), 4) and np.isfinite(embedding).all()
    assert model.final_metrics["n_train_cells"] == (cells.obs["lifedl_split"] == "train").sum()
    save_checkpoint(model, tmp_path / "model.ckpt")
    np.testing.assert_allclose(load_model(tmp_path / "model.ckpt").embed(cells[test]), embedding, rtol=1e-5)


@pytest.mark.skipif(not _peer_environment(), reason="no scvi-tools environment (make bench-venv)")
def test_scvi_maps_a_query_by_scarches_and_embeds_reference_and_query(tmp_path):
    """scvi_scarches: SCVI on the reference's cells, load_query_data and the query's training in the peer's
    environment; the saved query model embeds cells of both batches, and the surgery's seconds are kept."""
    import lifedl
    from lifedl.data import SimulationParams, simulate_counts

    cells = simulate_counts(SimulationParams(n_cells=300, n_genes=80, n_types=3, n_batches=2, seed=4))
    batches = cells.obs["batch"].astype(str)
    cells.obs["condition"] = np.where(batches == min(batches), "control", "query")
    roles = {"labels": "cell_type", "condition": "condition", "control": "control"}
    params = {"max_epochs": 3, "query_max_epochs": 3, "patience": 3, "n_latent": 4, "n_hidden": 16}
    model = lifedl.fit(cells, "scvi_scarches", work_dir=tmp_path, roles=roles, **params)
    embedding = model.embed(cells)
    assert embedding.shape == (cells.n_obs, 4) and np.isfinite(embedding).all()
    assert model.final_metrics["fit_seconds"] > 0 and model.final_metrics["n_query_cells"] > 0
    save_checkpoint(model, tmp_path / "model.ckpt")
    np.testing.assert_allclose(load_model(tmp_path / "model.ckpt").embed(cells), embedding, rtol=1e-5)


@pytest.mark.slow
@pytest.mark.skipif(not _peer_environment(), reason="no scvi-tools environment (make bench-venv)")
def test_scvi_solo_scores_new_cells_with_the_training_cells_and_finds_planted_doublets(tmp_path):
    """scvi_solo: SCVI on the training cells, then SOLO on them and the cells to score (one sample), in the peer's
    environment; the test cells get a doublet probability each, and a checkpoint alone gives the same."""
    import lifedl
    from lifedl.data import SimulationParams, simulate_counts
    from lifedl.data.doublets import DoubletParams, plant_doublets
    from lifedl.data.spec import DatasetSpec
    from lifedl.tl.doublets import doublet_metrics

    cells = simulate_counts(SimulationParams(n_cells=460, n_genes=300, n_types=4, seed=3, mean_library_size=1500))
    planted = plant_doublets(cells, DoubletParams(rate=0.15, types="cell_type", seed=0))
    source = "doublets:rate=0.15,types=cell_type,seed=0:simulated:n_cells=460,n_genes=300,n_types=4,seed=3"
    planted.uns["lifedl_dataset"] = DatasetSpec("planted", source=source, labels="doublet").to_uns()
    params = {"max_epochs": 30, "patience": 30, "n_latent": 8, "n_hidden": 32, "solo_max_epochs": 30}
    model = lifedl.fit(planted, "scvi_solo", work_dir=tmp_path, **params)
    test = planted[(planted.obs["lifedl_split"] == "test").to_numpy()]
    scores = model.doublet_scores(test)
    assert scores.shape == (test.n_obs,) and ((scores >= 0) & (scores <= 1)).all()
    # above chance on the heterotypic doublets (two types' profiles) of the test cells
    assert doublet_metrics(test.obs["doublet"], scores, test.obs["doublet_kind"])["auroc_heterotypic"] > 0.6
    save_checkpoint(model, tmp_path / "model.ckpt")
    np.testing.assert_allclose(load_model(tmp_path / "model.ckpt").doublet_scores(test), scores, atol=1e-6)
