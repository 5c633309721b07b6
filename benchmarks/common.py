"""What the benchmarks share: the 10x-like simulation, thread settings, peak RSS per stage, a training timer.

Peak RSS is the kernel's own high-water mark of the process (``VmHWM`` in /proc/self/status), reset
at the start of every stage by writing ``5`` to /proc/self/clear_refs (Linux >= 4.0). So a stage's
peak is the largest resident size the whole process reached during that stage (what has to fit in
the machine's memory), not the stage's increment, and no sampling thread can miss a short spike.
Each trainer and each scaling size also runs in a fresh process, so imports and earlier data sets
do not inflate the figures.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import resource
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO / "results" / "benchmarks"
GIB = 2**30

# lifedl's simulator fixes the spread of gene means (log-normal, sd 1.5); at ~2,000 UMIs over 2,000 genes
# its default dispersion (theta 4) leaves only ~65 % zeros. Strong over-dispersion and strong cell-type
# programs concentrate each cell's UMIs on fewer genes: ~90 % zeros and ~200 detected genes per cell, as
# on the highly variable genes of 10x data (the 1.3M brain cells). 10 types give the clustering a truth.
TENX_LIKE = {
    "mean_library_size": 2000.0,
    "dispersion_theta": 0.1,
    "de_fraction": 0.3,
    "de_log_fold_change": 3.0,
    "n_types": 10,
}
TENX_LABELS = "cell_type"
TARGET_ZERO_FRACTION = 0.9


def simulate_tenx_like(n_cells: int, n_genes: int = 2000, seed: int = 0):
    from lifedl.data import SimulationParams, simulate_counts

    return simulate_counts(SimulationParams(n_cells=n_cells, n_genes=n_genes, seed=seed, **TENX_LIKE))


def count_summary(counts) -> dict[str, float]:
    """Zero fraction, UMIs and detected genes per cell of a CSR count matrix."""
    umis = np.asarray(counts.sum(axis=1)).ravel()
    detected = np.diff(counts.indptr)
    return {
        "zero_fraction": 1.0 - counts.nnz / (counts.shape[0] * counts.shape[1]),
        "median_umis": float(np.median(umis)),
        "mean_umis": float(umis.mean()),
        "median_genes_detected": float(np.median(detected)),
    }


def describe_counts(name: str, counts) -> dict[str, float]:
    summary = count_summary(counts)
    note = "" if summary["zero_fraction"] > TARGET_ZERO_FRACTION else f"  (NOT above {TARGET_ZERO_FRACTION:.0%} zeros)"
    print(
        f"{name}: {counts.shape[0]} cells x {counts.shape[1]} genes, {summary['zero_fraction']:.1%} zeros, "
        f"median {summary['median_umis']:.0f} UMIs and {summary['median_genes_detected']:.0f} genes per cell{note}",
        flush=True,
    )
    return summary


def workflow_settings() -> dict:
    """The neighbour and clustering settings and seed of the workflow's default config (the values make run uses)."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    return {
        "n_neighbors": int(config["embedding"]["n_neighbors"]),
        "resolutions": [float(r) for r in config["clustering"]["resolutions"]],
        "default_resolution": float(config["clustering"]["default_resolution"]),
        "seed": int(config["seed"]),
    }


THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")


def child_environment(threads: int) -> dict[str, str]:
    """Environment of a benchmark subprocess: every native thread pool sized alike, before any library loads."""
    return {**os.environ, **{name: str(threads) for name in THREAD_VARIABLES}, "PYTHONUNBUFFERED": "1"}


def cpu_busy_fraction(seconds: float = 2.0) -> float:
    """The share of all cores' time spent busy (not idle, not waiting on I/O) over the next ``seconds``, from
    /proc/stat. This process only sleeps meanwhile, so it is other processes' load, measured now; the load
    average would still carry the benchmark that ran in the minute before."""

    def snapshot() -> tuple[int, int]:
        with open("/proc/stat") as stat:
            ticks = [int(value) for value in stat.readline().split()[1:]]
        return ticks[3] + ticks[4], sum(ticks)  # idle + iowait, all

    idle_before, total_before = snapshot()
    time.sleep(seconds)
    idle_after, total_after = snapshot()
    return 1.0 - (idle_after - idle_before) / max(total_after - total_before, 1)


def check_machine_idle(threads: int) -> float:
    """Warn when other processes keep the cores busy, and return the busy share to record beside the results:
    on this 2-core machine, training with 2 torch threads while another process held a core ran 7-10x
    slower than with 1 thread (OpenMP threads wait on the descheduled one), so such timings are not comparable."""
    busy = cpu_busy_fraction()
    if busy > 0.2:
        print(
            f"WARNING: the CPU was {busy:.0%} busy before starting: other processes are using it, so wall times "
            f"(with {threads} threads on {os.cpu_count()} cores) will be inflated and noisy. Benchmark an idle machine.",
            flush=True,
        )
    return busy


def set_torch_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def run_child(command: list[str], threads: int) -> tuple[int, float]:
    """Run a benchmark subprocess (its output goes straight to ours); return its exit code and its peak RSS
    in GiB as the kernel reports it to the parent (wait4's ru_maxrss): a check on the child's own figures."""
    process = subprocess.Popen(command, env=child_environment(threads), cwd=REPO)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, usage.ru_maxrss * 1024 / GIB


def peak_rss_bytes() -> int:
    """The process's resident-set high-water mark since start or the last reset_peak_rss()."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # no VmHWM: the lifetime peak


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS; False where the kernel does not allow it (peaks are then lifetime peaks)."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


@dataclasses.dataclass
class _OpenStage:
    row: dict
    started: float
    seconds: float = 0.0
    peak: int = 0


class StageRecorder:
    """Wall time and peak RSS of named stages of one process, one row per stage in the order they start.

    Stages nest: while an inner stage runs, the outer one's clock stops and the inner one gets the RSS
    peak to itself, so the outer stage's row counts only its own work (e.g. ``qc`` without ``hvg``).
    """

    def __init__(self, **common_fields):
        self.common_fields = common_fields
        self.rows: list[dict] = []
        self.peaks_are_per_stage = True
        self._open: list[_OpenStage] = []

    def _pause(self, stage: _OpenStage) -> None:
        stage.seconds += time.perf_counter() - stage.started
        stage.peak = max(stage.peak, peak_rss_bytes())

    def _reset(self) -> None:
        self.peaks_are_per_stage = reset_peak_rss() and self.peaks_are_per_stage

    @contextlib.contextmanager
    def stage(self, name: str, **fields) -> Iterator[dict]:
        """Time a stage; the yielded dict takes extra fields for its row (e.g. cells per second)."""
        if self._open:
            self._pause(self._open[-1])
        row = {**self.common_fields, "stage": name, **fields}
        self.rows.append(row)
        print(f"[{name}] started", flush=True)
        self._reset()
        current = _OpenStage(row, time.perf_counter())
        self._open.append(current)
        try:
            yield row
        finally:
            self._pause(current)
            self._open.pop()
            row["seconds"] = current.seconds
            row["peak_rss_gib"] = current.peak / GIB
            print(f"[{name}] {current.seconds:.2f} s, peak RSS {row['peak_rss_gib']:.2f} GiB", flush=True)
            self._reset()
            if self._open:
                self._open[-1].started = time.perf_counter()


def training_timer():
    """A Lightning callback timing the training loop only (on_train_start to on_train_end: after data
    loaders, model and trainer are set up, before any embedding), and counting the epochs it ran.
    Lightning is imported here, not at module level, because importing it takes seconds."""
    import lightning as L

    class TrainingTimer(L.Callback):
        def __init__(self):
            self.started = self.finished = None
            self.epochs = 0

        def on_train_start(self, trainer, pl_module):
            self.started = time.perf_counter()

        def on_train_epoch_end(self, trainer, pl_module):
            self.epochs += 1

        def on_train_end(self, trainer, pl_module):
            self.finished = time.perf_counter()

        @property
        def seconds(self) -> float:
            return self.finished - self.started

    return TrainingTimer()


def scvi_like_split(adata, val_fraction: float, seed: int) -> None:
    """obs['lifedl_split'] as scvi-tools splits when asked for ``train_size=1 - val_fraction``: that share of the
    cells is held out, the rest trains, so both tools train on the same cells' number; one held-out cell is the
    test row lifedl's split always has, the others validate."""
    import numpy as np

    from lifedl.data.splits import SPLIT_KEY, SPLITS

    order = np.random.default_rng(seed).permutation(adata.n_obs)
    split = np.full(adata.n_obs, "train", dtype=object)
    split[order[: max(1, round(val_fraction * adata.n_obs))]] = "validation"
    split[order[0]] = "test"
    adata.obs[SPLIT_KEY] = pd.Categorical(split, categories=list(SPLITS))


def scvi_like_vae_params(epochs: int) -> dict:
    """Hyper-parameters overriding lifedl's vae defaults with scvi.model.SCVI's defaults (scvi-tools 1.4):
    128 hidden units, 10 latent dimensions, one hidden layer, dropout 0.1, batch 128, Adam lr 1e-3 with
    weight decay 1e-6, KL weight warmed up linearly over 400 epochs; NB likelihood (SCVI's default is
    ZINB; the benchmark sets gene_likelihood='nb' there). Patience beyond the last epoch: no early stop."""
    return {
        "n_hidden": 128,
        "n_latent": 10,
        "n_layers": 1,
        "dropout": 0.1,
        "likelihood": "nb",
        "batch_size": 128,
        "learning_rate": 1e-3,
        "weight_decay": 1e-6,
        "kl_warmup_epochs": 400,
        "max_epochs": epochs,
        "patience": epochs + 1,
    }


def merge_runs(previous: pd.DataFrame | None, new: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The new rows plus the rows of an earlier table whose ``keys`` (e.g. data set and tool) were not run now:
    data sets can be run apart (with different epochs, or the long one alone) and still end up in one table."""
    if previous is None or previous.empty:
        return new.reset_index(drop=True)
    done = set(new[keys].itertuples(index=False, name=None))
    kept = previous[[row not in done for row in previous[keys].itertuples(index=False, name=None)]]
    # stable: the rows of one key (a data set's rules, largest first) keep their order
    return pd.concat([kept, new], ignore_index=True).sort_values(keys, kind="stable", ignore_index=True)


def output_dir(requested: str | None, quick: bool) -> Path:
    """results/benchmarks, or results/benchmarks/quick for smoke runs so they never overwrite real results."""
    if requested:
        return Path(requested)
    return RESULTS_DIR / "quick" if quick else RESULTS_DIR


PHASES = ("fetch", "forward", "backward", "optimizer", "validation")


def step_phases():
    """A Lightning callback splitting the training loop's wall time into phases, from the hooks Lightning
    calls in every tool alike: fetch (end of one step to the start of the next: the data loader making a
    batch), forward (training_step with the loss), backward, optimizer (the step and what the tool does
    after it) and validation (whole validation epochs). ``seconds`` gives each phase's total."""
    import lightning as L

    class StepPhases(L.Callback):
        def __init__(self):
            self.seconds = dict.fromkeys(PHASES, 0.0)
            self.steps = 0
            self._mark = None

        def _close(self, phase: str) -> None:
            now = time.perf_counter()
            if self._mark is not None:
                self.seconds[phase] += now - self._mark
            self._mark = now

        def on_train_epoch_start(self, trainer, pl_module):
            self._mark = time.perf_counter()

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            self._close("fetch")

        def on_before_backward(self, trainer, pl_module, loss):
            self._close("forward")

        def on_after_backward(self, trainer, pl_module):
            self._close("backward")

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            self._close("optimizer")
            self.steps += 1

        def on_validation_epoch_start(self, trainer, pl_module):
            self._mark = time.perf_counter()

        def on_validation_epoch_end(self, trainer, pl_module):
            self._close("validation")
            self._mark = None

    return StepPhases()
