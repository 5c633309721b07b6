"""The notebook API (lifedl.fit / Model / lifedl.load) on an AnnData in memory, as a notebook uses it."""

import tempfile
from pathlib import Path

import numpy as np
import pytest

import lifedl
from lifedl.data import SimulationParams, simulate_counts
from lifedl.data.spec import UNS_KEY, DatasetSpec
from lifedl.errors import LifedlError

SMALL = SimulationParams(n_cells=200, n_genes=80, n_types=3, n_batches=2, seed=7, mean_library_size=1000)
# Ten epochs: the run's own directory gets its last.ckpt (written every 10 epochs).
VAE = {"max_epochs": 10, "patience": 10, "n_hidden": 16, "n_latent": 3, "batch_size": 64}


@pytest.fixture
def cells():
    return simulate_counts(SMALL)


@pytest.fixture
def empty_cwd(tmp_path, monkeypatch):
    """An empty current directory that the test checks stays empty."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


def test_two_fits_in_one_folder_each_get_a_directory_of_their_own(cells, tmp_path, empty_cwd, capsys):
    runs = tmp_path / "runs"
    first = lifedl.fit(cells, "vae", work_dir=runs, seed=0, **VAE)
    second = lifedl.fit(cells, "vae", work_dir=runs, seed=0, **VAE)
    assert "resuming from" not in capsys.readouterr().err  # the second fit did not pick up the first's last.ckpt
    own = {Path(first.work_dir), Path(second.work_dir)}
    assert len(own) == 2 and set(runs.iterdir()) == own and all(path.is_dir() for path in own)
    for model in (first, second):
        assert (Path(model.work_dir) / "last.ckpt").is_file()
        assert model.final_metrics["epochs_trained"] == VAE["max_epochs"]  # trained from the start, all epochs
    # the same seed and data: the same model, so the second fit was a fresh run, not a continuation
    assert first.final_metrics == second.final_metrics
    assert list(empty_cwd.iterdir()) == []


def test_without_a_work_dir_the_fit_leaves_no_file_behind(cells, tmp_path, empty_cwd, monkeypatch):
    system_tmp = tmp_path / "system_tmp"
    system_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_tmp))
    model = lifedl.fit(cells, "vae", seed=0, **VAE)
    assert model.work_dir is None and model.embed(cells).shape == (cells.n_obs, VAE["n_latent"])
    assert list(system_tmp.iterdir()) == []  # its checkpoints went with the fit
    assert list(empty_cwd.iterdir()) == []


def test_embed_writes_obsm_and_a_saved_model_embeds_identically(cells, tmp_path, empty_cwd):
    model = lifedl.fit(cells, "vae", work_dir=tmp_path / "runs", seed=0, **VAE)
    assert repr(model).startswith("lifedl.Model('vae'")
    embedding = model.embed(cells)
    assert embedding.shape == (SMALL.n_cells, VAE["n_latent"]) and np.isfinite(embedding).all()
    np.testing.assert_array_equal(cells.obsm["X_vae"], embedding)
    model.embed(cells, key="X_mine")
    np.testing.assert_array_equal(cells.obsm["X_mine"], embedding)
    # attributes of the trained model are reachable on the wrapper
    assert model.network is model.trained.network and model.params["n_latent"] == VAE["n_latent"]

    model.save(tmp_path / "vae.ckpt")
    loaded = lifedl.load(tmp_path / "vae.ckpt")
    assert isinstance(loaded, lifedl.Model) and loaded.arch == "vae"
    assert loaded.final_metrics == model.final_metrics
    again = simulate_counts(SMALL)
    np.testing.assert_array_equal(loaded.embed(again), embedding)
    np.testing.assert_array_equal(again.obsm["X_vae"], embedding)
    assert list(empty_cwd.iterdir()) == []


def test_roles_come_from_the_data_and_keyword_arguments_override_them(cells, tmp_path):
    one_epoch = {**VAE, "max_epochs": 1, "patience": 1}
    # no roles anywhere: not batch-conditioned
    assert lifedl.fit(cells, "vae", work_dir=tmp_path, **one_epoch).batch_categories == []
    # the roles stored with the data (as the workflow's files carry them)
    cells.uns[UNS_KEY] = DatasetSpec(id="sim", labels="cell_type", batch="batch").to_uns()
    assert lifedl.fit(cells, "vae", work_dir=tmp_path, **one_epoch).batch_categories == ["batch_0", "batch_1"]
    # roles= overrides them
    assert lifedl.fit(cells, "vae", work_dir=tmp_path, roles={"batch": ""}, **one_epoch).batch_categories == []


def test_unknown_or_mistyped_hyper_parameters_are_errors_naming_them(cells, tmp_path):
    runs = tmp_path / "runs"
    with pytest.raises(LifedlError, match=r"lifedl.fit\(\.\.\., 'vae'\) keyword arguments: .*\['n_latnet'\]"):
        lifedl.fit(cells, "vae", work_dir=runs, n_latnet=3)
    with pytest.raises(LifedlError, match="hyper-parameter 'max_epochs' of 'vae' must be of type int"):
        lifedl.fit(cells, "vae", work_dir=runs, max_epochs="ten")
    with pytest.raises(LifedlError, match="unknown architecture 'vea'"):
        lifedl.fit(cells, "vea", work_dir=runs)
    assert not runs.exists()  # checked before anything is written


def test_errors_about_the_data_name_the_anndata_passed_to_fit(cells, tmp_path):
    cells.layers["counts"] = cells.layers["counts"] * 0.5
    with pytest.raises(LifedlError, match=r"the AnnData passed to lifedl.fit layers\['counts'\].*non-integer"):
        lifedl.fit(cells, "vae", work_dir=tmp_path, **VAE)


@pytest.mark.parametrize(
    "roles, message",
    [
        ({"labels": "celltype"}, r"labels='celltype' names no obs column of the data, which has \['cell_type'"),
        ({"label": "cell_type"}, r"unknown role\(s\) \['label'\]; the roles are \['labels', 'batch'"),
        ({"labels": "cell_type", "heldout": "type_9"}, r"heldout='type_9' is not a value of obs\['cell_type'\]"),
    ],
)
def test_roles_naming_what_the_data_lacks_are_refused_before_training(cells, tmp_path, roles, message):
    """A misspelt labels column trained a PCA without a word, and an unknown role was a TypeError."""
    with pytest.raises(LifedlError, match=r"lifedl.fit\(..., roles=...\): " + message):
        lifedl.fit(cells, "pca", roles=roles, work_dir=tmp_path, n_components=3)
    assert not list(tmp_path.iterdir()) and "lifedl_split" not in cells.obs  # stopped before any fit or split


def test_a_scanpy_user_gets_counts_from_x_a_history_threads_back_and_tab_completion(cells, tmp_path):
    """Counts in X (layer='X'), per-epoch losses, torch's threads restored, fit/load visible to dir()."""
    import torch

    in_x = cells.copy()
    in_x.X = in_x.layers.pop("counts")
    before = torch.get_num_threads()
    model = lifedl.fit(in_x, "vae", layer="X", work_dir=tmp_path, threads=1, **VAE)
    assert torch.get_num_threads() == before and "counts" not in in_x.layers  # the user's object keeps its layout
    assert "lifedl_split" in in_x.obs  # the split is written where the user looks for it
    history = model.history
    assert list(history["epoch"]) == list(range(len(history))) and history["val/loss"].notna().all()
    assert {"fit", "load", "Model"} <= set(dir(lifedl))
    with pytest.raises(LifedlError, match=r"layer='raw'\): the AnnData has no such layer"):
        lifedl.fit(in_x, "vae", layer="raw", work_dir=tmp_path / "none", **VAE)


def test_a_failed_fit_leaves_no_folder_behind(cells, tmp_path):
    normalised = cells.copy()
    normalised.layers["counts"] = normalised.layers["counts"] * 0.5
    with pytest.raises(LifedlError, match="non-integer"):
        lifedl.fit(normalised, "vae", work_dir=tmp_path, **VAE)
    assert list(tmp_path.iterdir()) == []
