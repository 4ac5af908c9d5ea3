"""Full-reference image quality metrics, following the SR literature's conventions.

PSNR-Y / SSIM-Y: computed on BT.601 studio-swing luma (16-235) after shaving ``shave``
pixels (normally the scale factor) from every border - the convention of SRCNN onwards, so
our figures sit next to published tables. SSIM is Wang et al.'s, Gaussian window sigma=1.5.
RGB PSNR is offered too, for people who want the colour error counted.
LPIPS lives in :mod:`srcore.lpips` (it needs a network).
"""

from __future__ import annotations

import numpy as np
from skimage.metrics import structural_similarity

from srcore.color import rgb_to_y_bt601

#: Human-readable description of the convention our PSNR-Y/SSIM-Y use; shown in reports.
CONVENTION = "Y of BT.601 YCbCr (16-235), border of `scale` px shaved"


def _shave(a: np.ndarray, shave: int) -> np.ndarray:
    if shave <= 0:
        return a
    if a.shape[0] <= 2 * shave or a.shape[1] <= 2 * shave:
        return a  # too small to shave: score the whole image rather than nothing
    return a[shave:-shave, shave:-shave]


def _check_pair(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape[:2] != b.shape[:2]:
        raise ValueError(f"images differ in size: {a.shape[1]}x{a.shape[0]} vs {b.shape[1]}x{b.shape[0]}")


def _psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(peak * peak / mse)


def psnr_y(output: np.ndarray, reference: np.ndarray, shave: int = 0) -> float:
    """PSNR in dB on BT.601 luma, ``shave`` px removed from each border."""
    _check_pair(output, reference)
    return _psnr(_shave(rgb_to_y_bt601(output), shave), _shave(rgb_to_y_bt601(reference), shave))


def psnr_rgb(output: np.ndarray, reference: np.ndarray, shave: int = 0) -> float:
    """PSNR in dB over all RGB channels, ``shave`` px removed from each border."""
    _check_pair(output, reference)
    return _psnr(_shave(output, shave), _shave(reference, shave))


def ssim_y(output: np.ndarray, reference: np.ndarray, shave: int = 0) -> float:
    """SSIM (Wang et al. 2004: Gaussian sigma 1.5, K1=0.01, K2=0.03) on BT.601 luma."""
    _check_pair(output, reference)
    a = _shave(rgb_to_y_bt601(output), shave)
    b = _shave(rgb_to_y_bt601(reference), shave)
    if min(a.shape) < 7:
        # SSIM's 11x11 Gaussian window needs some room; on tiny crops fall back to a small window.
        win = max(3, min(a.shape) // 2 * 2 - 1) if min(a.shape) >= 3 else None
        if win is None:
            return float("nan")
        return float(structural_similarity(a, b, data_range=255.0, win_size=win))
    return float(
        structural_similarity(
            a, b, data_range=255.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
        )
    )


def error_map_y(output: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Absolute luma difference |output - reference| (float64, 0-219), for heatmaps."""
    _check_pair(output, reference)
    return np.abs(rgb_to_y_bt601(output) - rgb_to_y_bt601(reference))
