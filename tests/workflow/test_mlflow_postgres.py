"""MLflow's tracking server on a PostgreSQL backend store, as clusters run it (scripts/local-postgres.sh;
docs/cluster.md): 50 jobs start at once against a new experiment, each logging its params, per-epoch metrics and
a model through lifedl's run recorder; every run finishes, every epoch's metric is there exactly once, and every
model loads back from the server's artifact store."""

import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from helpers import free_port, start_mlflow_server, stop_server
from mlflow.tracking import MlflowClient

from lifedl.models.base import load_model, save_checkpoint
from lifedl.models.graph import ColumnModel
from lifedl.train.tracking import tracked_run

pytestmark = pytest.mark.slow

N_JOBS, N_EPOCHS = 50, 10


def _job(uri: str, experiment: str, index: int, checkpoint: str) -> None:
    """One training job's logging, as lifedl.steps.train does it (tracked_run, log_params, log_metrics per epoch,
    log_artifact of the checkpoint), with a model that needs no training: the load is the server's, not torch's.
    Each job its own client and connections: to the server, 50 threads are 50 jobs."""
    with tracked_run(uri, experiment, f"job{index}", {"job": str(index)}) as run:
        run.log_params({"index": index, "n_epochs": N_EPOCHS})
        for epoch in range(N_EPOCHS):
            run.log_metrics({"train/loss": index + epoch / 100, "val/loss": index - epoch / 100}, step=epoch)
        save_checkpoint(ColumnModel({"column": f"job{index}"}), checkpoint)
        run.log_artifact(checkpoint, "checkpoints")


@pytest.fixture(scope="module")
def postgres(repo):
    script = repo / "scripts/local-postgres.sh"
    started = subprocess.run([str(script), "start"], capture_output=True, text=True, timeout=900)
    if started.returncode == 2:
        pytest.skip(f"no PostgreSQL: {started.stderr.strip()}")
    assert started.returncode == 0, started.stderr
    try:
        yield started.stdout.strip().splitlines()[-1]
    finally:
        subprocess.run([str(script), "stop"], capture_output=True, timeout=120)


def test_fifty_concurrent_jobs_lose_and_double_nothing(postgres, tmp_path):
    server, uri = start_mlflow_server(tmp_path / "server", free_port(), backend=postgres, workers=4)
    experiment = f"load-{uuid.uuid4().hex[:8]}"  # new: the jobs race to create it
    try:
        with ThreadPoolExecutor(N_JOBS) as pool:
            jobs = [
                pool.submit(_job, uri, experiment, index, str(tmp_path / f"job{index}.ckpt")) for index in range(N_JOBS)
            ]
        failed = [(index, repr(job.exception())[:800]) for index, job in enumerate(jobs) if job.exception()]
        assert not failed, failed

        client = MlflowClient(uri)
        found = client.get_experiment_by_name(experiment)
        runs = client.search_runs([found.experiment_id], max_results=1000)
        assert sorted(int(run.data.params["index"]) for run in runs) == list(range(N_JOBS))  # one run per job
        assert {run.info.status for run in runs} == {"FINISHED"}
        downloads = tmp_path / "downloads"
        for run in runs:
            index = int(run.data.params["index"])
            for key, sign in (("train/loss", 1), ("val/loss", -1)):
                history = client.get_metric_history(run.info.run_id, key)
                assert sorted(metric.step for metric in history) == list(range(N_EPOCHS)), (index, key)
                assert all(metric.value == pytest.approx(index + sign * metric.step / 100) for metric in history)
            local = client.download_artifacts(run.info.run_id, f"checkpoints/job{index}.ckpt", str(downloads))
            assert load_model(local).params == {"column": f"job{index}"}
    finally:
        stop_server(server)
