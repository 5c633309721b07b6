"""Data-parallel training (Lightning's DDP) against one process: the VAE trained by the workflow's train step.

For each seed, the same simulated cells (10x-like) are trained by ``lifedl.steps.train`` once with
``training.devices: 1`` and once with 2 (two processes over gloo on CPUs, each on its half of every batch, so the
effective batch is the same), at the same epochs without early stopping. Each training is a fresh process run as
Snakemake runs a job (Lightning starts the second process by running the same command again). Recorded per run:
the best validation loss, wall time, training cells/s (training cells x epochs / the training's wall time,
imports and set-up included), the MLflow runs and checkpoints the store holds; per seed, the paired relative
difference of the validation loss. Written to results/benchmarks/data_parallel.tsv.

    python benchmarks/data_parallel.py                        # 10,000 cells x 1,000 genes, 10 epochs, seeds 0 1 2
    python benchmarks/data_parallel.py --cells 2000 --epochs 3 --seeds 0

On 2 cores two processes of one thread each use the cores one process of two threads does: the time says what
the process group costs, not what more devices buy.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VAE_PARAMS = {"n_hidden": 128, "n_latent": 10, "batch_size": 128}


def train_job(qc: str, out: str, uri: str, devices: int, seed: int, epochs: int, batch_size: int) -> None:
    """One training job, as the train rule runs it (the process Lightning starts again for each device)."""
    from lifedl import steps
    from lifedl.logs import logged

    params = {**VAE_PARAMS, "batch_size": batch_size, "max_epochs": epochs, "patience": epochs + 1}
    settings = steps.TrainSettings(
        "vae",
        "cells",
        params,
        seed,
        uri,
        threads=2,
        training={"accelerator": "cpu", "devices": devices},
        pyfunc=False,
    )
    with logged(f"{out}/train.log"):
        steps.train(qc, f"{out}/model.ckpt", f"{out}/run.json", settings, history=f"{out}/history.tsv")


def job_command(qc: Path, out: Path, uri: str, devices: int, seed: int, epochs: int, batch_size: int) -> list[str]:
    arguments = [qc, out, uri, devices, seed, epochs, batch_size]
    return [sys.executable, str(Path(__file__).resolve()), "--job", *map(str, arguments)]


def run_training(work: Path, qc: Path, devices: int, seed: int, epochs: int, batch_size: int) -> dict:
    from mlflow.tracking import MlflowClient

    out = work / f"devices{devices}_seed{seed}"
    out.mkdir()
    uri = f"sqlite:///{out / 'mlflow.db'}"
    started = time.perf_counter()
    command = job_command(qc, out, uri, devices, seed, epochs, batch_size)
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode:
        sys.exit(f"training with devices={devices}, seed {seed} failed:\n{done.stderr[-3000:]}")
    final = json.loads((out / "run.json").read_text())["final_metrics"]
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("cells").experiment_id])
    return {
        "seed": seed,
        "devices": devices,
        "processes": int(final["training_processes"]),
        "epochs": int(final["epochs_trained"]),
        "n_train_cells": int(final["n_train_cells"]),
        "best_val_loss": final["best_val_loss"],
        "wall_seconds": round(seconds, 1),
        "cells_per_second": round(final["n_train_cells"] * final["epochs_trained"] / seconds, 1),
        "mlflow_runs": len(runs),
        "checkpoints": len(list(out.glob("*.ckpt"))),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", type=int, default=10_000)
    parser.add_argument("--genes", type=int, default=1_000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128, help="the effective batch, shared by the processes")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--job", nargs=7, help=argparse.SUPPRESS)  # one training (run by this script itself)
    args = parser.parse_args()
    if args.job:
        qc, out, uri, devices, seed, epochs, batch_size = args.job
        train_job(qc, out, uri, int(devices), int(seed), int(epochs), int(batch_size))
        return

    import pandas as pd
    from common import RESULTS_DIR, check_machine_idle, describe_counts, simulate_tenx_like

    from lifedl.data.spec import UNS_KEY, DatasetSpec
    from lifedl.data.splits import add_splits
    from lifedl.io import write_tsv

    busy = check_machine_idle(2)
    adata = simulate_tenx_like(args.cells, args.genes, seed=0)
    describe_counts("data_parallel", adata.X)
    spec = DatasetSpec("cells", kind="cells", labels="cell_type")
    adata.uns[UNS_KEY] = spec.to_uns()
    add_splits(adata, spec)  # as the qc rule stores it: every process reads the same rows
    rows = []
    with tempfile.TemporaryDirectory(prefix="lifedl-ddp-") as directory:
        work = Path(directory)
        qc = work / "qc.h5ad"
        adata.write_h5ad(qc)
        for seed in args.seeds:
            for devices in (1, 2):
                row = run_training(work, qc, devices, seed, args.epochs, args.batch_size)
                print(json.dumps(row), flush=True)
                rows.append({**row, "cells": args.cells, "genes": args.genes, "cpu_busy_before": round(busy, 3)})
    table = pd.DataFrame(rows)
    one = table[table.devices == 1].set_index("seed")["best_val_loss"]
    two = table[table.devices == 2].set_index("seed")["best_val_loss"]
    table["val_loss_relative_difference"] = table["seed"].map((two - one) / one.abs())
    write_tsv(table, RESULTS_DIR / "data_parallel.tsv")
    worst = float(((two - one) / one.abs()).abs().max())
    print(f"data_parallel: largest |relative difference| of the best validation loss over seeds: {worst:.4%}")


if __name__ == "__main__":
    main()
