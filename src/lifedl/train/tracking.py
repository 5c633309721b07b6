"""MLflow: which store, one experiment per dataset, one run per (dataset, arch) training.

The default store is a SQLite file under results/ (shared/notes/mlflow.md: a file
store is refused by MLflow 3 and artifacts would otherwise land in ./mlruns).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator, Mapping
from pathlib import Path


MLFLOW_PARAM_LIMIT = 6000  # characters MLflow stores per param value


def resolve_tracking_uri(configured: str | None, results_dir: str | os.PathLike = "results") -> str:
    """config ``mlflow.tracking_uri`` > ``MLFLOW_TRACKING_URI`` > ``sqlite:///<results>/mlflow.db``."""
    if configured:
        return configured
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    return f"sqlite:///{Path(results_dir).resolve() / 'mlflow.db'}"


def _sqlite_path(tracking_uri: str) -> Path | None:
    return Path(tracking_uri.removeprefix("sqlite:///")) if tracking_uri.startswith("sqlite:///") else None


@contextlib.contextmanager
def _store_lock(tracking_uri: str) -> Iterator[None]:
    """Serialise store creation and experiment creation between parallel jobs on one SQLite file
    (two processes migrating a fresh database at once corrupt it)."""
    database = _sqlite_path(tracking_uri)
    if database is None:
        yield
        return
    database.parent.mkdir(parents=True, exist_ok=True)
    with open(database.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def get_client(tracking_uri: str):
    from mlflow.tracking import MlflowClient

    with _store_lock(tracking_uri):
        client = MlflowClient(tracking_uri)
        client.search_experiments(max_results=1)  # creates and migrates a new store under the lock
    return client


def experiment_id(client, name: str, tracking_uri: str) -> str:
    with _store_lock(tracking_uri):
        experiment = client.get_experiment_by_name(name)
        if experiment is not None:
            return experiment.experiment_id
        artifact_location = None
        database = _sqlite_path(tracking_uri)
        if database is not None:  # keep artifacts beside the database, not in ./mlruns
            artifact_location = (database.parent / "mlartifacts" / name).resolve().as_uri()
        return client.create_experiment(name, artifact_location=artifact_location)


class RunRecorder:
    """Logs to one MLflow run by id (also after the run has finished, e.g. from the evaluate rule)."""

    def __init__(self, client, run_id: str):
        self.client, self.run_id = client, run_id

    def log_params(self, params: Mapping[str, object]) -> None:
        for key, value in params.items():
            self.client.log_param(self.run_id, key, str(value)[:MLFLOW_PARAM_LIMIT])

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        for key, value in metrics.items():
            if value == value:  # MLflow rejects NaN in some stores; a missing metric says the same
                self.client.log_metric(self.run_id, key, float(value), step=step or 0)

    def log_artifact(self, path: str | os.PathLike, artifact_path: str | None = None) -> None:
        self.client.log_artifact(self.run_id, str(path), artifact_path)

    def set_tags(self, tags: Mapping[str, str]) -> None:
        for key, value in tags.items():
            self.client.set_tag(self.run_id, key, str(value))


@contextlib.contextmanager
def tracked_run(tracking_uri: str, experiment: str, run_name: str, tags: Mapping[str, str]) -> Iterator[RunRecorder]:
    """A new MLflow run, marked FINISHED on success and FAILED on any error (also KeyboardInterrupt)."""
    client = get_client(tracking_uri)
    run = client.create_run(experiment_id(client, experiment, tracking_uri), run_name=run_name, tags=dict(tags))
    recorder = RunRecorder(client, run.info.run_id)
    try:
        yield recorder
    except BaseException:
        client.set_terminated(run.info.run_id, "FAILED")
        raise
    client.set_terminated(run.info.run_id, "FINISHED")


def open_run(tracking_uri: str, run_id: str) -> RunRecorder:
    return RunRecorder(get_client(tracking_uri), run_id)
