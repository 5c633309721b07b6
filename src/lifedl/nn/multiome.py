"""A joint VAE of the RNA and the chromatin accessibility of the same cells (10x Multiome), as multiVI and seed
004's integration: each modality's encoder gives a Gaussian expert, the cell's latent state is their product with
the prior N(0, I) (as lifedl's CITE-seq multivae), and each modality is decoded from it with its own likelihood:
negative binomial counts for the RNA (scVI's), Bernoulli accessibility with a cell and a region factor for the
regions (PeakVI's, ``lifedl.nn.peakvi``)."""

from __future__ import annotations

import torch
from torch import nn

from lifedl.nn.layers import GaussianEncoder, mlp
from lifedl.nn.likelihoods import kl_to_standard_normal, nb_log_likelihood_per_cell
from lifedl.nn.peakvi import bernoulli_log_likelihood_per_cell


class RnaAtacVAE(nn.Module):
    def __init__(self, n_genes: int, n_regions: int, n_latent=10, n_hidden=128, n_layers=1, dropout=0.1):
        super().__init__()
        self.rna_encoder = GaussianEncoder(n_genes, n_latent, n_hidden, n_layers, dropout)
        self.atac_encoder = GaussianEncoder(n_regions, n_latent, n_hidden, n_layers, dropout)
        self.rna_decoder = nn.Sequential(mlp(n_latent, n_hidden, n_layers, dropout), nn.Linear(n_hidden, n_genes))
        self.atac_decoder = nn.Sequential(mlp(n_latent, n_hidden, n_layers, dropout), nn.Linear(n_hidden, n_regions))
        self.cell_factor = nn.Sequential(mlp(n_regions, n_hidden, 1, dropout), nn.Linear(n_hidden, 1))
        self.region_logit = nn.Parameter(torch.zeros(n_regions))
        self.gene_log_theta = nn.Parameter(torch.zeros(n_genes))

    def encode(self, counts: torch.Tensor, peaks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The product of N(0, I) and both experts: precisions add, means are precision-weighted."""
        rna_mean, rna_log_var = self.rna_encoder(torch.log1p(counts))
        atac_mean, atac_log_var = self.atac_encoder((peaks > 0).float())
        rna_precision, atac_precision = torch.exp(-rna_log_var), torch.exp(-atac_log_var)
        precision = 1.0 + rna_precision + atac_precision
        return (rna_mean * rna_precision + atac_mean * atac_precision) / precision, -torch.log(precision)

    def loss(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Negative ELBO per cell: RNA ``reconstruction``, ``peak_reconstruction`` and ``kl`` (fields ``counts``,
        ``peaks``)."""
        counts, peaks = batch["counts"], batch["peaks"]
        mean, log_var = self.encode(counts, peaks)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * log_var) if self.training else mean
        share = torch.softmax(self.rna_decoder(z), dim=-1)
        rna = nb_log_likelihood_per_cell(counts, share * counts.sum(-1, keepdim=True), torch.exp(self.gene_log_theta))
        open_ = (peaks > 0).float()
        probability = (
            torch.sigmoid(self.atac_decoder(z))
            * torch.sigmoid(self.cell_factor(open_))
            * torch.sigmoid(self.region_logit)
        )
        return {
            "reconstruction": -rna.mean(),
            "peak_reconstruction": -bernoulli_log_likelihood_per_cell(open_, probability).mean(),
            "kl": kl_to_standard_normal(mean, log_var).mean(),
        }

    @torch.no_grad()
    def embed(self, counts: torch.Tensor, peaks: torch.Tensor) -> torch.Tensor:
        return self.encode(counts, peaks)[0]
