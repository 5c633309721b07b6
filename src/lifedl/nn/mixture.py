"""A learned Gaussian-mixture distribution over latent representations: the DGD's prior.

Schuster & Krogh (2021, arXiv 2110.06672) give the representations of a deep generative
decoder a mixture of Gaussians whose means, variances and weights are learned with the
decoder, each with a hyper-prior so that the mixture stays a proper MAP estimate:

- means: a "softball", almost uniform inside a ball of radius ``softball_radius`` with a
  logistic (differentiable) edge whose steepness is ``softball_sharpness``;
- log-variances: Gaussian around ``2 log(initial_sd)`` with standard deviation ``log_var_prior_sd``;
- weights (softmax of free logits): a symmetric Dirichlet(``dirichlet_alpha``).

Covariances are diagonal (one variance per component and dimension, the paper's PBMC
model) or isotropic (one per component).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from lifedl.errors import LifedlError

COVARIANCES = ("diagonal", "isotropic")


class GaussianMixturePrior(nn.Module):
    def __init__(
        self,
        n_components: int,
        n_latent: int,
        covariance: str = "diagonal",
        softball_radius: float = 1.0,
        softball_sharpness: float = 1.0,
        initial_sd: float = 0.1,
        log_var_prior_sd: float = 1.0,
        dirichlet_alpha: float = 1.0,
    ):
        super().__init__()
        if covariance not in COVARIANCES:
            raise LifedlError(
                f"mixture covariance '{covariance}' is not one of {COVARIANCES} (config params.dgd.covariance)."
            )
        if n_components < 1 or n_latent < 1:
            raise LifedlError(
                f"a Gaussian mixture needs at least one component and one latent dimension, got n_components="
                f"{n_components}, n_latent={n_latent}; raise them under params.dgd in config/config.yaml."
            )
        for name, value in (
            ("softball_radius", softball_radius),
            ("softball_sharpness", softball_sharpness),
            ("initial_sd", initial_sd),
            ("log_var_prior_sd", log_var_prior_sd),
            ("dirichlet_alpha", dirichlet_alpha),
        ):
            if not value > 0:
                raise LifedlError(
                    f"mixture hyper-parameter {name} must be positive, got {value}; fix params.dgd.{name}."
                )
        self.n_components, self.n_latent, self.covariance = n_components, n_latent, covariance
        self.softball_radius, self.softball_sharpness = float(softball_radius), float(softball_sharpness)
        self.log_var_prior_mean, self.log_var_prior_sd = 2.0 * math.log(initial_sd), float(log_var_prior_sd)
        self.dirichlet_alpha = float(dirichlet_alpha)
        # Means start as a draw from their own prior (approximately uniform in the ball), as in the paper;
        # the draw uses the global generator, which training seeds.
        self.means = nn.Parameter(self._uniform_in_ball(n_components))
        self.log_var = nn.Parameter(
            torch.full((n_components, n_latent if covariance == "diagonal" else 1), self.log_var_prior_mean)
        )
        # Equal logits: equal weights, the mode of a symmetric Dirichlet with alpha >= 1.
        self.weight_logits = nn.Parameter(torch.zeros(n_components))

    def _uniform_in_ball(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        direction = torch.randn(n, self.n_latent, generator=generator)
        direction = direction / direction.norm(dim=-1, keepdim=True).clamp(min=1e-12)
        radius = self.softball_radius * torch.rand(n, 1, generator=generator).pow(1.0 / self.n_latent)
        return direction * radius

    def log_weights(self) -> torch.Tensor:
        return torch.log_softmax(self.weight_logits, dim=0)

    def component_log_probs(self, z: torch.Tensor) -> torch.Tensor:
        """(cells x components): log w_k + log N(z | mean_k, diag(var_k))."""
        log_var = self.log_var.expand(self.n_components, self.n_latent)
        squared = (z.unsqueeze(-2) - self.means).pow(2) * torch.exp(-log_var)
        log_normal = -0.5 * (squared.sum(-1) + log_var.sum(-1) + self.n_latent * math.log(2 * math.pi))
        return log_normal + self.log_weights()

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """Per sample log p(z) = logsumexp_k (log w_k + log N(z | mean_k, var_k))."""
        return torch.logsumexp(self.component_log_probs(z), dim=-1)

    def most_likely_component(self, z: torch.Tensor) -> torch.Tensor:
        return self.component_log_probs(z).argmax(dim=-1)

    def hyperprior_log_prob(self) -> torch.Tensor:
        """log p(means) + log p(log-variances) + log p(weights): the hyper-priors of the mixture's parameters."""
        # Softball: log of (1 / volume of the ball) times a logistic fall-off at the radius.
        log_volume = self.n_latent * (math.log(self.softball_radius) + 0.5 * math.log(math.pi)) - math.lgamma(
            1 + 0.5 * self.n_latent
        )
        distance = self.means.norm(dim=-1) / self.softball_radius - 1.0
        means = (-log_volume - nn.functional.softplus(self.softball_sharpness * distance)).sum()
        standardised = (self.log_var - self.log_var_prior_mean) / self.log_var_prior_sd
        log_var = (-0.5 * standardised.pow(2) - math.log(self.log_var_prior_sd) - 0.5 * math.log(2 * math.pi)).sum()
        alpha, k = self.dirichlet_alpha, self.n_components
        weights = math.lgamma(k * alpha) - k * math.lgamma(alpha) + (alpha - 1.0) * self.log_weights().sum()
        return means + log_var + weights

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` draws from the mixture: a component by its weight, then a point from its Gaussian."""
        weights = torch.softmax(self.weight_logits, dim=0).cpu()
        components = torch.multinomial(weights, n, replacement=True, generator=generator)
        sd = torch.exp(0.5 * self.log_var.cpu()).expand(self.n_components, self.n_latent)
        noise = torch.randn(n, self.n_latent, generator=generator)
        return self.means.cpu()[components] + sd[components] * noise
