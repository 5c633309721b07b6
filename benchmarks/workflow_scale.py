"""The whole workflow at real size: 10x-like simulations of 10,000 and 100,000 cells (issue part 3).

Each data set of benchmarks/datasets.tsv runs alone through `snakemake` in its own working directory
(results/benchmarks/workflow_scale/{dataset}/, with its own MLflow store), with the architectures of
benchmarks/workflow_scale.yaml (pca, vae, ldvae, dae, dgd) and otherwise the default configuration:
download (simulate), QC, training with early stopping, embedding (neighbours, UMAP, Leiden, scores),
figures and the report. Written to results/benchmarks/:

- workflow_scale.tsv: per data set the wall time of the run, its jobs and cores, cells after QC;
- workflow_scale_rules.tsv: per data set and rule, the summed and largest job time and memory
  (the rules' own `benchmark:` files, as benchmarks/workflow_rules.py reads them);
- workflow_scale_archs.tsv: per architecture its training and embedding job times, the embed job as a
  share of the training job, the epochs trained and the ARI against the simulated types.

Jobs run side by side (``--cores``), so the summed job time is more than the wall time.

    python benchmarks/workflow_scale.py                          # sim_10k, 2 cores
    python benchmarks/workflow_scale.py --datasets sim_100k     # joins the 10k rows already there
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import yaml
from common import REPO, merge_runs, output_dir
from workflow_rules import collect_jobs, per_rule

CONFIG = REPO / "benchmarks" / "workflow_scale.yaml"


def prepare_workdir(workdir: Path, dataset: str) -> Path:
    """A working directory with the default config and the benchmark's config (sheet path made absolute)."""
    (workdir / "config").mkdir(parents=True, exist_ok=True)
    (workdir / "config" / "config.yaml").write_text((REPO / "config" / "config.yaml").read_text())
    config = yaml.safe_load(CONFIG.read_text())
    config["datasets_sheet"] = str(REPO / config["datasets_sheet"])
    config["datasets"] = [dataset]
    path = workdir / "workflow_scale.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def cells_after_qc(metrics: pd.DataFrame) -> int:
    """The cells QC kept: a model's train, validation and test cells together (metrics.tsv has no cell count)."""
    return int(metrics[["n_train", "n_validation", "n_test"]].iloc[0].sum())


def run_workflow(workdir: Path, configfile: Path, cores: int) -> tuple[float, int]:
    """Snakemake on one working directory; its wall time and the number of jobs it ran."""
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir)]
    command += ["--cores", str(cores), "--configfile", str(configfile)]
    environment = {**os.environ, "MLFLOW_TRACKING_URI": ""}  # the working directory's own local store
    started = time.perf_counter()
    finished = subprocess.run(command, env=environment, check=False)
    wall = time.perf_counter() - started
    if finished.returncode != 0:
        raise SystemExit(f"snakemake failed on {workdir} (exit {finished.returncode}); see its log above")
    return wall, len(list((workdir / "results").glob("*/benchmarks/*.tsv")))


def architecture_table(metrics: pd.DataFrame, results: Path, dataset: str, jobs: pd.DataFrame) -> pd.DataFrame:
    """Per architecture (``metrics``: the data set's metrics.tsv): training and embedding job seconds, their
    ratio, epochs trained and ARI."""
    rows = []
    for arch in metrics["arch"]:
        seconds = {
            rule: jobs.loc[(jobs["rule"] == rule) & (jobs["arch"] == arch), "seconds"].sum()
            for rule in ("train", "embed")
        }
        run = json.loads((results / dataset / "models" / arch / "run.json").read_text())
        epochs = run.get("final_metrics", {}).get("epochs_trained")
        row = metrics.loc[metrics["arch"] == arch].iloc[0]
        rows.append(
            {
                "dataset": dataset,
                "arch": arch,
                "train_seconds": seconds["train"],
                "embed_seconds": seconds["embed"],
                "embed_share_of_train": seconds["embed"] / seconds["train"] if seconds["train"] else float("nan"),
                "epochs_trained": epochs,
                "ari": row.get("ari"),
                "nmi": row.get("nmi"),
            }
        )
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["sim_10k"], help="ids of benchmarks/datasets.tsv")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--work-root", help="default results/benchmarks/workflow_scale")
    parser.add_argument("--out-dir", help="default results/benchmarks")
    parser.add_argument(
        "--replace", action="store_true", help="new tables (default: keep the rows of data sets not run now)"
    )
    args = parser.parse_args(argv)
    from lifedl.io import write_tsv

    out_dir = output_dir(args.out_dir, quick=False)
    work_root = Path(args.work_root) if args.work_root else out_dir / "workflow_scale"
    runs, rules, archs = [], [], []
    for dataset in args.datasets:
        workdir = work_root / dataset
        print(f"=== {dataset}: the workflow in {workdir}, {args.cores} cores ===", flush=True)
        wall, n_jobs = run_workflow(workdir, prepare_workdir(workdir, dataset), args.cores)
        results = workdir / "results"
        jobs = collect_jobs(results, REPO / "workflow" / "rules")
        jobs = jobs[jobs["dataset"] == dataset]
        metrics = pd.read_csv(results / dataset / "metrics.tsv", sep="\t")
        runs.append(
            {
                "dataset": dataset,
                "n_cells_after_qc": cells_after_qc(metrics),
                "cores": args.cores,
                "jobs": n_jobs,
                "wall_seconds": round(wall, 1),
                "wall_minutes": f"{int(wall // 60)} min {int(wall % 60):02d} s",
                "summed_job_seconds": round(jobs["seconds"].sum(), 1),
                "finished_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        )
        rules.append(per_rule(jobs))
        archs.append(architecture_table(metrics, results, dataset, jobs))
        print(f"{dataset}: {wall:.0f} s wall, {n_jobs} jobs", flush=True)
    tables = {
        "workflow_scale.tsv": pd.DataFrame(runs),
        "workflow_scale_rules.tsv": pd.concat(rules, ignore_index=True).round(2),
        "workflow_scale_archs.tsv": pd.concat(archs, ignore_index=True).round(3),
    }
    for name, table in tables.items():
        # the 100k set takes most of an hour: it can run alone and join the 10k set's rows
        previous = pd.read_csv(out_dir / name, sep="\t") if (out_dir / name).is_file() and not args.replace else None
        write_tsv(merge_runs(previous, table, ["dataset"]), out_dir / name)
    print(f"wrote {out_dir / 'workflow_scale.tsv'}, workflow_scale_rules.tsv, workflow_scale_archs.tsv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
