"""The comparison pipeline shared by the CLI and the UI.

*Reference mode* treats the input as ground truth: crop to a multiple of the scale, make
the LR input with MATLAB-style bicubic degradation, restore it with every method, and score
each output against the original. *Upscale mode* upscales the input as it is; there is no
ground truth, so no full-reference metric is computed (and the report says so).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from srcore.degrade import degrade, imresize
from srcore.errors import InputImageError, SRError
from srcore.imageio import LoadedImage
from srcore.metrics import CONVENTION, psnr_rgb, psnr_y, ssim_y
from srcore.registry import get_method

MODES = ("reference", "upscale")
NO_REFERENCE_NOTE = "upscale mode: the input has no ground truth, so PSNR/SSIM/LPIPS are not computed"


@dataclass
class MethodResult:
    method_id: str
    label: str
    output: np.ndarray | None = None
    alpha: np.ndarray | None = None
    seconds: float = 0.0
    metrics: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.output is not None

    def row(self, lpips_variant: str | None) -> dict[str, Any]:
        """One table row; keys are stable (used by the CLI's JSON, the UI table and the API)."""
        h, w = self.output.shape[:2] if self.output is not None else (0, 0)
        return {
            "method": self.method_id,
            "label": self.label,
            "psnr_y": self.metrics.get("psnr_y"),
            "ssim_y": self.metrics.get("ssim_y"),
            "psnr_rgb": self.metrics.get("psnr_rgb"),
            "lpips": self.metrics.get("lpips"),
            "lpips_variant": lpips_variant if "lpips" in self.metrics else None,
            "seconds": round(self.seconds, 4),
            "output_size": f"{w}x{h}" if self.output is not None else None,
            "error": self.error,
        }


@dataclass
class Prepared:
    """What the methods get (``lr``) and what they are scored against (``hr``, reference mode only)."""

    mode: str
    scale: int
    lr: np.ndarray
    hr: np.ndarray | None
    lr_alpha: np.ndarray | None
    hr_alpha: np.ndarray | None
    notes: list[str]


@dataclass
class Comparison:
    prepared: Prepared
    results: list[MethodResult]
    lpips_variant: str | None

    @property
    def mode(self) -> str:
        return self.prepared.mode

    @property
    def scale(self) -> int:
        return self.prepared.scale

    @property
    def notes(self) -> list[str]:
        return self.prepared.notes

    def table(self) -> list[dict[str, Any]]:
        return [r.row(self.lpips_variant) for r in self.results]

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "scale": self.scale,
            "metric_convention": CONVENTION if self.mode == "reference" else None,
            "lpips_variant": self.lpips_variant,
            "input_size": f"{self.prepared.lr.shape[1]}x{self.prepared.lr.shape[0]}",
            "notes": self.notes,
            "results": self.table(),
        }


def prepare(image: LoadedImage | np.ndarray, scale: int, mode: str = "reference") -> Prepared:
    """Make the LR input (and HR reference) for a comparison."""
    if mode not in MODES:
        raise SRError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
    if isinstance(image, np.ndarray):
        image = LoadedImage(image)
    notes = list(image.notes)
    rgb, alpha = image.rgb, image.alpha
    if mode == "upscale":
        notes.append(NO_REFERENCE_NOTE)
        return Prepared(mode, scale, rgb, None, alpha, None, notes)
    h, w = rgb.shape[:2]
    if h < 2 * scale or w < 2 * scale:
        raise InputImageError(
            f"a {w}x{h} image is too small to use as ground truth at x{scale} (needs at least {2 * scale}x{2 * scale}); use upscale mode"
        )
    hr, lr = degrade(rgb, scale)
    if hr.shape != rgb.shape:
        notes.append(f"cropped to {hr.shape[1]}x{hr.shape[0]} (a multiple of {scale}) before degrading")
    hr_alpha = lr_alpha = None
    if alpha is not None:
        hr_alpha = alpha[: hr.shape[0], : hr.shape[1]]
        lr_alpha = imresize(hr_alpha, 1.0 / scale)
    notes.append(f"reference mode: LR made with MATLAB-style bicubic x1/{scale}; metrics: {CONVENTION}")
    return Prepared(mode, scale, lr, hr, lr_alpha, hr_alpha, notes)


def upscale_alpha(alpha: np.ndarray | None, scale: int) -> np.ndarray | None:
    """Alpha is not super-resolved (networks are RGB); bicubic keeps edges smooth enough."""
    if alpha is None:
        return None
    h, w = alpha.shape
    return cv2.resize(alpha, (w * scale, h * scale), interpolation=cv2.INTER_CUBIC)


def score(output: np.ndarray, hr: np.ndarray, scale: int, lpips_fn: Callable[[np.ndarray, np.ndarray], float] | None) -> dict[str, float]:
    m = {
        "psnr_y": psnr_y(output, hr, shave=scale),
        "ssim_y": ssim_y(output, hr, shave=scale),
        "psnr_rgb": psnr_rgb(output, hr, shave=scale),
    }
    if lpips_fn is not None:
        try:
            m["lpips"] = float(lpips_fn(output, hr))
        except ValueError:
            pass  # image below the LPIPS network's minimum size: PSNR/SSIM still stand
    return m


def get_lpips_metric(net: str = "alex") -> Any:
    """The LPIPS metric (loaded once), or None with the reason when it cannot be had."""
    from srcore.lpips import get_lpips

    return get_lpips(net)


def run_one(
    method_id: str,
    prep: Prepared,
    lpips_fn: Callable[[np.ndarray, np.ndarray], float] | None = None,
    options: dict[str, Any] | None = None,
    tile: int | None = None,
    allow_files: bool = True,
    allowed_dirs: list[Path] | None = None,
    backend: str | None = None,
) -> MethodResult:
    """Run one method on a prepared input; failures become a result with ``error`` set.

    ``allow_files``/``allowed_dirs`` gate ``file:`` models (the UI restricts them to operator folders).
    ``backend``: where torch networks run (:data:`srcore.backends.BACKENDS`: torch, onnxruntime, openvino, auto, ...).
    """
    try:
        method = get_method(method_id, allow_files=allow_files, allowed_dirs=allowed_dirs)
    except SRError as exc:
        return MethodResult(method_id, method_id, error=str(exc))
    opts = {k: v for k, v in (options or {}).items() if k in {o.name for o in method.options}}
    res = MethodResult(method.id, method.label, options=opts)
    avail = method.availability(prep.scale)
    if not avail:
        res.error = avail.reason
        return res
    try:
        t0 = time.perf_counter()
        res.output = method.upscale(prep.lr, prep.scale, tile=tile, backend=backend, **opts)
        res.seconds = time.perf_counter() - t0
    except SRError as exc:
        res.error = str(exc)
        return res
    res.alpha = upscale_alpha(prep.lr_alpha, prep.scale)
    if prep.hr is not None:
        res.metrics = score(res.output, prep.hr, prep.scale, lpips_fn)
    return res


def _lpips_for(prep: Prepared, wanted: bool) -> tuple[Callable[[np.ndarray, np.ndarray], float] | None, str | None]:
    if not wanted or prep.hr is None:
        return None, None
    try:
        metric = get_lpips_metric()
        return metric, metric.variant
    except Exception as exc:  # LPIPS is optional: report it, keep PSNR/SSIM
        prep.notes.append(f"LPIPS not computed: {exc}")
        return None, None


def iter_compare(
    image: LoadedImage | np.ndarray,
    scale: int,
    method_ids: list[str],
    mode: str = "reference",
    options: dict[str, dict[str, Any]] | None = None,
    lpips: bool = True,
    tile: int | None = None,
    allow_files: bool = True,
    allowed_dirs: list[Path] | None = None,
    backend: str | None = None,
) -> Iterator[tuple[Prepared, str | None, MethodResult]]:
    """Yield ``(prepared, lpips_variant, result)`` as each method finishes (the UI streams these)."""
    if not method_ids:
        raise SRError("no method chosen")
    prep = prepare(image, scale, mode)
    lpips_fn, variant = _lpips_for(prep, lpips)
    for mid in method_ids:
        yield prep, variant, run_one(mid, prep, lpips_fn, (options or {}).get(mid), tile, allow_files, allowed_dirs,
                                     backend=backend)


def compare(
    image: LoadedImage | np.ndarray,
    scale: int,
    method_ids: list[str],
    mode: str = "reference",
    options: dict[str, dict[str, Any]] | None = None,
    lpips: bool = True,
    tile: int | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    allow_files: bool = True,
    allowed_dirs: list[Path] | None = None,
    backend: str | None = None,
) -> Comparison:
    """Run every method and collect a :class:`Comparison`."""
    if not method_ids:
        raise SRError("no method chosen")
    prep = prepare(image, scale, mode)
    lpips_fn, variant = _lpips_for(prep, lpips)
    results: list[MethodResult] = []
    for i, mid in enumerate(method_ids):
        results.append(run_one(mid, prep, lpips_fn, (options or {}).get(mid), tile, allow_files, allowed_dirs, backend=backend))
        if progress:
            progress(i + 1, len(method_ids), mid)
    return Comparison(prep, results, variant)
