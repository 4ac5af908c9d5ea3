"""FSRCNN (Dong et al., 2016) on the luma channel, laid out like OpenCV's stock ``FSRCNN_x*.pb``.

The stock graph replaces the paper's 9x9 deconvolution with a conv to r^2 channels,
depth-to-space and one scalar bias; PReLU is written as ``relu(x) + a * (x - |x|) / 2``.
``last_kernel`` widens that final conv (stock: 1); a 3x3 one recovers most of the deconvolution's
receptive field at no cost to OpenCV compatibility. Input/output: full-range Y in [0, 1].
"""

from __future__ import annotations

import torch
from torch import nn


class FSRCNN(nn.Module):
    def __init__(self, scale: int = 4, d: int = 56, s: int = 12, m: int = 4, last_kernel: int = 3) -> None:
        super().__init__()
        self.scale = scale
        self.config = dict(scale=scale, d=d, s=s, m=m, last_kernel=last_kernel)
        layers: list[nn.Module] = [nn.Conv2d(1, d, 5, padding=2), nn.PReLU(d)]
        layers += [nn.Conv2d(d, s, 1), nn.PReLU(s)]
        for _ in range(m):
            layers += [nn.Conv2d(s, s, 3, padding=1), nn.PReLU(s)]
        layers += [nn.Conv2d(s, d, 1), nn.PReLU(d)]
        self.features = nn.Sequential(*layers)
        self.upconv = nn.Conv2d(d, scale * scale, last_kernel, padding=last_kernel // 2, bias=False)
        self.out_bias = nn.Parameter(torch.zeros(1))
        for mod in self.modules():
            if isinstance(mod, nn.Conv2d):
                nn.init.kaiming_normal_(mod.weight, a=0.25, nonlinearity="leaky_relu")
                if mod.bias is not None:
                    nn.init.zeros_(mod.bias)
        nn.init.normal_(self.upconv.weight, std=1e-3)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        x = nn.functional.pixel_shuffle(self.upconv(self.features(y)), self.scale)
        return x + self.out_bias
