"""Count likelihoods shared by every model (one place, as in scvi-tools' distributions).

The negative binomial is parameterised by its mean ``mu`` and inverse dispersion
``theta`` (variance mu + mu^2 / theta), as in scVI and scVAE.
"""

from __future__ import annotations

import torch

_EPS = 1e-8


def nb_log_likelihood(x: torch.Tensor, mu: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Element-wise log NB(x | mu, theta), the full normalised value.

    Matches ``scipy.stats.nbinom.logpmf(x, n=theta, p=theta / (theta + mu))``.
    """
    log_theta_mu = torch.log(theta + mu + _EPS)
    return (
        theta * (torch.log(theta + _EPS) - log_theta_mu)
        + x * (torch.log(mu + _EPS) - log_theta_mu)
        + torch.lgamma(x + theta)
        - torch.lgamma(theta)
        - torch.lgamma(x + 1)
    )


def nb_log_likelihood_per_cell(x: torch.Tensor, mu: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Per-cell sum over genes of log NB(x | mu, theta): the same value as
    ``nb_log_likelihood(...).sum(-1)``, computed faster on sparse counts.

    lgamma(x + theta) - lgamma(theta) - lgamma(x + 1) is zero wherever x == 0, so it
    is evaluated on the non-zero entries only: on 10x data (> 90 % zeros on HVGs) the
    lgamma terms are most of a training step's cost (shared/notes/performance.md).
    """
    theta = theta.expand_as(x)
    log_theta_mu = torch.log(theta + mu + _EPS)
    dense_part = theta * (torch.log(theta + _EPS) - log_theta_mu) + x * (torch.log(mu + _EPS) - log_theta_mu)
    per_cell = dense_part.sum(dim=-1)
    rows, cols = torch.nonzero(x, as_tuple=True)
    if rows.numel():
        x_nz, theta_nz = x[rows, cols], theta[rows, cols]
        sparse_part = torch.lgamma(x_nz + theta_nz) - torch.lgamma(theta_nz) - torch.lgamma(x_nz + 1)
        per_cell = per_cell.index_add(0, rows, sparse_part)
    return per_cell
