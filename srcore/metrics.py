"""Full-reference image quality metrics, following the SR literature's conventions.

PSNR-Y / SSIM-Y: computed on BT.601 studio-swing luma (16-235) after shaving ``shave``
pixels (normally the scale factor) from every border - the convention of SRCNN onwards, so
our figures sit next to published tables. SSIM is Wang et al.'s, Gaussian window sigma=1.5.
RGB PSNR is offered too, for people who want the colour error counted.
GMSD (a weight-free structural score that grain cannot fool) and LR-PSNR (consistency of an
output with the LR input it was given, no ground truth needed) are here too.
LPIPS lives in :mod:`srcore.lpips` (it needs a network), NIQE in :mod:`srcore.niqe`.
"""

from __future__ import annotations

import cv2
import numpy as np

from srcore.color import rgb_to_y_bt601, rgb_to_y_full
from srcore.degrade import imresize

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
    if min(a.shape) < 11:
        from skimage.metrics import structural_similarity

        # SSIM's Gaussian window (sigma 1.5, truncated at 3.5 sigma) is 11x11; on tiny crops fall back to a small window.
        win = max(3, min(a.shape) // 2 * 2 - 1) if min(a.shape) >= 3 else None
        if win is None:
            return float("nan")
        return float(structural_similarity(a, b, data_range=255.0, win_size=win))
    return _ssim_gaussian(a.astype(np.float64), b.astype(np.float64), 255.0)


#: skimage's SSIM window: scipy's Gaussian with sigma 1.5 truncated at 3.5 sigma (radius 5, 11 taps).
_SSIM_KERNEL = cv2.getGaussianKernel(11, 1.5, cv2.CV_64F)


def _ssim_gaussian(a: np.ndarray, b: np.ndarray, data_range: float) -> float:
    """``skimage.metrics.structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)``.

    The same formula with OpenCV's separable filter (scipy's ``reflect`` border is OpenCV's
    ``BORDER_REFLECT``; the mean skips the 5-px border as skimage does): several times faster at
    1 Mpx, equal to skimage's value to ~1e-12 (checked in the tests).
    """
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2

    def blur(x: np.ndarray) -> np.ndarray:
        return cv2.sepFilter2D(x, cv2.CV_64F, _SSIM_KERNEL, _SSIM_KERNEL, borderType=cv2.BORDER_REFLECT)

    ux, uy = blur(a), blur(b)
    vx, vy, vxy = blur(a * a) - ux * ux, blur(b * b) - uy * uy, blur(a * b) - ux * uy
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return float(s[5:-5, 5:-5].mean(dtype=np.float64))


def error_map_y(output: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Absolute luma difference |output - reference| (float64, 0-219), for heatmaps."""
    _check_pair(output, reference)
    return np.abs(rgb_to_y_bt601(output) - rgb_to_y_bt601(reference))


#: GMSD's stability constant for images in [0, 1] (Xue et al.: T = 170 on a 0-255 scale).
GMSD_T = 170.0 / 255.0**2
_PREWITT_X = np.array([[-1.0, 0.0, 1.0]] * 3) / 3.0


def gmsd(output: np.ndarray, reference: np.ndarray, shave: int = 0) -> float:
    """Gradient Magnitude Similarity Deviation (Xue et al. 2014); 0 = identical, higher = worse.

    Why this one: it has no learned weights, and it measures how *unevenly* the local gradient
    structure agrees with the reference - invented grain and ringing add gradients where the
    reference has none, so it rises where LPIPS (which likes high-frequency energy) falls.
    Convention of ``piq.gmsd`` (checked against it in the tests): luma Y = 0.299R + 0.587G + 0.114B
    in [0, 1] after shaving ``shave`` px, 2x2 average pooling (zero-padded bottom/right when a side
    is odd), Prewitt gradients with zero padding, T = 170/255^2, standard deviation of the GMS map.
    """
    _check_pair(output, reference)
    maps = []
    for img in (output, reference):
        y = _shave(rgb_to_y_full(img if img.ndim == 3 else np.repeat(img[..., None], 3, axis=2)).astype(np.float64), shave)
        pad = max(y.shape[0] % 2, y.shape[1] % 2)
        y = np.pad(y, ((0, pad), (0, pad)))
        h, w = y.shape[0] // 2 * 2, y.shape[1] // 2 * 2
        if h < 2 or w < 2:
            raise ValueError(f"GMSD needs at least 2x2 px, got {y.shape[1]}x{y.shape[0]}")
        y = y[:h, :w].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
        # correlation with zero padding (scipy's mode="constant"), in OpenCV: same sums, a fraction of the time
        gx = cv2.filter2D(y, cv2.CV_64F, _PREWITT_X, borderType=cv2.BORDER_CONSTANT)
        gy = cv2.filter2D(y, cv2.CV_64F, _PREWITT_X.T.copy(), borderType=cv2.BORDER_CONSTANT)
        maps.append(np.sqrt(gx * gx + gy * gy))
    gms = (2 * maps[0] * maps[1] + GMSD_T) / (maps[0] ** 2 + maps[1] ** 2 + GMSD_T)
    return float(np.sqrt(np.mean((gms - gms.mean()) ** 2)))


def lr_psnr(output: np.ndarray, lr: np.ndarray, scale: int, shave: int = 1) -> float:
    """PSNR-Y of the output downscaled by ``1/scale`` (MATLAB bicubic) against the LR input.

    The PIRM/NTIRE "LR-PSNR" consistency check: it needs no ground truth, and a low value says
    the method invented content that contradicts the picture it was given. ``shave`` LR pixels
    (default 1 = ``scale`` output pixels, the HR-side convention) are dropped at each border.
    """
    down = imresize(output, 1.0 / scale)
    if down.shape[:2] != lr.shape[:2]:
        raise ValueError(f"output {output.shape[1]}x{output.shape[0]} is not x{scale} of the LR input {lr.shape[1]}x{lr.shape[0]}")
    return psnr_y(down, lr, shave=shave)
