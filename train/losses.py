"""Losses for SRGAN training: content (deep features), adversarial, pixel.

Content-loss backbones, picked with ``--content``:

``vgg19``     VGG19 phi_5,4 features as in Ledig et al. - torchvision's ImageNet weights, which
              torchvision downloads once (fails offline with a clear message).
``st-vgg16``  the anti-aliased VGG16 whose trained weights ship inside the ``stlpips-pytorch`` wheel
              (L1 on relu1_2 .. relu5_3, each layer scale-normalised): works offline. Deliberately *not* the ST-LPIPS
              distance, so the LPIPS we report is not the very quantity training minimised.
``lpips``     the ST-LPIPS-vgg distance itself (learned heads included) - strongest signal, but then
              ST-LPIPS-vgg stops being an independent judge; the AlexNet variant still is.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from srcore.lpips import _build_st, build_lpips

CONTENT_CHOICES = ("vgg19", "st-vgg16", "lpips")

# torchvision's ImageNet normalisation for inputs in [0, 1]
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


class VGG19Content(nn.Module):
    """MSE between VGG19 phi_5,4 features (after ReLU), as in the SRGAN paper (scaled by 1/12.75^2)."""

    def __init__(self) -> None:
        super().__init__()
        from torchvision.models import VGG19_Weights, vgg19  # lazy: only the perceptual losses need torchvision's VGG

        try:
            vgg = vgg19(weights=VGG19_Weights.IMAGENET1K_V1)
        except Exception as exc:  # offline: torchvision cannot download
            raise SystemExit(
                f"--content vgg19 needs torchvision's ImageNet VGG19 weights, which could not be loaded ({type(exc).__name__}). "
                "Online, they download once; offline, use --content st-vgg16 (ships with stlpips-pytorch)."
            ) from None
        self.features = vgg.features[:36].eval().requires_grad_(False)
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        f = lambda x: self.features((x - self.mean) / self.std)  # noqa: E731
        return F.mse_loss(f(sr), f(hr)) / (12.75**2)


class STVGG16Content(nn.Module):
    """Multi-layer L1 between features of the shift-tolerant VGG16 (offline-capable SRGAN content loss).

    Why several layers: relu5_3 alone (the paper's single deep layer) left LPIPS-alex barely moved in
    our probes, because the low layers that carry texture sharpness get no direct signal. This net's
    activations differ in scale by ~300x between layers, so each layer's L1 is divided by its mean
    absolute activation on natural images (measured on 10 images of the 291 set) before the
    Real-ESRGAN-style weights (0.1, 0.1, 1, 1, 1) apply. No channel normalisation and no learned
    heads: this is a plain perceptual loss, not the ST-LPIPS distance we report.
    """

    LAYER_SCALE = (0.0295, 0.0109, 0.0083, 0.0578, 3.21)  # mean |activation| per layer, relu1_2 .. relu5_3
    LAYER_WEIGHT = (0.1, 0.1, 1.0, 1.0, 1.0)

    def __init__(self) -> None:
        super().__init__()

        st = _build_st("vgg")
        self.scaling = st.scaling_layer
        self.net = st.net.eval().requires_grad_(False)

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        fa = self.net(self.scaling(sr * 2 - 1))
        with torch.no_grad():
            fb = self.net(self.scaling(hr * 2 - 1))
        terms = [w / s * F.l1_loss(a, b) for a, b, s, w in zip(fa, fb, self.LAYER_SCALE, self.LAYER_WEIGHT, strict=True)]
        return torch.stack(terms).sum()


class LPIPSContent(nn.Module):
    """The ST-LPIPS-vgg distance as a loss (mean over the batch)."""

    def __init__(self) -> None:
        super().__init__()

        # our own copy, not the process-wide shared metric: moving this loss must not move anyone else's network
        self.metric = build_lpips("vgg", backend="st", device="cpu")
        self.net = self.metric.network  # registered, so .to(device) moves it (and metric.device follows)

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        return self.metric.distance_tensor(sr, hr).mean()


def build_content_loss(kind: str) -> nn.Module:
    if kind == "vgg19":
        return VGG19Content()
    if kind == "st-vgg16":
        return STVGG16Content()
    if kind == "lpips":
        return LPIPSContent()
    raise SystemExit(f"--content must be one of {', '.join(CONTENT_CHOICES)}")


# BT.601 full-range chroma rows (Cb, Cr) for RGB in [0, 1]; luma is left to the content/GAN terms.
_CBCR = ((-0.168736, -0.331264, 0.5), (0.5, -0.418688, -0.081312))


def chroma_l1(sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
    """L1 between the BT.601 Cb/Cr planes of ``sr`` and ``hr`` (N, 3, H, W in [0, 1]).

    Why: the adversarial and feature losses reward high-frequency *texture*, and without this term
    the generator paints it in colour too - speckles of pink and blue, even on grayscale inputs
    (Set14 chroma high-pass energy 2.7 vs the HR's 1.7). Real texture is mostly luminance, so
    pinning chroma to the target costs no perceived detail.
    """
    w = torch.tensor(_CBCR, dtype=sr.dtype, device=sr.device)
    return nn.functional.l1_loss(torch.einsum("kc,nchw->nkhw", w, sr), torch.einsum("kc,nchw->nkhw", w, hr))


def phase_bias_l1(sr: torch.Tensor, hr: torch.Tensor, period: int = 4) -> torch.Tensor:
    """How much the mean error differs between the ``period`` x ``period`` pixel phases of the output.

    Why: a x4 pixel-shuffle tail can learn a fixed offset per output phase - a checkerboard of a few
    grey levels that repeats every 4 pixels on every image. Pixel and feature losses barely see it
    and the GAN even feeds it (Set14 phase spread grew from 0.4 in HR to 3.8 in our stage-2 run), so
    this term measures exactly that: the per-phase mean of ``sr - hr``, minus its mean over phases.
    """
    n, c, h, w = sr.shape
    h, w = h - h % period, w - w % period
    err = (sr - hr)[..., :h, :w].reshape(n, c, h // period, period, w // period, period).mean(dim=(2, 4))
    return (err - err.mean(dim=(2, 3), keepdim=True)).abs().mean()


def detail_excess_l1(sr: torch.Tensor, hr: torch.Tensor, sigma: float = 1.5, window: int = 8) -> torch.Tensor:
    """How much more fine luma detail the output has than the target, per ``window`` x ``window`` block (one-sided).

    Why: a feature loss or a critic can be satisfied by a grating - oriented lines of a 3-4 px period painted
    over faces and flat areas (:mod:`srcore.hatching`). Our U-Net generator did that under srgan's recipe
    (Set14 hatching 0.10-0.16, ground truth 0.04) where the EDSR generator did not. The detail band is the
    one the hatching index reads (BT.601 Y minus its Gaussian blur, sigma 1.5); per block, only its RMS *beyond*
    the target's RMS is penalised, so detail the PSNR network blurred away may still come back up to the
    ground truth's level - texture invented where the photo is smooth is what costs.
    """
    w = torch.tensor(_BT601_Y, dtype=sr.dtype, device=sr.device).view(1, 3, 1, 1)
    size = 2 * int(3 * sigma + 0.5) + 1
    g = _gaussian(size, sigma, sr.dtype, sr.device)

    def band_rms(x: torch.Tensor) -> torch.Tensor:
        y = (x * w).sum(1, keepdim=True)
        blur = F.conv2d(F.pad(y, [size // 2] * 4, mode="reflect"), g.view(1, 1, 1, size))
        blur = F.conv2d(blur, g.view(1, 1, size, 1))
        return (F.avg_pool2d((y - blur) ** 2, window) + 1e-8).sqrt()

    with torch.no_grad():
        ref = band_rms(hr)
    return F.relu(band_rms(sr) - ref).mean()


def lattice_excess_l1(sr: torch.Tensor, hr: torch.Tensor, period: int = 4, peak: int = 1, ring: int = 4) -> torch.Tensor:
    """How far the output's luma spectrum peaks at the ``period``-px lattice frequencies, beyond the target's peaks.

    Why: a x4 pixel-shuffle tail can answer an edge differently at each of its 16 output phases - a zipper
    of dots along every contour. Its mean over an image is ~0, so :func:`phase_bias_l1` misses it; in the
    spectrum it is the edge's own spectrum shifted onto the lattice ``(k/period, l/period)`` cycles per
    pixel. Our U-Net generator against the U-Net discriminator painted it (Set14
    :func:`srcore.periodic.periodic_peak_ratio` 11.6, ground truth 1.14). This is that check made a loss: per
    patch and lattice point, the mean FFT amplitude of the Hann-windowed luma within ``peak`` bins minus the
    mean over the surrounding ``ring`` - a *peak*, not energy, so the broadband texture a GAN rightly adds
    near those frequencies costs nothing - and only its excess over the target's peak.
    """
    w = torch.tensor(_BT601_Y, dtype=sr.dtype, device=sr.device).view(1, 3, 1, 1)
    h, wd = sr.shape[-2] - sr.shape[-2] % period, sr.shape[-1] - sr.shape[-1] % period
    win = torch.outer(torch.hann_window(h, periodic=False, dtype=sr.dtype, device=sr.device),
                      torch.hann_window(wd, periodic=False, dtype=sr.dtype, device=sr.device))
    offsets = torch.arange(-ring, ring + 1, device=sr.device)
    inner = (offsets.abs() <= peak)[:, None] & (offsets.abs() <= peak)[None, :]
    points = [(k, m) for k in range(period) for m in range(period) if k or m]
    rows = torch.stack([(k * h // period + offsets) % h for k, _ in points])  # (P, 2 ring + 1)
    cols = torch.stack([(m * wd // period + offsets) % wd for _, m in points])

    def peak_height(x: torch.Tensor) -> torch.Tensor:
        y = (x[..., :h, :wd] * w).sum(1)
        amp = torch.fft.fft2((y - y.mean(dim=(-2, -1), keepdim=True)) * win).abs() / (h * wd) ** 0.5
        blocks = amp[:, rows[:, :, None], cols[:, None, :]]  # (N, P, 2 ring + 1, 2 ring + 1)
        return blocks[..., inner].mean(-1) - blocks[..., ~inner].mean(-1)

    with torch.no_grad():
        ref = peak_height(hr.float())
    return F.relu(peak_height(sr.float()) - ref).mean()


def adversarial_losses(d_real: torch.Tensor, d_fake: torch.Tensor, kind: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(discriminator loss, generator loss) from raw logits.

    ``vanilla``: the SRGAN paper's BCE, non-saturating generator loss.
    ``ragan``: relativistic average GAN (ESRGAN) - D judges whether real is *more* realistic than the
    average fake; in practice steadier on small batches, which is all a CPU affords.
    ``d_fake`` must carry gradients to G; the D loss is computed from detached copies by the caller.
    """
    bce = F.binary_cross_entropy_with_logits
    ones, zeros = torch.ones_like(d_real), torch.zeros_like(d_real)
    if kind == "vanilla":
        return bce(d_real, ones) + bce(d_fake, zeros), bce(d_fake, ones)
    if kind == "ragan":
        real_rel = d_real - d_fake.mean()
        fake_rel = d_fake - d_real.mean()
        d_loss = (bce(real_rel, ones) + bce(fake_rel, zeros)) / 2
        g_loss = (bce(real_rel, zeros) + bce(fake_rel, ones)) / 2
        return d_loss, g_loss
    raise ValueError(f"unknown GAN loss {kind!r}")


# --------------------------------------------------------------------------------------------------------------
# Per-pixel and feature losses for train.sr (--loss), combinable with weights
# --------------------------------------------------------------------------------------------------------------

#: Loss names ``--loss`` accepts (``ssim`` on RGB, ``ssim-y`` on BT.601 luma).
#: ``chroma`` and ``phase`` are the guards our SRGAN needed against colour speckle and the x4 checkerboard
#: (``chroma_l1``, ``phase_bias_l1``); a feature loss on the U-Net has the same two faults. ``detail``: fine luma
#: detail beyond the target's (``detail_excess_l1``), the guard against painted gratings; ``lattice``: spectral
#: peaks at the 4-px lattice beyond the target's (``lattice_excess_l1``), against an edge-following zipper.
#: ``l1-y``: L1 on BT.601 Y, the plane PSNR-Y and SSIM-Y score (``luma_l1``).
SR_LOSSES = ("l1", "l1-y", "mse", "ssim", "ssim-y", "hfen", "perceptual", "chroma", "phase", "detail", "lattice")
_BT601_Y = (65.481 / 255, 128.553 / 255, 24.966 / 255)  # full-range-input rows of the studio-range Y the metrics use


def _gaussian(size: int, sigma: float, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    ax = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2
    g = torch.exp(-(ax**2) / (2 * sigma**2))
    return g / g.sum()


def luma_l1(sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
    """L1 between the BT.601 Y planes of ``sr`` and ``hr`` (N, 3, H, W in [0, 1]), on the metrics' 0-1 Y scale.

    Why: RGB L1 spends the network's capacity equally on three channels, while the field scores only Y;
    a PSNR network fine-tuned on ``l1-y`` (with a little ``l1`` or ``chroma`` to keep colour) trades
    chroma accuracy nobody measures - and the eye barely sees - for the luma detail everyone does.
    """
    w = torch.tensor(_BT601_Y, dtype=sr.dtype, device=sr.device).view(1, 3, 1, 1)
    return F.l1_loss((sr * w).sum(1), (hr * w).sum(1))


def ssim_loss(sr: torch.Tensor, hr: torch.Tensor, luma: bool = False, size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """1 - SSIM (Wang et al. 2004; 11x11 Gaussian window, sigma 1.5, 'valid' area) for images in [0, 1].

    Why a loss on SSIM: it weighs errors by local contrast and structure instead of absolutely, so
    it asks for edges before flat-area accuracy. ``luma``: on BT.601 Y only (what SSIM-Y reports;
    leaves colour to another term), else the mean over the RGB channels.
    """
    if luma:
        w = torch.tensor(_BT601_Y, dtype=sr.dtype, device=sr.device).view(1, 3, 1, 1)
        sr, hr = (sr * w).sum(1, keepdim=True), (hr * w).sum(1, keepdim=True)
    c = sr.shape[1]
    g = _gaussian(size, sigma, sr.dtype, sr.device)
    win = (g[:, None] * g[None, :]).expand(c, 1, size, size).contiguous()
    blur = lambda t: F.conv2d(t, win, groups=c)  # noqa: E731
    mu_x, mu_y = blur(sr), blur(hr)
    sxx = blur(sr * sr) - mu_x**2
    syy = blur(hr * hr) - mu_y**2
    sxy = blur(sr * hr) - mu_x * mu_y
    c1, c2 = 0.01**2, 0.03**2
    ssim = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2))
    return 1 - ssim.mean()


def log_kernel(sigma: float = 1.5, size: int = 15) -> torch.Tensor:
    """Zero-sum Laplacian-of-Gaussian kernel (size x size), as HFEN uses (Ravishankar & Bresler 2011: 15x15, sigma 1.5)."""
    ax = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    yy, xx = torch.meshgrid(ax, ax, indexing="ij")
    r2 = xx**2 + yy**2
    k = (r2 - 2 * sigma**2) / sigma**4 * torch.exp(-r2 / (2 * sigma**2))
    return (k - k.mean()).float()


def hfen_loss(sr: torch.Tensor, hr: torch.Tensor, sigma: float = 1.5) -> torch.Tensor:
    """High-frequency error norm as a loss: L1 between the LoG-filtered output and target, per channel.

    Why: LoG removes flat areas and keeps edges and fine texture, so this term rewards exactly the
    detail an L1/L2 loss averages away; combine it with a pixel term, since LoG is blind to
    low-frequency (colour, brightness) errors.
    """
    c = sr.shape[1]
    k = log_kernel(sigma).to(sr.device, sr.dtype)
    k = k.expand(c, 1, *k.shape).contiguous()
    f = lambda t: F.conv2d(t, k, groups=c)  # noqa: E731 - 'valid' area: no padding artefacts at the borders
    return F.l1_loss(f(sr), f(hr))


class FeatureLoss(nn.Module):
    """Feature-reconstruction (perceptual) loss of Johnson et al. 2016: MSE between VGG-16 relu3_3 features.

    Backbone: torchvision's ImageNet VGG-16 when its weights are already in the torch hub cache (never
    downloads), else the offline anti-aliased VGG-16 of the ``stlpips-pytorch`` wheel (what
    :class:`STVGG16Content` uses). For the latter the MSE is divided by a bicubic x4 output's value (``ST_NORM``), so a weight of 1 means "bicubic scores about 1"; the ImageNet
    backbone is used unnormalised (plain MSE, as Johnson et al.).
    """

    #: The ST backbone's relu3_3 feature MSE for bicubic x4 output vs HR (16 patches of 96 px, 291 set): the
    #: loss is divided by it, so bicubic scores ~1 and ``perceptual:1,l1:0.1`` is mostly feature loss.
    ST_NORM = 5.2e-3

    def __init__(self, autocast: Callable[[], AbstractContextManager] = nullcontext) -> None:
        super().__init__()

        self.autocast = autocast
        path = Path(torch.hub.get_dir()) / "checkpoints" / "vgg16-397923af.pth"
        if path.is_file():
            from torchvision.models import vgg16  # lazy: only this loss needs torchvision

            vgg = vgg16()
            vgg.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
            self.backbone = "imagenet-vgg16"
            self.net = vgg.features[:16]  # ... conv3_3, relu3_3
            self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1))
            self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1))
            self.norm = 1.0
        else:
            st = _build_st("vgg")
            self.backbone = "st-vgg16"
            self.net = nn.Sequential(st.net.slice1, st.net.slice2, st.net.slice3)  # ends at relu3_3
            self.scaling = st.scaling_layer
            self.norm = self.ST_NORM
        self.net.eval().requires_grad_(False)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if self.backbone == "st-vgg16":
            return self.net(self.scaling(x * 2 - 1))
        return self.net((x - self.mean) / self.std)

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        with self.autocast():  # the backbone costs ~10x the SR network: run it at the training precision
            fa = self.features(sr)
            with torch.no_grad():
                fb = self.features(hr)
        return F.mse_loss(fa.float(), fb.float()) / self.norm

    def train(self, mode: bool = True) -> FeatureLoss:  # the backbone stays in eval mode
        super().train(mode)
        self.net.eval()
        return self


def parse_loss_spec(spec: str) -> dict[str, float]:
    """``"l1"`` -> {l1: 1}; ``"ssim+l1"`` -> {ssim: 1, l1: 1}; ``"perceptual:1,l1:0.1"`` -> weights as given."""
    terms: dict[str, float] = {}
    for part in spec.replace("+", ",").split(","):
        name, _, weight = part.strip().partition(":")
        if name not in SR_LOSSES:
            raise ValueError(f"unknown loss {name!r} in {spec!r}; known: {', '.join(SR_LOSSES)}")
        try:
            terms[name] = terms.get(name, 0.0) + (float(weight) if weight else 1.0)
        except ValueError:
            raise ValueError(f"bad weight {weight!r} for {name} in {spec!r}") from None
    return terms


class SRLoss(nn.Module):
    """Weighted sum of the ``--loss`` terms; ``last_terms`` keeps each term's value for logging."""

    def __init__(self, spec: str, autocast: Callable[[], AbstractContextManager] = nullcontext) -> None:
        super().__init__()
        self.weights = parse_loss_spec(spec)
        self.feature = FeatureLoss(autocast) if "perceptual" in self.weights else None
        self.last_terms: dict[str, float] = {}

    def term(self, name: str, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        if name == "l1":
            return F.l1_loss(sr, hr)
        if name == "l1-y":
            return luma_l1(sr, hr)
        if name == "mse":
            return F.mse_loss(sr, hr)
        if name in ("ssim", "ssim-y"):
            return ssim_loss(sr, hr, luma=name == "ssim-y")
        if name == "hfen":
            return hfen_loss(sr, hr)
        if name == "chroma":
            return chroma_l1(sr, hr)
        if name == "phase":
            return phase_bias_l1(sr, hr)
        if name == "detail":
            return detail_excess_l1(sr, hr)
        if name == "lattice":
            return lattice_excess_l1(sr, hr)
        assert name == "perceptual" and self.feature is not None
        return self.feature(sr, hr)

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        total = sr.new_zeros(())
        for name, w in self.weights.items():
            t = self.term(name, sr, hr)
            self.last_terms[name] = float(t.detach())
            total = total + w * t
        return total
