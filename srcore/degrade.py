"""MATLAB-compatible bicubic resizing.

Every SR paper makes its low-resolution inputs with MATLAB's ``imresize(hr, 1/s, 'bicubic')``,
which *antialiases* when shrinking (the cubic kernel is stretched by the scale factor).
OpenCV's ``INTER_CUBIC`` does not, so LR made with it is sharper and aliased, and numbers
measured on it are not comparable with published ones. This module reproduces MATLAB's
kernel, boundary handling (symmetric padding) and rounding.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["imresize", "degrade", "crop_to_multiple"]


def _cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic kernel with a = -0.5, as MATLAB uses."""
    ax = np.abs(x)
    ax2, ax3 = ax**2, ax**3
    return (1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1) + (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * (
        (ax > 1) & (ax <= 2)
    )


@lru_cache(maxsize=64)
def _resize_matrix(in_len: int, out_len: int, scale: float, antialias: bool = True) -> np.ndarray:
    """Dense (out_len x in_len) matrix whose rows are MATLAB's contribution weights.

    Dense is fine: a 2000-pixel side gives a 500x2000 float64 matrix (8 MB), and a matrix
    product is far faster in numpy than MATLAB's gather-and-sum loop.
    """
    kernel_width = 4.0
    shrink = scale < 1 and antialias
    if shrink:
        kernel_width /= scale
    x = np.arange(1, out_len + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)  # output pixel centre in input coordinates (1-based)
    left = np.floor(u - kernel_width / 2)
    taps = int(np.ceil(kernel_width)) + 2
    idx = left[:, None] + np.arange(taps)[None, :]
    dist = u[:, None] - idx
    weights = scale * _cubic(dist * scale) if shrink else _cubic(dist)
    weights /= weights.sum(axis=1, keepdims=True)
    # MATLAB pads symmetrically: index -1 maps to 0, in_len maps to in_len-1, and so on.
    mirror = np.concatenate([np.arange(in_len), np.arange(in_len - 1, -1, -1)])
    src = mirror[np.mod(idx - 1, 2 * in_len).astype(np.int64)]
    mat = np.zeros((out_len, in_len), dtype=np.float64)
    rows = np.repeat(np.arange(out_len), taps)
    np.add.at(mat, (rows, src.ravel()), weights.ravel())
    return mat


def imresize(image: np.ndarray, scale: float, antialias: bool = True) -> np.ndarray:
    """Resize like MATLAB ``imresize(image, scale, 'bicubic')``.

    ``image`` is H x W or H x W x C, ``uint8`` (result rounded and clipped as MATLAB does) or
    floating point (result left unrounded, for training pipelines working in [0, 1]).
    """
    if image.ndim not in (2, 3):
        raise ValueError(f"expected an H x W or H x W x C image, got shape {image.shape}")
    h, w = image.shape[:2]
    out_h, out_w = int(np.ceil(h * scale)), int(np.ceil(w * scale))
    mh = _resize_matrix(h, out_h, float(scale), antialias)
    mw = _resize_matrix(w, out_w, float(scale), antialias)
    data = image.astype(np.float64)
    # Resize along the first dimension, then the second: MATLAB resizes the dimension with
    # the smallest scale first, and for equal scales in both directions the order is h, w.
    out = np.einsum("oh,hw...->ow...", mh, data)
    out = np.einsum("pw,ow...->op...", mw, out)
    if image.dtype == np.uint8:
        return np.clip(np.floor(out + 0.5), 0, 255).astype(np.uint8)
    return out.astype(image.dtype if np.issubdtype(image.dtype, np.floating) else np.float64)


def crop_to_multiple(image: np.ndarray, scale: int) -> np.ndarray:
    """Crop bottom/right so both sides are multiples of ``scale`` (the benchmark convention)."""
    h, w = image.shape[:2]
    return image[: h - h % scale, : w - w % scale]


def degrade(hr: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """Make the standard LR input from a ground-truth image.

    Returns ``(hr_cropped, lr)``: HR cropped to a multiple of ``scale``, and its MATLAB-style
    bicubic downscale by ``1/scale``. Both are needed, since metrics compare with the crop.
    """
    hr = crop_to_multiple(hr, scale)
    if hr.shape[0] < scale or hr.shape[1] < scale:
        raise ValueError(f"image of {hr.shape[1]}x{hr.shape[0]} is too small to downscale by {scale}")
    return hr, imresize(hr, 1.0 / scale)
