"""The one scoring core: :func:`score` scores one output (every metric), :func:`aggregate` a dataset.

Everything that reports a number - ``compare`` (CLI, app, API), ``bench``, the training
validation and ``train.export``'s model cards - calls these two, so a metric is defined, named and
averaged in exactly one place, and a metric that cannot be computed for an image (too small for
LPIPS' network or NIQE's 96-px blocks, no ground truth in upscale mode) is ``None`` *with a reason*
instead of a missing key.

Metrics (:data:`METRICS`; keys are the JSON keys):

* full-reference (need the ground truth): ``psnr_y``, ``ssim_y``, ``psnr_rgb``, ``lpips``, ``gmsd``;
* no-reference (work in upscale mode too): ``niqe`` and ``hatching`` (need only the output; ``hatching``
  is the share of grating-like fine detail a GAN can paint, which LPIPS misses: :mod:`srcore.hatching`)
  and ``lr_psnr`` (needs the LR input the method was given).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from srcore.hatching import hatching_index
from srcore.metrics import gmsd, lr_psnr, psnr_rgb, psnr_y, ssim_y
from srcore.niqe import NIQEUndefinedError, niqe


@dataclass(frozen=True)
class MetricInfo:
    """What a metric key means for a reader: its label and which direction is better."""

    key: str
    label: str
    better: Literal["higher", "lower"]
    needs_reference: bool
    what: str

    @property
    def arrow(self) -> str:
        return "↑" if self.better == "higher" else "↓"

    @property
    def heading(self) -> str:
        """Column heading that says which way is better, e.g. ``NIQE ↓``."""
        return f"{self.label} {self.arrow}"


METRICS: dict[str, MetricInfo] = {
    m.key: m
    for m in (
        MetricInfo("psnr_y", "PSNR-Y", "higher", True, "PSNR (dB) on BT.601 Y, scale px shaved"),
        MetricInfo("ssim_y", "SSIM-Y", "higher", True, "SSIM on BT.601 Y, scale px shaved"),
        MetricInfo("psnr_rgb", "PSNR-RGB", "higher", True, "PSNR (dB) over RGB, scale px shaved"),
        MetricInfo("lpips", "LPIPS", "lower", True, "learned perceptual distance (variant labelled)"),
        MetricInfo("gmsd", "GMSD", "lower", True, "gradient magnitude similarity deviation (weight-free; rises with grain)"),
        MetricInfo("niqe", "NIQE", "lower", False, "no-reference naturalness (MATLAB NIQE, Y, scale px shaved)"),
        # "Hatch", not "Hatching": the app's nine-method table must fit its box (tests/test_app_browser.py)
        MetricInfo("hatching", "Hatch", "lower", False,
                   "hatching index: share of grating-like fine detail (periods 2-5 px, luma), 0-1; the cross-hatching a GAN can paint"),
        MetricInfo("lr_psnr", "LR-PSNR", "higher", False, "PSNR-Y of the output downscaled (MATLAB bicubic) vs the LR input"),
    )
}
REFERENCE_KEYS = tuple(k for k, m in METRICS.items() if m.needs_reference)
NO_REFERENCE_KEYS = tuple(k for k, m in METRICS.items() if not m.needs_reference)
NO_GROUND_TRUTH = "no ground truth (upscale mode)"

LpipsFn = Callable[[np.ndarray, np.ndarray], float]


@dataclass
class Scores:
    """Metric values (``None`` = not computable) and, for each ``None``, why."""

    values: dict[str, float | None] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, key: str) -> float | None:
        return self.values[key]

    def get(self, key: str) -> float | None:
        return self.values.get(key)

    def set_missing(self, key: str, reason: str) -> None:
        self.values[key] = None
        self.reasons[key] = reason


def score(
    output: np.ndarray,
    scale: float,
    *,
    hr: np.ndarray | None = None,
    lr: np.ndarray | None = None,
    lpips_fns: Mapping[str, LpipsFn] | None = None,
    metrics: Iterable[str] | None = None,
    skip: Mapping[str, str] | None = None,
) -> Scores:
    """Score one output. Every requested key is present in the result: a value or ``None`` + reason.

    ``scale``: output size over LR size; a non-integer one (``--outscale 3.5``) shaves ceil(scale) px and
    downscales by 1/scale for ``lr_psnr``.
    ``hr``: the ground truth (reference mode) - without it the full-reference metrics are ``None``.
    ``lr``: the input the method was given (for ``lr_psnr``). ``lpips_fns``: LPIPS networks by
    result key (``{"lpips": alex}``, plus e.g. ``"lpips_vgg"`` for a second backbone).
    ``metrics``: the keys wanted (default: all of :data:`METRICS` plus ``lpips_fns``' keys; training
    asks for the cheap ones only). ``skip``: keys deliberately not computed, with the reason shown.
    """
    fns = dict(lpips_fns or {})
    wanted = list(metrics) if metrics is not None else [*METRICS, *(k for k in fns if k not in METRICS)]
    s = Scores()
    for key in wanted:
        if skip and key in skip:
            s.set_missing(key, skip[key])
            continue
        info = METRICS.get(key)
        if (info is None or info.needs_reference) and hr is None:
            s.set_missing(key, NO_GROUND_TRUTH)
            continue
        try:
            s.values[key] = float(_one(key, output, scale, hr, lr, fns))
        except (ValueError, NIQEUndefinedError) as exc:  # too small for the metric: the others still stand
            s.set_missing(key, str(exc))
        except _Unavailable as exc:
            s.set_missing(key, str(exc))
    return s


class _Unavailable(Exception):
    """A metric that cannot be computed at all here (not an image problem)."""


def _one(key: str, output: np.ndarray, scale: float, hr: np.ndarray | None, lr: np.ndarray | None, fns: Mapping[str, LpipsFn]) -> float:
    if scale != int(scale):  # an --outscale factor: the LR-PSNR downscale uses it, the border shave its ceiling
        if key == "lr_psnr" and lr is not None:
            return lr_psnr(output, lr, scale)  # type: ignore[arg-type]
        scale = math.ceil(scale)
    scale = int(scale)
    if key == "psnr_y":
        return psnr_y(output, hr, shave=scale)
    if key == "ssim_y":
        return ssim_y(output, hr, shave=scale)
    if key == "psnr_rgb":
        return psnr_rgb(output, hr, shave=scale)
    if key == "gmsd":
        return gmsd(output, hr, shave=scale)
    if key == "niqe":
        return niqe(output, crop_border=scale)
    if key == "hatching":
        return hatching_index(output)
    if key == "lr_psnr":
        if lr is None:
            raise _Unavailable("no LR input given")
        return lr_psnr(output, lr, scale)
    if key in fns:
        return float(fns[key](output, hr))
    if key.startswith("lpips"):
        raise _Unavailable("LPIPS not computed")
    raise KeyError(f"unknown metric {key!r}; known: {', '.join(METRICS)}")


def aggregate(per_image: Sequence[Scores]) -> Scores:
    """Dataset means, key by key, over the images where the value exists.

    A key missing for some images is averaged over the rest and its reason says over how many; a
    key missing for every image is ``None`` with the first image's reason. Non-metric values the
    caller stored (e.g. ``seconds``) are averaged the same way.
    """
    out = Scores()
    keys: list[str] = []
    for s in per_image:
        keys += [k for k in s.values if k not in keys]
    n = len(per_image)
    for key in keys:
        have = [s.values[key] for s in per_image if s.values.get(key) is not None]
        why = next((s.reasons[key] for s in per_image if key in s.reasons), "not computed")
        if not have:
            out.set_missing(key, why if n == 1 else f"{why} (all {n} images)")
            continue
        vals = [float(v) for v in have]
        out.values[key] = math.inf if any(math.isinf(v) for v in vals) else float(np.mean(vals))
        if len(have) < n:
            out.reasons[key] = f"mean over {len(have)} of {n} images; the others: {why}"
    return out
