"""ESPCN (Shi et al., 2016) on the luma channel, laid out like OpenCV's stock ``ESPCN_x*.pb``.

The stock graph is conv5x5(1->64) ReLU, conv3x3(64->32) ReLU, conv3x3(32->r^2),
depth-to-space, tanh. We keep exactly that so ``train.export`` can write a ``.pb`` that
``cv2.dnn_superres`` runs with ``setModel("espcn", r)``. Input/output: full-range Y in [0, 1].
"""

from __future__ import annotations

import torch
from torch import nn


class ESPCN(nn.Module):
    def __init__(self, scale: int = 4, feats: tuple[int, int] = (64, 32)) -> None:
        super().__init__()
        self.scale = scale
        self.config = dict(scale=scale, feats=list(feats))
        f1, f2 = feats
        self.conv1 = nn.Conv2d(1, f1, 5, padding=2)
        self.conv2 = nn.Conv2d(f1, f2, 3, padding=1)
        self.conv3 = nn.Conv2d(f2, scale * scale, 3, padding=1)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv1(y))
        x = torch.relu(self.conv2(x))
        # For one output channel PyTorch's pixel_shuffle and TF's DepthToSpace order agree.
        return torch.tanh(nn.functional.pixel_shuffle(self.conv3(x), self.scale))
