"""The comparison pipeline shared by the CLI and the UI.

*Reference mode* treats the input as ground truth: crop to a multiple of the scale, make the LR
input with a degradation (:class:`srcore.degrade.Degradation`: MATLAB-style ``bicubic`` by default,
or ``jpeg`` / ``realistic``, seeded, the drawn parameters recorded), restore it with every method,
and score each output against the original. *Upscale mode* upscales the input as it is; there is
no ground truth, so only the no-reference metrics (NIQE, hatching index, LR-PSNR) are computed, and the report
says so. Scoring itself is :func:`srcore.scoring.score`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from srcore.degrade import Degradation, degrade_image, imresize
from srcore.engine import NotRunnable, optional_lpips, resolve, run_timed
from srcore.engine import method_options as method_options  # public here too (the CLI, the app); the rule lives in the engine
from srcore.errors import InputImageError, SRError
from srcore.imageio import LoadedImage
from srcore.lpips import get_lpips
from srcore.metrics import CONVENTION
from srcore.outscale import OutputSize, reference_pair, resize_to
from srcore.scoring import METRICS, Scores, score

MODES = ("reference", "upscale")
NO_REFERENCE_NOTE = (
    "upscale mode: the input has no ground truth, so PSNR/SSIM/LPIPS/GMSD are not computed; "
    "NIQE, Hatch (hatching index) and LR-PSNR need none and are"
)




@dataclass
class MethodResult:
    method_id: str
    label: str
    output: np.ndarray | None = None
    alpha: np.ndarray | None = None
    seconds: float = 0.0
    metrics: dict[str, float | None] = field(default_factory=dict)
    error: str | None = None
    #: why a metric in ``metrics`` is None (too small for the network, no ground truth, ...)
    reasons: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.output is not None

    def row(self, lpips_variant: str | None) -> dict[str, Any]:
        """One table row; keys are stable (used by the CLI's JSON, the UI table and the API).

        Every metric key of :data:`srcore.scoring.METRICS` is present (``None`` when not computed);
        ``reasons`` maps each ``None`` metric of a successful run to why.
        """
        h, w = self.output.shape[:2] if self.output is not None else (0, 0)
        return {
            "method": self.method_id,
            "label": self.label,
            **{k: self.metrics.get(k) for k in METRICS},
            "lpips_variant": lpips_variant if self.metrics.get("lpips") is not None else None,
            "seconds": round(self.seconds, 4),
            "output_size": f"{w}x{h}" if self.output is not None else None,
            "error": self.error,
            "reasons": dict(self.reasons),
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
    #: the degradation that made ``lr`` and the parameters it drew (reference mode; None in upscale mode)
    degradation: dict[str, Any] | None = None
    #: --outscale/--width/--height (srcore/outscale.py): the output (height, width) every result is resized to, and the
    #: factor it means; None = the network's native size
    out_size: tuple[int, int] | None = None
    outscale: float | None = None


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
            "degradation": self.prepared.degradation,
            "outscale": self.prepared.outscale,
            "results": self.table(),
        }


def prepare(
    image: LoadedImage | np.ndarray, scale: int, mode: str = "reference", degradation: Degradation | None = None,
    size: OutputSize | None = None,
) -> Prepared:
    """Make the LR input (and HR reference) for a comparison.

    ``degradation`` (reference mode) picks how the LR is made; default MATLAB bicubic. In upscale
    mode the input is used as it is, so a degradation is ignored (with a note). ``size``: an output
    size other than the network's (srcore/outscale.py); in reference mode the LR is made for it.
    """
    if size is not None and not size.native:
        return _prepare_resized(image if isinstance(image, LoadedImage) else LoadedImage(image), scale, mode, degradation, size)
    if mode not in MODES:
        raise SRError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
    if isinstance(image, np.ndarray):
        image = LoadedImage(image)
    notes = list(image.notes)
    rgb, alpha = image.rgb, image.alpha
    if mode == "upscale":
        notes.append(NO_REFERENCE_NOTE)
        if degradation is not None and degradation.kind != "bicubic":
            notes.append(f"degradation {degradation.label} ignored: upscale mode uses the input as it is")
        return Prepared(mode, scale, rgb, None, alpha, None, notes)
    h, w = rgb.shape[:2]
    if h < 2 * scale or w < 2 * scale:
        raise InputImageError(
            f"a {w}x{h} image is too small to use as ground truth at x{scale} (needs at least {2 * scale}x{2 * scale}); use upscale mode"
        )
    spec = degradation or Degradation()
    made = degrade_image(rgb, scale, spec)
    hr, lr = made.hr, made.lr
    if hr.shape != rgb.shape:
        notes.append(f"cropped to {hr.shape[1]}x{hr.shape[0]} (a multiple of {scale}) before degrading")
    hr_alpha = lr_alpha = None
    if alpha is not None:
        hr_alpha = alpha[: hr.shape[0], : hr.shape[1]]
        lr_alpha = imresize(hr_alpha, 1.0 / scale)
    how = "MATLAB-style bicubic" if spec.kind == "bicubic" else f"{spec.label} (MATLAB bicubic based)"
    notes.append(f"reference mode: LR made with {how} x1/{scale}; metrics: {CONVENTION}")
    return Prepared(mode, scale, lr, hr, lr_alpha, hr_alpha, notes, made.params)


def _prepare_resized(image: LoadedImage, scale: int, mode: str, degradation: Degradation | None, size: OutputSize) -> Prepared:
    """:func:`prepare` for an output size other than the native one: the network runs at ``scale``, results are resized."""
    h, w = image.rgb.shape[:2]
    if mode == "upscale":  # the input as it is, the output at the size asked for
        prep = prepare(image, scale, mode, degradation)
        prep.out_size, prep.outscale = size.target(h, w, scale), size.factor(h, w, scale)
        prep.notes.append(f"output {size.describe()}: x{scale} network, then resized to {prep.out_size[1]}x{prep.out_size[0]} "
                          "(INTER_AREA down, Lanczos up)")
        return prep
    if mode not in MODES:
        raise SRError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
    if size.outscale is None:
        raise SRError("--width/--height apply to upscale mode; in reference mode the output is your image's size: "
                      "use --outscale F to make the LR 1/F of it")
    if degradation is not None and degradation.kind != "bicubic":
        raise SRError("--outscale in reference mode makes its LR with MATLAB bicubic; --degrade jpeg/realistic need the native scale")
    hr, lr = reference_pair(image.rgb, size.outscale)
    h, w = hr.shape[:2]
    alpha = None if image.alpha is None else image.alpha[:h, :w]
    notes = [*image.notes] + ([f"cropped to {w}x{h} so that 1/{size.outscale:g} of it is whole pixels"] if hr.shape != image.rgb.shape else [])
    notes += [f"reference mode: LR made with MATLAB-style bicubic x1/{size.outscale:g} ({lr.shape[1]}x{lr.shape[0]}); "
             f"methods run at x{scale}, resized to {w}x{h} (INTER_AREA down, Lanczos up) and scored there; metrics: {CONVENTION}, "
             f"here ceil({size.outscale:g}) = {math.ceil(size.outscale)} px"]
    return Prepared("reference", scale, lr, hr, None if alpha is None else imresize(alpha, 1.0 / size.outscale), alpha, notes,
                    {"kind": "bicubic", "outscale": size.outscale}, out_size=(h, w), outscale=size.outscale)


def upscale_alpha(alpha: np.ndarray | None, scale: int) -> np.ndarray | None:
    """Alpha is not super-resolved (networks are RGB); bicubic keeps edges smooth enough."""
    if alpha is None:
        return None
    h, w = alpha.shape
    return cv2.resize(alpha, (w * scale, h * scale), interpolation=cv2.INTER_CUBIC)


def get_lpips_metric(net: str = "alex") -> Any:
    """The shared LPIPS metric (loaded once; ``.variant`` says which).

    Raises :class:`srcore.lpips.LPIPSUnavailableError` when no LPIPS network can be set up, so the
    caller decides how to report it (compare adds a note and scores the rest).
    """
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
    """Run one method (``id``, or ``id@α`` for a strength) on a prepared input; failures become a result with ``error`` set.

    ``allow_files``/``allowed_dirs`` gate ``file:`` models (the UI restricts them to operator folders).
    ``backend``: where torch networks run (:data:`srcore.backends.BACKENDS`: torch, onnxruntime, openvino, auto, ...).
    """
    try:
        ready = resolve(method_id, prep.scale, options, allow_files, allowed_dirs)
    except NotRunnable as exc:
        return MethodResult(exc.name, exc.method.label, error=str(exc))
    except SRError as exc:
        return MethodResult(method_id, method_id, error=str(exc))
    res = MethodResult(ready.spec, ready.method.label)
    try:
        res.output, res.seconds = run_timed(ready, prep.lr, prep.scale, tile, backend)
    except SRError as exc:
        res.error = str(exc)
        return res
    res.alpha = upscale_alpha(prep.lr_alpha, prep.scale)
    if prep.out_size is not None:
        res.output = resize_to(res.output, prep.out_size)
        res.alpha = None if res.alpha is None else resize_to(res.alpha, prep.out_size)
    scores = score_prepared(res.output, prep, lpips_fn)
    res.metrics, res.reasons = scores.values, scores.reasons
    return res


def score_prepared(output: np.ndarray, prep: Prepared, lpips_fn: Callable[[np.ndarray, np.ndarray], float] | None) -> Scores:
    """:func:`srcore.scoring.score` for one output of a comparison (every metric its mode allows)."""
    skip = {} if lpips_fn is not None or prep.hr is None else {"lpips": "LPIPS not computed (off or unavailable; see the notes)"}
    return score(output, prep.outscale or prep.scale, hr=prep.hr, lr=prep.lr, lpips_fns={"lpips": lpips_fn} if lpips_fn else None, skip=skip)


def lpips_for(prep: Prepared, wanted: bool = True) -> tuple[Callable[[np.ndarray, np.ndarray], float] | None, str | None]:
    """The LPIPS metric for a reference run (None, and a note saying why, when it cannot be had)."""
    if not wanted or prep.hr is None:
        return None, None
    metric, variant, why = optional_lpips()
    if why is not None:
        prep.notes.append(f"LPIPS not computed: {why}")
    return metric, variant


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
    degradation: Degradation | None = None,
    backend: str | None = None,
    size: OutputSize | None = None,
) -> Iterator[tuple[Prepared, str | None, MethodResult]]:
    """Yield ``(prepared, lpips_variant, result)`` as each method finishes (the UI streams these).

    ``degradation`` (reference mode): how the LR input is made - ``Degradation("jpeg", jpeg_quality=50)``,
    ``Degradation("realistic", seed=0)``; default MATLAB bicubic. Its drawn parameters are in
    ``prepared.degradation`` and the JSON's ``degradation`` key.
    """
    if not method_ids:
        raise SRError("no method chosen")
    prep = prepare(image, scale, mode, degradation, size)
    lpips_fn, variant = lpips_for(prep, lpips)
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
    degradation: Degradation | None = None,
    backend: str | None = None,
    size: OutputSize | None = None,
) -> Comparison:
    """Run every method and collect a :class:`Comparison` (:func:`iter_compare`, gathered)."""
    streamed: list[tuple[Prepared, str | None, MethodResult]] = []
    for item in iter_compare(image, scale, method_ids, mode, options, lpips, tile, allow_files, allowed_dirs, degradation,
                             backend=backend, size=size):
        streamed.append(item)
        if progress:
            progress(len(streamed), len(method_ids), method_ids[len(streamed) - 1])
    prep, variant, _ = streamed[0]  # iter_compare raises on an empty method list
    return Comparison(prep, [r for _, _, r in streamed], variant)
