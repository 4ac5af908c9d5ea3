"""Colour-shift maps: CIEDE2000 colour difference (ΔE00) per pixel, vectorised numpy.

Why: |ΔY| and PSNR-Y see luma only, so a method that tints the picture or lets colours drift
(GANs trained in RGB, JPEG-chroma confusions) scores as if nothing happened. ΔE00 is the
CIE's perceptual colour distance: about 1 is a just-noticeable difference, 2-10 noticeable at a
glance, above 10 a different colour. Conversions follow the sRGB standard (IEC 61966-2-1) to
CIE XYZ and CIELAB with the D65 white point (2° observer), the same as
``skimage.color.rgb2lab``; the ΔE00 formula is Sharma, Wu & Dalal (2005), the reference
implementation every tool is checked against.
"""

from __future__ import annotations

import numpy as np

#: sRGB (linear) to XYZ, D65 (IEC 61966-2-1).
_RGB2XYZ = np.array([[0.412453, 0.357580, 0.180423],
                     [0.212671, 0.715160, 0.072169],
                     [0.019334, 0.119193, 0.950227]])
_WHITE_D65 = np.array([0.95047, 1.0, 1.08883])
#: A fixed colour scale for maps (ΔE00 0..this), so colours mean the same for every method and image.
MAP_VMAX = 10.0
CAPTION = ("CIEDE2000 colour difference per pixel; about 1 = just noticeable, above 10 = a different colour; "
           f"one fixed scale for all methods (0–{MAP_VMAX:g}).")


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB uint8 (H x W x 3) -> CIELAB float64 (L in 0..100), D65 white, as ``skimage.color.rgb2lab``."""
    c = np.asarray(rgb, np.float64) / 255.0
    lin = np.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)
    xyz = lin @ _RGB2XYZ.T / _WHITE_D65
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16.0 / 116.0)
    lab = np.empty_like(f)
    lab[..., 0] = 116.0 * f[..., 1] - 16.0
    lab[..., 1] = 500.0 * (f[..., 0] - f[..., 1])
    lab[..., 2] = 200.0 * (f[..., 1] - f[..., 2])
    return lab


def delta_e00(lab1: np.ndarray, lab2: np.ndarray, kl: float = 1.0, kc: float = 1.0, kh: float = 1.0) -> np.ndarray:
    """CIEDE2000 ΔE between two Lab arrays (..., 3), element-wise (Sharma et al. 2005, eqs. 1-17)."""
    l1, a1, b1 = np.moveaxis(np.asarray(lab1, np.float64), -1, 0)
    l2, a2, b2 = np.moveaxis(np.asarray(lab2, np.float64), -1, 0)
    c_bar = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2.0
    c7 = c_bar**7
    g = 0.5 * (1.0 - np.sqrt(c7 / (c7 + 25.0**7)))
    a1p, a2p = a1 * (1.0 + g), a2 * (1.0 + g)
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360.0
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360.0
    both = (c1p * c2p) != 0
    dh = h2p - h1p
    dh = np.where(dh > 180.0, dh - 360.0, np.where(dh < -180.0, dh + 360.0, dh))
    dh = np.where(both, dh, 0.0)
    d_l, d_c = l2 - l1, c2p - c1p
    d_h = 2.0 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh / 2.0))
    l_bar, cp_bar = (l1 + l2) / 2.0, (c1p + c2p) / 2.0
    hsum = h1p + h2p
    h_bar = np.where(np.abs(h1p - h2p) > 180.0, np.where(hsum < 360.0, hsum + 360.0, hsum - 360.0), hsum) / 2.0
    h_bar = np.where(both, h_bar, hsum)
    t = (1.0 - 0.17 * np.cos(np.radians(h_bar - 30.0)) + 0.24 * np.cos(np.radians(2.0 * h_bar))
         + 0.32 * np.cos(np.radians(3.0 * h_bar + 6.0)) - 0.20 * np.cos(np.radians(4.0 * h_bar - 63.0)))
    d_theta = 30.0 * np.exp(-(((h_bar - 275.0) / 25.0) ** 2))
    cp7 = cp_bar**7
    r_c = 2.0 * np.sqrt(cp7 / (cp7 + 25.0**7))
    s_l = 1.0 + 0.015 * (l_bar - 50.0) ** 2 / np.sqrt(20.0 + (l_bar - 50.0) ** 2)
    s_c = 1.0 + 0.045 * cp_bar
    s_h = 1.0 + 0.015 * cp_bar * t
    r_t = -np.sin(np.radians(2.0 * d_theta)) * r_c
    tl, tc, th = d_l / (kl * s_l), d_c / (kc * s_c), d_h / (kh * s_h)
    return np.sqrt(np.maximum(tl**2 + tc**2 + th**2 + r_t * tc * th, 0.0))


def delta_e_map(output: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """ΔE00 per pixel (float32, H x W) between two RGB uint8 images of the same size."""
    if output.shape != reference.shape:
        raise ValueError(f"images differ in size: {output.shape[1]}x{output.shape[0]} vs {reference.shape[1]}x{reference.shape[0]}")
    return delta_e00(rgb_to_lab(output), rgb_to_lab(reference)).astype(np.float32)
