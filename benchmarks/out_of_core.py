"""A data set larger than the memory it may use: simulated 10x-like cells in h5ad shards, through QC, one epoch of
VAE training and the embedding of every cell, a shard at a time (issue 40's out-of-core goal), against the same
training in memory on a subset.

Stages, each child in a fresh process so its peak RSS is its own (VmHWM per stage, and wait4's for the process):

1. ``simulate``: ``--cells`` cells x ``--genes`` genes in shards of ``--shard-cells`` (``lifedl.data.simulate_counts``
   with ``part``: the same genes and types in every shard), written to ``--data-dir`` (the raw shards, then the
   QC'd ones: about 16 bytes per count stored, twice).
2. ``sharded`` (the out-of-core run): ``lifedl.pp.shards.qc_shards`` (the workflow's QC and seurat_v3 genes over
   blocks), ``lifedl.train.plans.fit_on_shards`` (the VAE, ``--epochs``, training cells/s timed on the training
   loop alone), ``embed_on_shards`` (every cell).
3. ``in_memory``: the first ``--subset-cells`` QC'd cells read into one AnnData and the same VAE trained on them in
   memory (``fit_architecture``): the cells/s the sharded training is held against.

Written to results/benchmarks/out_of_core.tsv (one row per stage: seconds, peak RSS, cells/s) with the ratio of
sharded to in-memory cells/s.

    python benchmarks/out_of_core.py                               # 5,000,000 cells, 4 GiB allowed
    python benchmarks/out_of_core.py --cells 200000 --shard-cells 50000 --subset-cells 100000   # a smoke run
    python benchmarks/out_of_core.py --reuse-simulation            # again, on the shards simulated before
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from common import (
    RESULTS_DIR,
    TENX_LIKE,
    StageRecorder,
    check_machine_idle,
    run_child,
    set_torch_threads,
    training_timer,
    workflow_settings,
)

from lifedl.data.simulate import SimulationParams


def simulate(args: argparse.Namespace, recorder: StageRecorder) -> None:
    from lifedl.data.shards import write_shards
    from lifedl.data.simulate import simulate_counts

    sizes = [min(args.shard_cells, args.cells - start) for start in range(0, args.cells, args.shard_cells)]
    with recorder.stage("simulate", n_shards=len(sizes)):

        def parts():
            for part, n_cells in enumerate(sizes):
                params = SimulationParams(n_cells=n_cells, n_genes=args.genes, seed=0, **TENX_LIKE)
                block = simulate_counts(params, part=part)
                del block.layers["counts"]  # X holds them; a shard stores its counts once
                print(f"simulate: shard {part + 1}/{len(sizes)}", flush=True)
                yield block

        write_shards(parts(), Path(args.data_dir) / "raw")


def vae_params(epochs: int) -> dict:
    from lifedl.models import get_architecture

    return get_architecture("vae").resolve_params({"max_epochs": epochs, "patience": epochs + 1}, where="out_of_core")


def sharded(args: argparse.Namespace, recorder: StageRecorder) -> None:
    from lifedl.data.shards import Shards
    from lifedl.data.spec import DatasetSpec
    from lifedl.pp.qc import QCParams
    from lifedl.pp.shards import qc_shards
    from lifedl.train.context import TrainingContext
    from lifedl.train.plans import embed_on_shards, fit_on_shards

    raw = Shards.open(Path(args.data_dir) / "raw")
    with recorder.stage("qc", n_cells=raw.n_cells):
        kept = qc_shards(raw, QCParams(min_genes=50), Path(args.data_dir) / "qc")  # ~200 genes detected per cell
    spec = DatasetSpec("out_of_core", kind="cells", labels="cell_type")
    timer = training_timer()
    context = TrainingContext(
        seed=workflow_settings()["seed"], work_dir=Path(args.data_dir) / "work", callbacks=[timer]
    )
    with recorder.stage("vae_train", n_cells=kept.n_cells) as row:
        model = fit_on_shards(kept, "vae", vae_params(args.epochs), context, spec)
    n_train = model.final_metrics["n_train_cells"]
    row.update(
        n_train_cells=n_train, train_loop_seconds=timer.seconds, cells_per_s=n_train * timer.epochs / timer.seconds
    )
    with recorder.stage("vae_embed", n_cells=kept.n_cells) as row:
        embedding = embed_on_shards(model, kept)
    row.update(embedded_cells=len(embedding), cells_per_s=len(embedding) / row["seconds"])


def in_memory(args: argparse.Namespace, recorder: StageRecorder) -> None:
    import anndata as ad
    import scipy.sparse as sp

    from lifedl.data.shards import Shards
    from lifedl.data.spec import DatasetSpec
    from lifedl.train.context import TrainingContext
    from lifedl.train.plans import fit_architecture

    kept = Shards.open(Path(args.data_dir) / "qc")
    with recorder.stage("subset_read", n_cells=args.subset_cells):
        obs = kept.obs()
        counts, n = [], 0
        for shard in range(len(kept.files)):
            if n >= args.subset_cells:
                break
            counts.append(kept.read_shard(shard))
            n += counts[-1].shape[0]
        matrix = sp.vstack(counts, format="csr")[: args.subset_cells]
        adata = ad.AnnData(obs=obs.iloc[: matrix.shape[0]].copy(), layers={"counts": matrix})
        adata.var_names = kept.var_names
    spec = DatasetSpec("out_of_core", kind="cells", labels="cell_type")
    timer = training_timer()
    context = TrainingContext(seed=workflow_settings()["seed"], work_dir=Path(args.data_dir) / "work_memory",
                              callbacks=[timer])  # fmt: skip
    with recorder.stage("vae_train", n_cells=adata.n_obs) as row:
        model = fit_architecture(adata, "vae", vae_params(args.epochs), context, spec)
    n_train = model.final_metrics["n_train_cells"]
    row.update(
        n_train_cells=n_train, train_loop_seconds=timer.seconds, cells_per_s=n_train * timer.epochs / timer.seconds
    )


STAGES = {"simulate": simulate, "sharded": sharded, "in_memory": in_memory}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", type=int, default=5_000_000)
    parser.add_argument("--genes", type=int, default=2_000)
    parser.add_argument("--shard-cells", type=int, default=250_000)
    parser.add_argument("--subset-cells", type=int, default=1_000_000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rss-limit-gib", type=float, default=4.0, help="the memory the sharded run may use")
    parser.add_argument("--data-dir", default="results/benchmarks/out_of_core_data")
    parser.add_argument(
        "--reuse-simulation",
        action="store_true",
        help="keep the shards an earlier run simulated with the same --cells, --genes and --shard-cells",
    )
    parser.add_argument("--child", choices=STAGES, help=argparse.SUPPRESS)
    parser.add_argument("--child-result", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def simulated_before(args: argparse.Namespace, result: Path) -> bool:
    """Whether ``--data-dir`` holds the finished simulation these arguments would write."""
    from lifedl.data.shards import Shards
    from lifedl.errors import LifedlError

    if not result.exists():
        return False
    try:
        raw = Shards.open(Path(args.data_dir) / "raw")
    except LifedlError:
        return False
    n_shards = -(-args.cells // args.shard_cells)
    return raw.n_cells == args.cells and len(raw.var_names) == args.genes and len(raw.files) == n_shards


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        set_torch_threads(args.threads)
        recorder = StageRecorder(part=args.child)
        STAGES[args.child](args, recorder)
        Path(args.child_result).write_text(json.dumps(recorder.rows))
        return 0
    import pandas as pd

    from lifedl.io import write_tsv

    rows = []
    for part in STAGES:
        result = Path(args.data_dir) / f"{part}.json"
        result.parent.mkdir(parents=True, exist_ok=True)
        if part == "simulate" and args.reuse_simulation and simulated_before(args, result):
            rows.extend(json.loads(result.read_text()))  # that run's simulate row: its shards are these
            print(f"out_of_core: reusing the simulated shards in {args.data_dir}/raw", flush=True)
            continue
        forwarded = [f"--{name.replace('_', '-')}={getattr(args, name)}" for name in
                     ("cells", "genes", "shard_cells", "subset_cells", "epochs", "threads", "data_dir")]  # fmt: skip
        busy = check_machine_idle(args.threads)
        started = time.perf_counter()
        code, process_peak = run_child([sys.executable, __file__, "--child", part, "--child-result", str(result),
                                        *forwarded], args.threads)  # fmt: skip
        if code != 0:
            print(f"out_of_core: {part} failed with exit code {code} (killed for memory: -9)", file=sys.stderr)
            return 1
        for row in json.loads(result.read_text()):
            rows.append({**row, "process_peak_rss_gib": round(process_peak, 3), "cpu_busy_before": busy,
                         "process_seconds": round(time.perf_counter() - started, 1)})  # fmt: skip
    table = pd.DataFrame(rows)
    trains = table[table["stage"] == "vae_train"].set_index("part")["cells_per_s"]
    table["sharded_over_in_memory_cells_per_s"] = trains["sharded"] / trains["in_memory"]
    table["rss_limit_gib"] = args.rss_limit_gib
    write_tsv(table, RESULTS_DIR / "out_of_core.tsv")
    sharded_peak = table[table["part"] == "sharded"]["process_peak_rss_gib"].max()
    print(
        f"out_of_core: sharded run peak RSS {sharded_peak:.2f} GiB (limit {args.rss_limit_gib:g}); training "
        f"{trains['sharded']:.0f} cells/s sharded against {trains['in_memory']:.0f} in memory "
        f"({trains['sharded'] / trains['in_memory']:.0%})",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
