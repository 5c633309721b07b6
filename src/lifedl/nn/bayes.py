"""Bayes by backprop (Blundell et al. 2015): a linear layer with a Gaussian posterior over each weight.

Seed 004's Bayesian network (Edward's KLqp) in PyTorch: q(w) = N(mu, softplus(rho)^2) per weight and bias,
prior N(0, prior_sd^2), the KL between them in closed form. Every forward pass draws one set of weights for
the whole batch, so one pass is one network drawn from the posterior.
"""

from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as F
from torch import nn


class _BayesLayer(nn.Module):
    """The posterior of a deterministic layer's weights and bias: means starting at that layer's initial values,
    sds at ``initial_sd``. Each forward pass draws them anew, unless a draw is held (:func:`one_draw`)."""

    def __init__(self, reference: nn.Module, prior_sd: float, initial_sd: float):
        super().__init__()
        self.prior_sd = float(prior_sd)
        self.weight_mean = nn.Parameter(reference.weight.detach().clone())
        self.bias_mean = nn.Parameter(reference.bias.detach().clone())
        rho = math.log(math.expm1(initial_sd))  # softplus(rho) = initial_sd
        self.weight_rho = nn.Parameter(torch.full_like(reference.weight, rho))
        self.bias_rho = nn.Parameter(torch.full_like(reference.bias, rho))
        self.held: tuple[torch.Tensor, torch.Tensor] | None = None

    def draw(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.held is not None:
            return self.held
        weight = self.weight_mean + F.softplus(self.weight_rho) * torch.randn_like(self.weight_mean)
        bias = self.bias_mean + F.softplus(self.bias_rho) * torch.randn_like(self.bias_mean)
        return weight, bias

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


class BayesLinear(_BayesLayer):
    def __init__(self, n_in: int, n_out: int, prior_sd: float = 1.0, initial_sd: float = 0.01):
        super().__init__(nn.Linear(n_in, n_out), prior_sd, initial_sd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, *self.draw())


class BayesConv2d(_BayesLayer):
    """A 2-D convolution (stride 1) with a Gaussian posterior over each kernel weight and bias."""

    def __init__(self, n_in: int, n_out: int, kernel: int, padding: int = 0, prior_sd: float = 1.0, initial_sd=0.01):
        super().__init__(nn.Conv2d(n_in, n_out, kernel, padding=padding), prior_sd, initial_sd)
        self.padding = padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, *self.draw(), padding=self.padding)


@contextlib.contextmanager
def one_draw(network: nn.Module, at_means: bool = False):
    """Hold one draw of every Bayesian layer of ``network`` while the block runs: one network from the posterior
    for all rows, however many forward passes they take (a draw's accuracy is then one network's). ``at_means``:
    hold the posterior means instead (the deterministic network an attribution explains)."""
    layers = [module for module in network.modules() if isinstance(module, _BayesLayer)]
    with torch.no_grad():
        for layer in layers:
            layer.held = (layer.weight_mean, layer.bias_mean) if at_means else layer.draw()
    try:
        yield
    finally:
        for layer in layers:
            layer.held = None
