"""The one Lightning training loop every neural architecture uses.

A network only has to provide ``loss(counts, batch_index, kl_weight) -> dict`` of named
parts with a ``"loss"`` entry (``batch_index``: each cell's experimental batch, 0..n-1); each part is logged per epoch as ``train/<part>`` and ``val/<part>``.
Training stops early on the validation loss and the best weights are restored.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import lightning as L
import numpy as np
import scipy.sparse as sp
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

from lifedl.errors import LifedlError
from lifedl.train.context import TrainingContext, resolve_accelerator, resolve_precision
from lifedl.train.data import batch_loader, split_cells
from lifedl.train.tracking import RunRecorder


class LitModel(L.LightningModule):
    def __init__(
        self, network: torch.nn.Module, learning_rate: float, weight_decay: float, kl_warmup_epochs: int, seed: int
    ):
        super().__init__()
        self.network = network
        self.seed = seed
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.kl_warmup_epochs = kl_warmup_epochs
        self._epoch_sums: dict[str, dict] = {}

    def _kl_weight(self) -> float:
        if self.kl_warmup_epochs <= 0:
            return 1.0
        return min(1.0, (self.current_epoch + 1) / self.kl_warmup_epochs)

    def _step(self, batch: tuple[torch.Tensor, torch.Tensor], prefix: str, kl_weight: float) -> torch.Tensor:
        counts, batch_index = batch
        parts = self.network.loss(counts, batch_index, kl_weight=kl_weight)
        # Summed here and logged once per epoch: a self.log call per step and part costs more than a
        # small network's whole step on a CPU.
        sums = self._epoch_sums.setdefault(prefix, {})
        for name, value in parts.items():
            sums[name] = sums.get(name, 0.0) + value.detach() * counts.shape[0]
        sums[""] = sums.get("", 0) + counts.shape[0]
        return parts["loss"]

    def on_train_epoch_start(self) -> None:
        # Noise (dropout, reparameterisation) depends only on (seed, epoch): a resumed run replays it exactly.
        torch.manual_seed(self.seed * 100_003 + self.current_epoch)
        self._epoch_sums = {}

    def on_validation_epoch_end(self) -> None:
        # Validation runs at the end of each training epoch, so both sets of sums are complete here.
        means = {}
        for prefix, sums in self._epoch_sums.items():
            n_cells = sums.pop("")
            means.update({f"{prefix}/{name}": float(total) / n_cells for name, total in sums.items()})
        self._epoch_sums = {}
        self.log_dict(means)

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train", self._kl_weight())

    def validation_step(self, batch, batch_idx):
        # Validation always uses the full KL so that early stopping compares like with like.
        self._step(batch, "val", 1.0)

    def configure_optimizers(self):
        return torch.optim.Adam(self.network.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay)


class EpochMetricsLogger(L.Callback):
    """Logs every epoch's train/* and val/* metrics to MLflow (step = epoch) and prints progress."""

    def __init__(self, recorder: RunRecorder, print_every: int = 10):
        self.recorder, self.print_every = recorder, print_every

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Lightning runs validation before this hook, so both train/* and val/* are here.
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith(("train/", "val/"))}
        epoch = trainer.current_epoch
        self.recorder.log_metrics(metrics, step=epoch)
        if epoch % self.print_every == 0 or trainer.should_stop:
            shown = ", ".join(f"{k} {v:.2f}" for k, v in sorted(metrics.items()) if k.endswith("/loss"))
            print(f"epoch {epoch + 1}/{trainer.max_epochs}: {shown}", file=sys.stderr, flush=True)


@dataclasses.dataclass
class FitResult:
    metrics: dict[str, float]
    val_index: np.ndarray  # the held-out cells, for held-out measures


def fit_module(
    network: torch.nn.Module,
    counts: sp.csr_matrix,
    params: dict,
    context: TrainingContext,
    batch_codes: np.ndarray | None = None,
    monitor: str = "val/loss",
) -> FitResult:
    train_index, val_index = split_cells(counts.shape[0], params["val_fraction"], context.seed)
    if len(train_index) < params["batch_size"] or len(val_index) == 0:
        raise LifedlError(
            f"{context.source}: {counts.shape[0]} cells leave {len(train_index)} for training, fewer than one batch "
            f"(batch_size={params['batch_size']}). Lower batch_size under 'params:' in config/config.yaml, or use "
            "a data set with more cells."
        )
    lit = LitModel(network, params["learning_rate"], params["weight_decay"], params["kl_warmup_epochs"], context.seed)
    last = Path(context.work_dir) / "last.ckpt"
    resume_from = str(last) if last.is_file() else None
    if resume_from:
        print(f"resuming from {last}", file=sys.stderr, flush=True)
    # best.ckpt and last.ckpt (written every epoch) live in the run's own work_dir. Saving at the end of the
    # training epoch (after validation) marks the epoch complete, so a resumed run starts the next one cleanly.
    best = ModelCheckpoint(
        dirpath=context.work_dir,
        filename="best",
        monitor=monitor,
        mode="min",
        save_last=True,
        enable_version_counter=False,
        save_on_train_epoch_end=True,
    )
    accelerator = resolve_accelerator(context.accelerator)
    trainer = L.Trainer(
        max_epochs=params["max_epochs"],
        accelerator=accelerator,
        devices=context.devices,
        precision=resolve_precision(context.precision, accelerator),
        callbacks=[EarlyStopping(monitor=monitor, mode="min", patience=params["patience"]), best, *context.callbacks],
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        deterministic=True,
        default_root_dir=context.work_dir,
        num_sanity_val_steps=0,
        use_distributed_sampler=False,  # keep our epoch-seeded sampler
    )
    batch_size = params["batch_size"]
    device = "cuda" if accelerator == "gpu" else "cpu"
    loaders = {"device": device, "num_workers": context.num_workers, "seed": context.seed}
    codes = np.zeros(counts.shape[0], dtype=np.int64) if batch_codes is None else np.asarray(batch_codes)
    trainer.fit(
        lit,
        train_dataloaders=batch_loader(
            counts[train_index], batch_size, shuffle=True, batch_codes=codes[train_index], **loaders
        ),
        val_dataloaders=batch_loader(counts[val_index], batch_size, shuffle=False, batch_codes=codes[val_index], **loaders),
        ckpt_path=resume_from,
    )
    state = torch.load(best.best_model_path, map_location="cpu", weights_only=False)["state_dict"]
    lit.load_state_dict(state)
    network.cpu().eval()
    metrics = {
        "best_val_loss": float(best.best_model_score),
        "epochs_trained": float(trainer.current_epoch),
        "n_train_cells": float(len(train_index)),
        "n_val_cells": float(len(val_index)),
    }
    return FitResult(metrics, val_index)
