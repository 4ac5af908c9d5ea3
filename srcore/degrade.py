"""How low-resolution inputs are made: MATLAB-compatible bicubic, JPEG, and a realistic pipeline.

Every SR paper makes its low-resolution inputs with MATLAB's ``imresize(hr, 1/s, 'bicubic')``,
which *antialiases* when shrinking (the cubic kernel is stretched by the scale factor).
OpenCV's ``INTER_CUBIC`` does not, so LR made with it is sharper and aliased, and numbers
measured on it are not comparable with published ones. This module reproduces MATLAB's
kernel, boundary handling (symmetric padding) and rounding.

Real photos are not clean bicubic downscales: they are blurred by optics, resampled by
software, noisy and JPEG-compressed, and a network trained only on bicubic LR magnifies
those artefacts (a JPEG's 8x8 block grid becomes a 32x32 grid at x4). So there are three
degradations (:data:`DEGRADATIONS`), each deterministic for a seed, each reporting the
parameters it drew so every result says exactly what its input went through:

* ``bicubic`` - MATLAB ``imresize``; the benchmark convention and the default.
* ``jpeg`` - ``bicubic``, then JPEG at a quality (default 50): the web-image case.
* ``realistic`` - Real-ESRGAN's second-order model (:func:`realistic_lr`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import cv2
import numpy as np

from srcore.blur_kernels import pad_kernel, random_kernel, sinc_kernel

__all__ = [
    "DEGRADATIONS",
    "DEFAULT_JPEG_QUALITY",
    "Degradation",
    "Degraded",
    "imresize",
    "degrade",
    "degrade_image",
    "crop_to_multiple",
    "jpeg_roundtrip",
    "realistic_lr",
    "usm_sharpen",
]

DEGRADATIONS = ("bicubic", "jpeg", "realistic")
DEFAULT_JPEG_QUALITY = 50


def _cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic kernel with a = -0.5, as MATLAB uses."""
    ax = np.abs(x)
    ax2, ax3 = ax**2, ax**3
    return (1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1) + (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * (
        (ax > 1) & (ax <= 2)
    )


@lru_cache(maxsize=64)
def _resize_band(in_len: int, out_len: int, scale: float, antialias: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """MATLAB's contribution weights along one axis as a band: ``(first_source, weights)``.

    Row ``o`` of the (out_len x in_len) resize matrix is zero except ``weights[o, j]`` at column
    ``first_source[o] + j``. Why a band: each output pixel depends on a few input pixels (6 when
    enlarging, 4/scale + 2 when shrinking), so summing those costs O(out_len x taps) per line where
    the dense matrix product cost O(out_len x in_len) - seconds instead of milliseconds at 2048 px.
    The entries are built exactly as the dense matrix was (mirrored sources, duplicates summed in the
    same order), so results equal the dense product's bit for bit (see :func:`_resize_axis`).
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
    first = src.min(axis=1)
    band = np.zeros((out_len, int((src.max(axis=1) - first).max()) + 1), dtype=np.float64)
    rows = np.repeat(np.arange(out_len), taps)
    np.add.at(band, (rows, (src - first[:, None]).ravel()), weights.ravel())
    return first, band


#: Column block for the contiguous reduction (a multiple of every SIMD unroll width numpy uses).
_BLOCK = 64


def _resize_axis(data: np.ndarray, first: np.ndarray, band: np.ndarray, axis: int) -> np.ndarray:
    """``einsum`` of the dense resize matrix with float64 ``data`` along ``axis`` (0 or 1), on the band only.

    Same numbers as the dense ``einsum`` the module used before (pinned in the tests; NIQE's grid
    search turns a last-bit difference into a visible one): numpy sums a strided reduction one
    term at a time, so there the band's columns are added in ascending order (the zeros outside the
    band add exactly nothing); a unit-stride reduction (the last axis of a 2-D image) runs in SIMD
    lanes, so there the dense rows are cut into ``_BLOCK``-aligned pieces that cover the band and
    end where the full row's unrolled loop ends, which gives each term the same lane and order.
    """
    out_len, width = band.shape
    n = data.shape[axis]
    cols = np.minimum(first[:, None] + np.arange(width)[None, :], n - 1)
    if axis == 1 and data.ndim == 2:
        out = np.empty((data.shape[0], out_len), dtype=np.float64)
        nz = band != 0
        lo = first + nz.argmax(axis=1)
        hi = first + width - nz[:, ::-1].argmax(axis=1)  # exclusive
        start = lo // _BLOCK * _BLOCK
        end = start + -(-(hi - start) // _BLOCK) * _BLOCK
        end = np.where(end > n // _BLOCK * _BLOCK, n, end)
        for s0, e0 in sorted(set(zip(start.tolist(), end.tolist(), strict=True))):
            ps = np.nonzero((start == s0) & (end == e0))[0]
            dense = np.zeros((len(ps), e0 - s0), dtype=np.float64)
            r, j = np.nonzero(nz[ps])  # within a row the columns first + j are distinct: plain assignment
            dense[r, first[ps][r] + j - s0] = band[ps][r, j]
            out[:, ps] = np.einsum("pw,ow->op", dense, np.ascontiguousarray(data[:, s0:e0]))
        return out
    shape = [1] * data.ndim
    shape[axis] = out_len
    out = np.zeros(data.shape[:axis] + (out_len,) + data.shape[axis + 1 :], dtype=np.float64)
    for j in range(width):
        valid = first + j < n  # past the image end the band is zero: nothing to add
        w = np.where(valid, band[:, j], 0.0).reshape(shape)
        out += np.take(data, cols[:, j], axis=axis) * w
    return out


def imresize(image: np.ndarray, scale: float, antialias: bool = True) -> np.ndarray:
    """Resize like MATLAB ``imresize(image, scale, 'bicubic')``.

    ``image`` is H x W or H x W x C, ``uint8`` (result rounded and clipped as MATLAB does) or
    floating point (result left unrounded, for training pipelines working in [0, 1]).
    """
    if image.ndim not in (2, 3):
        raise ValueError(f"expected an H x W or H x W x C image, got shape {image.shape}")
    h, w = image.shape[:2]
    out_h, out_w = int(np.ceil(h * scale)), int(np.ceil(w * scale))
    data = np.ascontiguousarray(image, dtype=np.float64)
    # Resize along the first dimension, then the second: MATLAB resizes the dimension with
    # the smallest scale first, and for equal scales in both directions the order is h, w.
    single = data.ndim == 3 and data.shape[2] == 1  # numpy reduces H x W x 1 as it does H x W
    out = _resize_axis(data[..., 0] if single else data, *_resize_band(h, out_h, float(scale), antialias), axis=0)
    out = _resize_axis(out, *_resize_band(w, out_w, float(scale), antialias), axis=1)
    out = out[..., None] if single else out
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


@dataclass(frozen=True)
class Degradation:
    """Which degradation makes the LR input, with its seed and JPEG quality (a complete recipe)."""

    kind: str = "bicubic"
    seed: int = 0
    jpeg_quality: int = DEFAULT_JPEG_QUALITY

    def __post_init__(self) -> None:
        if self.kind not in DEGRADATIONS:
            raise ValueError(f"unknown degradation {self.kind!r}; choose one of {', '.join(DEGRADATIONS)}")
        if not 1 <= int(self.jpeg_quality) <= 100:
            raise ValueError(f"JPEG quality must be between 1 and 100, got {self.jpeg_quality}")

    @property
    def label(self) -> str:
        """Short human label, e.g. ``jpeg Q50`` or ``realistic seed 0``."""
        if self.kind == "jpeg":
            return f"jpeg Q{self.jpeg_quality}"
        if self.kind == "realistic":
            return f"realistic seed {self.seed}"
        return "bicubic"


@dataclass
class Degraded:
    """A ground truth cropped to a multiple of the scale, its LR input, and the parameters drawn."""

    hr: np.ndarray
    lr: np.ndarray
    params: dict[str, Any]


def degrade_image(hr: np.ndarray, scale: int, spec: Degradation = Degradation(), index: int = 0) -> Degraded:
    """Make the LR input for ``hr`` (RGB uint8) with ``spec``.

    ``index`` separates the random streams of the images of a dataset: image ``i`` of a bench
    run uses the generator seeded with ``(seed, i)``, so one ``--seed`` reproduces every image
    and no two images share their noise.
    """
    hr_c, lr = degrade(hr, scale)
    params: dict[str, Any] = {"kind": spec.kind, "scale": scale}
    if spec.kind == "jpeg":
        lr = jpeg_roundtrip(lr, spec.jpeg_quality)
        params["jpeg_quality"] = int(spec.jpeg_quality)
    elif spec.kind == "realistic":
        rng = np.random.default_rng([int(spec.seed), int(index)])
        out, drawn = realistic_lr(hr_c.astype(np.float32) / 255.0, scale, rng)
        lr = np.clip(np.rint(out * 255.0), 0, 255).astype(np.uint8)
        params.update(seed=int(spec.seed), index=int(index), **drawn)
    return Degraded(hr_c, lr, params)


def jpeg_roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode an RGB uint8 image as baseline JPEG (4:2:0, libjpeg via OpenCV) and decode it."""
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(image[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])


def usm_sharpen(image: np.ndarray, weight: float = 0.5, radius: int = 51, threshold: float = 10.0) -> np.ndarray:
    """Unsharp masking (Real-ESRGAN's USM) of a float [0, 1] image; only where detail exceeds ``threshold``/255.

    Training against sharpened targets makes a network restore crisper edges than the (often
    soft) ground-truth photos have; the soft mask keeps flat areas and their noise untouched.
    """
    blur = cv2.GaussianBlur(image, (radius, radius), 0)
    residual = image - blur
    mask = (np.abs(residual) * 255 > threshold).astype(np.float32)
    soft = cv2.GaussianBlur(mask, (radius, radius), 0)
    sharp = np.clip(image + weight * residual, 0, 1)
    return soft * sharp + (1 - soft) * image


# --- the realistic (second-order) pipeline -------------------------------------------------
#
# Ranges are Real-ESRGAN's x4 configuration (train_realesrnet_x4plus.yml), which BSRGAN's
# and Real-ESRGAN's results established for photos from the wild:
#   kernel side 7..21 (odd); stage 1: sinc p=0.1, else a random kernel with sigma in [0.2, 3],
#   generalized-Gaussian beta in [0.5, 4], plateau beta in [1, 2]; resize up/down/keep with
#   p = 0.2/0.7/0.1, factor in [0.15, 1.5]; Gaussian noise (p=0.5) with sigma in [1, 30]/255,
#   else Poisson noise with scale in [0.05, 3]; grey noise p=0.4; JPEG quality in [30, 95].
#   Stage 2: blur p=0.8 with sigma in [0.2, 1.5]; resize p = 0.3/0.4/0.3 to LR x [0.3, 1.2];
#   Gaussian sigma in [1, 25]/255 or Poisson scale in [0.05, 2.5]; grey p=0.4; JPEG [30, 95].
#   Final: resize to the LR size (area/bilinear/bicubic at random) with a sinc filter (p=0.8,
#   cutoff in [pi/3, pi]) and JPEG, in random order (p=0.5 each).
# Resampling is OpenCV's, which (like torch's F.interpolate in Real-ESRGAN) does not antialias
# bilinear/bicubic downscales: aliasing is one of the artefacts real pipelines produce.

_INTERP = {"area": cv2.INTER_AREA, "bilinear": cv2.INTER_LINEAR, "bicubic": cv2.INTER_CUBIC}
_STAGES: tuple[dict[str, Any], ...] = (
    {"blur_p": 1.0, "sinc_p": 0.1, "sigma": (0.2, 3.0), "resize_p": (0.2, 0.7, 0.1), "resize": (0.15, 1.5),
     "gauss_p": 0.5, "noise": (1.0, 30.0), "poisson": (0.05, 3.0), "grey_p": 0.4, "jpeg": (30, 95)},
    {"blur_p": 0.8, "sinc_p": 0.1, "sigma": (0.2, 1.5), "resize_p": (0.3, 0.4, 0.3), "resize": (0.3, 1.2),
     "gauss_p": 0.5, "noise": (1.0, 25.0), "poisson": (0.05, 2.5), "grey_p": 0.4, "jpeg": (30, 95)},
)
_FINAL_SINC_P = 0.8
_KERNEL_SIDES = tuple(range(7, 22, 2))


def _filter(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    return cv2.filter2D(image, -1, kernel.astype(np.float32), borderType=cv2.BORDER_REFLECT_101)


def _stage_kernel(rng: np.random.Generator, stage: dict[str, Any]) -> tuple[np.ndarray, dict[str, Any]]:
    size = int(rng.choice(_KERNEL_SIDES))
    if rng.random() < stage["sinc_p"]:
        cutoff = float(rng.uniform(np.pi / 3, np.pi) if size < 13 else rng.uniform(np.pi / 5, np.pi))
        return sinc_kernel(cutoff, size), {"type": "sinc", "size": size, "cutoff": round(cutoff, 4)}
    return random_kernel(rng, size, stage["sigma"])


def _resize(image: np.ndarray, size_hw: tuple[int, int], mode: str) -> np.ndarray:
    h, w = max(1, size_hw[0]), max(1, size_hw[1])
    return cv2.resize(image, (w, h), interpolation=_INTERP[mode])


def _add_noise(image: np.ndarray, rng: np.random.Generator, stage: dict[str, Any]) -> tuple[np.ndarray, dict[str, Any]]:
    grey = bool(rng.random() < stage["grey_p"])
    h, w = image.shape[:2]
    if rng.random() < stage["gauss_p"]:
        sigma = float(rng.uniform(*stage["noise"]))
        noise = rng.standard_normal((h, w, 1) if grey else (h, w, 3)).astype(np.float32) * (sigma / 255.0)
        info = {"type": "gaussian", "sigma": round(sigma, 3), "grey": grey}
    else:
        # Poisson (shot) noise, its strength independent of the bit depth as in BasicSR:
        # counts = intensity x the number of distinct levels, then scaled by ``scale``.
        scale = float(rng.uniform(*stage["poisson"]))
        src = image @ np.array([0.299, 0.587, 0.114], dtype=np.float32) if grey else image
        src = np.clip(np.rint(src * 255.0), 0, 255) / 255.0
        vals = 2 ** np.ceil(np.log2(max(2, len(np.unique(src)))))
        noise = ((rng.poisson(src * vals) / vals) - src).astype(np.float32) * scale
        if grey:
            noise = noise[..., None]
        info = {"type": "poisson", "scale": round(scale, 3), "grey": grey}
    return np.clip(image + noise, 0.0, 1.0), info


def _jpeg_float(image: np.ndarray, quality: int) -> np.ndarray:
    u8 = np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)
    return jpeg_roundtrip(u8, quality).astype(np.float32) / 255.0


def realistic_lr(hr: np.ndarray, scale: int, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, Any]]:
    """Second-order degradation of ``hr`` (float32 RGB in [0, 1]) to ``(h // scale, w // scale)``.

    Returns the LR (float32 in [0, 1], quantized to 8-bit levels as a saved file would be) and
    every parameter drawn. Twice: blur -> resize -> noise -> JPEG; then the final resize with
    a sinc filter and a JPEG in random order. Ranges: see the table above this function.
    """
    h, w = hr.shape[:2]
    out_hw = (h // scale, w // scale)
    img = hr.astype(np.float32)
    params: dict[str, Any] = {}
    for i, stage in enumerate(_STAGES, start=1):
        p: dict[str, Any] = {}
        if rng.random() < stage["blur_p"]:
            kernel, p["blur"] = _stage_kernel(rng, stage)
            img = _filter(img, pad_kernel(kernel, 21))
        direction = ("up", "down", "keep")[int(rng.choice(3, p=np.array(stage["resize_p"])))]
        lo, hi = stage["resize"]
        factor = float(rng.uniform(1.0, hi) if direction == "up" else rng.uniform(lo, 1.0) if direction == "down" else 1.0)
        mode = str(rng.choice(list(_INTERP)))
        # stage 1 resizes relative to the HR, stage 2 relative to the LR target (as Real-ESRGAN)
        base = (h, w) if i == 1 else out_hw
        img = _resize(img, (int(base[0] * factor), int(base[1] * factor)), mode)
        p["resize"] = {"factor": round(factor, 4), "mode": mode}
        img, p["noise"] = _add_noise(img, rng, stage)
        q = int(rng.integers(stage["jpeg"][0], stage["jpeg"][1] + 1))
        img = _jpeg_float(img, q)
        p["jpeg_quality"] = q
        params[f"stage{i}"] = p
    final: dict[str, Any] = {"order": "resize+sinc, jpeg" if rng.random() < 0.5 else "jpeg, resize+sinc"}
    final_mode = str(rng.choice(list(_INTERP)))
    sinc = None
    if rng.random() < _FINAL_SINC_P:
        size = int(rng.choice(_KERNEL_SIDES))
        cutoff = float(rng.uniform(np.pi / 3, np.pi))
        sinc = sinc_kernel(cutoff, size)
        final["sinc"] = {"size": size, "cutoff": round(cutoff, 4)}
    q = int(rng.integers(30, 96))
    final.update(mode=final_mode, jpeg_quality=q)

    def resize_sinc(x: np.ndarray) -> np.ndarray:
        x = _resize(x, out_hw, final_mode)
        return np.clip(_filter(x, sinc), 0, 1) if sinc is not None else x

    img = _jpeg_float(resize_sinc(img), q) if final["order"].startswith("resize") else resize_sinc(_jpeg_float(img, q))
    params["final"] = final
    return np.clip(np.rint(img * 255.0), 0, 255).astype(np.float32) / 255.0, params
