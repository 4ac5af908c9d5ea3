"""How strongly an image repeats every ``period`` pixels: spectral peaks on the period's lattice.

A x4 pixel-shuffle tail that has learned a different response per output phase paints a pattern
that repeats every 4 (or 2) pixels. Its spectrum is the image's shifted onto the lattice of
frequencies ``(k/period, l/period)`` cycles per pixel, so it shows as peaks there, above the
smooth fall-off natural detail has around those frequencies. Per-phase means (the checkerboard of
``train.losses.phase_bias_l1``) catch only a fixed pattern; a grid whose strength follows the
content (brighter on edges, as our first perceptual U-Net painted) spreads into the bins next to
each lattice point, which a small neighbourhood sum still collects.

:func:`periodic_peak_ratio` is that peak's energy over its surroundings' (an annulus of bins around
each lattice point), averaged over the lattice points: ~1 for a picture with no periodic
structure, larger with a grid. Compare an output's value with the ground truth's: a picture can
hold a little real periodic texture (brick, fabric) and the ratio says nothing about which one is
right, only that the output repeats more than the photo does.
"""

from __future__ import annotations

import numpy as np

from srcore.color import rgb_to_y_bt601

__all__ = ["periodic_peak_ratio"]


def periodic_peak_ratio(image: np.ndarray, period: int = 4, peak: int = 1, ring: int = 4) -> float:
    """Mean, over the non-zero lattice frequencies of ``period``, of (peak energy / surrounding energy).

    ``image``: RGB uint8 or a 2-D luma array. ``peak``: half-width in bins of the neighbourhood that
    counts as the peak (a content-modulated grid spreads a little); ``ring``: half-width of the
    square whose bins outside the peak are the reference level. Both are compared per bin, so the
    ratio does not depend on their sizes for a flat spectrum. Luma is BT.601 Y, mean removed, under a
    Hann window (so the image's borders add no spectral leakage onto the lattice).
    """
    y = rgb_to_y_bt601(image) if image.ndim == 3 else image.astype(np.float64)
    if min(y.shape) < 4 * period * ring:
        raise ValueError(f"image of {y.shape[1]}x{y.shape[0]} is too small to resolve a {period}-px period")
    h, w = y.shape
    win = np.outer(np.hanning(h), np.hanning(w))
    power = np.abs(np.fft.fft2((y - y.mean()) * win)) ** 2
    ratios = []
    for k in range(period):
        for m in range(period):
            if k == 0 and m == 0:
                continue
            cy, cx = round(k * h / period), round(m * w / period)
            rows = np.arange(cy - ring, cy + ring + 1) % h  # the spectrum wraps: (N - f) is -f
            cols = np.arange(cx - ring, cx + ring + 1) % w
            block = power[np.ix_(rows, cols)]
            inner = np.zeros_like(block, dtype=bool)
            inner[ring - peak: ring + peak + 1, ring - peak: ring + peak + 1] = True
            ratios.append(block[inner].mean() / max(block[~inner].mean(), 1e-12))
    return float(np.mean(ratios))
