"""Hatching index: how much of an output's fine detail is a grating, the cross-hatched texture LPIPS misses.

Why: ``real-gan`` at full strength paints quasi-periodic oriented fine lines (period 3-4 output px) over
faces and flat areas, yet has the *best* LPIPS of our methods; Real-ESRGAN x4plus adds as much detail
(fur, water) without the hatching. Two cheaper reads did not separate them: the energy at the 4-px
spectral period and the high-frequency share in flat regions (x4plus's sharp edges and fur leak into
both). What does separate them is *repetition*: a grating correlates with itself shifted by one period
**and by two**, with anti-correlation half a period in between; an edge, a halo, a single fur strand or
noise does not repeat (an edge correlates only *along* itself, a ridge that falls monotonically).

What it measures, on BT.601 luma (``srcore.color``), no reference needed:

1. the detail band ``d = Y - Gaussian(Y, sigma=1.5)`` (periods of a few px);
2. per non-overlapping 32x32 window: mean removed, Hann taper, the normalised linear autocorrelation
   ``rho`` (``rho(0) = 1``) from the zero-padded power spectrum, evaluated exactly at each lag read,
   between-pixel ones included (rounding l/2 to the grid steps off an edge's ridge and fakes a dip);
3. per window, the grating score ``g = max(0, max over lags l, 2 <= |l| <= 5 px, of
   min(rho(l), rho(l) - rho(l/2), rho(2l), rho(2l) - rho(3l/2)))``: high for a grating of period |l|
   (peaks at one and two periods, troughs between), ~0 for edges, halos, noise, irregular texture;
4. the index: the mean of ``g`` over windows, each weighted by how visible its detail is,
   ``v / (v + 2**2)`` with ``v`` the window's detail variance (grey levels^2): a faint pattern
   (RMS under ~2 grey levels) counts little, so a smooth output's few flat windows do not dominate.

Range 0 (no periodic fine detail) .. 1 (a perfect grating everywhere; a pure sinusoid of period 3-5 px
scores 0.44-0.78 by period and angle, the taper and the integer lags cost the rest); **lower is better**.
Periods 2-5 px at x4 lie above the LR's Nyquist period (8 output px): no x4 output can take them from its
input, so a grating there is invented. Ground truth has some (Set14 HR 0.042 on average, barbara's cloth 0.14 the top).

Validation (``python benchmarks/hatching_check.py --json docs/hatching_check.json --full``, x4, upscale
mode), dataset means, ``real-gan`` at 1 / at its default 0.5 / Real-ESRGAN x4plus / ``srgan`` (default 0.75) /
bicubic / ``real-edsr``:

* Set14 JPEG q50, whole images: 0.155 / 0.039 / 0.016 / 0.018 / 0.003 / 0.003;
* Set14 realistic: 0.195 / 0.053 / 0.021 / 0.024 / 0.017 (the input's sinc ringing) / 0.005;
* the two README photos, whole and crops: 0.159 / 0.035 / 0.027 / 0.012 / 0.004 / 0.001.

On the JPEG/noisy inputs ``real-gan`` is made for (photos, Set14 JPEG q50 and realistic; 60 whole images
and 64-px LR crops) ``real-gan@1`` is at least 2.4x x4plus on every one (on clean bicubic LR, which it is not
made for, it hatches less: 0.077 vs 0.014, at least 1.8x per image). The index rises smoothly with the
strength (``real_gan_strength_sweep`` in the JSON: Set14 JPEG crops 0.029 / 0.047 / 0.072 / 0.098 / 0.122 at
0.5 / 0.625 / 0.75 / 0.875 / 1); hatching is visible from about 0.75. Cost: 28 / 32 ms (min / median of 20)
for a 1024x1024 RGB output on the lab's 2-core AMD EPYC while it was shared with a training run (``timing``
in the JSON), so it is a default metric of :func:`srcore.scoring.score`.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np
from scipy import fft

from srcore.color import rgb_to_y_bt601

#: Window side (px): holds two periods of the longest grating looked for, with the taper.
WINDOW = 32
#: Gaussian sigma (px) of the low-pass the detail band is the residual of.
SIGMA = 1.5
#: Grating periods looked for (output px).
PERIODS = (2.0, 5.0)
#: Detail RMS (grey levels) at which a window counts half: fainter patterns are hardly visible.
VISIBLE_RMS = 2.0
#: The most a shipped GAN's dataset mean may score (tests/test_shipped_*.py; a strength sweep's bound). Measured
#: (docs/hatching_check.json, Set14 x4 whole images): ground truth 0.042, Real-ESRGAN x4plus 0.014-0.021, our
#: PSNR networks <= 0.005; real-gan of issue 21 0.039 / 0.053 (JPEG q50 / realistic) at its default 0.5, where the
#: crop sheet shows no hatching, and 0.155 / 0.195 at 1, where it does. 0.06 is 1.4x the ground truth's own share
#: and ~3x x4plus's: texture as real photos have passes, a grating over the image does not.
CEILING = 0.06


@lru_cache(maxsize=4)
def _cosines(window: int, lo: float, hi: float) -> tuple[np.ndarray, np.ndarray]:
    """(C, w): ``(P * w) @ C`` is the autocorrelation (times n^2) of a tile with power spectrum ``P`` (rfft2 layout,
    flattened) at each integer lag l of the half-annulus ``lo <= |l| <= hi`` and at l/2, 2l, 3l/2 (columns in
    that order, one block of lags each); ``P @ w`` is the lag-0 value.

    Why cosines rather than an inverse FFT: l/2 and 3l/2 fall between pixels, and rounding them to the grid
    steps off a straight edge's ridge and fakes the dip a grating has; evaluated exactly they stay on it.
    """
    n = _padded(window, hi)
    r = np.arange(-int(hi), int(hi) + 1)
    ly, lx = (a.ravel() for a in np.meshgrid(r, r, indexing="ij"))
    keep = (np.hypot(ly, lx) >= lo) & (np.hypot(ly, lx) <= hi) & ((ly > 0) | ((ly == 0) & (lx > 0)))  # l and -l are one lag
    lags = np.concatenate([np.stack([ly[keep], lx[keep]], axis=1) * f for f in (1.0, 0.5, 2.0, 1.5)])
    ky = np.fft.fftfreq(n)[:, None]  # cycles per px
    kx = np.fft.rfftfreq(n)[None, :]
    phase = 2 * np.pi * (ky[..., None] * lags[:, 0] + kx[..., None] * lags[:, 1])
    w = np.where((kx == 0) | (kx == 0.5), 1.0, 2.0) * np.ones_like(ky)  # rfft2 keeps half the spectrum: the rest is its mirror
    return np.cos(phase).reshape(-1, len(lags)) * w.reshape(-1, 1), w.reshape(-1)  # float64: see window_scores


def _padded(window: int, hi: float) -> int:
    """FFT size for a *linear* (not circular) autocorrelation up to lag ``2 * hi``: window + lag, up to a multiple of 16."""
    return -(-(window + int(np.ceil(2 * hi))) // 16) * 16


@lru_cache(maxsize=4)
def _taper(window: int) -> np.ndarray:
    h = np.hanning(window).astype(np.float32)
    return np.outer(h, h)


def window_scores(output: np.ndarray, window: int = WINDOW, sigma: float = SIGMA,
                  periods: tuple[float, float] = PERIODS) -> tuple[np.ndarray, np.ndarray]:
    """(grating score ``g``, detail variance ``v``) per ``window`` x ``window`` tile, row-major (tiles-high, tiles-wide).

    The per-window pieces of :func:`hatching_index`, for a map of *where* the hatching is.
    """
    if output.shape[0] < window or output.shape[1] < window:
        raise ValueError(f"the hatching index needs at least {window}x{window} px, got {output.shape[1]}x{output.shape[0]}")
    y = rgb_to_y_bt601(output, np.float32)
    detail = y - cv2.GaussianBlur(y, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    th, tw = y.shape[0] // window, y.shape[1] // window
    tiles = detail[: th * window, : tw * window].reshape(th, window, tw, window).swapaxes(1, 2).reshape(-1, window, window)
    tiles = tiles - tiles.mean(axis=(1, 2), keepdims=True)
    var = (tiles * tiles).mean(axis=(1, 2))
    n = _padded(window, periods[1])
    spec = fft.rfft2(tiles * _taper(window), s=(n, n)).reshape(len(tiles), -1)
    power = spec.real**2 + spec.imag**2
    cos, w = _cosines(window, *periods)
    # float64 products rounded back to float32: a BLAS matmul sums in a thread-count- and CPU-dependent order, and the
    # score must not change with where it runs (a 1-thread Ray worker vs the CLI: tests/test_ray.py compares them exactly)
    p64 = power.astype(np.float64)
    num = (p64 @ cos).astype(np.float32)
    den = (p64 @ w).astype(np.float32)
    rho = num / np.maximum(den, np.float32(1e-12))[:, None]
    one, half, two, one_half = np.split(rho, 4, axis=1)
    g = np.minimum(np.minimum(one, one - half), np.minimum(two, two - one_half)).max(axis=1)
    return np.maximum(g, 0.0).reshape(th, tw), var.reshape(th, tw)


def hatching_index(output: np.ndarray, window: int = WINDOW, sigma: float = SIGMA,
                   periods: tuple[float, float] = PERIODS, visible_rms: float = VISIBLE_RMS) -> float:
    """Hatching index of an RGB (or grey) uint8 output: 0 = no grating-like fine detail .. 1 = all grating; lower is better.

    No reference needed. Raises ``ValueError`` for an image smaller than one ``window``.
    See the module docstring for the definition and its validation.
    """
    g, var = window_scores(output, window, sigma, periods)
    weight = var / (var + visible_rms**2)
    total = float(weight.sum())
    return float((g * weight).sum() / total) if total > 0 else 0.0
