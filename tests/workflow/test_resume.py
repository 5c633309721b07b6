"""A training job killed with SIGKILL resumes from its last checkpoint and ends where an
uninterrupted run ends, exactly (CPU, same seed)."""

import json
import os
import signal
import time

import anndata as ad
import numpy as np
import torch
from helpers import make_tiny_workdir, run_snakemake
from mlflow.tracking import MlflowClient

from lifedl.models.base import load_model

TARGET = "results/tiny/models/vae/model.ckpt"

# Enough epochs (no early stop) that the kill lands mid-training.
LONG_TRAINING = "params:\n  vae: {max_epochs: 120, patience: 120, n_hidden: 32, n_latent: 4}\n"


def _configs(repo, workdir):
    tiny = make_tiny_workdir(repo, workdir)
    (workdir / "long.yaml").write_text(LONG_TRAINING)
    return [str(tiny), str(workdir / "long.yaml")]


def _last_checkpoint(workdir):
    found = list((workdir / "results/tiny/models/vae/checkpoints").glob("*/last.ckpt"))
    return found[0] if found else None


def _kill_mid_training(repo, workdir, configs, min_epoch=5):
    job = run_snakemake(repo, workdir, TARGET, "--configfile", *configs, start_new_session=True)
    deadline = time.time() + 300
    epoch = -1
    while time.time() < deadline and job.poll() is None:
        last = _last_checkpoint(workdir)
        if last is not None:
            try:
                epoch = torch.load(last, map_location="cpu", weights_only=False)["epoch"]
            except Exception:  # noqa: BLE001 - caught mid-write; try again
                epoch = -1
            if epoch >= min_epoch:
                break
        time.sleep(0.2)
    assert job.poll() is None, "training finished before it could be killed:\n" + job.stdout.read().decode()[-3000:]
    os.killpg(job.pid, signal.SIGKILL)
    job.wait()
    return epoch


def test_killed_training_resumes_and_matches_an_uninterrupted_run(repo, tmp_path):
    killed_dir, straight_dir = tmp_path / "killed", tmp_path / "straight"
    killed_configs, straight_configs = _configs(repo, killed_dir), _configs(repo, straight_dir)

    epoch_at_kill = _kill_mid_training(repo, killed_dir, killed_configs)
    assert not (killed_dir / TARGET).exists(), "a killed job must not leave a finished-looking model"
    assert run_snakemake(repo, killed_dir, "--unlock", "--configfile", *killed_configs).returncode == 0
    resumed = run_snakemake(repo, killed_dir, TARGET, "--rerun-incomplete", "--configfile", *killed_configs)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    log = (killed_dir / "results/tiny/logs/train_vae.log").read_text()
    assert "resuming from" in log and "continuing MLflow run" in log

    straight = run_snakemake(repo, straight_dir, TARGET, "--configfile", *straight_configs)
    assert straight.returncode == 0, straight.stderr[-3000:]

    cells = ad.read_h5ad(straight_dir / "results/tiny/qc.h5ad")
    resumed_model, straight_model = load_model(killed_dir / TARGET), load_model(straight_dir / TARGET)
    assert np.abs(resumed_model.embed(cells) - straight_model.embed(cells)).max() == 0
    assert resumed_model.final_metrics == straight_model.final_metrics
    assert 5 <= epoch_at_kill < resumed_model.final_metrics["epochs_trained"]

    # One MLflow run for the resumed training, FINISHED, with the epochs from before and after the kill.
    run = json.loads((killed_dir / "results/tiny/models/vae/run.json").read_text())
    assert run["mlflow_tracking_uri"] == "sqlite:///results/mlflow.db"  # relative: the project may move
    client = MlflowClient(f"sqlite:///{killed_dir / 'results/mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("tiny").experiment_id])
    assert [r.info.status for r in runs] == ["FINISHED"]
    steps = [m.step for m in client.get_metric_history(run["mlflow_run_id"], "val/loss")]
    assert sorted(steps) == list(range(120)), "each epoch logged once, none lost or repeated by the resume"
