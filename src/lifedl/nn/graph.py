"""Graph convolutions (Kipf & Welling 2017) over dense, padded molecular graphs.

A batch holds N graphs padded to M nodes: node features N x M x F, the normalised adjacency
Â = D^-1/2 (A + I) D^-1/2 per graph (N x M x M, zero on padding) and a node mask N x M.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import nn


class GraphConvolution(nn.Module):
    """X' = ReLU(Â X Wᵀ + b): each node mixes its own and its neighbours' features, weighted by degree."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)

    def forward(self, features: torch.Tensor, adjacency: torch.Tensor) -> torch.Tensor:
        return F.relu(adjacency @ self.linear(features))


class GraphRegressor(nn.Module):
    """Stacked graph convolutions, then the sum and the mean of the real nodes' features (the sum counts atoms,
    which an additive property such as a free energy needs), then a two-layer head to one value per graph."""

    def __init__(self, n_features: int, n_hidden: int, n_layers: int, dropout: float):
        super().__init__()
        sizes = [n_features] + [n_hidden] * n_layers
        self.convolutions = nn.ModuleList(GraphConvolution(a, b) for a, b in itertools.pairwise(sizes))
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Sequential(nn.Linear(2 * n_hidden, n_hidden), nn.ReLU(), nn.Linear(n_hidden, 1))

    def forward(self, features: torch.Tensor, adjacency: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        hidden = features
        for convolution in self.convolutions:
            hidden = self.dropout(convolution(hidden, adjacency)) * mask[..., None]  # padding stays 0
        total = hidden.sum(dim=1)
        mean = total / mask.sum(dim=1, keepdim=True).clamp(min=1)
        return self.head(torch.cat([total, mean], dim=-1)).squeeze(-1)
