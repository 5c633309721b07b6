"""The workflow parses, and plans every job with its conda environment, where only Snakemake is installed:
what a cluster user running ``snakemake --sdm conda`` has before any environment exists."""

import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

# Answers the three questions Snakemake asks conda before it plans a dry run. conda itself cannot be
# installed here (no conda channel is reachable); a real conda on PATH is used instead where there is one.
CONDA_PROBE = """#!/bin/sh
case "$*" in
  "info --json") echo '{"conda_version": "24.11.3", "conda_prefix": "/nonexistent", "envs_dirs": [], "platform": "linux-64"}' ;;
  "--version") echo "conda 24.11.3" ;;
  "config --get channel_priority --json") echo '{"get": {"channel_priority": "strict"}}' ;;
  *) echo "conda probe: '$*' is not answered here" >&2; exit 1 ;;
esac
"""


def test_parse_module_imports_only_the_standard_library_and_yaml():
    """What common.smk imports at parse time pulls in none of the analysis stack."""
    code = (
        "import sys; import lifedl.config, lifedl.figures, lifedl.models; "
        "print(sorted(m for m in ('pandas', 'numpy', 'scipy', 'torch', 'anndata', 'scanpy', 'mlflow', 'lightning') "
        "if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


@pytest.fixture(scope="session")
def snakemake_only_venv(repo):
    """A virtual environment with Snakemake (the lock's version) and nothing else, kept between runs."""
    pin = next(line for line in (repo / "requirements.lock").read_text().splitlines() if line.startswith("snakemake=="))
    venv = repo / ".cache" / f"venv-{pin.replace('==', '-')}-only"
    python = venv / "bin" / "python"
    if not (venv / ".installed").is_file():
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        install = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", pin], capture_output=True, text=True, timeout=600
        )
        if install.returncode != 0:
            pytest.skip(f"cannot install {pin} from the package index here: {install.stderr.strip()[-300:]}")
        (venv / ".installed").touch()
    return venv


@pytest.mark.slow
def test_dry_run_with_conda_deployment_needs_only_snakemake(repo, tmp_path, snakemake_only_venv):
    python = snakemake_only_venv / "bin" / "python"
    # the environment really holds no lifedl and no pandas
    missing = subprocess.run(
        [str(python), "-c", "import importlib.util as u; print([m for m in ('lifedl', 'pandas') if u.find_spec(m)])"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert missing.stdout.strip() == "[]"
    work = tmp_path / "work"
    (work / "config").mkdir(parents=True)
    for name in ("config.yaml", "datasets.tsv"):
        shutil.copy(repo / "config" / name, work / "config" / name)
    path = [str(snakemake_only_venv / "bin")]
    if shutil.which("conda") is None:
        probe = tmp_path / "bin" / "conda"
        probe.parent.mkdir()
        probe.write_text(CONDA_PROBE)
        probe.chmod(probe.stat().st_mode | stat.S_IXUSR)
        path.append(str(probe.parent))
    environment = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    environment["PATH"] = os.pathsep.join([*path, "/usr/bin", "/bin"])
    result = subprocess.run(
        [
            str(snakemake_only_venv / "bin" / "snakemake"),
            "--snakefile",
            str(repo / "Snakefile"),
            "--directory",
            str(work),
            "-n",
            "--sdm",
            "conda",
            "--cores",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
        cwd=tmp_path,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    # every stage's environment is planned, and the whole default run with it
    for env_file in ("envs/data.yaml", "envs/train.yaml", "envs/report.yaml"):
        assert re.search(rf"Conda environment \S*{env_file} will be created", output), output[-2000:]
    total = re.search(r"^total\s+(\d+)", output, re.MULTILINE)
    assert total and int(total.group(1)) > 50, output[-2000:]
    assert "download" in output and "train" in output and "report" in output
    assert not Path(work, "results").exists()  # a dry run
