"""EDSR (Lim et al., 2017), key-compatible with the official EDSR-PyTorch checkpoints.

Module names (``sub_mean``, ``head``, ``body.N.body.M``, ``tail.0.K``, ``add_mean``) match
``model/edsr.py`` of github.com/sanghyun-son/EDSR-PyTorch so that ``edsr_baseline_x4-*.pt``
and ``edsr_x4-*.pt`` load with ``load_state_dict`` unchanged. Inputs and outputs are RGB in
[0, 1]; internally the network works on [0, rgb_range] as the official one does.
"""

from __future__ import annotations

import math

import torch
from torch import nn

DIV2K_RGB_MEAN = (0.4488, 0.4371, 0.4040)


def _conv(cin: int, cout: int, k: int = 3) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, padding=k // 2)


class MeanShift(nn.Conv2d):
    """Fixed 1x1 conv that subtracts (sign=-1) or adds (sign=+1) the dataset mean."""

    def __init__(self, rgb_range: float, sign: int = -1) -> None:
        super().__init__(3, 3, kernel_size=1)
        self.weight.data = torch.eye(3).view(3, 3, 1, 1)
        self.bias.data = sign * rgb_range * torch.tensor(DIV2K_RGB_MEAN)
        for p in self.parameters():
            p.requires_grad = False


class ResBlock(nn.Module):
    def __init__(self, feats: int, res_scale: float) -> None:
        super().__init__()
        self.body = nn.Sequential(_conv(feats, feats), nn.ReLU(inplace=True), _conv(feats, feats))
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) * self.res_scale


class Upsampler(nn.Sequential):
    """Conv + PixelShuffle stages; x4 is two x2 stages, as in the official code."""

    def __init__(self, scale: int, feats: int) -> None:
        layers: list[nn.Module] = []
        if scale & (scale - 1) == 0:
            for _ in range(int(math.log2(scale))):
                layers += [_conv(feats, 4 * feats), nn.PixelShuffle(2)]
        elif scale == 3:
            layers += [_conv(feats, 9 * feats), nn.PixelShuffle(3)]
        else:
            raise ValueError(f"EDSR supports scales 2, 3, 4, 8; got {scale}")
        super().__init__(*layers)


class EDSR(nn.Module):
    """EDSR; ``EDSR(scale)`` is the baseline (16 blocks x 64); the paper's big one is
    ``EDSR(scale, n_blocks=32, n_feats=256, res_scale=0.1)`` (what the official full checkpoints hold)."""

    def __init__(
        self,
        scale: int = 4,
        n_blocks: int = 16,
        n_feats: int = 64,
        res_scale: float = 1.0,
        rgb_range: float = 255.0,
    ) -> None:
        super().__init__()
        self.scale = scale
        self.rgb_range = rgb_range
        self.config = dict(scale=scale, n_blocks=n_blocks, n_feats=n_feats, res_scale=res_scale, rgb_range=rgb_range)
        self.sub_mean = MeanShift(rgb_range, -1)
        self.add_mean = MeanShift(rgb_range, +1)
        self.head = nn.Sequential(_conv(3, n_feats))
        body: list[nn.Module] = [ResBlock(n_feats, res_scale) for _ in range(n_blocks)]
        body.append(_conv(n_feats, n_feats))
        self.body = nn.Sequential(*body)
        self.tail = nn.Sequential(Upsampler(scale, n_feats), _conv(n_feats, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.sub_mean(x * self.rgb_range)
        x = self.head(x)
        x = x + self.body(x)
        x = self.add_mean(self.tail(x))
        return x / self.rgb_range


def deepen_edsr_state(src: dict[str, torch.Tensor], own: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``src`` (an EDSR with m residual blocks) laid out for ``own``'s deeper body (n > m), computing the same function.

    Why: a bigger PSNR body need not start from scratch (hours on a CPU). The m trained blocks keep their
    places, the body's closing conv moves from ``body.m`` to ``body.n``, and blocks m..n-1 take ``own``'s
    fresh first conv with a zero second conv - ``x + 0`` - so they start as identities (as Net2Net's deeper
    nets do) and training grows them from there. Features and scale must match.
    """
    m, n = (edsr_config_from_state_dict(s)["n_blocks"] for s in (src, own))
    if n <= m:
        raise ValueError(f"deepening needs more blocks than the source's {m}, not {n}")
    if src["head.0.weight"].shape != own["head.0.weight"].shape:
        raise ValueError("deepening keeps the features: the source and the target differ in width")
    out: dict[str, torch.Tensor] = {}
    for key, value in own.items():
        part = key.split(".")
        if part[0] != "body":
            out[key] = src[key]
        elif int(part[1]) < m:
            out[key] = src[key]
        elif int(part[1]) == n:  # the closing conv, moved down
            out[key] = src[".".join(["body", str(m), *part[2:]])]
        else:  # a new block: own's first conv, the second zero
            out[key] = torch.zeros_like(value) if part[3] == "2" else value
    return out


def deepen_to_counterpart(gan: dict[str, torch.Tensor], psnr: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A strength-dial GAN laid out for a deeper PSNR counterpart; unchanged when the depths already match.

    Why: the dial blends weights tensor by tensor, so both ends need one architecture - and a PSNR network
    deepened and retrained (``real-edsr``) would otherwise orphan the GAN trained on its shallower
    predecessor. The GAN keeps its blocks; each new one takes the *counterpart's* first conv and a zero
    second conv, so alpha = 1 computes the old GAN exactly, the blend's first conv is the counterpart's at
    every alpha, and the new blocks' contribution is the counterpart's second conv scaled by 1 - alpha.
    """
    have, want = (edsr_config_from_state_dict(s)["n_blocks"] for s in (gan, psnr))
    return gan if have == want else deepen_edsr_state(gan, psnr)


def edsr_config_from_state_dict(state: dict[str, torch.Tensor]) -> dict[str, float | int]:
    """Infer blocks, features and scale from an (official or ours) EDSR state dict."""
    n_feats = state["head.0.weight"].shape[0]
    n_blocks = len({k.split(".")[1] for k in state if k.startswith("body.") and ".body." in k})
    return dict(scale=upsampler_scale(state, n_feats), n_blocks=n_blocks, n_feats=n_feats, res_scale=1.0 if n_feats <= 64 else 0.1)


def upsampler_scale(state: dict[str, torch.Tensor], n_feats: int) -> int:
    """The factor of an :class:`Upsampler` at ``tail.0`` (EDSR's and the U-Net's): one ``x s^2`` conv for x3,
    one ``x4`` conv per factor 2 otherwise."""
    ups = [k for k in state if k.startswith("tail.0.") and k.endswith(".weight")]
    return int(math.isqrt(state[ups[0]].shape[0] // n_feats)) if len(ups) == 1 else 2 ** len(ups)
