"""The Lightning training loops behind the plans ``generic``, ``dgd`` and ``gan`` (``lifedl.train.plans``).

Imported only when a network is trained, so the plan ``none`` (PCA, k-mer) never pays for Lightning.
"""

from __future__ import annotations

import lightning as L
import numpy as np
import torch
from torch import nn

from lifedl.data.batches import batch_loader, nonzero_key, take_rows
from lifedl.errors import LifedlError
from lifedl.models.base import FitResult, Setup
from lifedl.models.dgd import ADAM_BETAS  # the DGD's embedding of new cells uses the same betas
from lifedl.nn.optim import adam, frozen
from lifedl.train.context import TrainingContext
from lifedl.train.fit import LitModel, loader_settings, run_lightning, split_metrics, training_split


def _record(sums: dict, parts: dict[str, torch.Tensor]) -> torch.Tensor:
    """Add per-cell parts to an epoch's sums (LitModel's format); return the summed loss to differentiate."""
    loss = parts["reconstruction"] + parts["prior"]
    for name, value in {"loss": loss, **parts}.items():
        sums[name] = sums.get(name, 0.0) + value.detach().sum()
    sums[""] = sums.get("", 0) + loss.shape[0]
    return loss.sum()


class DGDTraining(LitModel):
    """LitModel's epoch means, logging, best weights and per-epoch seeding, with the DGD's three optimisers.

    Lightning checkpoints the representations (module parameters) and all three optimisers'
    states; LitModel adds the best network weights, so a resumed run continues exactly.
    """

    def __init__(self, network, n_train: int, n_val: int, params: dict, seed: int):
        super().__init__(network, params["learning_rate"], params["weight_decay"], 0, seed)
        self.automatic_optimization = False
        self.params = dict(params)
        self.n_train = n_train
        # Zeros, as in the authors' code: the decoder, not the start, tells the cells apart.
        self.train_representations = nn.Parameter(torch.zeros(n_train, network.n_latent))
        self.val_representations = nn.Parameter(torch.zeros(n_val, network.n_latent))

    def configure_optimizers(self):
        network = adam(
            [
                # Weight decay on the decoder only: the mixture and the representations have their priors.
                {"params": self.network.decoder_parameters(), "weight_decay": self.weight_decay},
                {"params": self.network.mixture.parameters(), "lr": self.params["mixture_learning_rate"]},
            ],
            lr=self.learning_rate,
            betas=ADAM_BETAS,
        )
        rate = self.params["representation_learning_rate"]
        train = adam([self.train_representations], lr=rate, betas=ADAM_BETAS)
        val = adam([self.val_representations], lr=rate, betas=ADAM_BETAS)
        return [network, train, val]

    def on_train_epoch_start(self) -> None:
        super().on_train_epoch_start()
        self.train_representations.grad = None

    def training_step(self, batch, batch_idx):
        counts, rows = batch["counts"], batch["row"]
        network_optimiser, representation_optimiser, _ = self.optimizers()
        nonzero = batch.get(nonzero_key("counts"))  # the CSR slice's coordinates (none on a resident loader)
        parts = self.network.loss_per_cell(counts, self.train_representations[rows], self.n_train, nonzero)
        total = _record(self._epoch_sums.setdefault("train", {}), parts)
        network_optimiser.zero_grad()  # the representations' gradients keep accumulating over the epoch
        self.manual_backward(total)
        network_optimiser.step()
        if batch_idx == self.trainer.num_training_batches - 1:
            representation_optimiser.step()
            representation_optimiser.zero_grad()

    def validation_step(self, batch, batch_idx):
        # Lightning validates in inference mode; the held-out representations need gradients. Cloning
        # makes ordinary tensors of the batch, which autograd may save. The network is frozen meanwhile: the
        # decoder and mixture get no gradients, and the NB backward then skips the dispersion's.
        with torch.inference_mode(False), torch.enable_grad(), frozen(self.network):
            counts, rows = batch["counts"].clone(), batch["row"].clone()
            z = self.val_representations[rows]
            nonzero = batch.get(nonzero_key("counts"))
            nonzero = None if nonzero is None else nonzero.clone()
            parts = self.network.loss_per_cell(counts, z, self.n_train, nonzero)
            total = _record(self._epoch_sums.setdefault("val", {}), parts)
            (gradient,) = torch.autograd.grad(total, [z])
            if self.val_representations.grad is None:
                self.val_representations.grad = torch.zeros_like(self.val_representations)
            self.val_representations.grad.index_add_(0, rows, gradient.to(self.val_representations.dtype))

    def on_validation_epoch_end(self) -> None:
        with torch.inference_mode(False):  # optimiser state must be ordinary tensors, stepped every epoch
            validation_optimiser = self.optimizers()[2].optimizer
            if self.val_representations.grad is not None:
                validation_optimiser.step()
            validation_optimiser.zero_grad()
        super().on_validation_epoch_end()


REALISM_CELLS = 1000  # training cells scored against as many generated ones by realism_every (a few seconds)


class GANTraining(L.LightningModule):
    """Manual optimisation: one critic update per minibatch of real cells, one generator update after every
    ``critic_steps`` critic updates (counted across epochs and kept in the checkpoint)."""

    def __init__(self, network, params: dict, seed: int, real: dict | None = None):
        super().__init__()
        self.automatic_optimization = False
        self.network, self.params, self.seed = network, params, seed
        self.real = real  # the training cells' arrays: realism_every scores generated cells against them
        self.critic_updates = 0
        self.generator_updates = 0
        self._sums: dict[str, tuple[torch.Tensor | float, int]] = {}
        self.epoch_means: dict[str, float] = {}  # the last epoch's train/* means, read by EpochMetricsLogger

    def learning_rate(self, epoch: int) -> float:
        # The paper's exponential decay from learning_rate to learning_rate_final, as a function of the epoch
        # alone so that a resumed run sets the same rate.
        start, final = self.params["learning_rate"], self.params["learning_rate_final"]
        return start * (final / start) ** (epoch / max(1, self.params["max_epochs"] - 1))

    def on_train_epoch_start(self) -> None:
        # Noise, epsilons and resampled types depend only on (seed, epoch): a resumed run replays them exactly.
        torch.manual_seed(self.seed * 100_003 + self.current_epoch)
        self._sums = {}
        for optimizer in self.optimizers():
            for group in optimizer.param_groups:
                group["lr"] = self.learning_rate(self.current_epoch)

    def _add(self, parts: dict[str, torch.Tensor]) -> None:
        # Summed here and logged once per epoch: a self.log call per step costs more than it is worth on a CPU.
        for name, value in parts.items():
            total, count = self._sums.get(name, (0.0, 0))
            self._sums[name] = (total + value.detach(), count + 1)

    def training_step(self, batch, batch_idx):
        real, labels = batch["expression"], self.network.batch_labels(batch)
        critic_optimizer, generator_optimizer = self.optimizers()
        parts = self.network.critic_loss(real, labels, self.params["batch_size"])
        critic_optimizer.zero_grad(set_to_none=True)
        self.manual_backward(parts["loss"])
        critic_optimizer.step()
        self.critic_updates += 1
        self._add(parts)
        if self.critic_updates % self.params["critic_steps"] == 0:
            # The critic's parameters are frozen meanwhile, so no time goes into gradients nobody uses.
            with self.toggled_optimizer(generator_optimizer):
                generator_parts = self.network.generator_loss(labels, self.params["batch_size"])
                generator_optimizer.zero_grad(set_to_none=True)
                self.manual_backward(generator_parts["generator"])
                generator_optimizer.step()
            self.generator_updates += 1
            self._add(generator_parts)
        if batch_idx == self.trainer.num_training_batches - 1:  # before the callbacks' on_train_epoch_end
            self.epoch_means = {f"train/{name}": float(total) / count for name, (total, count) in self._sums.items()}
            every = self.params.get("realism_every", 0)
            if every and self.real is not None and (self.current_epoch + 1) % every == 0:
                self.epoch_means["realism/auroc"] = self.realism_auroc()

    def realism_auroc(self) -> float:
        """scGAN's measure during training: the random forest's AUROC telling up to REALISM_CELLS training cells
        from as many generated ones (of the same types, for cscGAN); the training's random stream is untouched."""
        from lifedl.tl.realism import realism_table

        expression = self.real["expression"]
        rows = np.sort(np.random.default_rng(self.seed).permutation(expression.shape[0])[:REALISM_CELLS])
        labels = self.real.get("label")
        labels = torch.as_tensor(labels[rows] if labels is not None else np.zeros(len(rows), dtype=np.int64))
        generator = self.network.generator
        was_training = generator.training
        generator.eval()  # batch norm's running statistics, as ScGANModel.generate
        devices = [self.device.index or 0] if self.device.type == "cuda" else []  # their random streams kept too
        with torch.no_grad(), torch.random.fork_rng(devices=devices):
            torch.manual_seed(self.seed)
            generated = self.network.generate(len(rows), labels.to(self.device), self.device).float().cpu().numpy()
        generator.train(was_training)
        # as the generate step scores the final model (the same split of the real cells), less the floor
        return float(realism_table(expression[rows], generated, self.seed, floor=False)["auroc"].iloc[0])

    def configure_optimizers(self):
        def optimiser(module: nn.Module) -> torch.optim.Optimizer:
            return adam(
                module.parameters(),
                lr=self.params["learning_rate"],
                betas=(self.params["beta1"], self.params["beta2"]),
                amsgrad=self.params["amsgrad"],
            )

        return optimiser(self.network.critic), optimiser(self.network.generator)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["lifedl_scgan"] = {
            "critic_updates": self.critic_updates,
            "generator_updates": self.generator_updates,
        }

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.critic_updates = checkpoint["lifedl_scgan"]["critic_updates"]
        self.generator_updates = checkpoint["lifedl_scgan"]["generator_updates"]


def fit_generic(setup: Setup, params: dict, context: TrainingContext) -> FitResult:
    network, arrays = setup.network, setup.arrays
    train_index, val_index = training_split(setup.split, params, context)
    warmup = params.get("kl_warmup_epochs", 0)  # only models with a part named "kl" have it
    lit = LitModel(
        network, params["learning_rate"], params["weight_decay"], warmup, context.seed, params.get("gradient_clip")
    )
    loaders = loader_settings(context)
    trainer = run_lightning(
        lit,
        params["max_epochs"],
        context,
        train_loader=batch_loader(
            take_rows(arrays, train_index),
            params["batch_size"],
            shuffle=True,
            lengths=None if setup.lengths is None else setup.lengths[train_index],
            shard=True,
            **loaders,
        ),
        val_loader=batch_loader(
            take_rows(arrays, val_index), params["batch_size"], shuffle=False, shard=True, **loaders
        ),
        patience=params["patience"],
    )
    network.load_state_dict(lit.best_state)
    network.cpu().eval()
    return FitResult(split_metrics(lit.best_val_loss, trainer, train_index, val_index), train_index, val_index)


def single_process(context: TrainingContext, plan: str, why: str) -> None:
    if context.devices != 1:
        raise LifedlError(
            f"{context.label or context.source}: training.devices is {context.devices}, but the '{plan}' training "
            f"runs in one process only ({why}). Set training.devices: 1 in config/config.yaml: data-parallel training "
            "serves the networks trained by the generic plan (autoencoders, VAEs, classifiers)."
        )


def fit_dgd(setup: Setup, params: dict, context: TrainingContext) -> FitResult:
    single_process(context, "dgd", "each cell's representation is a parameter that every process would need")
    network, arrays = setup.network, setup.arrays
    train_index, val_index = training_split(setup.split, params, context)
    module = DGDTraining(network, len(train_index), len(val_index), params, context.seed)
    loaders = loader_settings(context)

    def with_rows(index: np.ndarray) -> dict:
        # field ``row``: each cell's place in its split, which picks its representation
        return {**take_rows(arrays, index), "row": np.arange(len(index))}

    train_loader = batch_loader(with_rows(train_index), params["batch_size"], shuffle=True, **loaders)
    val_loader = batch_loader(with_rows(val_index), params["batch_size"], shuffle=False, **loaders)
    trainer = run_lightning(module, params["max_epochs"], context, train_loader, val_loader, params["patience"])
    network.load_state_dict(module.best_state)
    network.cpu()
    return FitResult(split_metrics(module.best_val_loss, trainer, train_index, val_index), train_index, val_index)


def fit_gan(setup: Setup, params: dict, context: TrainingContext) -> FitResult:
    single_process(context, "gan", "its critic and generator updates are counted across the epochs in one process")
    network = setup.network
    train_index, val_index = training_split(setup.split, params, context)  # no early stopping: validation unused
    arrays = take_rows(setup.arrays, train_index)
    lit = GANTraining(network, params, context.seed, real=arrays)
    loader = batch_loader(arrays, params["batch_size"], shuffle=True, **loader_settings(context))
    trainer = run_lightning(lit, params["max_epochs"], context, train_loader=loader)
    network.cpu().eval()
    metrics = {
        "epochs_trained": float(trainer.current_epoch),
        "n_train_cells": float(len(train_index)),
        "critic_updates": float(lit.critic_updates),
        "generator_updates": float(lit.generator_updates),
        **{f"last_epoch_{key.split('/', 1)[1]}": value for key, value in lit.epoch_means.items()},
    }
    return FitResult(metrics, train_index, val_index)


LOOPS = {"generic": fit_generic, "dgd": fit_dgd, "gan": fit_gan}
