"""The one optimiser constructor every training loop and the DGD's embedding use."""

from __future__ import annotations

import torch


def adam(params, **kwargs) -> torch.optim.Adam:
    """``torch.optim.Adam`` with its fused kernel: one pass over each parameter instead of a dozen
    element-wise ops, a third of the optimiser's time on a small network's CPU step (0.6 vs 1.8 ms)."""
    return torch.optim.Adam(params, fused=True, **kwargs)
