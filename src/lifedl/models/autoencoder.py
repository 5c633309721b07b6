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

from lifedl.data.batches import predict_batches
from lifedl.models.base import FitResult, Setup, TrainedModel, network_state
from lifedl.nn.layers import log_normalise_tensor, mlp
from lifedl.pp.counts import model_counts


class Autoencoder(nn.Module):
    def __init__(self, n_genes: int, n_latent: int, n_hidden: int, n_layers: int, dropout: float, corruption: float):
        super().__init__()
        self.corruption = corruption
        self.encoder = nn.Sequential(mlp(n_genes, n_hidden, n_layers, dropout), nn.Linear(n_hidden, n_latent))
        self.decoder = nn.Sequential(mlp(n_latent, n_hidden, n_layers, dropout), nn.Linear(n_hidden, n_genes))

    def corrupt(self, counts: torch.Tensor) -> torch.Tensor:
        """Drop each non-zero count with probability ``corruption`` (zeros stay zero)."""
        return counts * (torch.rand_like(counts) >= self.corruption)

    def encode(self, counts: torch.Tensor) -> torch.Tensor:
        return self.encoder(log_normalise_tensor(counts))

    def reconstruct(self, counts: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encode(counts))

    def loss(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Squared error per cell of the log-normalised ``counts`` field (from a corrupted copy for the DAE)."""
        counts = batch["counts"]
        clean = log_normalise_tensor(counts)
        noisy = self.corrupt(counts) if self.training and self.corruption > 0 else counts
        return {"reconstruction": ((self.reconstruct(noisy) - clean) ** 2).sum(dim=-1).mean()}


def denoising_scores(network: Autoencoder, test_counts, training_counts, fraction: float, seed: int) -> dict:
    """MSE on hidden non-zero entries of test cells: the model (from the rest of the cell) against two baselines,
    the per-gene mean of the training cells and the corrupted value itself (zero)."""
    held_out = test_counts.toarray()
    rows, cols = np.nonzero(held_out)
    hide = np.random.default_rng(seed).random(len(rows)) < fraction
    rows, cols = rows[hide], cols[hide]
    clean = log_normalise_tensor(torch.from_numpy(held_out)).numpy()
    masked = held_out.copy()
    masked[rows, cols] = 0.0
    with torch.no_grad():
        reconstructed = network.reconstruct(torch.from_numpy(masked)).numpy()
    gene_mean = np.asarray(log_normalise_tensor(torch.from_numpy(training_counts.toarray())).mean(0))
    truth = clean[rows, cols]
    return {
        "denoise_mse_hidden_entries": float(np.mean((reconstructed[rows, cols] - truth) ** 2)),
        "denoise_mse_gene_mean_baseline": float(np.mean((gene_mean[cols] - truth) ** 2)),
        "denoise_mse_zero_baseline": float(np.mean(truth**2)),
        "denoise_hidden_entries": float(len(rows)),
    }


class AutoencoderModel(TrainedModel):
    def __init__(self, arch, network, gene_names, params, final_metrics=None):
        self.arch, self.network = arch, network.eval()
        self.gene_names, self.params = list(gene_names), dict(params)
        self.final_metrics = dict(final_metrics or {})

    def _apply(self, function, adata: ad.AnnData) -> np.ndarray:
        return predict_batches(
            lambda batch: function(batch["counts"]), {"counts": model_counts(adata, self.gene_names)}
        )

    def embed(self, adata: ad.AnnData) -> np.ndarray:
        return self._apply(self.network.encode, adata)

    def test_scores(self, test: ad.AnnData, training: ad.AnnData, seed: int = 0) -> dict[str, float]:
        """Denoising on the test cells (:func:`denoising_scores`), the gene means from the training cells."""
        counts = {name: model_counts(cells, self.gene_names) for name, cells in (("test", test), ("train", training))}
        fraction = self.params["heldout_mask_fraction"]
        return denoising_scores(self.network, counts["test"], counts["train"], fraction, seed)

    def annotate(self, adata: ad.AnnData) -> None:
        if self.arch == "dae":  # the denoised log-normalised expression
            adata.layers["denoised_dae"] = self._apply(self.network.reconstruct, adata)

    def own_state(self) -> dict:
        return network_state(self, self.network)


def _network(n_genes: int, params: dict, arch: str) -> Autoencoder:
    corruption = params["corruption"] if arch == "dae" else 0.0
    return Autoencoder(
        n_genes, params["n_latent"], params["n_hidden"], params["n_layers"], params["dropout"], corruption
    )


def setup(adata: ad.AnnData, params: dict, spec, seed: int, arch: str = "ae") -> Setup:
    counts = model_counts(adata, what=spec.where)
    network = _network(adata.n_vars, params, arch)

    def finish(result: FitResult) -> AutoencoderModel:
        return AutoencoderModel(arch, network, adata.var_names, params, result.metrics)

    return Setup(network, {"counts": counts}, finish)


def from_checkpoint(checkpoint: dict) -> AutoencoderModel:
    network = _network(len(checkpoint["gene_names"]), checkpoint["params"], checkpoint["arch"])
    network.load_state_dict(checkpoint["state_dict"])
    return AutoencoderModel(
        checkpoint["arch"], network, checkpoint["gene_names"], checkpoint["params"], checkpoint["final_metrics"]
    )
