"""Count VAE with a negative-binomial likelihood (scVI / scVAE).

The encoder sees log1p(counts); the decoder gives each gene's share of the cell's
counts, scaled by the observed library size, as the NB mean; each gene has its own
learned inverse dispersion theta.
"""

from __future__ import annotations

import anndata as ad
import numpy as np
import torch
from torch import nn

from lifedl.data.sources import check_counts
from lifedl.models.base import counts_matrix
from lifedl.nn.layers import GaussianEncoder, ProportionDecoder
from lifedl.nn.likelihoods import nb_log_likelihood_per_cell
from lifedl.train.context import TrainingContext
from lifedl.train.fit import fit_module, predict_batches

NETWORK_PARAMS = ("n_latent", "n_hidden", "n_layers", "dropout")


class NBVAE(nn.Module):
    def __init__(self, n_genes: int, n_latent: int = 10, n_hidden: int = 128, n_layers: int = 1, dropout: float = 0.1):
        super().__init__()
        self.encoder = GaussianEncoder(n_genes, n_latent, n_hidden, n_layers, dropout)
        self.decoder = ProportionDecoder(n_latent, n_genes, n_hidden, n_layers, dropout)
        self.log_theta = nn.Parameter(torch.zeros(n_genes))

    def encode(self, counts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encoder(torch.log1p(counts))

    def loss(self, counts: torch.Tensor, kl_weight: float = 1.0) -> dict[str, torch.Tensor]:
        """Negative ELBO per cell (averaged over the batch), split into named parts."""
        mean, log_var = self.encode(counts)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * log_var) if self.training else mean
        library_size = counts.sum(dim=-1, keepdim=True)
        mu = self.decoder(z).float() * library_size
        # lgamma/log of counts lose too much in bf16: the likelihood is always evaluated in float32.
        with torch.autocast(device_type=counts.device.type, enabled=False):
            reconstruction = -nb_log_likelihood_per_cell(counts.float(), mu, torch.exp(self.log_theta.float())).mean()
        mean, log_var = mean.float(), log_var.float()
        kl = (0.5 * (mean.pow(2) + log_var.exp() - 1.0 - log_var)).sum(dim=-1).mean()
        return {"loss": reconstruction + kl_weight * kl, "reconstruction": reconstruction, "kl": kl}

    @torch.no_grad()
    def heldout_log_likelihood(self, counts: torch.Tensor) -> torch.Tensor:
        """Reconstruction log-likelihood per cell at the posterior mean."""
        mean, _ = self.encode(counts)
        mu = self.decoder(mean) * counts.sum(dim=-1, keepdim=True)
        return nb_log_likelihood_per_cell(counts, mu, torch.exp(self.log_theta))


class VAEModel:
    arch = "vae"

    def __init__(self, network: NBVAE, gene_names: list[str], params: dict, final_metrics: dict | None = None):
        self.network = network.eval()
        self.gene_names = list(gene_names)
        self.params = dict(params)
        self.final_metrics = dict(final_metrics or {})

    def embed(self, adata: ad.AnnData) -> np.ndarray:
        counts = counts_matrix(adata, self.gene_names)
        return predict_batches(lambda batch: self.network.encode(batch)[0], counts)

    def checkpoint(self) -> dict:
        return {
            "params": self.params,
            "gene_names": self.gene_names,
            "state_dict": self.network.state_dict(),
            "final_metrics": self.final_metrics,
        }


def _network(n_genes: int, params: dict) -> NBVAE:
    return NBVAE(n_genes, **{k: params[k] for k in NETWORK_PARAMS})


def train(adata: ad.AnnData, params: dict, context: TrainingContext) -> VAEModel:
    counts = counts_matrix(adata)
    check_counts(counts, f"{context.source} layers['counts'] (negative-binomial likelihood)")
    network = _network(adata.n_vars, params)
    result = fit_module(network, counts, params, context, monitor="val/loss")
    val_counts = counts[result.val_index]
    network.eval()
    log_likelihood = predict_batches(lambda batch: network.heldout_log_likelihood(batch)[:, None], val_counts)
    metrics = {**result.metrics, "heldout_reconstruction_loglik_per_cell": float(log_likelihood.mean())}
    return VAEModel(network, list(adata.var_names), params, metrics)


def from_checkpoint(checkpoint: dict) -> VAEModel:
    network = _network(len(checkpoint["gene_names"]), checkpoint["params"])
    network.load_state_dict(checkpoint["state_dict"])
    return VAEModel(network, checkpoint["gene_names"], checkpoint["params"], checkpoint["final_metrics"])

