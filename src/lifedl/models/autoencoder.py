"""Deterministic autoencoders on log-normalised expression (MSE): ``ae`` and the denoising ``dae``.

The DAE sees inputs whose non-zero counts were dropped at random (rate
``corruption``, dropout-style, as in single-cell imputation) and learns to give back
the clean log-normalised values; its output is the denoised expression.
Both report the same held-out denoising measure: hide a fraction of the non-zero
entries of held-out cells, reconstruct, and compare the error on the hidden
entries with that of the per-gene mean.
"""

from __future__ import annotations

import anndata as ad
import numpy as np
import torch
from torch import nn

from lifedl.models.base import counts_matrix, network_checkpoint
from lifedl.models.vae import log_normalise_tensor
from lifedl.nn.layers import mlp
from lifedl.train.context import TrainingContext
from lifedl.train.data import predict_batches


class Autoencoder(nn.Module):
    def __init__(self, n_genes: int, n_latent: int, n_hidden: int, n_layers: int, dropout: float, corruption: float):
        super().__init__()
        self.corruption = corruption
        self.encoder = nn.Sequential(mlp(n_genes, n_hidden, n_layers, dropout), nn.Linear(n_hidden, n_latent))
        self.decoder = nn.Sequential(mlp(n_latent, n_hidden, n_layers, dropout), nn.Linear(n_hidden, n_genes))

    def corrupt(self, counts: torch.Tensor) -> torch.Tensor:
        """Drop each non-zero count with probability ``corruption`` (zeros stay zero)."""
        return counts * (torch.rand_like(counts) >= self.corruption)

    def encode(self, counts: torch.Tensor, batch_index: torch.Tensor | None = None) -> torch.Tensor:
        return self.encoder(log_normalise_tensor(counts))

    def reconstruct(self, counts: torch.Tensor, batch_index: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(self.encode(counts))

    def loss(self, counts: torch.Tensor, batch_index: torch.Tensor, kl_weight: float = 1.0) -> dict[str, torch.Tensor]:
        clean = log_normalise_tensor(counts)
        noisy = self.corrupt(counts) if self.training and self.corruption > 0 else counts
        error = ((self.reconstruct(noisy) - clean) ** 2).sum(dim=-1).mean()
        return {"loss": error, "reconstruction": error}


def denoising_scores(network: Autoencoder, counts, train_index, val_index, fraction: float, seed: int) -> dict:
    """MSE on hidden non-zero entries of held-out cells: the model (from the rest of the cell) against two
    baselines, the per-gene mean of the training cells and the corrupted value itself (zero)."""
    held_out = counts[val_index].toarray()
    rows, cols = np.nonzero(held_out)
    hide = np.random.default_rng(seed).random(len(rows)) < fraction
    rows, cols = rows[hide], cols[hide]
    clean = log_normalise_tensor(torch.from_numpy(held_out)).numpy()
    masked = held_out.copy()
    masked[rows, cols] = 0.0
    with torch.no_grad():
        reconstructed = network.reconstruct(torch.from_numpy(masked)).numpy()
    gene_mean = np.asarray(log_normalise_tensor(torch.from_numpy(counts[train_index].toarray())).mean(0))
    truth = clean[rows, cols]
    return {
        "denoise_mse_hidden_entries": float(np.mean((reconstructed[rows, cols] - truth) ** 2)),
        "denoise_mse_gene_mean_baseline": float(np.mean((gene_mean[cols] - truth) ** 2)),
        "denoise_mse_zero_baseline": float(np.mean(truth**2)),
        "denoise_hidden_entries": float(len(rows)),
    }


class AutoencoderModel:
    def __init__(self, arch, network, gene_names, params, final_metrics=None):
        self.arch, self.network = arch, network.eval()
        self.gene_names, self.params = list(gene_names), dict(params)
        self.final_metrics = dict(final_metrics or {})

    def embed(self, adata: ad.AnnData) -> np.ndarray:
        return predict_batches(self.network.encode, counts_matrix(adata, self.gene_names))

    def annotate(self, adata: ad.AnnData) -> None:
        if self.arch == "dae":  # the denoised log-normalised expression
            adata.layers["denoised_dae"] = predict_batches(self.network.reconstruct, counts_matrix(adata, self.gene_names))

    def checkpoint(self) -> dict:
        return network_checkpoint(self, self.network)


def _network(n_genes: int, params: dict, arch: str) -> Autoencoder:
    corruption = params["corruption"] if arch == "dae" else 0.0
    return Autoencoder(n_genes, params["n_latent"], params["n_hidden"], params["n_layers"], params["dropout"], corruption)


def train(adata: ad.AnnData, params: dict, context: TrainingContext, arch: str = "ae") -> AutoencoderModel:
    from lifedl.train.fit import fit_module  # Lightning (8 s to import) only where training happens

    counts = counts_matrix(adata)
    network = _network(adata.n_vars, params, arch)
    result = fit_module(network, counts, params, context)
    train_index = np.setdiff1d(np.arange(counts.shape[0]), result.val_index)
    scores = denoising_scores(network, counts, train_index, result.val_index, params["heldout_mask_fraction"], context.seed)
    return AutoencoderModel(arch, network, adata.var_names, params, {**result.metrics, **scores})


def from_checkpoint(checkpoint: dict) -> AutoencoderModel:
    network = _network(len(checkpoint["gene_names"]), checkpoint["params"], checkpoint["arch"])
    network.load_state_dict(checkpoint["state_dict"])
    return AutoencoderModel(
        checkpoint["arch"], network, checkpoint["gene_names"], checkpoint["params"], checkpoint["final_metrics"]
    )
