"""Our SRGAN (Ledig et al. 2017) with a perception-distortion dial, and the other GANs built the same way.

The generator is our EDSR-baseline architecture (``srgan``) or an RRDBNet (``real-gan``); ``unet-perceptual`` and ``unet-gan`` use
the same dial between our U-Net and its feature-loss or GAN fine-tune. ``strength`` alpha interpolates the
*weights* between the PSNR-trained generator (alpha=0, sharp-but-smooth) and the GAN-trained
one (alpha=1, textured), theta = (1-alpha) theta_psnr + alpha theta_gan, as ESRGAN did: one
network run whatever alpha, and a smooth trade-off in between. A GAN whose architecture is not its
PSNR network's (``real-gan``'s RRDBNet student beside ``real-edsr``'s EDSR) blends the two *outputs*
instead (ESRGAN's image interpolation): alpha 0 and 1 still run one network, in between both run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from srcore.errors import MethodError
from srcore.methods.base import Option, Upscaler
from srcore.methods.torch_sr import REAL_MARGIN, TorchUpscaler, edsr_bytes_per_pixel, run_network
from srcore.models import build_model, config_from_state_dict
from srcore.paths import ASSETS_DIR
from srcore.weights import load_card, shipped_file
from srcore.weights_io import load_state_dict

STRENGTH = Option("strength", 1.0, 0.0, 1.0, "0 = PSNR-trained generator, 1 = GAN-trained; in between interpolates the weights")
#: ``srgan``'s default strength: the lowest ST-LPIPS-alex on Set14 x4 among strengths whose NIQE is no worse
#: than ``edsr``'s, GMSD at most 15 % worse and LR-PSNR >= 40 dB (``benchmarks/srgan_strength.py``, numbers in
#: ``docs/srgan_strength_Set14_x4.json``): 0.875 and 1 have lower LPIPS but fail GMSD (grain).
SRGAN_DEFAULT_STRENGTH = 0.75


def blend_states(psnr: dict[str, torch.Tensor], gan: dict[str, torch.Tensor], alpha: float) -> dict[str, torch.Tensor]:
    """The strength dial: ``(1 - alpha) * psnr + alpha * gan``, tensor by tensor (fp32).

    One place for it, because the method, ``train.export``'s card numbers and ``benchmarks/gan_checkpoints.py``
    must all mean the same network by the same alpha.
    """
    return {k: (1 - alpha) * psnr[k].float() + alpha * gan[k].float() for k in gan}


class OutputBlend(nn.Module):
    """``(1 - alpha) * psnr(x) + alpha * gan(x)``: the dial between two networks of different architectures."""

    def __init__(self, psnr: nn.Module, gan: nn.Module, alpha: float) -> None:
        super().__init__()
        self.psnr, self.gan = psnr, gan
        self.register_buffer("alpha", torch.tensor(float(alpha)))  # a buffer: part of the state an export cache is keyed by
        self.scale = getattr(gan, "scale", 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (1 - self.alpha) * self.psnr(x) + self.alpha * self.gan(x)


Spec = tuple[str, dict[str, Any]]


def dial_network(psnr: dict[str, torch.Tensor], gan: dict[str, torch.Tensor], alpha: float,
                 psnr_spec: Spec | None = None, gan_spec: Spec | None = None) -> nn.Module:
    """The network the strength dial means at ``alpha``: one set of interpolated weights when the two state dicts
    share an architecture, the outputs blended when they do not (alpha 0 or 1: just that network).

    ``*_spec``: (arch, config) from a card; without it the architecture is read from the weights. One place for
    this, because the method, ``train.export`` and ``benchmarks/gan_checkpoints.py`` must mean the same network.
    """

    def build(state: dict[str, torch.Tensor], spec: Spec | None) -> nn.Module:
        arch, cfg = spec if spec is not None else config_from_state_dict(state)
        net = build_model(arch, 4, **dict(cfg))
        net.load_state_dict(state)
        return net.eval()

    if psnr.keys() == gan.keys() and all(psnr[k].shape == gan[k].shape for k in gan):
        return build(blend_states(psnr, gan, alpha), gan_spec)
    if alpha <= 0.0:
        return build(psnr, psnr_spec)
    if alpha >= 1.0:
        return build(gan, gan_spec)
    return OutputBlend(build(psnr, psnr_spec), build(gan, gan_spec), alpha).eval()


@dataclass
class SRGAN(TorchUpscaler):
    """A GAN-trained generator and its PSNR-trained counterpart, blended by ``strength`` (:func:`dial_network`)."""

    #: shipped weight stems: the GAN-trained generator and the PSNR-trained one it started from
    gan_asset: str = "srgan_x4"
    psnr_asset: str = "srgan_x4_psnr"
    train_hint: str = "python -m train.srgan"
    #: strength used when none is given; each GAN's is chosen by measurement, so it is per method
    #: (the ``strength`` Option shown in the CLI/UI carries it), not a property of the shared Option
    default_strength: float = STRENGTH.default

    def __post_init__(self) -> None:
        super().__post_init__()
        self.options = tuple(replace(o, default=self.default_strength) if o.name == STRENGTH.name else o for o in self.options)

    def missing(self, scale: int) -> str | None:
        if shipped_file(self.gan_asset) and shipped_file(self.psnr_asset):
            return None
        return f"our {self.id} weights ({self.gan_asset}, {self.psnr_asset}) are not shipped in {ASSETS_DIR} (train: `{self.train_hint}`)"

    def _states(self) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], dict[str, Any], dict[str, Any]]:
        with self._lock:
            if "states" not in self._models:
                gan, card = shipped_file(self.gan_asset) or (None, None)
                psnr, psnr_card = shipped_file(self.psnr_asset) or (None, None)
                if gan is None or psnr is None:
                    raise MethodError(self.availability(4).reason)
                self._models["states"] = (load_state_dict(psnr), load_state_dict(gan), psnr_card, card)  # type: ignore[assignment]
            return self._models["states"]  # type: ignore[return-value]

    def weight_files(self, scale: int) -> list[Path]:
        return [found[0] for a in (self.psnr_asset, self.gan_asset) if (found := shipped_file(a))]

    def torch_network(self, scale: int, **options: Any) -> nn.Module:
        """The generator with weights interpolated at ``strength`` (cached for the last two strengths)."""
        alpha = float(options.get("strength", self.default_strength))
        if not 0.0 <= alpha <= 1.0:
            raise MethodError(f"{self.id}: strength must be between 0 and 1, got {alpha}")
        alpha = round(alpha, 3)  # cache key granularity

        def build() -> nn.Module:
            psnr, gan, psnr_card, card = self._states()

            def spec(c: dict[str, Any]) -> Spec:
                return c.get("arch", "edsr"), c.get("model_config", {})  # older cards: EDSR

            return dial_network(psnr, gan, alpha, spec(psnr_card), spec(card))

        with self._lock:
            # keep only a couple of interpolated networks in memory: the slider produces many alphas
            nets = [k for k in self._models if isinstance(k, tuple)]
            if ("net", alpha) not in self._models and len(nets) >= 2:
                del self._models[nets[0]]
        return self._get(("net", alpha), build)

    def _run(self, image: np.ndarray, scale: int, *, tile: int | None, **options: Any) -> np.ndarray:
        model = self.torch_network(scale, **options)
        return run_network(model, image, scale, tile, self.receptive_margin, edsr_bytes_per_pixel(64, 4), self.device, self.half)

    def info(self) -> dict[str, Any]:
        d = super().info()
        d["cards"] = {4: c} if (c := load_card(self.gan_asset)) else {}
        return d


#: real-gan's default alpha, by the same rule as srgan's plus the hatching check (``benchmarks/srgan_strength.py``,
#: ``docs/srgan_strength_real_gan_Set14_jpeg50.json``): on Set14 at JPEG Q50 every strength of the RRDB student
#: (issue 21) keeps NIQE below real-edsr's (alpha 1: 5.26 vs 7.50), GMSD within 15 % (0.182 vs 0.167) and
#: hatching under srcore.hatching.CEILING (0.011), so the lowest LPIPS wins: alpha 1 (0.337; real-edsr 0.439).
REAL_GAN_DEFAULT_STRENGTH = 1.0


#: unet-perceptual's dial: the same weight interpolation, between `unet` and its VGG feature-loss fine-tune.
PERCEPTUAL_STRENGTH = Option("strength", 1.0, 0.0, 1.0,
                             "0 = unet (per-pixel loss), 1 = fine-tuned with the VGG feature loss; in between interpolates the weights")
#: unet-perceptual's default alpha: srgan's rule plus a distortion budget (PSNR-Y at most 1.5 dB under unet's, issue 25),
#: ``docs/srgan_strength_unet_perceptual_Set14_x4.json``: 0.875 and 1 hatch (0.065, 0.098 > CEILING), 1 also fails GMSD,
#: LR-PSNR and the budget; 0.75 has the lowest LPIPS of the rest (Set14 0.237 vs unet 0.287, PSNR-Y -0.84 dB).
UNET_PERCEPTUAL_DEFAULT_STRENGTH = 0.75

#: unet-gan's default alpha, by srgan's rule (``docs/srgan_strength_unet_gan_Set14_x4.json``): every strength is
#: admissible (alpha 1: NIQE 6.35 vs unet 6.84, GMSD 0.102 vs 0.096 x 1.15, hatching 0.026, LR-PSNR 43.2), so the
#: lowest LPIPS wins: alpha 1 (Set14 0.180; unet 0.287). The lattice and detail terms of its training are why the
#: GAN end itself passes.
UNET_GAN_DEFAULT_STRENGTH = 1.0


def srgan_methods() -> list[Upscaler]:
    return [
        SRGAN(id="srgan", label="SRGAN (ours)", scales=(4,), options=(STRENGTH,), receptive_margin=40,
              default_strength=SRGAN_DEFAULT_STRENGTH,
              description="Our SRGAN: EDSR-baseline generator fine-tuned with perceptual + adversarial loss; strength dials between PSNR and GAN weights."),
        SRGAN(id="real-gan", label="Real-GAN (ours)", scales=(4,), options=(STRENGTH,), receptive_margin=REAL_MARGIN,
              default_strength=REAL_GAN_DEFAULT_STRENGTH, gan_asset="real_gan_x4", psnr_asset="real_gan_x4_psnr",
              train_hint="python -m train.distill_data ..., python -m train.cut_teacher ..., then python -m train.srgan "
                         "--pairs DIR --disc unet (train/README.md)",
              description="Our real-world GAN, distilled from Real-ESRGAN x4plus: an RRDBNet of 3 blocks (2.3 M params) cut from "
                          "x4plus's 23 and trained as a GAN against its outputs on realistically degraded patches, with Real-ESRGAN's "
                          "U-Net discriminator; strength blends its output with real-edsr's (0 = real-edsr). Made for JPEG/noisy photos."),
        SRGAN(id="unet-perceptual", label="U-Net perceptual (ours)", scales=(4,), options=(PERCEPTUAL_STRENGTH,), receptive_margin=40,
              default_strength=UNET_PERCEPTUAL_DEFAULT_STRENGTH, gan_asset="unet_perceptual_x4", psnr_asset="unet_x4",
              train_hint="python -m train.sr --arch unet --init assets/unet_x4.safetensors --loss perceptual:1,l1:20,chroma:25,phase:100 "
                         "(train/README.md)",
              description="Our U-Net fine-tuned from `unet` with a VGG-16 relu3_3 feature-reconstruction loss (Johnson et al.) plus "
                          "L1, chroma and checkerboard terms, on bicubic + JPEG LR; strength 0 = unet."),
        SRGAN(id="unet-gan", label="U-Net GAN (ours)", scales=(4,), options=(STRENGTH,), receptive_margin=40,
              default_strength=UNET_GAN_DEFAULT_STRENGTH, gan_asset="unet_gan_x4", psnr_asset="unet_gan_x4_psnr",
              train_hint="python -m train.srgan --init assets/unet_x4.safetensors --disc unet --lattice-weight 300 --detail-weight 200 "
                         "(train/README.md)",
              description="Our U-Net fine-tuned against a critic (seed 002's fastai-style GAN): Real-ESRGAN's U-Net discriminator "
                          "with spectral norm, ST-VGG16 content, L1, chroma, checkerboard, 4-px-lattice and excess-detail terms, "
                          "on bicubic LR; strength 0 = unet."),
    ]
