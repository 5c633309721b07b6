"""`snakemake --profile slurm` on a real one-node SLURM started by scripts/local-slurm.sh."""

import json
import os
import re
import subprocess

import pandas as pd
import pytest
from helpers import make_tiny_workdir, run_snakemake

pytestmark = [pytest.mark.slurm, pytest.mark.slow]


@pytest.fixture(scope="module")
def local_slurm(repo, tmp_path_factory):
    state = tmp_path_factory.mktemp("slurm")
    env = {**os.environ, "LIFEDL_SLURM_DIR": str(state)}
    started = subprocess.run(
        ["bash", str(repo / "scripts/local-slurm.sh"), "start"], env=env, capture_output=True, text=True, timeout=900
    )
    if started.returncode == 2:
        pytest.skip(f"no local SLURM possible here: {started.stderr.strip()}")
    assert started.returncode == 0, started.stderr
    yield {"SLURM_CONF": str(state / "slurm.conf")}
    stopped = subprocess.run(
        ["bash", str(repo / "scripts/local-slurm.sh"), "stop"], env=env, capture_output=True, text=True, timeout=60
    )
    assert stopped.returncode == 0, stopped.stderr
    daemons = subprocess.run(["ps", "-eo", "comm"], capture_output=True, text=True).stdout.split()
    assert not {"slurmctld", "slurmd"} & set(daemons), "stop must end the daemons it started"


def test_profile_runs_the_tiny_workflow_through_slurm(repo, tmp_path, local_slurm):
    """The tiny workflow through SLURM, its VAE trained data-parallel (training.devices: 2, two gloo processes
    in one SLURM job: the jobstep executor runs a job as one srun task, and Lightning starts the second process)."""
    workdir = tmp_path / "work"
    config = make_tiny_workdir(repo, workdir)
    data_parallel = workdir / "data_parallel.yaml"
    data_parallel.write_text("training: {accelerator: cpu, devices: 2}\n")
    # Typed as a user would from the repository root: `--profile slurm` finds ./slurm -> profiles/slurm.
    result = run_snakemake(
        repo,
        workdir,
        *("--profile", "slurm", "--configfile", str(config), str(data_parallel)),
        env=local_slurm,
        cwd=repo,
        timeout=1200,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-5000:]

    results = workdir / "results"
    table = pd.read_csv(results / "tiny/metrics.tsv", sep="\t")
    assert list(table["arch"]) == ["pca", "vae"] and table["nmi"].notna().all()
    for path in ("report.html", "tiny/models/vae/model.ckpt", "tiny/embeddings/vae.h5ad", "tiny/figures/umap.png"):
        assert (results / path).stat().st_size > 0
    vae = json.loads((results / "tiny/models/vae/run.json").read_text())
    assert vae["final_metrics"]["training_processes"] == 2  # the process group had both
    train_jobs = [block for block in log.split("rule ")[1:] if block.startswith("train:")]
    assert train_jobs and all("threads: 2" in block for block in train_jobs)  # both processes' cores asked for

    # Every non-local job was submitted to SLURM, logged there, and is known to the controller.
    job_ids = sorted(set(re.findall(r"SLURM jobid (\d+)", log)), key=int)
    remote_jobs = {"download", "qc", "train", "embed", "figure"}
    submitted_rules = set(re.findall(r"Job \d+ has been submitted with SLURM jobid \d+ \(log: .*?rule_(\w+)", log))
    # download, qc, train and embed (which also scores) for pca and vae, three figures
    assert len(job_ids) >= 9, log[-3000:]
    slurm_logs = {p.parent.name.removeprefix("rule_") for p in (workdir / ".snakemake/slurm_logs").glob("rule_*/*.log")}
    assert remote_jobs <= slurm_logs | submitted_rules
    queue = subprocess.run(
        ["squeue", "--states=all", "-h", "-o", "%i %T"],
        env={**os.environ, **local_slurm},
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    finished = {line.split()[0] for line in queue.splitlines() if line.endswith("COMPLETED")}
    assert set(job_ids) <= finished, (job_ids, queue)
    artifacts = repo / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "slurm-job-ids.txt").write_text(" ".join(job_ids) + "\n")


def test_training_jobs_ask_for_a_gpu_when_configured(repo, tiny_workdir, local_slurm):
    """The sbatch line of a train job carries --gpus when resources.train.gpu is set (dry run: nothing submitted)."""
    extra = tiny_workdir.parent / "gpu.yaml"
    extra.write_text("resources:\n  train: {threads: 2, mem_mb: 2000, runtime: 10, gpu: 1}\n")
    result = run_snakemake(
        repo,
        tiny_workdir.parent,
        "--profile",
        "slurm",
        "-n",
        "--configfile",
        str(tiny_workdir),
        str(extra),
        env=local_slurm,
        cwd=repo,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    train_jobs = [block for block in log.split("rule ")[1:] if block.startswith("train:")]
    assert train_jobs and all("gpu=1" in block for block in train_jobs)
