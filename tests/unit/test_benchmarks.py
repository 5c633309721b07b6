"""The benchmark helpers that need no scvi-tools: the rule-table collector, per-stage RSS accounting and the
scaling stage runner, on tiny inputs."""

import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))  # the benchmark scripts import their helpers as `common`

import common
import out_of_core
import scaling
import workflow_rules

SNAKEMAKE_COLUMNS = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def write_benchmark(path: Path, rows: list[tuple[float, float]]) -> None:
    """A Snakemake benchmark file with one (seconds, max_rss MB) row per repeat."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [f"{s}\t0:00:00\t{rss}\t1\t1\t1\t0\t0\t50\t{s / 2}\n" for s, rss in rows]
    path.write_text(SNAKEMAKE_COLUMNS + "".join(lines))


def test_rule_table_sums_jobs_per_rule_and_dataset(tmp_path, repo):
    results = tmp_path / "results"
    write_benchmark(results / "d1" / "benchmarks" / "train_vae.tsv", [(10.0, 500.0)])
    write_benchmark(results / "d1" / "benchmarks" / "train_pca.tsv", [(2.0, 300.0), (4.0, 320.0)])  # 2 repeats
    write_benchmark(results / "d1" / "benchmarks" / "qc.tsv", [(1.5, 200.0)])
    write_benchmark(results / "d2" / "benchmarks" / "train_vae.tsv", [(7.0, 100.0)])
    write_benchmark(results / "d2" / "benchmarks" / "mystery.tsv", [(1.0, 10.0)])
    write_benchmark(results / "d2" / "benchmarks" / "figure_dgd_latent.tsv", [(3.0, 10.0)])
    write_benchmark(results / "logs" / "benchmarks" / "report.tsv", [(2.5, 10.0)])

    jobs = workflow_rules.collect_jobs(results, repo / "workflow" / "rules")
    table = workflow_rules.per_rule(jobs).set_index(["dataset", "rule"])

    assert table.loc[("d1", "train"), "jobs"] == 2
    assert table.loc[("d1", "train"), "total_seconds"] == pytest.approx(13.0)  # 10 + mean(2, 4)
    assert table.loc[("d1", "train"), "max_rss_mb"] == pytest.approx(500.0)
    assert table.loc[("d1", "qc"), "total_seconds"] == pytest.approx(1.5)
    assert table.loc[("d2", "train"), "total_seconds"] == pytest.approx(7.0)
    assert table.loc[("d1", "train"), "share_of_dataset"] == pytest.approx(13.0 / 14.5)
    assert set(jobs.loc[jobs["rule"] == "train", "arch"]) == {"vae", "pca"}
    # every figure is one wildcarded rule, `figure` (benchmarks/figure_{figure}.tsv)
    assert table.loc[("d2", "figure"), "total_seconds"] == pytest.approx(3.0)
    assert list(jobs.loc[jobs["rule"] == "figure", "job"]) == ["figure_dgd_latent"]
    assert table.loc[("(all data sets)", "report"), "jobs"] == 1
    unknown = jobs[~jobs["known_rule"].astype(bool)]
    assert list(unknown["rule"]) == ["mystery"]


def test_nested_stage_gets_its_own_time_and_peak_rss():
    recorder = common.StageRecorder(n_cells=1)
    with recorder.stage("outer"):
        time.sleep(0.05)
        with recorder.stage("inner"):
            block = np.ones(300 * 2**20 // 8)  # 300 MiB, touched, freed before the stage ends
            del block
            time.sleep(0.3)
    outer, inner = recorder.rows
    assert [outer["stage"], inner["stage"]] == ["outer", "inner"]
    assert 0.05 <= outer["seconds"] < 0.3  # the inner stage's time is not the outer's
    assert inner["seconds"] >= 0.3
    if recorder.peaks_are_per_stage:
        assert inner["peak_rss_gib"] - outer["peak_rss_gib"] > 0.2


def test_scaling_runner_gives_one_row_per_stage(tmp_path):
    rows = scaling.run_pipeline(500, 400, epochs=1, work_dir=tmp_path, knn="sklearn")
    table = pd.DataFrame(rows)
    assert list(table["stage"]) == ["simulate", *scaling.PIPELINE_STAGES]
    assert (table["seconds"] > 0).all()
    assert (table["peak_rss_gib"] > 0).all()
    assert table.loc[table["stage"] == "simulate", "zero_fraction"].item() > 0.5
    train = table[table["stage"] == "vae_train"].iloc[0]
    assert train["epochs"] == 1 and train["train_cells_per_s"] > 0
    assert table.loc[table["stage"] == "leiden", "n_clusters"].item() >= 1

    summary = scaling.summarise(rows + [{**row, "n_cells": 1000, "seconds": 2 * row["seconds"]} for row in rows])
    exponents = summary.drop_duplicates("stage").set_index("stage")["scaling_exponent"]
    assert exponents["qc"] == pytest.approx(1.0)  # twice the time for twice the cells: slope 1
    pipeline = summary[summary["stage"] == "pipeline"].set_index("n_cells")["seconds"]
    assert pipeline[500] == pytest.approx(table[table["stage"].isin(scaling.PIPELINE_STAGES)]["seconds"].sum())
    wide = scaling.wide_table(summary).set_index("stage")
    assert list(wide.index) == ["simulate", *scaling.PIPELINE_STAGES, "pipeline"]
    assert wide.loc["qc", "seconds_1000"] == pytest.approx(2 * wide.loc["qc", "seconds_500"])
    assert wide.loc["qc", "scaling_exponent"] == pytest.approx(1.0) and "peak_rss_gib_1000" in wide


def test_out_of_core_reuses_only_a_finished_simulation_of_the_same_shape(tmp_path):
    import anndata as ad
    import scipy.sparse as sp

    from lifedl.data.shards import write_shards

    args = out_of_core.parse_args(["--cells", "30", "--genes", "5", "--shard-cells", "10", "--data-dir", str(tmp_path)])
    result = tmp_path / "simulate.json"
    blocks = (ad.AnnData(X=sp.csr_matrix(np.ones((10, 5), dtype=np.float32))) for _ in range(3))
    write_shards(blocks, tmp_path / "raw")
    assert not out_of_core.simulated_before(args, result)  # shards, but no finished simulate stage
    result.write_text("[]")
    assert out_of_core.simulated_before(args, result)
    for changed in (["--cells", "40"], ["--genes", "6"], ["--shard-cells", "15"]):
        other = out_of_core.parse_args(["--cells", "30", "--genes", "5", "--shard-cells", "10", *changed])
        other.data_dir = str(tmp_path)
        assert not out_of_core.simulated_before(other, result), changed


def test_same_model_rerun_replaces_only_its_own_rows():
    import same_model

    previous = pd.DataFrame(
        {"dataset": ["sim", "sim", "pbmc", "pbmc"], "tool": ["lifedl", "scvi"] * 2, "cells_per_s": [1.0, 2.0, 3.0, 4.0]}
    )
    new = pd.DataFrame({"dataset": ["pbmc"], "tool": ["lifedl"], "cells_per_s": [30.0]})
    merged = common.merge_runs(previous, new, ["dataset", "tool"]).set_index(["dataset", "tool"])["cells_per_s"]
    assert merged.to_dict() == {
        ("pbmc", "lifedl"): 30.0,
        ("pbmc", "scvi"): 4.0,
        ("sim", "lifedl"): 1.0,
        ("sim", "scvi"): 2.0,
    }
    assert common.merge_runs(None, new, ["dataset", "tool"]).equals(new)
    # several rows per key (a data set's rules, largest first) keep their order
    rules = pd.DataFrame(
        {"dataset": ["b"] * 40 + ["a"] * 30, "seconds": list(range(40, 0, -1)) + list(range(30, 0, -1))}
    )
    merged = common.merge_runs(rules[rules["dataset"] == "b"], rules[rules["dataset"] == "a"], ["dataset"])
    assert list(merged["dataset"]) == ["a"] * 30 + ["b"] * 40
    assert list(merged["seconds"]) == list(range(30, 0, -1)) + list(range(40, 0, -1))
    assert same_model.speedups(previous).to_dict() == {"pbmc": 0.75, "sim": 0.5}


def test_step_phases_split_the_timed_training_loop(tmp_path):
    import same_model

    from lifedl.data import SimulationParams, simulate_counts

    adata = simulate_counts(SimulationParams(n_cells=300, n_genes=100, n_types=2, seed=1))
    timer, phases = common.training_timer(), common.step_phases()
    result = same_model.train_lifedl(adata, "cell_type", 2, 0.1, 0, "cpu", tmp_path, [timer, phases])
    assert result["n_train_cells"] == 270
    assert phases.steps == 2 * 3  # 270 cells in batches of 128, two epochs
    assert all(seconds > 0 for seconds in phases.seconds.values()), phases.seconds
    assert sum(phases.seconds.values()) <= timer.seconds  # the phases lie inside the timed loop
    row = {"dataset": "d", "tool": "lifedl", "steps": phases.steps, "ms_per_step": timer.seconds / phases.steps * 1000}
    row.update({f"{phase}_seconds": seconds for phase, seconds in phases.seconds.items()})
    split = same_model.phase_table(pd.DataFrame([row])).iloc[0]
    assert split.sum() == pytest.approx(row["ms_per_step"]) and split["other"] >= 0


def test_cpu_busy_fraction_sees_a_busy_core():
    import threading

    stop = threading.Event()

    def spin():
        while not stop.is_set():
            pass

    spinner = threading.Thread(target=spin)
    spinner.start()
    try:
        busy = common.cpu_busy_fraction(1.0)
    finally:
        stop.set()
        spinner.join()
    assert 0.6 / os.cpu_count() < busy <= 1.0  # one core of all spins (more if something else runs)


def test_step_profile_names_the_operators_of_a_training_step():
    import step_profile

    batches = step_profile.loader_batches(300, 2, seed=0)
    assert len(batches) == 2 and tuple(batches[0]["counts"].shape) == (step_profile.BATCH, 2000)
    assert batches[0]["counts_nonzero"].shape[1] == int((batches[0]["counts"] > 0).sum())  # as training has them
    step = step_profile.step_function("eager", seed=0)
    seconds, loss = step_profile.timed_steps(step, batches, 3)
    assert seconds > 0 and np.isfinite(loss)
    import torch

    losses = {}
    for variant in ("eager", "autograd_likelihood", "bf16_autocast"):  # the same network, batches and draws
        first_steps = step_profile.step_function(variant, seed=0)
        torch.manual_seed(1)
        losses[variant] = [first_steps(batches[1]), first_steps(batches[0])]
    assert losses["bf16_autocast"] != losses["eager"]  # autocast is on: bfloat16 products round differently
    assert losses["bf16_autocast"] == pytest.approx(losses["eager"], rel=0.02)
    # the likelihood before its gradient was written out: the same loss, and after one step on the same gradient
    assert losses["autograd_likelihood"] == pytest.approx(losses["eager"], rel=1e-5)
    table = step_profile.operator_table(step, batches, 2)
    assert table["share_of_step"].sum() == pytest.approx(1.0)
    assert (table["ms_per_step"].diff().dropna() <= 0).all()  # the largest first
    assert table["operator"].str.contains("addmm|mm").any()  # the layers' matrix products are in it


def test_workflow_scale_counts_the_cells_qc_kept_from_a_models_split():
    import workflow_scale

    metrics = pd.DataFrame({"arch": ["pca", "vae"], "n_train": [80, 80], "n_validation": [10, 10], "n_test": [7, 7]})
    assert workflow_scale.cells_after_qc(metrics) == 97
