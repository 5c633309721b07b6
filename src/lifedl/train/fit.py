"""The Lightning loop every neural architecture's training plan runs (``lifedl.train.plans``).

With the generic plan a network only has to provide ``loss(batch) -> dict`` of named parts,
``batch`` being a dict minibatch of its declared fields (``lifedl.data.batches``); the loss is
their sum, with the KL warm-up weight on a part named ``kl``. Each part and the loss are logged
per epoch as ``train/<part>`` and ``val/<part>``, under the same names for every model.
Training stops early on the validation loss and the best weights are restored.

Every ``CHECKPOINT_EVERY_N_EPOCHS`` epochs ``last.ckpt`` (weights, optimiser, early-stopping state,
the best weights so far and the epochs' metrics) is written, then those metrics go to MLflow: a killed
job resumes from there and replays the same epochs exactly, without logging any epoch twice.
Writing both every epoch cost about a third of a small model's training time on a CPU.
"""

from __future__ import annotations

import sys
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.plugins.io import TorchCheckpointIO

from lifedl.data.splits import TRAIN, VALIDATION
from lifedl.errors import LifedlError
from lifedl.io import atomic_path
from lifedl.nn.optim import adam
from lifedl.train.context import TrainingContext, resolve_accelerator, resolve_precision
from lifedl.train.resume import LAST_CHECKPOINT
from lifedl.train.tracking import RunRecorder

CHECKPOINT_EVERY_N_EPOCHS = 10
PROCESS_SEED_STRIDE = 7_919  # a data-parallel process's noise seed is rank 0's plus its rank times this
UNSENT_METRICS = "lifedl_unsent_epoch_metrics"  # in last.ckpt: epochs MLflow may not have yet


class LitModel(L.LightningModule):
    def __init__(
        self,
        network: torch.nn.Module,
        learning_rate: float,
        weight_decay: float,
        kl_warmup_epochs: int,
        seed: int,
        gradient_clip: float | None = None,
    ):
        """``gradient_clip``: None leaves gradients alone; a number logs each epoch's gradient norms
        (before clipping: mean and max over steps; after: max) and, when above 0, clips the norm to it."""
        super().__init__()
        self.log_gradients = gradient_clip is not None
        self.clip_limit = gradient_clip if gradient_clip else float("inf")  # 0: no clipping
        self._gradient_norms: list[torch.Tensor] = []
        self.network = network
        self.seed = seed
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.kl_warmup_epochs = kl_warmup_epochs
        self._epoch_sums: dict[str, dict] = {}
        self.epoch_means: dict[str, float] = {}  # the last epoch's train/* and val/* means
        self.best_val_loss = float("inf")
        self.best_state: dict[str, torch.Tensor] = {}

    def _kl_weight(self) -> float:
        if self.kl_warmup_epochs <= 0:
            return 1.0
        return min(1.0, (self.current_epoch + 1) / self.kl_warmup_epochs)

    def _step(self, batch: dict[str, torch.Tensor], prefix: str, kl_weight: float) -> torch.Tensor:
        parts = self.network.loss(batch)
        parts = {"loss": sum(value * (kl_weight if name == "kl" else 1.0) for name, value in parts.items()), **parts}
        n = len(next(iter(batch.values())))
        # Summed here and logged once per epoch: a self.log call per step and part costs more than a
        # small network's whole step on a CPU.
        sums = self._epoch_sums.setdefault(prefix, {})
        for name, value in parts.items():
            sums[name] = sums.get(name, 0.0) + value.detach() * n
        sums[""] = sums.get("", 0) + n
        return parts["loss"]

    def on_train_epoch_start(self) -> None:
        # Noise (dropout, reparameterisation) depends only on (seed, epoch): a resumed run replays it exactly.
        # Each data-parallel process draws its own (rank 0's is a single process's).
        torch.manual_seed(self.seed * 100_003 + self.current_epoch + PROCESS_SEED_STRIDE * self.global_rank)
        self._epoch_sums = {}
        self._gradient_norms = []

    def on_before_optimizer_step(self, optimizer) -> None:
        # Lightning calls this after unscaling mixed-precision gradients, so the norm is the true one.
        if self.log_gradients:
            norm = torch.nn.utils.clip_grad_norm_(self.network.parameters(), self.clip_limit)
            self._gradient_norms.append(norm.detach())

    def _gradient_norm_summary(self) -> dict[str, float]:
        if not self._gradient_norms:
            return {}
        norms = torch.stack(self._gradient_norms).float()
        return {
            "train/grad_norm": float(norms.mean()),
            "train/grad_norm_max": float(norms.max()),
            "train/grad_norm_clipped_max": float(norms.clamp(max=self.clip_limit).max()),
        }

    def _summed_over_processes(self) -> None:
        """In a data-parallel training each process summed its share of the rows: add them up, so every process
        has the same epoch means (the same early stopping and best weights) and rank 0 logs the whole epoch's."""
        if self.trainer.world_size == 1:
            return
        for prefix in sorted(self._epoch_sums):
            sums = self._epoch_sums[prefix]
            names = sorted(sums)
            values = torch.stack(
                [torch.as_tensor(sums[name], dtype=torch.float64, device=self.device) for name in names]
            )
            totals = self.trainer.strategy.reduce(values, reduce_op="sum")
            self._epoch_sums[prefix] = dict(zip(names, totals.cpu().tolist(), strict=True))

    def on_validation_epoch_end(self) -> None:
        # Validation runs at the end of each training epoch, so both sets of sums are complete here.
        self._summed_over_processes()
        means = {}
        for prefix, sums in self._epoch_sums.items():
            n_cells = sums.pop("")
            means.update({f"{prefix}/{name}": float(total) / n_cells for name, total in sums.items()})
        self._epoch_sums = {}
        self.epoch_means = {**means, **self._gradient_norm_summary()}
        # Only what early stopping reads goes through Lightning's logging (about 1.5 ms per value per epoch);
        # EpochMetricsLogger takes the rest from epoch_means.
        self.log("val/loss", means["val/loss"])
        if means["val/loss"] < self.best_val_loss:  # the best weights, kept in memory (and in last.ckpt)
            self.best_val_loss = means["val/loss"]
            self.best_state = {k: v.detach().cpu().clone() for k, v in self.network.state_dict().items()}

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["lifedl_best"] = {"val_loss": self.best_val_loss, "state": self.best_state}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.best_val_loss = checkpoint["lifedl_best"]["val_loss"]
        self.best_state = checkpoint["lifedl_best"]["state"]

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train", self._kl_weight())

    def validation_step(self, batch, batch_idx):
        # Validation always uses the full KL so that early stopping compares like with like.
        self._step(batch, "val", 1.0)

    def configure_optimizers(self):
        return adam(self.network.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay)


class EpochMetricsLogger(L.Callback):
    """Logs every epoch's train/* and val/* metrics (the module's ``epoch_means``) to MLflow (step = epoch)
    and prints progress.

    Metrics are buffered and go into each checkpoint; they are sent once that checkpoint is on disk (at the
    next epoch's start) and when training ends. A job killed before the checkpoint is written resumes from
    the one before, which holds nothing unsent; one killed while sending resumes from the new one, which
    sends what MLflow lacks. So the MLflow history matches what a resumed run starts from, each epoch once.
    """

    def __init__(self, recorder: RunRecorder, label: str = "", print_every: int = 10):
        self.recorder, self.print_every = recorder, print_every
        self.prefix = f"{label}: " if label else ""  # parallel jobs' lines interleave in the terminal
        self.pending: list[tuple[int, dict[str, float]]] = []  # epochs in no checkpoint yet
        self.checkpointed: list[tuple[int, dict[str, float]]] = []  # epochs in a checkpoint, not yet sent

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Lightning runs validation before this hook, so both train/* and val/* are here.
        metrics = dict(pl_module.epoch_means)
        epoch = trainer.current_epoch
        self.pending.append((epoch, metrics))
        if epoch % self.print_every == 0 or trainer.should_stop:
            shown = ", ".join(
                f"{k} {v:.2f}" for k, v in sorted(metrics.items()) if k.endswith("/loss") or k.startswith("realism/")
            )
            print(f"{self.prefix}epoch {epoch + 1}/{trainer.max_epochs}: {shown}", file=sys.stderr, flush=True)

    def _send(self, epochs: list[tuple[int, dict[str, float]]]) -> None:
        for epoch, metrics in epochs:
            self.recorder.log_metrics(metrics, step=epoch)

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        # Lightning runs checkpoint callbacks last, so this epoch's metrics are already pending.
        self.checkpointed += self.pending
        self.pending = []
        checkpoint[UNSENT_METRICS] = list(self.checkpointed)

    def on_load_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict) -> None:
        unsent = checkpoint.get(UNSENT_METRICS, [])
        if unsent:  # the job was killed after writing this checkpoint: send what MLflow does not have
            key = next(iter(unsent[0][1]))
            logged = self.recorder.logged_steps(key)
            self._send([(epoch, metrics) for epoch, metrics in unsent if epoch not in logged])

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._send(self.checkpointed)  # the checkpoint that holds them is on disk now
        self.checkpointed = []

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._send(self.checkpointed + self.pending)
        self.checkpointed, self.pending = [], []


def training_split(split: np.ndarray, params: dict, context: TrainingContext) -> tuple[np.ndarray, np.ndarray]:
    """The rows of the data set's train and validation splits (``split``: one label per row), with at least one
    batch to train on and one row to validate on."""
    train_index, val_index = np.flatnonzero(split == TRAIN), np.flatnonzero(split == VALIDATION)
    if len(train_index) < params["batch_size"] or len(val_index) == 0:
        raise LifedlError(
            f"{context.source}: the data set's split leaves {len(train_index)} rows for training (fewer than one "
            f"batch, batch_size={params['batch_size']}) or none to validate on ({len(val_index)}). Lower batch_size "
            "under 'params:' or raise split.validation_fraction in config/config.yaml, or use more rows."
        )
    return train_index, val_index


def split_metrics(best_val_loss: float, trainer: L.Trainer, train_index, val_index) -> dict[str, float]:
    """What every plan with early stopping reports."""
    return {
        "best_val_loss": best_val_loss,
        "epochs_trained": float(trainer.current_epoch),
        "n_train_cells": float(len(train_index)),
        "n_val_cells": float(len(val_index)),
        "training_processes": float(trainer.world_size),  # data-parallel processes (training.devices)
    }


def loader_settings(context: TrainingContext) -> dict:
    """batch_loader arguments for the context's device: on a GPU small data sets live there."""
    device = "cuda" if resolve_accelerator(context.accelerator) == "gpu" else "cpu"
    return {"device": device, "num_workers": context.num_workers, "seed": context.seed}


def _quiet_lightning() -> None:
    """Keep a job's log to what it does: no accelerator summary, tips or hints that do not apply here
    (Snakemake submits SLURM jobs itself; the tree-spec deprecation is Lightning's own)."""
    import logging
    import warnings

    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=r"The `srun` command is available")
    warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated")
    warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")  # resuming
    # LitModel adds up its epoch sums over data-parallel processes itself: val/loss is the same in each
    warnings.filterwarnings("ignore", message=r"It is recommended to use `self.log\('val/loss'")


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint writer, through a temporary file renamed into place: a job killed (or a disk
    filled) mid-write leaves the previous ``last.ckpt`` whole, never a cut-short one."""

    def save_checkpoint(self, checkpoint, path, storage_options=None) -> None:
        with atomic_path(path) as tmp:
            super().save_checkpoint(checkpoint, tmp, storage_options)


def data_parallel(devices: int, accelerator: str) -> dict:
    """Trainer arguments for ``devices`` processes on one node: Lightning's DDP, over gloo on CPUs and NCCL on
    GPUs, or nothing for one process."""
    if devices == 1:
        return {}
    from lightning.pytorch.strategies import DDPStrategy

    return {"strategy": DDPStrategy(process_group_backend="nccl" if accelerator == "gpu" else "gloo")}


def cluster_plugins(devices: int) -> list:
    """Who starts the processes. Where srun or torchrun started one per device, Lightning reads their ranks from
    the environment; where one process runs (a Snakemake job, which the SLURM executor runs as a single srun task
    on one node), Lightning's own launcher starts the others, so SLURM's one-task environment must not be taken
    for the whole process group (Lightning would wait for tasks that never come)."""
    import os

    from lightning.fabric.plugins.environments import LightningEnvironment, SLURMEnvironment

    if devices == 1 or "TORCHELASTIC_RUN_ID" in os.environ:
        return []
    if SLURMEnvironment.detect() and int(os.environ["SLURM_NTASKS"]) == devices:
        return []
    return [LightningEnvironment()]


def run_lightning(
    module: L.LightningModule,
    max_epochs: int,
    context: TrainingContext,
    train_loader,
    val_loader=None,
    patience: int | None = None,
) -> L.Trainer:
    """Fit any lifedl LightningModule: resumes from ``work_dir/last.ckpt``, writes it every
    ``CHECKPOINT_EVERY_N_EPOCHS`` epochs, stops early on ``val/loss`` when ``patience`` is given.

    Shared by the encoder models (LitModel) and the models with their own loops (GAN, DGD).
    """
    last = Path(context.work_dir) / LAST_CHECKPOINT
    resume_from = str(last) if last.is_file() else None  # steps.train set an unreadable one aside
    if resume_from:
        print(f"resuming from {last}", file=sys.stderr, flush=True)
    # last.ckpt lives in the run's own work_dir. Saving at the end of the training epoch (after validation)
    # marks the epoch complete, so a resumed run starts the next one cleanly.
    # (Not save_last: Lightning writes "last" only in an epoch where it also saved a top-k checkpoint.)
    last_checkpoint = ModelCheckpoint(
        dirpath=context.work_dir,
        filename="last",
        monitor=None,
        save_top_k=1,
        every_n_epochs=CHECKPOINT_EVERY_N_EPOCHS,
        enable_version_counter=False,
        save_on_train_epoch_end=True,
    )
    early_stopping = [EarlyStopping(monitor="val/loss", mode="min", patience=patience)] if patience else []
    epoch_logger = [EpochMetricsLogger(context.recorder, context.label)] if context.recorder is not None else []
    accelerator = resolve_accelerator(context.accelerator)
    _quiet_lightning()
    trainer = L.Trainer(
        max_epochs=max_epochs,
        accelerator=accelerator,
        devices=context.devices,
        **data_parallel(context.devices, accelerator),
        precision=resolve_precision(context.precision, accelerator),
        callbacks=[*early_stopping, last_checkpoint, *epoch_logger, *context.callbacks],
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        deterministic=True,
        default_root_dir=context.work_dir,
        num_sanity_val_steps=0,
        limit_val_batches=1.0 if val_loader is not None else 0,
        use_distributed_sampler=False,  # keep our epoch-seeded sampler (it shards itself: batch_loader's shard)
        plugins=[AtomicCheckpointIO(), *cluster_plugins(context.devices)],
    )
    trainer.fit(module, train_dataloaders=train_loader, val_dataloaders=val_loader, ckpt_path=resume_from)
    return trainer
