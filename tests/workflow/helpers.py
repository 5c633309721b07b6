"""Helpers for running the workflow in a temporary working directory."""

import os
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).parent / "data"


def run_snakemake(repo: Path, workdir: Path, *args: str, env=None, timeout=900, cwd=None, **popen):
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(repo / "Snakefile"), "--directory", str(workdir)]
    command += ["--cores", "2", *args]
    environment = {**os.environ, "MLFLOW_TRACKING_URI": "", **(env or {})}  # the default local store
    if popen:
        return subprocess.Popen(
            command, env=environment, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **popen
        )
    return subprocess.run(command, capture_output=True, text=True, env=environment, timeout=timeout, cwd=cwd)


def make_tiny_workdir(repo: Path, workdir: Path) -> Path:
    """A working directory with the default config, and the tiny config (300 simulated cells) to merge over it."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = (DATA / "config.tiny.yaml").read_text().replace("DATASETS_SHEET", str(DATA / "datasets.tiny.tsv"))
    (workdir / "config.tiny.yaml").write_text(config)
    (workdir / "config").mkdir(exist_ok=True)
    (workdir / "config/config.yaml").write_text((repo / "config/config.yaml").read_text())
    return workdir / "config.tiny.yaml"


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_mlflow_server(root: Path, port: int, backend: str | None = None, workers: int = 1):
    """`mlflow server` on 127.0.0.1:port, its artifacts (and, without ``backend``, its SQLite store) under root,
    once it answers /health: (the process, its URI)."""
    import time

    import pytest
    import requests

    root.mkdir(parents=True, exist_ok=True)
    command = [
        str(Path(sys.executable).parent / "mlflow"),
        "server",
        *("--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)),
        *("--backend-store-uri", backend or f"sqlite:///{root / 'mlflow.db'}"),
        *("--artifacts-destination", str(root / "artifacts")),
    ]
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    with open(root / "server.log", "a") as log:  # the child keeps its own descriptor
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            if requests.get(f"{uri}/health", timeout=1).ok:
                return server, uri
        except requests.RequestException:
            pass
        if server.poll() is not None:
            pytest.fail((root / "server.log").read_text()[-2000:])
        time.sleep(0.25)
    stop_server(server)
    pytest.fail("mlflow server did not answer /health in 60 s")


def stop_server(server: subprocess.Popen, sig=None) -> None:
    import signal

    os.killpg(server.pid, sig or signal.SIGTERM)
    server.wait(timeout=30)
