"""Encoder-decoder upscalers: a U-Net (with skip connections) and the same network without them (autoencoder).

Both run in LR space and end in an EDSR-style conv + pixel-shuffle tail, instead of running on the
bicubic-upsampled image as the seed project did. Why: on this 2-core CPU the same network on the
x4-upsampled input costs 16x the pixels; measured on one 96-px HR patch (24-px LR) per forward pass,
see the README ("Which loss?"). ``skips=False`` is the autoencoder: every bit of detail has to pass
through the 4x-downsampled bottleneck, which is what the comparison with the U-Net is about. Both
predict a residual over a bicubic upsampling of the input (as VDSR): without it, 1 000 CPU steps of
the U-Net with MSE stayed below bicubic (Set5 28.12 dB vs 28.63); the bicubic base is no shortcut
through the network, so the autoencoder still has no skip connections.

Tiling: two stride-2 levels make the output depend on the input's position modulo 4, so the forward
pass replicate-pads any input to a multiple of 4 (``MULTIPLE_OF``) and crops the output back, and a
tiled run must start its windows on multiples of 4 (tile and margin multiples of 4 do that). The
receptive radius is about 30 LR pixels; methods use a 40-px margin, as for EDSR.
"""

from __future__ import annotations

import torch
from torch import nn

from srcore.models.edsr import Upsampler, upsampler_scale

#: Input sizes must be multiples of this (2 stride-2 levels).
MULTIPLE_OF = 4


def _block(cin: int, cout: int) -> nn.Sequential:
    """Two 3x3 conv + ReLU: the unit of every level, as in Ronneberger et al."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU(inplace=True)
    )


class UNetSR(nn.Module):
    """Two-level encoder-decoder on the LR image with a x``scale`` pixel-shuffle tail.

    ``skips=True``: U-Net (decoder levels concatenate the encoder features of the same size).
    ``skips=False``: plain convolutional autoencoder (the decoder sees only the bottleneck).
    Inputs and outputs are RGB in [0, 1], any size.
    """

    def __init__(self, scale: int = 4, n_feats: int = 48, skips: bool = True, init: str = "default") -> None:
        super().__init__()
        self.scale = scale
        self.config = dict(scale=scale, n_feats=n_feats, skips=skips, **({"init": init} if init != "default" else {}))
        self.skips = skips
        c = n_feats
        self.head = nn.Conv2d(3, c, 3, padding=1)
        self.enc0 = _block(c, c)
        self.down1 = nn.Sequential(nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), nn.ReLU(inplace=True))
        self.enc1 = _block(2 * c, 2 * c)
        self.down2 = nn.Sequential(nn.Conv2d(2 * c, 4 * c, 3, stride=2, padding=1), nn.ReLU(inplace=True))
        self.mid = _block(4 * c, 4 * c)
        self.up2 = nn.ConvTranspose2d(4 * c, 2 * c, 2, stride=2)
        self.dec1 = _block(4 * c if skips else 2 * c, 2 * c)
        self.up1 = nn.ConvTranspose2d(2 * c, c, 2, stride=2)
        self.dec0 = _block(2 * c if skips else c, c)
        self.tail = nn.Sequential(Upsampler(scale, c), nn.Conv2d(c, 3, 3, padding=1))
        if init == "he":
            self._he_init()
        elif init != "default":
            raise ValueError(f"init must be 'default' or 'he', got {init!r}")

    def _he_init(self) -> None:
        """He et al. (2015) initialisation, the residual's last conv scaled to 0.1.

        Why: PyTorch's default conv init shrinks a ReLU signal's variance about 3x per layer. The U-Net's
        skips carry the signal past that; the autoencoder's 12 convolutions in a row do not. With the
        default, its bottleneck reached the tail at ~1/1000 of the input's scale, and 45 minutes of
        training left it at bicubic exactly. He init keeps the variance through the stack. Scaling the
        last conv makes the network start near "bicubic + a small residual", as the default init does.
        """
        for m in self.modules():
            if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
        with torch.no_grad():
            self.tail[-1].weight.mul_(0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        ph, pw = (-h) % MULTIPLE_OF, (-w) % MULTIPLE_OF
        if ph or pw:  # replicate-pad to the level grid, crop the output back (any input size works)
            x = nn.functional.pad(x, (0, pw, 0, ph), mode="replicate")
        e0 = self.enc0(self.head(x - 0.5))
        e1 = self.enc1(self.down1(e0))
        m = self.mid(self.down2(e1))
        d1 = self.up2(m)
        d1 = self.dec1(torch.cat([d1, e1], 1) if self.skips else d1)
        d0 = self.up1(d1)
        d0 = self.dec0(torch.cat([d0, e0], 1) if self.skips else d0)
        base = nn.functional.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False)
        return (self.tail(d0) + base)[..., : h * self.scale, : w * self.scale]


class UNet(UNetSR):
    """The U-Net variant (``build_model("unet", ...)``)."""


class AutoEncoder(UNetSR):
    """The autoencoder variant: the same network without skip connections (``build_model("autoencoder", ...)``)."""

    def __init__(self, scale: int = 4, n_feats: int = 48, skips: bool = False, init: str = "default") -> None:
        super().__init__(scale=scale, n_feats=n_feats, skips=skips, init=init)


def unet_config_from_state_dict(state: dict[str, torch.Tensor]) -> dict[str, int | bool]:
    """Scale, width and skips of a :class:`UNetSR` state dict: what a generator file needs no card to say.

    ``skips`` shows in the first decoder block's input width: ``4c`` (up-sampled + encoder features) with
    skips, ``2c`` without. The scale comes from the pixel-shuffle tail, as for EDSR.
    """
    c = int(state["head.weight"].shape[0])
    return dict(scale=upsampler_scale(state, c), n_feats=c, skips=int(state["dec1.0.weight"].shape[1]) == 4 * c)
