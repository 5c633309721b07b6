"""Models are registered on a tracking server only, unless configured; figures go to the runs they show."""

import json
from pathlib import Path

import pytest

from lifedl import steps
from lifedl.data import SimulationParams, simulate_counts
from lifedl.errors import LifedlError
from lifedl.pp.qc import QCParams, run_qc
from lifedl.train.tracking import should_register


def test_auto_registers_on_a_server_only():
    assert should_register("auto", "http://127.0.0.1:5000") and should_register("auto", "https://mlflow.org")
    assert not should_register("auto", "sqlite:///results/mlflow.db")
    assert should_register(True, "sqlite:///results/mlflow.db") and not should_register(False, "http://x:5000")
    with pytest.raises(LifedlError, match="auto, true or false"):
        should_register("yes", "http://x:5000")


def _train_pca(tmp_path, params, register) -> Path:
    """pca trained on a small simulation into tmp_path/pca, tracked in tmp_path/mlflow.db; its model folder."""
    adata = simulate_counts(SimulationParams(n_cells=120, n_genes=80, n_types=2, seed=1))
    qc_file = tmp_path / "qc.h5ad"
    run_qc(adata, QCParams(min_genes=5, min_cells=1, n_top_genes=60, max_pct_mito=100)).write_h5ad(qc_file)
    model_dir = tmp_path / "pca"
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    steps.train(
        str(qc_file),
        str(model_dir / "model.ckpt"),
        str(model_dir / "run.json"),
        steps.TrainSettings("pca", "local", params, 0, store, register=register),
    )
    return model_dir


@pytest.mark.parametrize("register", ["auto", True])
def test_a_local_run_logs_its_model_and_registers_it_only_when_asked(register, tmp_path):
    import mlflow
    import mlflow.pyfunc

    model_dir = _train_pca(tmp_path, {"n_components": 5}, register)
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    run = json.loads((model_dir / "run.json").read_text())
    client = mlflow.MlflowClient(store)
    registered = [model.name for model in client.search_registered_models()]
    assert run["mlflow_model_uri"].startswith("runs:/")  # logged in its run either way
    mlflow.set_tracking_uri(store)
    try:
        assert mlflow.pyfunc.load_model(run["mlflow_model_uri"]).metadata.signature is not None
    finally:
        mlflow.set_tracking_uri(None)
    if register == "auto":
        assert registered == [] and run["registered_model"] == ""
    else:
        assert registered == ["lifedl-local-pca"] and str(run["registered_version"]) == "1"


def test_a_bad_register_setting_stops_before_training(tmp_path):
    with pytest.raises(LifedlError, match="register_models must be auto, true or false"):
        _train_pca(tmp_path, None, "yes")
    assert not (tmp_path / "pca" / "model.ckpt").exists() and not (tmp_path / "mlflow.db").exists()


def test_a_figure_goes_to_the_runs_of_the_architectures_it_shows():
    archs = ["pca", "vae", "ldvae", "cnn", "cnn_mc_dropout"]
    assert steps.figure_archs("results/d/figures/vae_interpolation.png", archs) == ["vae"]
    assert steps.figure_archs("results/d/figures/ldvae_loadings.png", archs) == ["ldvae"]
    assert steps.figure_archs("results/d/figures/cnn_mc_dropout_calibration.png", archs) == ["cnn_mc_dropout"]
    assert steps.figure_archs("results/d/figures/umap.png", archs) == archs  # a data set's figure: every run
    # a panel goes to the runs of the architectures naming it (registry order), not to every run
    assert steps.figure_archs("results/d/figures/embedding_panel.png", ["vae", "ae", "pca", "cnn"]) == [
        "pca",
        "ae",
        "vae",
    ]


def test_a_data_set_two_jobs_log_at_once_is_logged_by_both(tmp_path):
    """Two training jobs starting together on a new store both insert the data set; the loser logs it again."""
    from mlflow.exceptions import MlflowException

    from lifedl.train.tracking import RunRecorder, get_client

    client = get_client(f"sqlite:///{tmp_path / 'mlflow.db'}")
    run_id = client.create_run(client.create_experiment("race")).info.run_id
    data = tmp_path / "qc.h5ad"
    data.write_bytes(b"cells")

    class LosesTheRaceOnce:
        def __init__(self, error: str):
            self.error, self.calls = error, 0

        def __getattr__(self, name):
            return getattr(client, name)

        def log_inputs(self, *args, **kwargs):
            self.calls += 1
            if self.calls == 1:
                raise MlflowException(self.error)
            return client.log_inputs(*args, **kwargs)

    racing = LosesTheRaceOnce(
        "(sqlite3.IntegrityError) UNIQUE constraint failed: datasets.experiment_id, datasets.name"
    )
    RunRecorder(racing, run_id).log_input(data, name="sim", digest="abc123")
    assert racing.calls == 2
    assert [d.dataset.name for d in client.get_run(run_id).inputs.dataset_inputs] == ["sim"]
    with pytest.raises(MlflowException, match="database is locked"):
        RunRecorder(LosesTheRaceOnce("database is locked"), run_id).log_input(data, name="sim", digest="abc123")


def test_the_pyfunc_model_takes_integer_counts_and_refuses_normalised_values(tmp_path):
    """The README's example passes integer counts (MLflow refused int64 against a float32 signature); a
    log-normalised table is refused by the same check as model.embed and every fit, naming the cause."""
    import mlflow
    import mlflow.pyfunc
    import numpy as np
    import pandas as pd

    import lifedl

    model_dir = _train_pca(tmp_path, {"n_components": 5}, False)
    run = json.loads((model_dir / "run.json").read_text())
    model = lifedl.load(str(model_dir / "model.ckpt"))
    adata = simulate_counts(SimulationParams(n_cells=20, n_genes=80, n_types=2, seed=2))
    counts = adata[:, model.gene_names].layers["counts"]
    table = pd.DataFrame(np.asarray(counts.todense(), dtype=np.int64), columns=model.gene_names)
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        pyfunc = mlflow.pyfunc.load_model(run["mlflow_model_uri"])
        embedded = pyfunc.predict(table)
        np.testing.assert_allclose(embedded.to_numpy(), model.embed(adata[:, model.gene_names]), rtol=1e-5, atol=1e-5)
        logged = np.log1p(table / table.sum(axis=1).to_numpy()[:, None] * 1e4)
        with pytest.raises(Exception, match="non-integer values .*raw integer UMI counts"):
            pyfunc.predict(logged)
    finally:
        mlflow.set_tracking_uri(None)
    normalised = adata.copy()
    normalised.layers["counts"] = np.log1p(normalised.layers["counts"].toarray())
    with pytest.raises(LifedlError, match="non-integer values"):
        model.embed(normalised)
    with pytest.raises(LifedlError, match="non-integer values"):
        lifedl.fit(normalised, "pca", n_components=3, work_dir=tmp_path / "fit")


def test_a_table_or_cells_naming_a_gene_twice_are_refused(tmp_path):
    import pandas as pd

    import lifedl
    from lifedl.train.pyfunc import LifedlModel

    adata = simulate_counts(SimulationParams(n_cells=60, n_genes=40, n_types=2, seed=3))
    model = lifedl.fit(adata, "pca", n_components=3, work_dir=tmp_path)
    table = pd.DataFrame(adata.layers["counts"].toarray(), columns=list(adata.var_names))
    wrapper = LifedlModel()
    wrapper.model = model.trained
    with pytest.raises(LifedlError, match=r"names 1 column\(s\) more than once \(e.g. \['MT-SIM1'\]\)"):
        wrapper.predict(None, pd.concat([table, table.iloc[:, :1]], axis=1))
    twice = adata[:, [*adata.var_names, adata.var_names[0]]].copy()  # a gene's column repeated
    with pytest.raises(LifedlError, match=r"name 1 of the model's genes more than once"):
        model.embed(twice)
