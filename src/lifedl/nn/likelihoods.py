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


def nb_log_likelihood_per_cell(
    x: torch.Tensor, mu: torch.Tensor, theta: torch.Tensor, nonzero: torch.Tensor | None = None
) -> torch.Tensor:
    """Per-cell sum over genes of log NB(x | mu, theta), ``theta`` one inverse dispersion per gene:
    the same value as ``nb_log_likelihood(...).sum(-1)``, computed faster.

    The lgamma terms and their digamma gradients are most of a training step's cost
    (shared/notes/performance.md), so: lgamma(theta) is evaluated once per gene and enters each
    cell through its non-zero pattern (it cancels against lgamma(x + theta) where x == 0), and on
    sparse counts (10x data: > 90 % zeros on HVGs) every term that vanishes where x == 0 is taken
    on the non-zero entries only, by ``SparseNegativeBinomial`` (its gradient written out).
    ``nonzero``: the counts' non-zero rows and columns, shape (2, entries), where the caller has them
    (a CSR batch's structure: data.batches.stored_coordinates); otherwise found here.
    """
    theta = theta.reshape(-1)
    if theta.numel() != x.shape[-1]:
        raise ValueError(f"theta needs one value per gene ({x.shape[-1]}), got shape {tuple(theta.shape)}")
    sample = x[:16]  # the route is a speed choice: the first rows tell the density (counting all costs 0.4 ms)
    dense = nonzero is None and torch.count_nonzero(sample) >= SPARSE_BELOW_DENSITY * sample.numel()
    if dense or x.dim() != 2 or x.shape != mu.shape:
        log_theta_mu = torch.log(theta + mu + _EPS)
        return (
            (theta * torch.log(theta + _EPS)).sum()
            - ((theta + x) * log_theta_mu).sum(dim=-1)
            + (x * torch.log(mu + _EPS)).sum(dim=-1)
            + (torch.lgamma(x + theta) - torch.lgamma(x + 1)).sum(dim=-1)
            - torch.lgamma(theta).sum()
        )
    rows, cols = torch.nonzero(x, as_tuple=True) if nonzero is None else nonzero
    flat = rows * x.shape[1] + cols
    return SparseNegativeBinomial.apply(x.reshape(-1).index_select(0, flat), rows, cols, flat, mu, theta)


class SparseNegativeBinomial(torch.autograd.Function):
    """Per-cell log NB of a cells x genes count matrix given by its non-zero entries, with the gradient
    written out (one dense pass each way, where autograd kept an intermediate per term of the formula).

    Per cell: sum_g theta log theta - (theta + x) log(theta + mu) + x log mu
    + [x > 0] (lgamma(x + theta) - lgamma(theta) - lgamma(x + 1)). Only theta log(theta + mu) is dense;
    every x-term is zero where x == 0. Gradients (element-wise, times the cell's upstream gradient):
    d/dmu = x / mu - (theta + x) / (theta + mu);
    d/dtheta = log theta + 1 - log(theta + mu) - (theta + x) / (theta + mu) + [x > 0] (digamma(x + theta) - digamma(theta)).
    """

    @staticmethod
    def forward(ctx, values, rows, cols, flat, mu, theta):
        # ``flat``: the entries' positions in the flattened matrix (index_select on it is several times faster
        # than indexing by rows and columns); per-gene terms are evaluated per gene and then gathered.
        theta_mu = mu + (theta + _EPS)  # the dense passes: this sum, its log and one product with theta
        log_theta_mu = torch.log(theta_mu)
        mu_nz = mu.reshape(-1).index_select(0, flat)
        theta_nz = theta.index_select(0, cols)
        per_entry = (
            values * (torch.log(mu_nz + _EPS) - log_theta_mu.reshape(-1).index_select(0, flat))
            + torch.lgamma(values + theta_nz)
            - torch.lgamma(theta).index_select(0, cols)
            - torch.lgamma(values + 1)
        )
        per_cell = (theta * torch.log(theta + _EPS)).sum() - log_theta_mu @ theta
        per_cell = per_cell.index_add(0, rows, per_entry)
        ctx.save_for_backward(values, rows, cols, flat, mu_nz, theta_nz, theta_mu, log_theta_mu, theta)
        return per_cell

    @staticmethod
    def backward(ctx, grad_cell):
        values, rows, cols, flat, mu_nz, theta_nz, theta_mu, log_theta_mu, theta = ctx.saved_tensors
        grad_mu = grad_theta = None
        theta_share = theta / theta_mu  # dense part of (theta + x) / (theta + mu)
        grad_nz = grad_cell.index_select(0, rows)
        x_share = values / theta_mu.reshape(-1).index_select(0, flat)  # its non-zero part
        if ctx.needs_input_grad[5]:
            grad_theta = grad_cell.sum() * (torch.log(theta + _EPS) + theta / (theta + _EPS))
            grad_theta = grad_theta - grad_cell @ log_theta_mu - grad_cell @ theta_share
            digamma_nz = torch.digamma(values + theta_nz) - torch.digamma(theta).index_select(0, cols)
            grad_theta = grad_theta.index_add(0, cols, grad_nz * (digamma_nz - x_share))
        if ctx.needs_input_grad[4]:
            grad_mu = theta_share.mul_(-grad_cell[:, None])  # in place: theta_share is not needed after this
            grad_mu.reshape(-1).index_add_(0, flat, grad_nz * (values / (mu_nz + _EPS) - x_share))
        return None, None, None, None, grad_mu, grad_theta


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


def poisson_log_likelihood_per_cell(
    x: torch.Tensor, mu: torch.Tensor, nonzero: torch.Tensor | None = None
) -> torch.Tensor:
    """Per-cell log Poisson(x | mu); lgamma(x + 1) only where x > 0 (it is zero elsewhere; ``nonzero`` as in
    :func:`nb_log_likelihood_per_cell`)."""
    per_cell = (x * torch.log(mu + _EPS) - mu).sum(dim=-1)
    rows, cols = torch.nonzero(x, as_tuple=True) if nonzero is None else nonzero
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
    log_prob_per_cell: Callable[..., torch.Tensor]  # (x, mean, gene_parameter, zero_logits, nonzero) -> per cell

    def log_prob(self, x, mean, gene_parameter, zero_logits=None, nonzero=None) -> torch.Tensor:
        """Per cell; ``nonzero``: the counts' stored rows and columns, shape (2, entries), where the batch has them
        (count likelihoods that sum over the non-zero entries only read them)."""
        return self.log_prob_per_cell(x, mean, gene_parameter, zero_logits, nonzero)

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
            log_prob_per_cell=lambda x, mean, gene_parameter, zero_logits, nonzero: nb_log_likelihood_per_cell(
                x, mean, torch.exp(gene_parameter), nonzero
            ),
        ),
        Likelihood(
            "zinb",
            "zero-inflated negative-binomial",
            on_counts=True,
            dispersion=True,
            zero_inflated=True,
            log_prob_per_cell=lambda x, mean, gene_parameter, zero_logits, nonzero: zinb_log_likelihood_per_cell(
                x, mean, torch.exp(gene_parameter), zero_logits
            ),
        ),
        Likelihood(
            "poisson",
            "Poisson",
            on_counts=True,
            dispersion=False,
            zero_inflated=False,
            log_prob_per_cell=lambda x, mean, gene_parameter, zero_logits, nonzero: poisson_log_likelihood_per_cell(
                x, mean, nonzero
            ),
        ),
        Likelihood(
            "gaussian",
            "Gaussian (on log-normalised expression)",
            on_counts=False,
            dispersion=True,
            zero_inflated=False,
            log_prob_per_cell=lambda x, mean, gene_parameter, zero_logits, nonzero: gaussian_log_likelihood_per_cell(
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
