"""lifedl's NB VAE against scvi-tools' SCVI: the same model on the same cells (issue part 1).

Both train the scVI-default network (128 hidden, 10 latent, one hidden layer, dropout 0.1, NB
likelihood, per-gene dispersion, observed library size, batch 128, Adam lr 1e-3, weight decay 1e-6,
KL warm-up over 400 epochs) for the same number of epochs with no early stopping, on the same
AnnData file, on the CPU with the same torch thread count and native thread pools. Data sets:
simulated 10x-like counts (20,000 cells x 2,000 genes, ~2,000 UMIs, > 90 % zeros) and scanpy's
pbmc68k_reduced, whose counts lifedl recovers through its builtin source (lifedl.data.load_source).

Each (data set, tool) runs in a fresh process, which reads the file, trains, embeds (posterior
means) and then clusters the embedding as the workflow does (neighbours, igraph Leiden at the
config's resolutions, ARI/NMI against the labels). Reported per run:
- cells_per_s: training cells x epochs / wall time of the training loop only (Lightning's
  on_train_start to on_train_end, the same callback in both), set-up excluded;
- fit_seconds (model set-up + training + what the library does after it), embed_seconds;
- peak_rss_gib: the process's peak RSS from start to the end of embedding (imports included);
- ari/nmi at the default resolution and the best over the resolutions.

Known differences that remain: scVI normalises hidden layers with BatchNorm, lifedl with LayerNorm;
scVI's Adam uses eps=0.01; lifedl validates on its val_fraction cells every epoch (inside the timed
loop) and writes last.ckpt every 10 epochs, scVI does neither by default; scVI's progress bar is off.

    python benchmarks/same_model.py                 # 20k simulated + pbmc68k_reduced, scVI's epoch rule
    python benchmarks/same_model.py --epochs 50     # a fixed number of epochs for both
    python benchmarks/same_model.py --quick         # 1,000 simulated cells, 2 epochs
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import pandas as pd
from common import (
    GIB,
    PHASES,
    TENX_LABELS,
    check_machine_idle,
    describe_counts,
    merge_runs,
    output_dir,
    peak_rss_bytes,
    run_child,
    scvi_like_split,
    scvi_like_vae_params,
    set_torch_threads,
    simulate_tenx_like,
    step_phases,
    training_timer,
    workflow_settings,
)

TOOLS = ("lifedl", "scvi")
DATASETS = ("simulated", "pbmc68k_reduced")


def scvi_default_epochs(n_cells: int) -> int:
    """scvi.model.get_max_epochs_heuristic (scvi-tools 1.4): 400 epochs up to 20,000 cells, fewer above;
    here so that a lifedl-only run, without scvi-tools, picks the same number."""
    from lifedl.models.registry import epochs_for

    return epochs_for(n_cells, cap=400)


def train_lifedl(adata, labels, epochs, val_fraction, seed, accelerator, work_dir: Path, callbacks: list):
    from lifedl.data.spec import DatasetSpec
    from lifedl.models import get_architecture
    from lifedl.train.context import TrainingContext
    from lifedl.train.plans import fit_architecture

    spec = DatasetSpec(id="benchmark", labels=labels, file="benchmark h5ad")
    context = TrainingContext(
        seed=seed, work_dir=work_dir, callbacks=callbacks, accelerator=accelerator, source=spec.where
    )
    architecture = get_architecture("vae")
    params = architecture.resolve_params(scvi_like_vae_params(epochs), where="same-model benchmark")
    scvi_like_split(adata, val_fraction, seed)
    started = time.perf_counter()
    model = fit_architecture(adata, "vae", params, context, spec)
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    embedding = model.embed(adata)
    embed_seconds = time.perf_counter() - started
    return {
        "version": metadata.version("lifedl"),
        "n_train_cells": int(model.final_metrics["n_train_cells"]),
        "fit_seconds": fit_seconds,
        "embed_seconds": embed_seconds,
        "embedding": embedding,
    }


def train_scvi(adata, labels, epochs, val_fraction, seed, accelerator, work_dir: Path, callbacks: list):
    import scvi

    scvi.settings.seed = seed
    scvi.settings.logging_dir = str(work_dir)
    started = time.perf_counter()
    scvi.model.SCVI.setup_anndata(adata, layer="counts")
    model = scvi.model.SCVI(
        adata, n_hidden=128, n_latent=10, n_layers=1, dropout_rate=0.1, dispersion="gene", gene_likelihood="nb"
    )
    model.train(
        max_epochs=epochs,
        batch_size=128,
        train_size=1.0 - val_fraction,
        early_stopping=False,
        accelerator=accelerator,
        devices=1,
        enable_progress_bar=False,
        callbacks=callbacks,
        plan_kwargs={"lr": 1e-3, "weight_decay": 1e-6, "n_epochs_kl_warmup": 400},
    )
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    embedding = model.get_latent_representation(give_mean=True)
    embed_seconds = time.perf_counter() - started
    return {
        "version": scvi.__version__,
        "n_train_cells": len(model.train_indices),
        "fit_seconds": fit_seconds,
        "embed_seconds": embed_seconds,
        "embedding": embedding,
    }


TRAINERS = {"lifedl": train_lifedl, "scvi": train_scvi}


def run_one(
    tool: str, h5ad: Path, labels: str, epochs: int, val_fraction: float, threads: int, accelerator: str
) -> dict:
    """One tool on one data set in this (fresh) process: train, embed, cluster, score."""
    import anndata as ad
    import torch

    from lifedl.tl.cluster import leiden, leiden_key, neighbors
    from lifedl.tl.metrics import evaluate_clustering

    set_torch_threads(threads)
    settings = workflow_settings()
    adata = ad.read_h5ad(h5ad)
    timer, phases = training_timer(), step_phases()
    with tempfile.TemporaryDirectory(prefix=f"lifedl-bench-{tool}-") as work_dir:
        result = TRAINERS[tool](
            adata, labels, epochs, val_fraction, settings["seed"], accelerator, Path(work_dir), [timer, phases]
        )
    peak_rss = peak_rss_bytes() / GIB  # a fresh process: its peak from start, over imports, data, training, embedding
    adata.obsm["X_bench"] = result["embedding"]
    started = time.perf_counter()  # cluster_seconds: also pynndescent's one-off compilation above 4,096 cells
    neighbors(adata, "bench", settings["n_neighbors"], settings["seed"])
    leiden(adata, "bench", settings["resolutions"], settings["seed"])
    clusterings = {res: adata.obs[leiden_key("bench", res)] for res in settings["resolutions"]}
    scores = evaluate_clustering(
        result["embedding"], clusterings, adata.obs[labels], settings["default_resolution"], settings["seed"]
    )
    return {
        "tool": tool,
        "version": result["version"],
        "n_cells": adata.n_obs,
        "n_genes": adata.n_vars,
        "n_train_cells": result["n_train_cells"],
        "epochs": timer.epochs,
        "threads": torch.get_num_threads(),
        "train_seconds": timer.seconds,
        "cells_per_s": result["n_train_cells"] * timer.epochs / timer.seconds,
        "steps": phases.steps,
        "ms_per_step": timer.seconds / max(phases.steps, 1) * 1000,
        **{f"{phase}_seconds": seconds for phase, seconds in phases.seconds.items()},
        "fit_seconds": result["fit_seconds"],
        "setup_and_after_seconds": result["fit_seconds"] - timer.seconds,
        "embed_seconds": result["embed_seconds"],
        "wall_seconds": result["fit_seconds"] + result["embed_seconds"],
        "peak_rss_gib": peak_rss,
        "cluster_seconds": time.perf_counter() - started,
        **scores,
    }


def prepare_datasets(names, sim_cells: int, n_genes: int, seed: int, directory: Path) -> list[dict]:
    """Write each data set once as h5ad (counts in X and layers['counts']); both tools read that same file."""
    from lifedl.data import DatasetSpec, load_source
    from lifedl.io import write_h5ad

    prepared = []
    for name in names:
        if name == "simulated":
            adata, labels, dataset = simulate_tenx_like(sim_cells, n_genes, seed), TENX_LABELS, f"simulated_{sim_cells}"
        else:
            spec = DatasetSpec(id=name, source=f"builtin:{name}", labels="bulk_labels")
            adata, labels, dataset = load_source(spec, directory), "bulk_labels", name
        summary = describe_counts(dataset, adata.layers["counts"])
        path = directory / f"{dataset}.h5ad"
        write_h5ad(adata, path)
        prepared.append({"dataset": dataset, "path": path, "labels": labels, "n_cells": adata.n_obs, **summary})
    return prepared


def speedups(table: pd.DataFrame) -> pd.Series:
    """lifedl's training cells/s over scvi-tools' per data set (where both ran)."""
    rate = table.pivot(index="dataset", columns="tool", values="cells_per_s")
    return (rate["lifedl"] / rate["scvi"]).dropna() if {"lifedl", "scvi"} <= set(rate.columns) else pd.Series()


def phase_table(table: pd.DataFrame) -> pd.DataFrame:
    """Where each run's training loop went: milliseconds per training step in each phase (see step_phases);
    'other' is the rest of the loop (epoch starts and ends, Lightning's own bookkeeping)."""
    steps = table["steps"].clip(lower=1)
    phases = pd.DataFrame({phase: table[f"{phase}_seconds"] / steps * 1000 for phase in PHASES})
    phases["other"] = table["ms_per_step"] - phases.sum(axis=1)
    phases.index = table["dataset"] + " / " + table["tool"]
    return phases


def comparison_figure(table: pd.DataFrame):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [
        ("cells_per_s", "training cells / s"),
        ("wall_seconds", "fit + embed wall time (s)"),
        ("peak_rss_gib", "peak RSS (GiB)"),
        ("ari", "ARI (Leiden, default resolution)"),
        ("nmi", "NMI (Leiden, default resolution)"),
    ]
    fig, axes = plt.subplots(1, len(panels) + 1, figsize=(4 * (len(panels) + 1), 4))
    for axis, (column, title) in zip(axes, panels):
        table.pivot(index="dataset", columns="tool", values=column).plot.bar(ax=axis, rot=0, legend=axis is axes[0])
        axis.set(title=title, xlabel="")
    phase_table(table).plot.barh(stacked=True, ax=axes[-1])
    axes[-1].set(title="training step (ms), by phase", xlabel="ms per step")
    axes[-1].legend(fontsize=7)
    fig.tight_layout()
    return fig


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sim-cells", type=int, help="simulated cells (default 20000; --quick 1000)")
    parser.add_argument("--n-genes", type=int, default=2000)
    parser.add_argument(
        "--epochs",
        type=int,
        help="epochs for both tools (default: scVI's own rule per data set, 400 up to 20,000 cells; --quick 2)",
    )
    parser.add_argument("--threads", type=int, default=2, help="torch and native thread pools of both (default 2)")
    parser.add_argument("--val-fraction", type=float, default=0.02, help="held-out cells for both (default 0.02)")
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    parser.add_argument("--tools", nargs="+", choices=TOOLS, default=list(TOOLS))
    parser.add_argument("--accelerator", default="cpu")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1,000 simulated cells, 2 epochs")
    parser.add_argument("--out-dir", help="default results/benchmarks (--quick: results/benchmarks/quick)")
    parser.add_argument(
        "--replace",
        action="store_true",
        help="start a new same_model.tsv (default: keep an existing table's rows for the pairs not run now)",
    )
    parser.add_argument("--child", choices=TOOLS, help=argparse.SUPPRESS)
    parser.add_argument("--h5ad", help=argparse.SUPPRESS)
    parser.add_argument("--labels", help=argparse.SUPPRESS)
    parser.add_argument("--child-result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.sim_cells = args.sim_cells or (1000 if args.quick else 20_000)
    args.epochs = args.epochs or (2 if args.quick else None)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        row = run_one(
            args.child, Path(args.h5ad), args.labels, args.epochs, args.val_fraction, args.threads, args.accelerator
        )
        Path(args.child_result).write_text(json.dumps(row))
        return 0
    if "scvi" in args.tools and importlib.util.find_spec("scvi") is None:
        print(
            "scvi-tools is not installed in this Python: run `make bench` (it builds .venv-bench with the bench "
            "extra), or pass --tools lifedl",
            file=sys.stderr,
        )
        return 1
    from lifedl.io import save_figure, write_tsv

    settings = workflow_settings()
    out_dir = output_dir(args.out_dir, args.quick)
    rows, failed = [], []
    with tempfile.TemporaryDirectory(prefix="lifedl-same-model-") as tmp:
        for data in prepare_datasets(args.datasets, args.sim_cells, args.n_genes, settings["seed"], Path(tmp)):
            epochs = args.epochs or scvi_default_epochs(data["n_cells"])
            for tool in args.tools:
                print(f"=== {tool} on {data['dataset']}: {epochs} epochs, {args.threads} threads ===", flush=True)
                busy = check_machine_idle(args.threads)
                result = Path(tmp) / f"{data['dataset']}_{tool}.json"
                command = [
                    sys.executable,
                    __file__,
                    "--child",
                    tool,
                    "--h5ad",
                    str(data["path"]),
                    "--labels",
                    data["labels"],
                    "--epochs",
                    str(epochs),
                    "--threads",
                    str(args.threads),
                    "--val-fraction",
                    str(args.val_fraction),
                    "--accelerator",
                    args.accelerator,
                    "--child-result",
                    str(result),
                ]
                code, process_peak = run_child(command, args.threads)
                if code != 0:
                    print(f"{tool} on {data['dataset']} failed with exit code {code}", file=sys.stderr)
                    failed.append(f"{tool}/{data['dataset']}")
                    continue
                row = json.loads(result.read_text())
                summary = {k: data[k] for k in ("zero_fraction", "median_umis", "median_genes_detected")}
                rows.append(
                    {
                        "dataset": data["dataset"],
                        **row,
                        "process_peak_rss_gib": process_peak,
                        **summary,
                        "cpu_busy_before": busy,
                    }
                )
                print(
                    f"{tool} on {data['dataset']}: {row['cells_per_s']:.0f} cells/s, train {row['train_seconds']:.1f} s, "
                    f"peak RSS {row['peak_rss_gib']:.2f} GiB, ARI {row['ari']:.3f}, NMI {row['nmi']:.3f}",
                    flush=True,
                )
    if rows:
        table_path = out_dir / "same_model.tsv"
        previous = pd.read_csv(table_path, sep="\t") if table_path.exists() and not args.replace else None
        table = merge_runs(previous, pd.DataFrame(rows), ["dataset", "tool"])
        write_tsv(table.round(4), table_path)
        phases = phase_table(table)
        phases.insert(0, "tool", table["tool"].to_numpy())
        phases.insert(0, "dataset", table["dataset"].to_numpy())
        write_tsv(phases.round(2), out_dir / "same_model_phases.tsv")
        ratios = speedups(table)
        write_tsv(
            pd.DataFrame({"dataset": ratios.index, "lifedl_over_scvi": ratios.to_numpy()}).round(2),
            out_dir / "same_model_speedup.tsv",
        )
        save_figure(comparison_figure(table), out_dir / "same_model.png")
        columns = [
            "dataset",
            "tool",
            "version",
            "epochs",
            "threads",
            "cells_per_s",
            "train_seconds",
            "wall_seconds",
            "peak_rss_gib",
            "ari",
            "nmi",
            "ari_best",
            "nmi_best",
        ]
        with pd.option_context("display.width", 200, "display.max_columns", 20):
            print(table[columns].round(3).to_string(index=False))
            print(f"ms per training step, by phase:\n{phase_table(table).round(2).to_string()}")
        for dataset, ratio in ratios.items():
            print(f"{dataset}: lifedl trains {ratio:.2f}x the cells/s of scvi-tools")
        print(f"wrote {out_dir / 'same_model.tsv'}, same_model_phases.tsv, same_model_speedup.tsv, same_model.png")
    if failed:
        print(f"FAILED: {failed}", file=sys.stderr)
    return 0 if rows and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
