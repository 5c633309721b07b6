"""How lifedl's pipeline scales with the number of cells (issue part 2).

Simulated 10x-like counts (2,000 genes, ~2,000 UMIs and > 90 % zeros per cell) at each size go
through QC -> HVG -> VAE (a fixed number of epochs, no early stopping) -> embedding -> neighbours
-> Leiden, through lifedl's own functions. Each size runs in a fresh process; each stage's wall time
and peak RSS (VmHWM, reset per stage; see common.py) is one row of results/benchmarks/scaling.tsv,
with time per 1,000 cells and, per stage, the log-log slope of time against cells (1 = per-cell cost
flat). results/benchmarks/scaling.png plots both.

Neighbours: the workflow's choice (``--knn auto``): exact (scikit-learn, brute force) up to 120,000 cells,
where it beats pynndescent's per-process numba compilation, and pynndescent (approximate, numba-parallel;
scanpy's own choice above 8,192 cells and what umap uses) above, the fastest well-kept kNN for 1.3M points
here that needs no GPU; ``--knn sklearn`` or ``pynndescent`` forces one. Leiden: lifedl.tl.cluster.leiden,
igraph's C implementation (scanpy's future default) on a graph built from the sparse arrays, at the
workflow's default resolution.

    python benchmarks/scaling.py                    # 10k, 100k, 1.3M cells, 5 epochs
    python benchmarks/scaling.py --quick            # 500, 1,000, 2,000 cells, 1 epoch
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
from common import (
    TENX_LABELS,
    StageRecorder,
    check_machine_idle,
    describe_counts,
    merge_runs,
    output_dir,
    run_child,
    set_torch_threads,
    simulate_tenx_like,
    training_timer,
    workflow_settings,
)

DEFAULT_SIZES = [10_000, 100_000, 1_300_000]
QUICK_SIZES = [500, 1_000, 2_000]
# ~200 genes are detected per cell over 2,000 genes (> 90 % zeros), so the workflow's min_genes=200 (set for
# whole transcriptomes) would drop half the cells: 50 keeps the cells the simulation meant to be real.
MIN_GENES = 50
PIPELINE_STAGES = ["qc", "hvg", "vae_train", "vae_embed", "neighbors_compile", "neighbors", "leiden"]


def run_pipeline(
    n_cells: int,
    n_genes: int,
    epochs: int,
    work_dir: Path,
    seed: int = 0,
    knn: str = "auto",
    accelerator: str = "cpu",
    min_genes: int = MIN_GENES,
) -> list[dict]:
    """One size through the pipeline in this process; one row per stage (simulate first, not part of the
    pipeline)."""
    import anndata as ad
    import scanpy as sc

    from lifedl.data.spec import DatasetSpec
    from lifedl.data.splits import add_splits
    from lifedl.models import get_architecture
    from lifedl.pp import QCParams, run_qc
    from lifedl.tl.cluster import leiden, neighbors, neighbors_method
    from lifedl.tl.metrics import cluster_agreement
    from lifedl.train.context import TrainingContext
    from lifedl.train.plans import fit_architecture

    settings = workflow_settings()
    recorder = StageRecorder(n_cells=n_cells)
    with recorder.stage("simulate") as row:
        raw = simulate_tenx_like(n_cells, n_genes, seed)
    row.update(describe_counts(f"simulated {n_cells} cells", raw.layers["counts"]))

    # run_qc selects HVGs inside; its scanpy call is timed as its own (nested) stage.
    select_hvgs = sc.pp.highly_variable_genes

    def timed_hvg(*args, **kwargs):
        with recorder.stage("hvg"):
            return select_hvgs(*args, **kwargs)

    # The qc rule reads raw.h5ad without X (lifedl.io.read_h5ad_counts: X is a copy of the counts there).
    del raw.X
    with recorder.stage("qc"), mock.patch.object(sc.pp, "highly_variable_genes", timed_hvg):
        # The raw object stays alive during QC, as in the qc rule (lifedl.steps.qc keeps it while run_qc runs),
        # and is dropped after it, as the later rules never load it.
        adata = run_qc(raw, QCParams(min_genes=min_genes), source=f"simulated {n_cells} cells")
        spec = DatasetSpec(id="scaling", file=f"simulated {n_cells} cells")
        add_splits(adata, spec)  # as the qc rule does
    del raw

    architecture = get_architecture("vae")
    params = architecture.resolve_params({"max_epochs": epochs, "patience": epochs + 1}, where="scaling benchmark")
    timer = training_timer()
    context = TrainingContext(
        seed=seed, work_dir=work_dir, callbacks=[timer], accelerator=accelerator, source=spec.where
    )
    with recorder.stage("vae_train") as row:
        model = fit_architecture(adata, "vae", params, context, spec)
    n_train = model.final_metrics["n_train_cells"]
    row.update(
        epochs=timer.epochs,
        train_loop_seconds=timer.seconds,
        train_cells_per_s=n_train * timer.epochs / timer.seconds,
    )
    with recorder.stage("vae_embed"):
        adata.obsm["X_vae"] = model.embed(adata)
    knn = neighbors_method(adata.n_obs, knn)
    with recorder.stage("neighbors_compile", knn=knn):
        # pynndescent compiles its search with numba on first use in every process (20-55 s here, and numba
        # cannot cache it): a fixed cost, timed apart on a small graph so the neighbors row scales cleanly.
        # Exact neighbours (the workflow's choice up to EXACT_NEIGHBORS_MAX_CELLS) compile nothing.
        if knn == "pynndescent":
            warm_up = ad.AnnData(obsm={"X_vae": np.random.default_rng(seed).normal(size=(300, 10)).astype(np.float32)})
            neighbors(warm_up, "vae", settings["n_neighbors"], seed, method=knn)
    with recorder.stage("neighbors", knn=knn):
        neighbors(adata, "vae", settings["n_neighbors"], seed, method=knn)
    with recorder.stage("leiden", resolution=settings["default_resolution"]) as row:
        (key,) = leiden(adata, "vae", [settings["default_resolution"]], seed)
    row.update(n_clusters=adata.obs[key].nunique(), **cluster_agreement(adata.obs[TENX_LABELS], adata.obs[key]))
    for stage_row in recorder.rows:
        stage_row.update(
            n_cells_after_qc=adata.n_obs,
            n_genes_after_qc=adata.n_vars,
            peaks_are_per_stage=recorder.peaks_are_per_stage,
        )
    return recorder.rows


def scaling_exponents(table: pd.DataFrame) -> dict[str, float]:
    """Per stage, the slope of log time against log cells: 1 means time per cell is flat."""
    exponents = {}
    for stage, rows in table.groupby("stage", sort=False):
        rows = rows[rows["seconds"] > 0.01]  # a stage that did nothing at a size (exact neighbours compile nothing)
        if rows["n_cells"].nunique() >= 2:
            exponents[stage] = float(np.polyfit(np.log10(rows["n_cells"]), np.log10(rows["seconds"]), 1)[0])
    return exponents


def summarise(rows: list[dict]) -> pd.DataFrame:
    """The per-stage rows plus a 'pipeline' row per size (all stages but simulate), with time per 1,000 cells
    and each stage's scaling exponent."""
    table = pd.DataFrame(rows)
    done = table[table["stage"].isin(PIPELINE_STAGES)]
    totals = done.groupby("n_cells", as_index=False).agg(
        seconds=("seconds", "sum"), peak_rss_gib=("peak_rss_gib", "max")
    )
    totals["stage"] = "pipeline"
    table = pd.concat([table, totals], ignore_index=True)
    table["seconds_per_1k_cells"] = table["seconds"] / table["n_cells"] * 1000
    table["scaling_exponent"] = table["stage"].map(scaling_exponents(table))
    first = ["n_cells", "stage", "seconds", "seconds_per_1k_cells", "peak_rss_gib", "scaling_exponent"]
    return table[first + [c for c in table.columns if c not in first]]


def wide_table(table: pd.DataFrame) -> pd.DataFrame:
    """One row per stage, in pipeline order: seconds and peak RSS at each size (columns ``seconds_<n>``,
    ``peak_rss_gib_<n>``) and the stage's log-log slope: what docs/performance.md shows."""
    stages = table["stage"].unique()
    columns = {}
    for values in ("seconds", "peak_rss_gib"):
        wide = table.pivot(index="stage", columns="n_cells", values=values).reindex(stages)
        columns.update({f"{values}_{n_cells}": wide[n_cells] for n_cells in wide.columns})
    wide = pd.DataFrame(columns)
    wide["scaling_exponent"] = table.groupby("stage")["scaling_exponent"].first().reindex(stages)
    return wide.rename_axis("stage").reset_index()


def scaling_figure(table: pd.DataFrame, rss_limit_gib: float):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (time_axis, rss_axis) = plt.subplots(1, 2, figsize=(12, 4.8))
    for stage, rows in table.groupby("stage", sort=False):
        rows = rows.sort_values("n_cells")
        exponent = rows["scaling_exponent"].iloc[0]
        label = stage if np.isnan(exponent) else f"{stage} (slope {exponent:.2f})"
        style = {"linewidth": 2.5, "color": "black"} if stage == "pipeline" else {}
        timed = rows[rows["seconds"] > 0]  # a stage that cost nothing at a size (compilation) has no log
        time_axis.plot(timed["n_cells"], timed["seconds"], marker="o", label=label, **style)
        rss_axis.plot(rows["n_cells"], rows["peak_rss_gib"], marker="o", label=stage, **style)
    pipeline = table[table["stage"] == "pipeline"].sort_values("n_cells")
    if len(pipeline):
        # Linear scaling through the smallest size: a stage parallel to it has a flat per-cell cost.
        cells = pipeline["n_cells"].to_numpy()
        time_axis.plot(cells, pipeline["seconds"].iloc[0] * cells / cells[0], "k:", label="linear (slope 1)")
    time_axis.set(xscale="log", yscale="log", xlabel="cells", ylabel="wall time (s)", title="time per stage")
    rss_axis.axhline(rss_limit_gib, color="red", linestyle="--", label=f"limit {rss_limit_gib:g} GiB")
    rss_axis.set(xscale="log", xlabel="cells", ylabel="peak RSS (GiB)", title="peak RSS per stage (whole process)")
    time_axis.legend(fontsize=8, loc="upper left", bbox_to_anchor=(0, -0.15), ncol=2)
    rss_axis.legend(fontsize=8, loc="upper left", bbox_to_anchor=(0, -0.15), ncol=2)
    fig.tight_layout()
    return fig


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", help=f"cells per run (default {DEFAULT_SIZES})")
    parser.add_argument("--n-genes", type=int, default=2000)
    parser.add_argument("--epochs", type=int, help="fixed VAE epochs (default 5; --quick 1)")
    parser.add_argument("--threads", type=int, default=2, help="torch and native thread pools (default 2)")
    parser.add_argument(
        "--knn",
        choices=["auto", "pynndescent", "sklearn"],
        default="auto",
        help="auto (default): the workflow's choice, exact up to 120,000 cells, pynndescent above",
    )
    parser.add_argument("--accelerator", default="cpu")
    parser.add_argument("--rss-limit-gib", type=float, default=16.0)
    parser.add_argument("--quick", action="store_true", help=f"smoke run: {QUICK_SIZES} cells, 1 epoch")
    parser.add_argument("--out-dir", help="default results/benchmarks (--quick: results/benchmarks/quick)")
    parser.add_argument(
        "--replace",
        action="store_true",
        help="start a new scaling.tsv (default: keep an existing table's rows for the sizes not run now)",
    )
    parser.add_argument("--child-size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child-result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.sizes = args.sizes or (QUICK_SIZES if args.quick else DEFAULT_SIZES)
    args.epochs = args.epochs or (1 if args.quick else 5)
    return args


def child(args: argparse.Namespace) -> None:
    set_torch_threads(args.threads)
    seed = workflow_settings()["seed"]
    with tempfile.TemporaryDirectory(prefix="lifedl-scaling-") as work_dir:
        rows = run_pipeline(
            args.child_size, args.n_genes, args.epochs, Path(work_dir), seed, args.knn, args.accelerator
        )
    Path(args.child_result).write_text(json.dumps(rows))


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child_size:
        child(args)
        return 0
    from lifedl.io import save_figure, write_tsv

    out_dir = output_dir(args.out_dir, args.quick)
    print(
        f"scaling: sizes {args.sizes}, {args.n_genes} genes, {args.epochs} epochs, {args.threads} threads, "
        f"knn {args.knn}; each size in a fresh process",
        flush=True,
    )
    rows, failed = [], []
    with tempfile.TemporaryDirectory(prefix="lifedl-scaling-") as tmp:
        for n_cells in args.sizes:
            result = Path(tmp) / f"{n_cells}.json"
            command = [
                sys.executable,
                __file__,
                "--child-size",
                str(n_cells),
                "--child-result",
                str(result),
                "--n-genes",
                str(args.n_genes),
                "--epochs",
                str(args.epochs),
                "--threads",
                str(args.threads),
                "--knn",
                args.knn,
                "--accelerator",
                args.accelerator,
            ]
            print(f"=== {n_cells} cells ===", flush=True)
            busy = check_machine_idle(args.threads)
            # (run_child's wait4 peak is not used here: resetting VmHWM per stage resets the counter wait4 reads)
            code, _ = run_child(command, args.threads)
            if code != 0:
                print(f"{n_cells} cells: the run failed with exit code {code} (killed for memory: -9)", flush=True)
                failed.append(n_cells)
                continue
            for row in json.loads(result.read_text()):
                rows.append({**row, "threads": args.threads, "cpu_busy_before": busy})
    if not rows:
        print("no size finished", file=sys.stderr)
        return 1
    table_path = out_dir / "scaling.tsv"
    if table_path.exists() and not args.replace:  # sizes can be rerun apart and still end up in one table
        previous = pd.read_csv(table_path, sep="\t")
        stages = previous[previous["stage"] != "pipeline"]  # summarise adds the pipeline rows again
        rows = merge_runs(stages, pd.DataFrame(rows), ["n_cells"]).to_dict("records")
    table = summarise(rows).sort_values("n_cells", kind="stable", ignore_index=True)
    write_tsv(table.round(4), table_path)
    write_tsv(wide_table(table).round(3), out_dir / "scaling_wide.tsv")
    save_figure(scaling_figure(table, args.rss_limit_gib), out_dir / "scaling.png")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        for values in ("seconds", "peak_rss_gib"):
            wide = table.pivot(index="stage", columns="n_cells", values=values).reindex(table["stage"].unique())
            print(f"{values}:\n{wide.round(2).to_string()}")
    # The limit applies to the pipeline; simulating the data stands in for reading raw.h5ad and is shown apart.
    peak = table.loc[table["stage"] == "pipeline", "peak_rss_gib"].max()
    within = peak <= args.rss_limit_gib
    print(
        f"pipeline peak RSS over all sizes {peak:.2f} GiB: {'within' if within else 'ABOVE'} the "
        f"{args.rss_limit_gib:g} GiB limit (with the simulation: {table['peak_rss_gib'].max():.2f} GiB); wrote "
        f"{out_dir / 'scaling.tsv'} and {out_dir / 'scaling.png'}",
        flush=True,
    )
    if failed:
        print(f"FAILED sizes: {failed}", file=sys.stderr)
    return 0 if within and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
