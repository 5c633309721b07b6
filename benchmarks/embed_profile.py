"""Where an embed job's time goes, part by part, on the models `workflow_scale.py` trained (issue part 2).

For each architecture of each data set under results/benchmarks/workflow_scale/{dataset}/, a fresh process
runs the workflow's embed job again (lifedl.steps.embed, which times its own parts): the imports (the
interpreter's start and scanpy, torch, lifedl), reading qc.h5ad, loading the model, the embedding, the
neighbour graph, UMAP, Leiden at every resolution of the config, writing the embedding's h5ad, and the
scores. The neighbour graph is the workflow's choice (exact up to
lifedl.tl.cluster.EXACT_NEIGHBORS_MAX_CELLS). Written to
results/benchmarks/embed_profile.tsv, with each part's share of the model's training job
(workflow_scale_archs.tsv) where that table is there.

    python benchmarks/embed_profile.py                      # sim_10k, after workflow_scale.py
    python benchmarks/embed_profile.py --datasets sim_10k sim_100k
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STARTED = time.perf_counter()  # before the heavy imports: they are part of a job's fixed cost

PARTS = ("imports", "read", "load_model", "embed", "neighbors", "umap", "leiden", "write", "scores")


def profile_one(results: Path, dataset: str, arch: str) -> dict[str, float]:
    """Seconds per part of one embed job (lifedl.steps.embed's own timing), in this process (which must be
    fresh, for the imports)."""
    import anndata
    import scanpy  # noqa: F401  (the embed job's imports, timed as one part)
    import torch  # noqa: F401
    from common import workflow_settings

    import lifedl.models.base
    import lifedl.tl.cluster  # noqa: F401
    from lifedl.steps import embed

    imports = time.perf_counter() - STARTED
    settings = workflow_settings()
    models = results / dataset / "models" / arch
    with tempfile.TemporaryDirectory(prefix="lifedl-embed-profile-") as directory:
        seconds = embed(
            str(results / dataset / "qc.h5ad"),
            str(models / "model.ckpt"),
            str(Path(directory) / f"{arch}.h5ad"),  # the job's embeddings/{arch}.h5ad
            str(Path(directory) / f"{arch}.tsv"),
            arch,
            dataset,
            settings["n_neighbors"],
            settings["resolutions"],
            settings["default_resolution"],
            settings["seed"],
        )
    n_cells = anndata.read_h5ad(results / dataset / "qc.h5ad", backed="r").n_obs
    return {"n_cells": n_cells, "imports": imports, **seconds}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["sim_10k"], help="data sets workflow_scale.py ran")
    parser.add_argument("--work-root", help="default results/benchmarks/workflow_scale")
    parser.add_argument("--out-dir", help="default results/benchmarks")
    parser.add_argument("--child", nargs=3, metavar=("RESULTS", "DATASET", "ARCH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:  # one job's profile, printed as JSON for the parent
        results, dataset, arch = args.child
        print(json.dumps(profile_one(Path(results), dataset, arch)))
        return 0

    import pandas as pd
    from common import child_environment, output_dir

    from lifedl.io import write_tsv

    out_dir = output_dir(args.out_dir, quick=False)
    work_root = Path(args.work_root) if args.work_root else out_dir / "workflow_scale"
    archs_table = out_dir / "workflow_scale_archs.tsv"
    train_seconds = pd.read_csv(archs_table, sep="\t") if archs_table.is_file() else pd.DataFrame()
    rows = []
    for dataset in args.datasets:
        results = work_root / dataset / "results"
        metrics = results / dataset / "metrics.tsv"
        if not metrics.is_file():
            raise SystemExit(f"{metrics} is missing: run benchmarks/workflow_scale.py --datasets {dataset} first.")
        for arch in pd.read_csv(metrics, sep="\t")["arch"]:
            command = [sys.executable, __file__, "--child", str(results), dataset, arch]
            finished = subprocess.run(command, env=child_environment(1), capture_output=True, text=True, check=False)
            if finished.returncode != 0:
                raise SystemExit(f"profiling {dataset}/{arch} failed:\n{finished.stderr[-3000:]}")
            seconds = json.loads(finished.stdout.strip().splitlines()[-1])
            row = {"dataset": dataset, "arch": arch, "n_cells": seconds.pop("n_cells"), **seconds}
            row["total"] = sum(seconds[name] for name in PARTS)
            match = train_seconds.query("dataset == @dataset and arch == @arch") if len(train_seconds) else []
            if len(match):
                row["train_job_seconds"] = float(match["train_seconds"].iloc[0])
                row["total_share_of_train"] = row["total"] / row["train_job_seconds"]
            rows.append(row)
            print(f"{dataset}/{arch}: " + ", ".join(f"{name} {seconds[name]:.1f} s" for name in PARTS), flush=True)
    write_tsv(pd.DataFrame(rows).round(3), out_dir / "embed_profile.tsv")
    print(f"wrote {out_dir / 'embed_profile.tsv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
