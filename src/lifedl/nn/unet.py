"""A small U-Net (Ronneberger et al. 2015) for nuclei: seed 003's convolutions, max-pooling down and transposed
convolutions up, the encoder's maps joined to the decoder's at each scale, a class per pixel (background,
nucleus interior, nucleus boundary: ``lifedl.tl.segmentation``)."""

from __future__ import annotations

import torch
from torch import nn


def _block(in_channels: int, out_channels: int, dropout: float) -> nn.Sequential:
    """Two 3 x 3 convolutions, each padded (the map keeps its size, so the tile's border pixels are predicted too)
    and followed by batch norm and ReLU."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Dropout2d(dropout),
        nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    """``depth`` poolings; ``width`` channels at full resolution, doubled at each level down. The input's height and
    width must be divisible by 2 ** depth."""

    def __init__(self, in_channels: int = 1, n_classes: int = 3, width: int = 16, depth: int = 3, dropout: float = 0.0):
        super().__init__()
        widths = [width * 2**level for level in range(depth + 1)]
        self.down = nn.ModuleList()
        channels = in_channels
        for level_width in widths[:-1]:
            self.down.append(_block(channels, level_width, dropout))
            channels = level_width
        self.bottom = _block(widths[-2], widths[-1], dropout)
        self.up = nn.ModuleList(nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2) for i in range(depth))
        self.merge = nn.ModuleList(_block(2 * widths[i], widths[i], dropout) for i in range(depth))
        self.head = nn.Conv2d(width, n_classes, 1)
        self.depth = depth

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits per class and pixel (batch x classes x height x width) of images (batch x channels x h x w)."""
        size = 2**self.depth
        if images.shape[-1] % size or images.shape[-2] % size:
            raise ValueError(f"image sides {tuple(images.shape[-2:])} must be divisible by {size} (2 ** depth)")
        skips, x = [], images
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = nn.functional.max_pool2d(x, 2)
        x = self.bottom(x)
        for level in reversed(range(self.depth)):
            x = self.merge[level](torch.cat([skips[level], self.up[level](x)], dim=1))
        return self.head(x)
