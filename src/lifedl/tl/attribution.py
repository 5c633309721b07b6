"""Which pixels a classifier's decision rests on: integrated gradients (Sundararajan et al. 2017) through captum,
the attribution library PyTorch maintains."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def integrated_gradients(forward: Callable, images: np.ndarray, targets: np.ndarray, steps: int = 32) -> np.ndarray:
    """Per image and pixel, the attribution of the logit of class ``targets[i]`` (``forward``: images -> logits,
    deterministic) along the straight path from a black image to the image, ``steps`` points of the integral."""
    import torch
    from captum.attr import IntegratedGradients

    inputs = torch.as_tensor(np.asarray(images, dtype=np.float32))
    attributions = IntegratedGradients(forward).attribute(
        inputs, baselines=torch.zeros_like(inputs), target=torch.as_tensor(np.asarray(targets)), n_steps=steps
    )
    return attributions.detach().numpy()
