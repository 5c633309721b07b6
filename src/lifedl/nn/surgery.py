"""scArches' architecture surgery (Lotfollahi et al. 2022): a trained conditional network learns new batches (a
query) without changing anything it learnt from the reference. The layers that read the batch one-hot gain one
input column per new batch; only those columns' weights train, every reference weight is frozen, so the reference
cells' representation is the reference model's own, to the bit.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class WithQueryColumns(nn.Module):
    """A reference linear layer (frozen) whose input gains ``n_new`` trailing columns, the new batches' one-hot,
    with their own weights (trainable). They start as the mean of the reference batches' columns (the last
    ``n_reference_batches`` inputs; zero where there are none): a query cell starts where the reference model puts
    a cell of an average reference batch, and training moves it from there."""

    def __init__(self, reference: nn.Linear, n_new: int, n_reference_batches: int = 0):
        super().__init__()
        self.reference = reference.requires_grad_(False)
        start = torch.zeros(reference.out_features, 1)
        if n_reference_batches:
            start = reference.weight.detach()[:, -n_reference_batches:].mean(dim=1, keepdim=True)
        self.query_weight = nn.Parameter(start.repeat(1, n_new).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n_reference = self.reference.in_features
        return self.reference(x[..., :n_reference]) + x[..., n_reference:] @ self.query_weight.T


def add_query_batches(network: nn.Module, first_layers: list[str], n_new: int) -> nn.Module:
    """A copy of a trained batch-conditioned ``network`` that conditions on ``n_new`` more batches (appended after
    its own in the one-hot): each of ``first_layers`` (dotted names of the ``nn.Linear`` layers whose input ends
    with the batch one-hot) gains the new columns; every other weight is frozen. The network must read
    ``n_batches`` (its one-hot's width), which grows by ``n_new``."""
    if n_new < 1:
        raise ValueError(f"surgery adds at least one batch, got n_new={n_new}")
    query = copy.deepcopy(network).train()  # a trained model's network comes in evaluation mode
    query.requires_grad_(False)
    for name in first_layers:
        parent_name, _, child = name.rpartition(".")
        parent = query.get_submodule(parent_name) if parent_name else query
        layer = getattr(parent, child) if not child.isdigit() else parent[int(child)]
        if not isinstance(layer, nn.Linear):
            raise TypeError(f"surgery extends linear layers; '{name}' is a {type(layer).__name__}")
        extended = WithQueryColumns(layer, n_new, network.n_batches)
        if child.isdigit():
            parent[int(child)] = extended
        else:
            setattr(parent, child, extended)
    query.n_batches += n_new
    return query


def trainable_parameters(network: nn.Module) -> list[str]:
    """The names of the parameters that still train (after surgery: the new batches' columns only)."""
    return [name for name, parameter in network.named_parameters() if parameter.requires_grad]
