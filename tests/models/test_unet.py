"""The U-Net: a class per pixel at the input's size, and its loss falls on a few tiles of drawn nuclei."""

import numpy as np
import pytest
import torch

from lifedl.nn.unet import UNet
from lifedl.tl.segmentation import pixel_classes


def _discs(n_tiles, side=32, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:side, :side]
    images, masks = [], []
    for _ in range(n_tiles):
        mask = np.zeros((side, side), dtype=np.int32)
        for label in range(1, 4):
            cy, cx, r = rng.integers(6, side - 6), rng.integers(6, side - 6), rng.integers(3, 6)
            mask[((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r) & (mask == 0)] = label
        images.append((mask > 0) * 0.7 + rng.normal(0, 0.1, mask.shape))
        masks.append(mask)
    return torch.tensor(np.array(images), dtype=torch.float32)[:, None], np.array(masks)


def test_the_unet_predicts_every_pixel_and_refuses_sides_it_cannot_pool():
    network = UNet(width=4, depth=2)
    assert network(torch.zeros(2, 1, 32, 32)).shape == (2, 3, 32, 32)
    with pytest.raises(ValueError, match="divisible by 4"):
        network(torch.zeros(1, 1, 30, 32))


def test_the_unet_loss_falls_on_tiny_data():
    torch.manual_seed(0)
    images, masks = _discs(8)
    targets = torch.tensor(np.array([pixel_classes(mask) for mask in masks]))
    network = UNet(width=8, depth=2)
    optimiser = torch.optim.Adam(network.parameters(), lr=1e-2)
    losses = []
    for _ in range(40):
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(network(images), targets)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
