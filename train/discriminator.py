"""The SRGAN discriminator (Ledig et al. 2017, Fig. 4), usable on any patch size.

Eight 3x3 conv blocks, 64 -> 512 channels, every other one strided, BatchNorm + LeakyReLU(0.2),
then dense 1024 -> LeakyReLU -> dense 1. Chosen over a patch discriminator because the paper's
global judgement pushes for plausible texture *statistics* over the whole patch rather than
per-location realism, which on tiny CPU batches showed fewer high-frequency artefacts in
ESRGAN's ablations. An adaptive pooling to 6x6 (the paper's size for 96-px patches) before the
dense layers lets other patch sizes through. ``width`` scales all channel counts (CPU: 32).
"""

from __future__ import annotations

import torch
from torch import nn


def _block(cin: int, cout: int, stride: int, bn: bool = True) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, stride, 1, bias=not bn)]
    if bn:
        layers.append(nn.BatchNorm2d(cout))
    layers.append(nn.LeakyReLU(0.2, inplace=True))
    return layers


class SRGANDiscriminator(nn.Module):
    def __init__(self, width: int = 64) -> None:
        super().__init__()
        w = width
        chans = [(3, w, 1, False), (w, w, 2, True), (w, 2 * w, 1, True), (2 * w, 2 * w, 2, True),
                 (2 * w, 4 * w, 1, True), (4 * w, 4 * w, 2, True), (4 * w, 8 * w, 1, True), (8 * w, 8 * w, 2, True)]
        layers: list[nn.Module] = []
        for cin, cout, stride, bn in chans:
            layers += _block(cin, cout, stride, bn)
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(6)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(8 * w * 36, 1024), nn.LeakyReLU(0.2, inplace=True), nn.Linear(1024, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.features(x * 2 - 1)))
