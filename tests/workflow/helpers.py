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
