"""Data-parallel training: Lightning's DDP over gloo, two CPU processes, against one process.

The training step runs as a script, as Snakemake runs it: Lightning's launcher starts the second process by
running the same command again, and only the first may write anything.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from lifedl.data import SimulationParams, simulate_counts
from lifedl.data.batches import EpochShuffledBatches, RowBatches
from lifedl.data.spec import UNS_KEY, DatasetSpec
from lifedl.data.splits import add_splits

EPOCHS = 6
BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "data_parallel.py"


def _train(tmp_path, qc, devices: int, seed: int) -> dict:
    """One training job as Snakemake runs it (benchmarks/data_parallel.py's, batches of 64 in all)."""
    out = tmp_path / f"devices{devices}_seed{seed}"
    out.mkdir()
    uri = f"sqlite:///{out / 'mlflow.db'}"
    arguments = [qc, out, uri, devices, seed, EPOCHS, 64]
    done = subprocess.run(
        [sys.executable, str(BENCHMARK), "--job", *map(str, arguments)], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return {"out": out, "uri": uri, "record": json.loads((out / "run.json").read_text()), "stderr": done.stderr}


@pytest.fixture(scope="module")
def qc_file(tmp_path_factory):
    adata = simulate_counts(SimulationParams(n_cells=900, n_genes=200, n_types=4, test_fraction=0.2, seed=5))
    spec = DatasetSpec("cells", kind="cells", labels="cell_type", split="split")
    adata.uns[UNS_KEY] = spec.to_uns()
    add_splits(adata, spec)  # as the qc rule stores it
    path = tmp_path_factory.mktemp("ddp") / "qc.h5ad"
    adata.write_h5ad(path)
    return path


def test_two_gloo_processes_train_as_one_process_does(qc_file, tmp_path):
    """Each process trains on its half of every batch (the same effective batch of 64): the best validation
    loss lands within 1 % of one process's at the same epochs; one MLflow run with each epoch once, one
    checkpoint, one log."""
    one = _train(tmp_path, qc_file, devices=1, seed=2)
    two = _train(tmp_path, qc_file, devices=2, seed=2)
    assert one["record"]["final_metrics"]["training_processes"] == 1
    assert two["record"]["final_metrics"]["training_processes"] == 2
    for result in (one, two):
        assert result["record"]["final_metrics"]["epochs_trained"] == EPOCHS
    # the rows trained on and validated on are the whole splits' (the shares add up)
    assert two["record"]["final_metrics"]["n_train_cells"] == one["record"]["final_metrics"]["n_train_cells"]
    loss_one = one["record"]["final_metrics"]["best_val_loss"]
    loss_two = two["record"]["final_metrics"]["best_val_loss"]
    assert abs(loss_two - loss_one) <= 0.01 * abs(loss_one), (loss_one, loss_two)

    client = MlflowClient(two["uri"])
    (run,) = client.search_runs([client.get_experiment_by_name("cells").experiment_id])
    assert run.info.status == "FINISHED"
    steps = [m.step for m in client.get_metric_history(run.info.run_id, "val/loss")]
    assert sorted(steps) == list(range(EPOCHS))  # each epoch once: the second process logged nothing
    out = two["out"]
    assert [p.name for p in out.glob("**/*.ckpt") if p.parent == out] == ["model.ckpt"]
    history = pd.read_csv(out / "history.tsv", sep="\t")
    assert len(history) == EPOCHS
    log = (out / "train.log").read_text()
    # the first process's log, not truncated by the second one's start
    assert "GLOBAL_RANK: 0, MEMBER: 1/2" in log and "GLOBAL_RANK: 1" not in log and f"epoch 1/{EPOCHS}" in log
    assert "sync_dist" not in log  # epoch sums are added up over the processes before Lightning sees them


def test_sharded_batches_are_one_process_batches_split():
    """Process r of N takes rows r, r + N, ... of every batch: together the processes see each batch one process
    sees, each the same number of batches, and len() says how many."""
    lengths = np.random.default_rng(0).integers(5, 50, 203)
    blocks = [np.arange(0, 50), np.arange(50, 120), np.arange(120, 203)]
    for make in (
        lambda shard: RowBatches(203, 16, shard),
        lambda shard: EpochShuffledBatches(203, 16, seed=4, shard=shard),
        lambda shard: EpochShuffledBatches(203, 16, seed=4, lengths=lengths, shard=shard),
        # shards on disk read two at a time: every group's last batch keeps at least 2 rows (rests 2 to 9)
        lambda shard: EpochShuffledBatches(203, 16, seed=4, shard=shard, blocks=blocks, blocks_together=2),
    ):
        whole = list(make(False))
        shares = []
        for rank in range(2):
            sampler = make(True)
            sampler._process_share = lambda rank=rank: (rank, 2)
            shares.append(list(sampler))
            assert len(shares[-1]) == len(sampler)
        assert len(shares[0]) == len(shares[1]) == len(whole)  # the last batch (203 % 16 = 11 rows) is kept
        for batch, first, second in zip(whole, *shares, strict=True):
            assert sorted(np.concatenate([first, second])) == sorted(batch)
            assert abs(len(first) - len(second)) <= 1

    lonely = RowBatches(17, 16, shard=True)  # a last batch of one row cannot be shared by two processes
    lonely._process_share = lambda: (1, 2)
    assert len(list(lonely)) == len(lonely) == 1
