"""MLflow: which store, one experiment per dataset, one run per (dataset, arch) training.

The default store is a SQLite file under results/ (shared/notes/mlflow.md: a file
store is refused by MLflow 3 and artifacts would otherwise land in ./mlruns).
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from lifedl.errors import LifedlError

MLFLOW_PARAM_LIMIT = 6000  # characters MLflow stores per param value


DEFAULT_STORE_DIRECTORY = Path("results")


def resolve_tracking_uri(configured: str | None, results_dir: str | os.PathLike = DEFAULT_STORE_DIRECTORY) -> str:
    """config ``mlflow.tracking_uri`` > ``MLFLOW_TRACKING_URI`` > ``sqlite:///<results>/mlflow.db``.

    Relative ``results_dir`` gives a relative URI (from the working directory), so a moved or re-cloned
    project keeps finding its store. The workflow resolves it inside each job, not as a rule parameter:
    where the runs are logged must not make Snakemake retrain anything."""
    if configured:
        return configured
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    return f"sqlite:///{Path(results_dir) / 'mlflow.db'}"


# Stores MLflow 3 writes to: a database (SQLAlchemy URIs) or a server; a plain path or file:// is its file
# store, which MLflow 3 refuses (maintenance mode) with an exception about migration.
TRACKING_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql", "http", "https", "databricks")


def check_tracking_uri(tracking_uri: str, where: str = "mlflow.tracking_uri in config/config.yaml") -> None:
    """A tracking URI MLflow 3 can log to; a directory (its old file store) is refused with the fix."""
    scheme = tracking_uri.partition(":")[0].partition("+")[0].lower() if ":" in tracking_uri else tracking_uri
    if scheme not in TRACKING_SCHEMES:
        name = Path(tracking_uri.removeprefix("file://")).name or "mlflow"
        raise LifedlError(
            f"{where} is '{tracking_uri}', a directory (MLflow's file store, which MLflow 3 no longer writes). Use "
            f"a database, e.g. sqlite:///results/{name}.db, or a tracking server's http(s):// address; leave it "
            "empty for the local store sqlite:///results/mlflow.db."
        )


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
    if not database.parent.is_dir():
        if database.parent != DEFAULT_STORE_DIRECTORY:  # the workflow's own results/ it may make; not others
            raise LifedlError(
                f"MLflow store {tracking_uri}: its directory {database.parent} does not exist. Create it, or fix "
                "mlflow.tracking_uri in config/config.yaml (or MLFLOW_TRACKING_URI); empty both for the local "
                "store sqlite:///results/mlflow.db."
            )
        database.parent.mkdir(parents=True, exist_ok=True)
    with open(database.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# A server that stops answering mid-run fails the request within about 100 s (4 tries of at most 20 s, 2 + 4 + 8 s
# apart) instead of MLflow's default minutes of retries with a 120 s timeout each; a user's own settings win.
SERVER_PATIENCE = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "2",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
}


def check_server(tracking_uri: str, timeout_s: float = 5.0) -> None:
    """Fail in seconds, not after MLflow's minutes of retries, when a tracking server does not answer; bound
    how long any later request waits for it (SERVER_PATIENCE)."""
    if not tracking_uri.startswith(("http://", "https://")):
        return
    import requests

    for name, value in SERVER_PATIENCE.items():
        os.environ.setdefault(name, value)

    try:
        requests.get(tracking_uri.rstrip("/") + "/health", timeout=timeout_s).raise_for_status()
    except requests.RequestException as error:
        raise LifedlError(
            f"MLflow tracking server {tracking_uri} does not answer ({type(error).__name__}). Start it, fix "
            "mlflow.tracking_uri in config/config.yaml (or MLFLOW_TRACKING_URI), or set both to empty to use "
            "the local store sqlite:///results/mlflow.db."
        ) from None


def get_client(tracking_uri: str):
    from mlflow.tracking import MlflowClient

    check_tracking_uri(tracking_uri, "the MLflow tracking URI (mlflow.tracking_uri or MLFLOW_TRACKING_URI)")
    check_server(tracking_uri)
    database = _sqlite_path(tracking_uri)
    new_store = database is not None and not database.exists()
    with _store_lock(tracking_uri):
        try:
            client = MlflowClient(tracking_uri)
            client.search_experiments(max_results=1)  # creates and migrates a new store under the lock
        except Exception as error:
            if database is None:
                raise
            if new_store:  # a half-made database would fail every later job in another way
                database.unlink(missing_ok=True)
            cause = (str(getattr(error, "orig", "")) or str(error)).splitlines()[0]
            raise LifedlError(
                f"cannot create or open the MLflow store {database}: {cause}. Free disk space on that file system "
                "(or make it writable), or point mlflow.tracking_uri in config/config.yaml elsewhere, then rerun; "
                "nothing was trained."
            ) from error
    return client


# MLflow 3's UI opens an experiment without this tag on its GenAI overview; with it, on the runs table.
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}


def experiment_id(client, name: str, tracking_uri: str) -> str:
    with _store_lock(tracking_uri):
        experiment = client.get_experiment_by_name(name)
        if experiment is not None:
            for key, value in EXPERIMENT_KIND.items():  # experiments made before the tag was set
                if experiment.tags.get(key) != value:
                    client.set_experiment_tag(experiment.experiment_id, key, value)
            return experiment.experiment_id
        artifact_location = None
        database = _sqlite_path(tracking_uri)
        if database is not None:  # keep artifacts beside the database, not in ./mlruns
            artifact_location = (database.parent / "mlartifacts" / name).resolve().as_uri()
        from mlflow.exceptions import MlflowException

        try:
            return client.create_experiment(name, artifact_location=artifact_location, tags=EXPERIMENT_KIND)
        except MlflowException as error:
            # a server has no lock between jobs: the cluster's first jobs of a data set create it at once, and
            # all but one are told it exists (caught by the concurrent jobs' test against PostgreSQL)
            if error.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
            return client.get_experiment_by_name(name).experiment_id


EPOCH_METRIC_PREFIXES = ("train/", "val/", "realism/")


class RunRecorder:
    """Logs to one MLflow run by id (also after the run has finished, e.g. from the evaluate rule)."""

    def __init__(self, client, run_id: str):
        self.client, self.run_id = client, run_id

    def log_params(self, params: Mapping[str, object]) -> None:
        logged = self.client.get_run(self.run_id).data.params  # a continued run has them already
        for key, value in params.items():
            if key not in logged:
                self.client.log_param(self.run_id, key, str(value)[:MLFLOW_PARAM_LIMIT])

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """All in one request (one database transaction per epoch, not one per metric)."""
        from mlflow.entities import Metric
        from mlflow.exceptions import MlflowException

        timestamp = int(time.time() * 1000)
        batch = [
            Metric(key, float(value), timestamp, step or 0)
            for key, value in metrics.items()
            if not math.isnan(value)  # MLflow rejects NaN in some stores; a missing metric says the same
        ]
        if not batch:
            return
        try:
            self.client.log_batch(self.run_id, metrics=batch)
        except MlflowException as error:
            uri = self.client.tracking_uri
            if not uri.startswith(("http://", "https://")):
                raise
            tries = os.environ.get("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "?")
            raise LifedlError(
                f"MLflow tracking server {uri} stopped answering during the run (step {step}; {tries} retries "
                f"failed: {str(error).splitlines()[0][:200]}). The job stops here. Start the server again and "
                "rerun the job: it resumes from its last checkpoint in the same MLflow run."
            ) from None

    def logged_steps(self, key: str) -> set[int]:
        """The steps (epochs) at which metric ``key`` has been logged."""
        return {metric.step for metric in self.client.get_metric_history(self.run_id, key)}

    def epoch_history(self):
        """The run's per-epoch metrics (train/*, val/*, and realism/* where measured) as a table: one row per epoch,
        one column per metric (empty where a metric was not measured that epoch)."""
        import pandas as pd

        keys = [k for k in self.client.get_run(self.run_id).data.metrics if k.startswith(EPOCH_METRIC_PREFIXES)]
        rows = [(m.step, key, m.value) for key in keys for m in self.client.get_metric_history(self.run_id, key)]
        long = pd.DataFrame(rows, columns=["epoch", "key", "value"])
        wide = long.pivot_table(index="epoch", columns="key", values="value", aggfunc="last")
        return wide.sort_index(axis=1).reset_index().rename_axis(columns=None)

    def log_artifact(self, path: str | os.PathLike, artifact_path: str | None = None) -> None:
        try:
            self.client.log_artifact(self.run_id, str(path), artifact_path)
        except OSError as error:  # a full or read-only artifact store: say which, and that the run failed
            store = self.client.get_run(self.run_id).info.artifact_uri
            raise LifedlError(
                f"cannot copy {path} into the run's MLflow artifacts at {store}: {error.strerror or error}. Free "
                "disk space there (or make it writable), then rerun; this run is marked FAILED."
            ) from error

    def log_input(self, path: str | os.PathLike, name: str, digest: str, context: str = "training") -> None:
        """The data file the run read, as an MLflow dataset (the runs table's Dataset column)."""
        import warnings

        from mlflow.data.dataset_source_registry import resolve_dataset_source
        from mlflow.data.meta_dataset import MetaDataset
        from mlflow.entities import DatasetInput, InputTag
        from mlflow.exceptions import MlflowException

        with warnings.catch_warnings():  # two registered local sources match a path; they are the same class
            warnings.simplefilter("ignore", UserWarning)
            source = resolve_dataset_source(str(Path(path).resolve()))
        dataset = MetaDataset(source=source, name=name, digest=digest[:36])
        tags = [InputTag("mlflow.data.context", context)]
        inputs = [DatasetInput(dataset._to_mlflow_entity(), tags=tags)]
        try:
            self.client.log_inputs(self.run_id, datasets=inputs)
        except MlflowException as error:
            # Two jobs starting together on one SQL store both find the data set missing and both insert it;
            # the loser's transaction is rolled back, and logging again finds the winner's row.
            if "UNIQUE constraint failed: datasets" not in str(error):
                raise
            self.client.log_inputs(self.run_id, datasets=inputs)

    def set_tags(self, tags: Mapping[str, str]) -> None:
        for key, value in tags.items():
            self.client.set_tag(self.run_id, key, str(value))


def _unfinished_run_id(client, run_id: str | None) -> str | None:
    """``run_id`` if that run exists and did not finish (a killed job's run, to be continued)."""
    if not run_id:
        return None
    from mlflow.exceptions import MlflowException

    try:
        run = client.get_run(run_id)
    except MlflowException:
        return None
    return run_id if run.info.status != "FINISHED" and run.info.lifecycle_stage == "active" else None


@contextlib.contextmanager
def tracked_run(
    tracking_uri: str,
    experiment: str,
    run_name: str,
    tags: Mapping[str, str],
    continue_run_id: str | None = None,
    restart_reason: str = "",
) -> Iterator[RunRecorder]:
    """An MLflow run, marked FINISHED on success and FAILED on any error (also KeyboardInterrupt).

    ``continue_run_id`` names the run of an interrupted job: if it exists and did not finish,
    it is reopened, so a resumed training keeps one run with one metric history. With a
    ``restart_reason`` (the job cannot resume: its checkpoint is gone or unreadable) that run is
    marked FAILED instead and the new run names it, so no epoch is logged twice in one run.
    """
    client = get_client(tracking_uri)
    earlier_run_id = _unfinished_run_id(client, continue_run_id)
    if earlier_run_id and not restart_reason:
        run_id = earlier_run_id
        client.update_run(run_id, status="RUNNING")
        print(f"continuing MLflow run {run_id}", file=sys.stderr, flush=True)
    else:
        if earlier_run_id:
            tags = {**tags, "lifedl.restarts_run": earlier_run_id, "lifedl.restart_reason": restart_reason}
        run_id = client.create_run(
            experiment_id(client, experiment, tracking_uri), run_name=run_name, tags=dict(tags)
        ).info.run_id
        if earlier_run_id:
            client.set_tag(earlier_run_id, "lifedl.restarted_as", run_id)
            client.set_terminated(earlier_run_id, "FAILED")
            print(f"MLflow run {earlier_run_id} marked FAILED; training again as run {run_id}", file=sys.stderr)
    try:
        yield RunRecorder(client, run_id)
    except BaseException:
        from mlflow.exceptions import MlflowException

        try:  # one quick try: the server may be what made the job fail
            with _patience(MLFLOW_HTTP_REQUEST_MAX_RETRIES="0", MLFLOW_HTTP_REQUEST_TIMEOUT="5"):
                client.set_terminated(run_id, "FAILED")
        except MlflowException as error:  # keep the job's own error
            print(f"MLflow run {run_id} could not be marked FAILED ({type(error).__name__})", file=sys.stderr)
        raise
    client.set_terminated(run_id, "FINISHED")


@contextlib.contextmanager
def _patience(**settings: str) -> Iterator[None]:
    """MLflow's HTTP settings (read per request) changed for the requests inside the block only."""
    before = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def open_run(tracking_uri: str, run_id: str) -> RunRecorder:
    return RunRecorder(get_client(tracking_uri), run_id)


def should_register(setting: str | bool, tracking_uri: str) -> bool:
    """config ``mlflow.register_models``: ``auto`` registers on a tracking server only (a local run's dozen
    registered models would clutter the registry of a store nobody shares); true or false everywhere."""
    if setting == "auto":
        return tracking_uri.startswith(("http://", "https://"))
    if isinstance(setting, bool):
        return setting
    raise LifedlError(f"mlflow.register_models must be auto, true or false, got {setting!r}")


def registered_model_name(dataset: str, arch: str) -> str:
    return f"lifedl-{dataset}-{arch}"


def register_model(recorder: RunRecorder, name: str, artifact_path: str = "model") -> str:
    """A new version of registered model ``name``: this run's pyfunc model (``lifedl.train.pyfunc``), which
    ``mlflow.pyfunc.load_model(f"models:/{name}/{version}")`` loads in any MLflow client."""
    from mlflow.exceptions import MlflowException

    client = recorder.client
    try:
        client.create_registered_model(
            name, description="lifedl model: mlflow.pyfunc.load_model(...).predict(counts table) embeds cells"
        )
    except MlflowException as error:
        if error.error_code != "RESOURCE_ALREADY_EXISTS":  # another job registered it first
            raise
    source = f"{client.get_run(recorder.run_id).info.artifact_uri}/{artifact_path}"
    return client.create_model_version(name, source=source, run_id=recorder.run_id).version


def load_registered_model(tracking_uri: str, name: str, version: str | int):
    """Load a registered lifedl model by name and version (from a local store or a server)."""
    import tempfile

    import mlflow.artifacts

    from lifedl.models.base import load_model

    source = get_client(tracking_uri).get_model_version(name, str(version)).source
    with tempfile.TemporaryDirectory() as directory:
        local = mlflow.artifacts.download_artifacts(artifact_uri=source, dst_path=directory, tracking_uri=tracking_uri)
        return load_model(Path(local) / "artifacts" / "model.ckpt")  # where the pyfunc model keeps it
