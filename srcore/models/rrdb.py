"""RRDBNet (ESRGAN / Real-ESRGAN's generator), at any depth, and a shallow one cut from Real-ESRGAN x4plus.

Why it is here: our real-world GAN is a student of ``realesrgan-x4plus`` (23 RRDB blocks, 16.7 M
parameters). A student with the teacher's own architecture at a few blocks can start from the
teacher's head, trunk-closing convolution and whole upsampler, and from a few of its blocks,
instead of from nothing: distillation then only has to make up for the missing depth. Layer
names follow BasicSR's ``RRDBNet`` so a state dict reads like the published ones.

Input and output are RGB in [0, 1], NCHW, as Real-ESRGAN's networks take them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def _conv(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1)


def _lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2)


class ResidualDenseBlock(nn.Module):
    """Five densely connected convolutions; the last one's output, scaled by 0.2, is added to the input."""

    def __init__(self, num_feat: int = 64, num_grow: int = 32) -> None:
        super().__init__()
        self.conv1 = _conv(num_feat, num_grow)
        self.conv2 = _conv(num_feat + num_grow, num_grow)
        self.conv3 = _conv(num_feat + 2 * num_grow, num_grow)
        self.conv4 = _conv(num_feat + 3 * num_grow, num_grow)
        self.conv5 = _conv(num_feat + 4 * num_grow, num_feat)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = _lrelu(self.conv1(x))
        x2 = _lrelu(self.conv2(torch.cat((x, x1), 1)))
        x3 = _lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = _lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return x + 0.2 * x5


class RRDB(nn.Module):
    """Three residual dense blocks in a residual of their own (scaled by 0.2)."""

    def __init__(self, num_feat: int = 64, num_grow: int = 32) -> None:
        super().__init__()
        self.rdb1 = ResidualDenseBlock(num_feat, num_grow)
        self.rdb2 = ResidualDenseBlock(num_feat, num_grow)
        self.rdb3 = ResidualDenseBlock(num_feat, num_grow)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.2 * self.rdb3(self.rdb2(self.rdb1(x)))


class RRDBNet(nn.Module):
    """ESRGAN's generator for x4: ``num_block`` RRDBs at LR size, then two nearest x2 + conv steps."""

    def __init__(self, scale: int = 4, num_block: int = 23, num_feat: int = 64, num_grow: int = 32) -> None:
        super().__init__()
        if scale != 4:
            raise ValueError(f"RRDBNet here is x4 only (Real-ESRGAN x4plus's layout); got scale {scale}")
        self.scale = scale
        self.config = dict(scale=scale, num_block=num_block, num_feat=num_feat, num_grow=num_grow)
        self.conv_first = _conv(3, num_feat)
        self.body = nn.Sequential(*(RRDB(num_feat, num_grow) for _ in range(num_block)))
        self.conv_body = _conv(num_feat, num_feat)
        self.conv_up1 = _conv(num_feat, num_feat)
        self.conv_up2 = _conv(num_feat, num_feat)
        self.conv_hr = _conv(num_feat, num_feat)
        self.conv_last = _conv(num_feat, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        feat = _lrelu(self.conv_up1(F.interpolate(feat, scale_factor=2.0, mode="nearest")))
        feat = _lrelu(self.conv_up2(F.interpolate(feat, scale_factor=2.0, mode="nearest")))
        return self.conv_last(_lrelu(self.conv_hr(feat)))


#: The convolutions of one RRDB in the order an exported graph lists them.
_BLOCK_CONVS = [f"rdb{r}.conv{c}" for r in (1, 2, 3) for c in (1, 2, 3, 4, 5)]
_HEAD, _TAIL = ["conv_first"], ["conv_body", "conv_up1", "conv_up2", "conv_hr", "conv_last"]


def rrdb_config_from_state_dict(state: dict[str, torch.Tensor]) -> dict[str, int]:
    """The config of an :class:`RRDBNet` state dict: depth from the highest block index, widths from the shapes."""
    blocks = {int(k.split(".")[1]) for k in state if k.startswith("body.")}
    return {"scale": 4, "num_block": max(blocks) + 1 if blocks else 0, "num_feat": int(state["conv_first.weight"].shape[0]),
            "num_grow": int(state["body.0.rdb1.conv1.weight"].shape[0]) if blocks else 32}


def state_from_convs(convs: Sequence[tuple[torch.Tensor, torch.Tensor]], keep: Sequence[int]) -> dict[str, torch.Tensor]:
    """An RRDBNet state dict from a full network's convolutions in graph order, keeping the blocks ``keep``.

    ``convs``: (weight, bias) of every convolution as an exported RRDBNet lists them (head, 15 per
    block, the five of the trunk end and upsampler); ``keep``: indices of the blocks the shallow
    network takes, in order.
    """
    n_blocks, rest = divmod(len(convs) - len(_HEAD) - len(_TAIL), len(_BLOCK_CONVS))
    if rest or n_blocks < 1:
        raise ValueError(f"{len(convs)} convolutions do not make an RRDBNet (1 + 15 x blocks + 5)")
    if not keep or any(not 0 <= i < n_blocks for i in keep):
        raise ValueError(f"blocks to keep must be among 0..{n_blocks - 1}; got {list(keep)}")
    names = _HEAD + [f"body.{b}.{c}" for b in range(n_blocks) for c in _BLOCK_CONVS] + _TAIL
    full = dict(zip(names, convs, strict=True))
    state: dict[str, torch.Tensor] = {}
    for name in _HEAD + _TAIL:
        state[f"{name}.weight"], state[f"{name}.bias"] = full[name]
    for new, old in enumerate(keep):
        for c in _BLOCK_CONVS:
            w, b = full[f"body.{old}.{c}"]
            state[f"body.{new}.{c}.weight"], state[f"body.{new}.{c}.bias"] = w, b
    return {k: v.detach().clone().contiguous() for k, v in state.items()}
