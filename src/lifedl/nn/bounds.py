"""The importance-weighted bound on log p(x) (Burda et al. 2016), as scVI's marginal log-likelihood estimate.

With z_1..z_K drawn from the encoder's q(z | x), log w_k = log p(x | z_k) + log p(z_k) - log q(z_k | x) and

    IWAE_K = log (1/K) sum_k w_k  <=  log p(x),

a lower bound that tightens as K grows (IWAE_1 is the ELBO). A plug-in value log p(x | z = posterior mean) - KL is
no bound at all; models are compared by this one.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

STANDARD_NORMAL_LOG_NORMALISER = 0.5 * math.log(2 * math.pi)


def _log_normal(z: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    return (-0.5 * ((z - mean) ** 2 / log_var.exp() + log_var) - STANDARD_NORMAL_LOG_NORMALISER).sum(dim=-1)


@torch.no_grad()
def importance_weighted_bound(
    log_likelihood: Callable[[torch.Tensor], torch.Tensor],
    mean: torch.Tensor,
    log_var: torch.Tensor,
    n_samples: int,
    chunk: int = 25,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row, the IWAE bound with ``n_samples`` draws from N(mean, exp(log_var)) and the ELBO (the mean of the
    same log-weights). ``log_likelihood(z)`` takes z of shape (k, n, d) and returns log p(x_i | z_ki), (k, n);
    the prior is N(0, I). Draws use torch's global generator (seed it for a repeatable value)."""
    mean, log_var = mean.float(), log_var.float()
    zeros = torch.zeros_like(mean)
    log_weights = []
    for start in range(0, n_samples, chunk):
        k = min(chunk, n_samples - start)
        z = mean + torch.randn((k, *mean.shape), dtype=mean.dtype) * torch.exp(0.5 * log_var)
        log_prior, log_posterior = _log_normal(z, zeros, zeros), _log_normal(z, mean, log_var)
        log_weights.append(log_likelihood(z).float() + log_prior - log_posterior)
    log_weights = torch.cat(log_weights)
    return torch.logsumexp(log_weights, dim=0) - math.log(n_samples), log_weights.mean(dim=0)
