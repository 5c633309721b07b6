"""Count likelihoods shared by every model (one place, as in scvi-tools' distributions).

The negative binomial is parameterised by its mean ``mu`` and inverse dispersion
``theta`` (variance mu + mu^2 / theta), as in scVI and scVAE.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

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


SPARSE_BELOW_DENSITY = 0.45  # measured crossover (2 cores): below it the non-zero-only lgamma path is faster


def nb_log_likelihood_per_cell(x: torch.Tensor, mu: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Per-cell sum over genes of log NB(x | mu, theta), ``theta`` one inverse dispersion per gene:
    the same value as ``nb_log_likelihood(...).sum(-1)``, computed faster.

    The lgamma terms and their digamma gradients are most of a training step's cost
    (shared/notes/performance.md), so: lgamma(theta) is evaluated once per gene and enters each
    cell through its non-zero pattern (it cancels against lgamma(x + theta) where x == 0), and on
    sparse counts (10x data: > 90 % zeros on HVGs) lgamma(x + theta) - lgamma(x + 1) only on the
    non-zero entries, where it is not zero.
    """
    theta = theta.reshape(-1)
    if theta.numel() != x.shape[-1]:
        raise ValueError(f"theta needs one value per gene ({x.shape[-1]}), got shape {tuple(theta.shape)}")
    log_theta_mu = torch.log(theta + mu + _EPS)
    per_cell = (
        (theta * torch.log(theta + _EPS)).sum()
        - ((theta + x) * log_theta_mu).sum(dim=-1)
        + (x * torch.log(mu + _EPS)).sum(dim=-1)
    )
    sample = x[:16]  # the route is a speed choice: the first rows tell the density (counting all costs 0.4 ms)
    if torch.count_nonzero(sample) >= SPARSE_BELOW_DENSITY * sample.numel():
        return per_cell + (torch.lgamma(x + theta) - torch.lgamma(x + 1)).sum(dim=-1) - torch.lgamma(theta).sum()
    rows, cols = torch.nonzero(x, as_tuple=True)
    x_nz = x[rows, cols]
    per_cell = per_cell.index_add(0, rows, torch.lgamma(x_nz + theta[cols]) - torch.lgamma(x_nz + 1))
    return per_cell - (x > 0).to(x.dtype) @ torch.lgamma(theta)


def zinb_log_likelihood_per_cell(
    x: torch.Tensor, mu: torch.Tensor, theta: torch.Tensor, zero_logits: torch.Tensor
) -> torch.Tensor:
    """Per-cell log ZINB(x | mu, theta, pi) with pi = sigmoid(zero_logits), the structural-zero probability.

    x == 0: log(pi + (1 - pi) * NB(0)); x > 0: log(1 - pi) + log NB(x).
    """
    theta = theta.expand_as(x)
    log_nb_zero = theta * (torch.log(theta + _EPS) - torch.log(theta + mu + _EPS))
    log_pi = torch.nn.functional.logsigmoid(zero_logits)
    log_one_minus_pi = torch.nn.functional.logsigmoid(-zero_logits)
    zero_case = torch.logaddexp(log_pi, log_one_minus_pi + log_nb_zero)
    nonzero_case = log_one_minus_pi + nb_log_likelihood(x, mu, theta)
    return torch.where(x > 0, nonzero_case, zero_case).sum(dim=-1)


def poisson_log_likelihood_per_cell(x: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
    """Per-cell log Poisson(x | mu); lgamma(x + 1) only where x > 0 (it is zero elsewhere)."""
    per_cell = (x * torch.log(mu + _EPS) - mu).sum(dim=-1)
    rows, cols = torch.nonzero(x, as_tuple=True)
    if rows.numel():
        per_cell = per_cell.index_add(0, rows, -torch.lgamma(x[rows, cols] + 1))
    return per_cell


def gaussian_log_likelihood_per_cell(x: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """Per-cell log N(x | mean, exp(log_var)), for log-normalised expression."""
    log_var = log_var.expand_as(x)
    return (-0.5 * (math.log(2 * math.pi) + log_var + (x - mean) ** 2 / torch.exp(log_var))).sum(dim=-1)


def protein_mixture_parts(
    y: torch.Tensor,
    background_mean: torch.Tensor,
    foreground_scale: torch.Tensor,
    background_logits: torch.Tensor,
    theta: torch.Tensor,
) -> dict[str, torch.Tensor]:
    """totalVI's protein likelihood, element-wise, in its parts: a cell's count of protein p is negative
    binomial around either the background mean (ambient antibodies, probability sigmoid(background_logits))
    or the foreground mean = background mean x foreground_scale (scale >= 1, the bound antibodies).

    Returns ``log_prob`` = log[pi NB(y; b, theta) + (1 - pi) NB(y; b s, theta)], its two components
    ``background`` and ``foreground`` (each log NB), and ``foreground_probability``, the posterior
    probability that the count is foreground (what totalVI calls the denoised protein's share).
    """
    background = nb_log_likelihood(y, background_mean, theta)
    foreground = nb_log_likelihood(y, background_mean * foreground_scale, theta)
    weighted_background = torch.nn.functional.logsigmoid(background_logits) + background
    weighted_foreground = torch.nn.functional.logsigmoid(-background_logits) + foreground
    log_prob = torch.logaddexp(weighted_background, weighted_foreground)
    return {
        "log_prob": log_prob,
        "background": background,
        "foreground": foreground,
        "foreground_probability": torch.exp(weighted_foreground - log_prob),
    }


def kl_to_standard_normal(mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """Per cell KL(N(mean, exp(log_var)) || N(0, I))."""
    return (0.5 * (mean.pow(2) + log_var.exp() - 1.0 - log_var)).sum(dim=-1)


@dataclasses.dataclass(frozen=True)
class Likelihood:
    """A decoder's observation model: what it scores and how, in one place for every model that uses it.

    ``on_counts``: scores the raw counts, whose mean is each gene's decoded share times the cell's library
    size; otherwise log-normalised expression, whose mean is the decoder output itself (gaussian).
    ``dispersion``: a per-gene parameter (``gene_parameter``: NB log inverse dispersion, or the gaussian's
    log-variance). ``zero_inflated``: the decoder has a head for structural-zero logits.
    """

    name: str
    description: str  # as named in messages
    on_counts: bool
    dispersion: bool
    zero_inflated: bool
    log_prob_per_cell: Callable[..., torch.Tensor]  # (x, mean, gene_parameter, zero_logits) -> per cell

    def log_prob(self, x, mean, gene_parameter, zero_logits=None) -> torch.Tensor:
        return self.log_prob_per_cell(x, mean, gene_parameter, zero_logits)

    def theta(self, gene_parameter: torch.Tensor) -> torch.Tensor | None:
        """The NB inverse dispersion per gene (None for Poisson, which has none)."""
        return torch.exp(gene_parameter) if self.on_counts and self.dispersion else None


LIKELIHOODS: dict[str, Likelihood] = {
    likelihood.name: likelihood
    for likelihood in (
        Likelihood(
            "nb",
            "negative-binomial",
            on_counts=True,
            dispersion=True,
            zero_inflated=False,
            log_prob_per_cell=lambda x, mean, gene_parameter, zero_logits: nb_log_likelihood_per_cell(
                x, mean, torch.exp(gene_parameter)
            ),
        ),
        Likelihood(
            "zinb",
            "zero-inflated negative-binomial",
            on_counts=True,
            dispersion=True,
            zero_inflated=True,
            log_prob_per_cell=lambda x, mean, gene_parameter, zero_logits: zinb_log_likelihood_per_cell(
                x, mean, torch.exp(gene_parameter), zero_logits
            ),
        ),
        Likelihood(
            "poisson",
            "Poisson",
            on_counts=True,
            dispersion=False,
            zero_inflated=False,
            log_prob_per_cell=lambda x, mean, gene_parameter, zero_logits: poisson_log_likelihood_per_cell(x, mean),
        ),
        Likelihood(
            "gaussian",
            "Gaussian (on log-normalised expression)",
            on_counts=False,
            dispersion=True,
            zero_inflated=False,
            log_prob_per_cell=lambda x, mean, gene_parameter, zero_logits: gaussian_log_likelihood_per_cell(
                x, mean, gene_parameter
            ),
        ),
    )
}


def get_likelihood(name: str, where: str = "config params.<arch>.likelihood") -> Likelihood:
    from lifedl.errors import LifedlError

    if name not in LIKELIHOODS:
        raise LifedlError(f"likelihood '{name}' is not one of {tuple(LIKELIHOODS)} ({where}).")
    return LIKELIHOODS[name]
