"""Fully connected building blocks shared by the encoder-decoder models."""

from __future__ import annotations

import torch
from torch import nn

TARGET_SUM = 1e4  # counts per cell after library-size normalisation (as lifedl.pp.counts)


def log_normalise_tensor(counts: torch.Tensor) -> torch.Tensor:
    """log1p(counts / library size * 1e4) per row, on a dense tensor of counts."""
    library_size = counts.sum(dim=-1, keepdim=True).clamp(min=1.0)
    return torch.log1p(counts / library_size * TARGET_SUM)


def mlp(n_in: int, n_hidden: int, n_layers: int, dropout: float) -> nn.Sequential:
    """``n_layers`` blocks of Linear -> LayerNorm -> ReLU -> Dropout (scVI's FCLayers, LayerNorm variant)."""
    layers: list[nn.Module] = []
    for i in range(n_layers):
        layers += [nn.Linear(n_in if i == 0 else n_hidden, n_hidden), nn.LayerNorm(n_hidden), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class GaussianEncoder(nn.Module):
    """x -> (mean, log-variance) of a diagonal Gaussian q(z | x)."""

    def __init__(self, n_in: int, n_latent: int, n_hidden: int, n_layers: int, dropout: float):
        super().__init__()
        self.body = mlp(n_in, n_hidden, n_layers, dropout)
        self.mean = nn.Linear(n_hidden, n_latent)
        self.log_var = nn.Linear(n_hidden, n_latent)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.body(x)
        # Clamping keeps exp(log_var) finite in the first steps of training.
        return self.mean(hidden), self.log_var(hidden).clamp(-15.0, 15.0)


class MaskedLinear(nn.Linear):
    """A linear layer whose weight is multiplied by a fixed 0/1 mask (out x in): VEGA's decoder,
    where gene g can only be reached from program p if g belongs to p.

    ``positive``: the weights are softplus(``weight``) > 0 (VEGA's positive decoder), so a program's activity
    raises every one of its genes and the activity's sign means something."""

    def __init__(self, mask: torch.Tensor, positive: bool = False):
        super().__init__(mask.shape[1], mask.shape[0])
        self.register_buffer("mask", mask.float())
        self.positive = positive
        if positive:  # start from the magnitudes a plain layer starts from: softplus(w) = |w0|
            with torch.no_grad():
                self.weight.copy_(torch.log(torch.expm1(self.weight.abs().clamp(min=1e-4))))

    def effective_weight(self) -> torch.Tensor:
        weight = nn.functional.softplus(self.weight) if self.positive else self.weight
        return weight * self.mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.effective_weight(), self.bias)
