"""A PeakVI-like VAE (Ashuach et al. 2022) for chromatin accessibility: each region of each cell is open or not
(the counts binarised), with probability

    p_ij = sigmoid(decoder(z_i))_j * l_i * r_j

a region's probability given the cell's state, times a cell factor l_i in (0, 1) (how much of the cell's chromatin
was captured, from its own encoder) and a region factor r_j in (0, 1) (how readily the region yields fragments,
learned). The loss is the Bernoulli negative log-likelihood plus the KL of q(z | x) to N(0, I).
"""

from __future__ import annotations

import torch
from torch import nn

from lifedl.nn.layers import GaussianEncoder, mlp
from lifedl.nn.likelihoods import kl_to_standard_normal

EPSILON = 1e-6


def bernoulli_log_likelihood_per_cell(x: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """sum_j log Bernoulli(x_ij | p_ij) per cell (x binary; p clipped away from 0 and 1)."""
    p = p.clamp(EPSILON, 1 - EPSILON)
    return (x * torch.log(p) + (1 - x) * torch.log1p(-p)).sum(dim=-1)


class PeakVAE(nn.Module):
    def __init__(self, n_regions: int, n_latent: int = 10, n_hidden: int = 128, n_layers: int = 2, dropout=0.1):
        super().__init__()
        self.encoder = GaussianEncoder(n_regions, n_latent, n_hidden, n_layers, dropout)
        self.cell_factor = nn.Sequential(mlp(n_regions, n_hidden, 1, dropout), nn.Linear(n_hidden, 1))
        self.decoder = nn.Sequential(mlp(n_latent, n_hidden, n_layers, dropout), nn.Linear(n_hidden, n_regions))
        self.region_logit = nn.Parameter(torch.zeros(n_regions))

    def probabilities(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        cell = torch.sigmoid(self.cell_factor(x))
        return torch.sigmoid(self.decoder(z)) * cell * torch.sigmoid(self.region_logit)

    def loss(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        x = (batch["counts"] > 0).float()
        mean, log_var = self.encoder(x)
        z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
        reconstruction = -bernoulli_log_likelihood_per_cell(x, self.probabilities(z, x)).mean()
        return {"reconstruction": reconstruction, "kl": kl_to_standard_normal(mean, log_var).mean()}

    @torch.no_grad()
    def embed(self, counts: torch.Tensor) -> torch.Tensor:
        return self.encoder((counts > 0).float())[0]
