"""Random blur kernels of the Real-ESRGAN degradation model (Wang et al. 2021, BSRGAN-style).

Camera optics, motion and resampling blur a real photo with kernels far from MATLAB's bicubic.
Training on a *family* of kernels (isotropic/anisotropic Gaussian, generalized Gaussian with
heavier or lighter tails, plateau-shaped, and 2-D sinc for ringing/overshoot) is what lets a
network cope with blur it has never seen. The formulas follow BasicSR's
``basicsr/data/degradations.py``; every draw comes from the ``rng`` passed in, so a seed fixes
the kernel, and each function returns the parameters it drew so results can record them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special

__all__ = ["KERNEL_TYPES", "random_kernel", "sinc_kernel", "pad_kernel"]

#: Kernel families and their probabilities (Real-ESRGAN's ``kernel_list`` / ``kernel_prob``).
KERNEL_TYPES: dict[str, float] = {
    "iso": 0.45,
    "aniso": 0.25,
    "generalized_iso": 0.12,
    "generalized_aniso": 0.03,
    "plateau_iso": 0.12,
    "plateau_aniso": 0.03,
}


def _grid(size: int) -> np.ndarray:
    ax = np.arange(-(size // 2), size // 2 + 1, dtype=np.float64)
    xx, yy = np.meshgrid(ax, ax)
    return np.stack([xx, yy], axis=-1)


def _quad_form(size: int, sig_x: float, sig_y: float, theta: float) -> np.ndarray:
    """x^T Sigma^-1 x over the kernel grid, Sigma rotated by ``theta``."""
    rot = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    cov = rot @ np.diag([sig_x**2, sig_y**2]) @ rot.T
    inv = np.linalg.inv(cov)
    g = _grid(size)
    return np.sum((g @ inv) * g, axis=-1)


def _beta(rng: np.random.Generator, lo: float, hi: float) -> float:
    """Shape exponent: half the draws below 1 (heavy tails), half above (flat top), as BasicSR."""
    return float(rng.uniform(lo, 1.0) if rng.random() < 0.5 else rng.uniform(1.0, hi))


def random_kernel(
    rng: np.random.Generator,
    size: int,
    sigma_range: tuple[float, float],
    betag_range: tuple[float, float] = (0.5, 4.0),
    betap_range: tuple[float, float] = (1.0, 2.0),
) -> tuple[np.ndarray, dict[str, Any]]:
    """One kernel from :data:`KERNEL_TYPES`: (``size`` x ``size`` float64 summing to 1, its parameters)."""
    kinds = list(KERNEL_TYPES)
    kind = kinds[int(rng.choice(len(kinds), p=np.array(list(KERNEL_TYPES.values()))))]
    iso = kind.endswith("iso") and not kind.endswith("aniso")
    sig_x = float(rng.uniform(*sigma_range))
    sig_y = sig_x if iso else float(rng.uniform(*sigma_range))
    theta = 0.0 if iso else float(rng.uniform(-math.pi, math.pi))
    q = _quad_form(size, sig_x, sig_y, theta)
    params: dict[str, Any] = {"type": kind, "size": size, "sigma_x": round(sig_x, 4), "sigma_y": round(sig_y, 4), "theta": round(theta, 4)}
    if kind.startswith("generalized"):
        beta = _beta(rng, *betag_range)
        kernel = np.exp(-0.5 * np.power(q, beta))
        params["beta"] = round(beta, 4)
    elif kind.startswith("plateau"):
        beta = _beta(rng, *betap_range)
        kernel = 1.0 / (np.power(q, beta) + 1.0)
        params["beta"] = round(beta, 4)
    else:
        kernel = np.exp(-0.5 * q)
    return kernel / kernel.sum(), params


def sinc_kernel(cutoff: float, size: int) -> np.ndarray:
    """Circular low-pass (2-D sinc, ``J1(w r) w / 2 pi r``): the ringing and overshoot of sharpened/resampled images."""
    c = (size - 1) / 2
    y, x = np.mgrid[:size, :size]
    r = np.hypot(x - c, y - c)
    with np.errstate(divide="ignore", invalid="ignore"):
        kernel = cutoff * special.j1(cutoff * r) / (2 * np.pi * r)
    kernel[int(c), int(c)] = cutoff**2 / (4 * np.pi)
    return kernel / kernel.sum()


def pad_kernel(kernel: np.ndarray, size: int) -> np.ndarray:
    """Zero-pad a square odd kernel to ``size`` (filtering is unchanged; shapes become uniform)."""
    p = (size - kernel.shape[0]) // 2
    return np.pad(kernel, p) if p > 0 else kernel
