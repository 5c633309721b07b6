"""Bayes by backprop (Blundell et al. 2015): a linear layer with a Gaussian posterior over each weight.

Seed 004's Bayesian network (Edward's KLqp) in PyTorch: q(w) = N(mu, softplus(rho)^2) per weight and bias,
prior N(0, prior_sd^2), the KL between them in closed form. Every forward pass draws one set of weights for
the whole batch, so one pass is one network drawn from the posterior.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class BayesLinear(nn.Module):
    def __init__(self, n_in: int, n_out: int, prior_sd: float = 1.0, initial_sd: float = 0.01):
        super().__init__()
        self.prior_sd = float(prior_sd)
        reference = nn.Linear(n_in, n_out)  # the means start where a deterministic layer's weights start
        self.weight_mean = nn.Parameter(reference.weight.detach().clone())
        self.bias_mean = nn.Parameter(reference.bias.detach().clone())
        rho = math.log(math.expm1(initial_sd))  # softplus(rho) = initial_sd
        self.weight_rho = nn.Parameter(torch.full((n_out, n_in), rho))
        self.bias_rho = nn.Parameter(torch.full((n_out,), rho))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight_mean + F.softplus(self.weight_rho) * torch.randn_like(self.weight_mean)
        bias = self.bias_mean + F.softplus(self.bias_rho) * torch.randn_like(self.bias_mean)
        return F.linear(x, weight, bias)

    def kl(self) -> torch.Tensor:
        """KL(q || prior) summed over weights and biases."""
        total = torch.zeros((), device=self.weight_mean.device)
        for mean, rho in ((self.weight_mean, self.weight_rho), (self.bias_mean, self.bias_rho)):
            sd = F.softplus(rho)
            total = (
                total
                + (math.log(self.prior_sd) - torch.log(sd) + (sd**2 + mean**2) / (2 * self.prior_sd**2) - 0.5).sum()
            )
        return total
