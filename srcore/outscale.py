"""Any output scale: run the network at its native integer scale, then resize to the size asked for.

``--outscale 3.5`` (Real-ESRGAN's name) or ``--width 1920`` / ``--height 1080`` (one keeps the aspect
ratio, both set it). Why not a non-integer network: SR networks are trained per integer factor;
the high-quality way to another size is the nearest native result, then a resize - INTER_AREA when
shrinking (it averages, so no aliasing), Lanczos when enlarging (sharpest of OpenCV's kernels).

In reference mode (the input is the ground truth) the LR is made *for the requested scale*: the
ground truth shrunk by 1/F (MATLAB bicubic), the methods run at their native scale, their output
is resized back to the ground truth's size and scored there (PSNR/SSIM shave ceil(F) px). Reports
keep ``scale`` as the network's scale and add ``outscale`` (the requested factor, or the one a
width/height implies) and ``output_size``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import cv2
import numpy as np

from srcore.errors import SRError

MAX_OUTSCALE = 16.0


@dataclass(frozen=True)
class OutputSize:
    """What output size was asked for: a factor, or a width and/or height in pixels (None = native)."""

    outscale: float | None = None
    width: int | None = None
    height: int | None = None

    def __post_init__(self) -> None:
        if self.outscale is not None and (self.width is not None or self.height is not None):
            raise SRError("--outscale and --width/--height: give one of them")
        if self.outscale is not None and not (0 < self.outscale <= MAX_OUTSCALE and math.isfinite(self.outscale)):
            raise SRError(f"--outscale must be above 0 and at most {MAX_OUTSCALE:g}, got {self.outscale:g}")
        for name, v in (("--width", self.width), ("--height", self.height)):
            if v is not None and not 1 <= v <= 65536:
                raise SRError(f"{name} must be 1..65536 pixels, got {v}")

    @property
    def native(self) -> bool:
        return self.outscale is None and self.width is None and self.height is None

    def target(self, h: int, w: int, scale: int) -> tuple[int, int]:
        """(height, width) of the output for an ``h`` x ``w`` input and a network of ``scale``."""
        if self.outscale is not None:
            return max(1, round(h * self.outscale)), max(1, round(w * self.outscale))
        if self.width is not None and self.height is not None:
            return self.height, self.width
        if self.width is not None:
            return max(1, round(h * self.width / w)), self.width
        if self.height is not None:
            return self.height, max(1, round(w * self.height / h))
        return h * scale, w * scale

    def factor(self, h: int, w: int, scale: int) -> float:
        """The output scale actually made (the requested one, or what width/height imply; the mean of both axes)."""
        th, tw = self.target(h, w, scale)
        return self.outscale if self.outscale is not None else (th / h + tw / w) / 2

    def describe(self) -> str:
        if self.outscale is not None:
            return f"×{self.outscale:g}"
        return f"{self.width or 'auto'}×{self.height or 'auto'} px"


def resize_to(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` resized to ``size`` = (height, width): INTER_AREA when it gets smaller, Lanczos when larger.

    The same size returns the image unchanged (the native path costs nothing).
    """
    h, w = image.shape[:2]
    th, tw = size
    if (h, w) == (th, tw):
        return image
    interp = cv2.INTER_AREA if th * tw < h * w else cv2.INTER_LANCZOS4
    out = cv2.resize(np.ascontiguousarray(image), (tw, th), interpolation=interp)
    return out if out.ndim == image.ndim else out[..., None]


def from_args(outscale: float | None, width: int | None, height: int | None) -> OutputSize | None:
    """The CLI/app/API settings as an :class:`OutputSize`, or None for the native size."""
    size = OutputSize(outscale, width, height)
    return None if size.native else size


def reference_pair(rgb: np.ndarray, factor: float) -> tuple[np.ndarray, np.ndarray]:
    """(ground truth, LR made for ``factor``): the picture cropped so 1/factor of it is whole pixels, and that LR.

    Why the crop: the LR must cover exactly the ground truth, or every output pixel is misplaced by
    up to a pixel once resized back. A factor p/q (3.5 = 7/2) divides a side that is a multiple of p
    exactly, so the side is cropped to one (at most p - 1 px lost); a factor with no small fraction
    uses floor(side / factor) LR pixels and the ground truth is cropped to round(that x factor) px,
    the nearest whole size (a sub-pixel error). The LR is MATLAB bicubic at 1/factor, whose size rule
    :func:`srcore.metrics.lr_psnr` applies too.
    """
    from srcore.degrade import imresize

    h, w = rgb.shape[:2]
    frac = Fraction(factor).limit_denominator(16)
    exact = math.isclose(float(frac), factor, rel_tol=0, abs_tol=1e-9) and frac.numerator <= min(h, w) // 2
    if exact:
        ch, cw = h // frac.numerator * frac.numerator, w // frac.numerator * frac.numerator
    else:
        ch, cw = math.floor(math.floor(h / factor) * factor), math.floor(math.floor(w / factor) * factor)
    if ch < 2 * factor or cw < 2 * factor:
        raise SRError(f"a {w}x{h} image is too small to shrink by 1/{factor:g}; use upscale mode")
    hr = np.ascontiguousarray(rgb[:ch, :cw])
    return hr, imresize(hr, 1.0 / factor)
