"""Training against a real `mlflow server` on 127.0.0.1: runs, per-epoch metrics, registered
models loaded back by name and version, and the runs in the dashboard rendered by Chromium."""

import json
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from helpers import free_port, start_mlflow_server, stop_server
from mlflow.tracking import MlflowClient

from lifedl import steps
from lifedl.data import SimulationParams, simulate_counts
from lifedl.models.base import load_model
from lifedl.pp import QCParams, run_qc
from lifedl.train.tracking import load_registered_model

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    server, uri = start_mlflow_server(tmp_path_factory.mktemp("mlflow-server"), free_port())
    try:
        yield uri
    finally:
        stop_server(server)


@pytest.fixture(scope="module")
def trained(mlflow_server, tmp_path_factory):
    """pca and vae trained against the server (the train rule's library call), vae twice."""
    directory = tmp_path_factory.mktemp("runs")
    adata = simulate_counts(SimulationParams(n_cells=300, n_genes=200, n_types=3, seed=5))
    qc_file = directory / "qc.h5ad"
    run_qc(adata, QCParams(min_genes=10, min_cells=1, n_top_genes=150, max_pct_mito=100)).write_h5ad(qc_file)
    params = {"pca": {"n_components": 8}, "vae": {"max_epochs": 12, "patience": 12, "n_hidden": 32, "n_latent": 4}}
    runs = {}
    for name, arch, seed in (("pca", "pca", 0), ("vae", "vae", 0), ("vae_again", "vae", 1)):
        model_dir = directory / name
        steps.train(
            str(qc_file),
            str(model_dir / "model.ckpt"),
            str(model_dir / "run.json"),
            steps.TrainSettings(
                arch, "server_test", params[arch], seed, mlflow_server, tags={"snakemake_rule": "train"}
            ),
        )
        runs[name] = json.loads((model_dir / "run.json").read_text()) | {"dir": model_dir}
    return qc_file, runs


def test_runs_metrics_and_tags_are_on_the_server(mlflow_server, trained):
    _, runs = trained
    client = MlflowClient(mlflow_server)
    experiment = client.get_experiment_by_name("server_test")
    on_server = {r.info.run_id: r for r in client.search_runs([experiment.experiment_id])}
    assert set(on_server) == {run["mlflow_run_id"] for run in runs.values()}
    for run in runs.values():
        record = on_server[run["mlflow_run_id"]]
        assert record.info.status == "FINISHED"
        assert {"dataset", "arch", "git_commit", "host", "snakemake_rule", "config_sha256"} <= set(record.data.tags)
        assert record.data.params["seed"] == str(run["seed"])
        artifacts = [a.path for a in client.list_artifacts(run["mlflow_run_id"], "checkpoints")]
        assert artifacts == ["checkpoints/model.ckpt"]
    history = client.get_metric_history(runs["vae"]["mlflow_run_id"], "val/reconstruction")
    assert sorted(m.step for m in history) == list(range(12))


def test_each_run_registers_a_new_version_that_loads_back_by_name(mlflow_server, trained):
    qc_file, runs = trained
    client = MlflowClient(mlflow_server)
    assert runs["vae"]["registered_model"] == "lifedl-server_test-vae"
    versions = sorted(int(v.version) for v in client.search_model_versions("name='lifedl-server_test-vae'"))
    assert versions == [1, 2]
    assert (runs["vae"]["registered_version"], runs["vae_again"]["registered_version"]) == ("1", "2")
    import anndata as ad

    cells = ad.read_h5ad(qc_file)
    for name in ("pca", "vae_again"):
        run = runs[name]
        registered = load_registered_model(mlflow_server, run["registered_model"], run["registered_version"])
        from_file = load_model(run["dir"] / "model.ckpt")
        assert np.abs(registered.embed(cells) - from_file.embed(cells)).max() == 0


def test_dashboard_lists_the_runs_with_datasets_and_models_in_a_browser(repo, mlflow_server, trained):
    installed = subprocess.run(
        ["bash", str(repo / "scripts/install-chromium.sh")], capture_output=True, text=True, timeout=900
    )
    if installed.returncode == 2:
        pytest.skip(f"chromium cannot be installed here: {installed.stderr.strip()}")
    assert installed.returncode == 0, installed.stderr
    experiment_id = MlflowClient(mlflow_server).get_experiment_by_name("server_test").experiment_id
    # MLflow 3.17 opens an experiment on the GenAI overview or the runs table by a per-browser switch
    # ("GenAI" / "Model training", kept in the browser's local storage); this link sets it
    page = f"{mlflow_server}/#/experiments/{experiment_id}/runs?workflowType=machine_learning"
    artifacts = repo / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    browser = [
        "chromium",
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--virtual-time-budget=8000",
        "--window-size=1400,900",
    ]
    profile = artifacts / "chromium-profile"
    dom = subprocess.run(
        [*browser, f"--user-data-dir={profile}", "--dump-dom", page], capture_output=True, text=True, timeout=120
    ).stdout
    (artifacts / "mlflow-runs.html").write_text(dom)
    shot = artifacts / "mlflow-runs.png"
    subprocess.run(
        [*browser, f"--user-data-dir={profile}", f"--screenshot={shot}", page], capture_output=True, timeout=120
    )
    assert shot.stat().st_size > 10_000
    assert "server_test" in dom
    for name in ("pca", "vae"):  # run names are rendered as links in the runs table
        assert f">{name}<" in dom, dom[:2000]
    # the Dataset column names the data file each run read, with its digest (the sha256 of qc.h5ad)
    digest = trained[1]["vae"]["input_sha256"]["qc.h5ad"]
    text = re.sub(r"\s*\|[\s|]*", "|", re.sub(r"<[^>]+>", "|", dom))
    assert "|Dataset|" in text and f"server_test ({digest[:16]}" in text
    # the Source and Models columns: each of the three runs, its rule and its logged pyfunc model
    assert "|Source|Models|" in text and text.count("|snakemake rule train|model|") == 3, text[:3000]


TRAIN_UNTIL_KILLED = """
import sys
from lifedl import steps
qc, out, uri = sys.argv[1:]
params = {"max_epochs": 300, "patience": 300, "n_hidden": 32, "n_latent": 4}
settings = steps.TrainSettings("vae", "killed", params, 0, uri, pyfunc=False)
steps.train(qc, f"{out}/model.ckpt", f"{out}/run.json", settings)
"""


def test_a_server_killed_during_training_fails_the_job_in_bounded_time_and_a_rerun_resumes(tmp_path):
    """The job used to sit at 0 % CPU for minutes (MLflow's retries, 120 s each); now it stops within 2 minutes
    with a message, and once the server is back the same command continues the run from its checkpoint."""
    adata = simulate_counts(SimulationParams(n_cells=300, n_genes=200, n_types=3, seed=5))
    qc_file = tmp_path / "qc.h5ad"
    run_qc(adata, QCParams(min_genes=10, min_cells=1, n_top_genes=150, max_pct_mito=100)).write_h5ad(qc_file)
    root, port = tmp_path / "server", free_port()
    server, uri = start_mlflow_server(root, port)
    command = [sys.executable, "-c", TRAIN_UNTIL_KILLED, str(qc_file), str(tmp_path / "vae"), uri]
    job = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        client = MlflowClient(uri)
        for _ in range(600):  # until 12 epochs are logged: a last.ckpt (every 10 epochs) exists to resume from
            runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
            if runs and len(client.get_metric_history(runs[0].info.run_id, "train/loss")) >= 12:
                break
            assert job.poll() is None, job.stdout.read()
            time.sleep(0.2)
        run_id = runs[0].info.run_id
        stop_server(server, signal.SIGKILL)
        killed = time.monotonic()
        output, _ = job.communicate(timeout=180)
        waited = time.monotonic() - killed
    finally:
        if job.poll() is None:
            job.kill()
    assert job.returncode != 0 and waited < 120, (waited, output[-2000:])
    assert f"MLflow tracking server {uri} stopped answering during the run" in output and "rerun the job" in output
    assert not (tmp_path / "vae/model.ckpt").exists()
    server, uri = start_mlflow_server(root, port)  # the same store back
    try:
        rerun = subprocess.run(command, capture_output=True, text=True, timeout=600)
        assert rerun.returncode == 0, rerun.stderr[-2000:]
        assert f"continuing MLflow run {run_id}" in rerun.stderr
        resumed = MlflowClient(uri).get_run(run_id)
        assert resumed.info.status == "FINISHED"
        assert json.loads((tmp_path / "vae/run.json").read_text())["mlflow_run_id"] == run_id
    finally:
        stop_server(server)
