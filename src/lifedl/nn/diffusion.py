"""Denoising diffusion on vectors (DDPM, Ho et al. 2020): the noise schedule, the forward (noising) process, the
denoising network and one reverse step. lifedl runs it in a trained VAE's latent space (latent diffusion, Rombach
et al. 2022; lifedl.models.diffusion).

Steps are indexed 0 .. n_steps - 1 (the paper's t = 1 .. T). With a_t = 1 - beta_t and abar_t = a_0 ... a_t:

- forward: z_t = sqrt(abar_t) z_0 + sqrt(1 - abar_t) eps, eps ~ N(0, I);
- the network predicts eps from (z_t, t) and is trained by the mean squared error of that prediction (the paper's
  simplified loss);
- reverse: z_{t-1} = (z_t - beta_t / sqrt(1 - abar_t) eps_hat) / sqrt(a_t) + sigma_t xi, xi ~ N(0, I), with
  sigma_t^2 the posterior variance beta_t (1 - abar_{t-1}) / (1 - abar_t) (zero at the last step, t = 0).
"""

from __future__ import annotations

import math

import torch
from torch import nn


class NoiseSchedule(nn.Module):
    """The linear schedule of beta_t from ``beta_start`` to ``beta_end`` (the paper's 1e-4 to 0.02 over 1,000 steps),
    held as buffers so that it moves with the network to its device."""

    def __init__(self, n_steps: int, beta_start: float, beta_end: float):
        super().__init__()
        if n_steps < 1 or not 0 < beta_start <= beta_end < 1:
            raise ValueError(
                f"a schedule needs n_steps >= 1 and 0 < beta_start <= beta_end < 1, got "
                f"{n_steps}, {beta_start}, {beta_end}"
            )
        betas = torch.linspace(beta_start, beta_end, n_steps, dtype=torch.float64)
        alpha_bars = torch.cumprod(1.0 - betas, dim=0)
        previous = torch.cat([torch.ones(1, dtype=torch.float64), alpha_bars[:-1]])
        self.register_buffer("betas", betas.float())
        self.register_buffer("alpha_bars", alpha_bars.float())
        self.register_buffer("posterior_variances", (betas * (1.0 - previous) / (1.0 - alpha_bars)).float())

    @property
    def n_steps(self) -> int:
        return len(self.betas)

    def noised(self, clean: torch.Tensor, steps: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """z_t of each row of ``clean`` at its step (``steps``: one index per row)."""
        alpha_bar = self.alpha_bars[steps][:, None]
        return alpha_bar.sqrt() * clean + (1.0 - alpha_bar).sqrt() * noise

    def denoising_step(
        self, noisy: torch.Tensor, step: int, predicted_noise: torch.Tensor, fresh_noise: torch.Tensor
    ) -> torch.Tensor:
        """z_{t-1} from z_t (``noisy``, all rows at ``step``), the network's ``predicted_noise`` and ``fresh_noise``
        (xi; unused at step 0, where the variance is zero)."""
        beta, alpha_bar = self.betas[step], self.alpha_bars[step]
        mean = (noisy - beta / (1.0 - alpha_bar).sqrt() * predicted_noise) / (1.0 - beta).sqrt()
        return mean + self.posterior_variances[step].sqrt() * fresh_noise if step > 0 else mean


def step_embedding(steps: torch.Tensor, dim: int) -> torch.Tensor:
    """The transformer's sinusoidal position code of each step (as the DDPM's network embeds t), ``dim`` even."""
    half = dim // 2
    frequencies = torch.exp(-math.log(10_000.0) * torch.arange(half, device=steps.device) / half)
    angles = steps.float()[:, None] * frequencies[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class Denoiser(nn.Module):
    """An MLP predicting the noise of z_t: the input projected, the step's code (and the cell type's embedding where
    ``n_classes`` > 0) added, then residual blocks (SiLU, linear) and a linear read-out."""

    def __init__(self, n_latent: int, n_hidden: int, n_layers: int, n_classes: int = 0):
        super().__init__()
        if n_hidden % 2:
            raise ValueError(f"n_hidden must be even (the step's sinusoidal code), got {n_hidden}")
        self.n_hidden = n_hidden
        self.project = nn.Linear(n_latent, n_hidden)
        self.step_mlp = nn.Sequential(nn.Linear(n_hidden, n_hidden), nn.SiLU(), nn.Linear(n_hidden, n_hidden))
        self.classes = nn.Embedding(n_classes, n_hidden) if n_classes else None
        self.blocks = nn.ModuleList(nn.Sequential(nn.SiLU(), nn.Linear(n_hidden, n_hidden)) for _ in range(n_layers))
        self.read_out = nn.Sequential(nn.SiLU(), nn.Linear(n_hidden, n_latent))

    def forward(self, noisy: torch.Tensor, steps: torch.Tensor, classes: torch.Tensor | None = None) -> torch.Tensor:
        hidden = self.project(noisy) + self.step_mlp(step_embedding(steps, self.n_hidden))
        if self.classes is not None:
            hidden = hidden + self.classes(classes)
        for block in self.blocks:
            hidden = hidden + block(hidden)
        return self.read_out(hidden)


class LatentDiffusion(nn.Module):
    """The denoiser and its schedule; ``loss`` reads the fields ``latent`` (standardised z_0) and, where it is
    conditioned on cell types, ``label``."""

    def __init__(self, schedule: NoiseSchedule, denoiser: Denoiser):
        super().__init__()
        self.schedule, self.denoiser = schedule, denoiser

    def loss(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        clean = batch["latent"].float()
        # in evaluation the same steps and noise every epoch (seeded by the batch's size), so that early stopping
        # compares epochs on one draw rather than on fresh noise
        generator = None if self.training else torch.Generator().manual_seed(len(clean))
        steps = torch.randint(0, self.schedule.n_steps, (len(clean),), generator=generator).to(clean.device)
        noise = torch.randn(clean.shape, generator=generator).to(clean.device)
        predicted = self.denoiser(self.schedule.noised(clean, steps, noise), steps, batch.get("label"))
        return {"noise_mse": ((predicted - noise) ** 2).sum(dim=-1).mean()}

    @torch.no_grad()
    def sample(self, n_rows: int, classes: torch.Tensor | None, generator: torch.Generator) -> torch.Tensor:
        """``n_rows`` draws of z_0: z_T ~ N(0, I), then every reverse step (``generator``: the noise's source)."""
        device = self.schedule.betas.device
        width = self.denoiser.project.in_features
        noisy = torch.randn(n_rows, width, generator=generator).to(device)
        for step in reversed(range(self.schedule.n_steps)):
            steps = torch.full((n_rows,), step, dtype=torch.long, device=device)
            predicted = self.denoiser(noisy, steps, classes)
            fresh = torch.randn(n_rows, width, generator=generator).to(device)
            noisy = self.schedule.denoising_step(noisy, step, predicted, fresh)
        return noisy
