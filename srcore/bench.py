"""Dataset benchmark: mean metrics and seconds per image, per method.

A dataset folder holds either ``HR/`` and ``LR/`` with matching file names (pairs used as
given, e.g. the MATLAB-made Set5/Set14 LR files) or just images (LR made with our degradation:
MATLAB-style bicubic by default, or ``jpeg`` / ``realistic`` - :class:`srcore.degrade.Degradation`;
with one of those, the ``HR/`` images of a paired folder are degraded instead of using ``LR/``).
The JSON it writes is a contract: ``{"scale", "lpips_variant", "images", "degradation",
"results": {id: {psnr_y, ssim_y, lpips, gmsd, niqe, lr_psnr, seconds_per_image, reasons}}}``;
a metric that could not be computed is ``null`` and ``reasons`` says why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from srcore.backends import cpu_info
from srcore.degrade import Degradation, degrade_image
from srcore.engine import Ready, optional_lpips, resolve, run_timed
from srcore.errors import InputImageError, SRError
from srcore.imageio import is_image_file, load_image
from srcore.scoring import Scores, aggregate, score

#: The metric keys ``bench`` reports per method (``psnr_rgb`` is a compare-only extra).
BENCH_METRICS = ("psnr_y", "ssim_y", "lpips", "gmsd", "niqe", "lr_psnr", "hatching")
#: ``degradation`` record of a folder whose ``LR/`` files are used as given.
GIVEN_LR = {"kind": "given", "source": "LR/ files used as given"}


@dataclass
class BenchImage:
    name: str
    hr: np.ndarray
    lr: np.ndarray
    #: how ``lr`` was made: :data:`GIVEN_LR`, or the degradation's drawn parameters
    degradation: dict[str, Any] = field(default_factory=lambda: dict(GIVEN_LR))


@dataclass
class BenchResult:
    scale: int
    lpips_variant: str | None
    images: int
    results: dict[str, dict[str, Any]]
    skipped: dict[str, str] = field(default_factory=dict)
    degradation: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        # the CPU goes with the timings: s/image compares only within one run on one machine
        return {"scale": self.scale, "lpips_variant": self.lpips_variant, "images": self.images,
                "degradation": self.degradation, "cpu": cpu_info().describe(), "results": self.results}


def load_dataset(folder: Path, scale: int, limit: int | None = None, degradation: Degradation | None = None) -> list[BenchImage]:
    """The (HR, LR) pairs of a dataset folder - the one loader bench, export, training validation use.

    HR is always cropped to a multiple of ``scale`` (the benchmark convention). ``HR/`` + ``LR/``
    pairs are used as given unless ``degradation`` is ``jpeg``/``realistic``, which degrades the HR
    images (image ``i`` with the random stream ``(seed, i)``); plain images are degraded with
    ``degradation`` (default MATLAB bicubic).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputImageError(f"dataset folder not found: {folder}")
    hr_dir, lr_dir = folder / "HR", folder / "LR"
    spec = degradation or Degradation()
    items: list[BenchImage] = []
    if hr_dir.is_dir() and lr_dir.is_dir() and spec.kind == "bicubic":
        for hr_path in sorted(p for p in hr_dir.iterdir() if is_image_file(p)):
            lr_path = lr_dir / hr_path.name
            if not lr_path.is_file():
                raise InputImageError(f"{hr_path.name} has no matching file in {lr_dir}")
            hr, lr = load_image(hr_path).rgb, load_image(lr_path).rgb
            hr = hr[: lr.shape[0] * scale, : lr.shape[1] * scale]
            if hr.shape[:2] != (lr.shape[0] * scale, lr.shape[1] * scale):
                raise InputImageError(f"{hr_path.name}: LR {lr.shape[1]}x{lr.shape[0]} is not HR / {scale}; wrong --scale?")
            items.append(BenchImage(hr_path.stem, hr, lr))
            if limit and len(items) >= limit:
                break
    else:
        source = hr_dir if hr_dir.is_dir() else folder
        for i, path in enumerate(sorted(p for p in source.iterdir() if is_image_file(p))):
            try:
                made = degrade_image(load_image(path).rgb, scale, spec, index=i)
            except ValueError as exc:
                raise InputImageError(f"{path.name}: {exc}") from exc
            items.append(BenchImage(path.stem, made.hr, made.lr, made.params))
            if limit and len(items) >= limit:
                break
    if not items:
        raise InputImageError(f"no images found in {folder} (expected HR/ + LR/ or image files)")
    return items


def degradation_record(images: list[BenchImage]) -> dict[str, Any]:
    """What made a dataset's LR: the shared record, plus every image's drawn parameters when they differ."""
    first = images[0].degradation
    if all(it.degradation == first for it in images):
        return dict(first)
    return {"kind": first.get("kind"), "per_image": {it.name: it.degradation for it in images}}


def run_bench(
    data: Path | list[BenchImage],
    scale: int,
    method_ids: list[str],
    limit: int | None = None,
    lpips: bool = True,
    options: dict[str, dict[str, Any]] | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    tile: int | None = None,
    lpips_net: str = "alex",
    degradation: Degradation | None = None,
    backend: str | None = None,
) -> BenchResult:
    """Benchmark ``method_ids``; unavailable methods land in ``skipped`` with the reason.

    ``degradation``: how LR is made from HR (see :func:`load_dataset`); recorded in the result.

    ``lpips_net`` picks the LPIPS backbone (``alex`` or ``vgg``): a perceptually trained model is
    judged on both, so one tuned to a single distance cannot pass for better.
    """
    images = load_dataset(data, scale, limit, degradation) if isinstance(data, (str, Path)) else data
    lpips_fn, variant, skip = lpips_setup(lpips, lpips_net)
    results: dict[str, dict[str, Any]] = {}
    skipped: dict[str, str] = {}
    total, done = len(method_ids) * len(images), 0
    for mid in method_ids:
        try:
            ready = resolve(mid, scale, (options or {}).get(mid))  # an id, or id@α for one strength
        except SRError as exc:
            skipped[mid] = str(exc)
            done += len(images)
            continue
        rows: list[Scores] = []
        for item in images:
            rows.append(score_item(ready.method, item, scale, tile, backend, ready.options, lpips_fn, skip))
            done += 1
            if progress:
                progress(done, total, mid)
        results[mid] = method_summary(rows)
    return BenchResult(scale, variant, len(images), results, skipped, degradation_record(images))


# The pieces of run_bench that srcore.distributed runs on Ray workers (lpips_setup, score_item) and on its driver
# (method_summary; methods are resolved with srcore.engine.resolve there too), so a cluster benchmark is this
# benchmark, not a copy of it.


def lpips_setup(lpips: bool, lpips_net: str) -> tuple[Any, str | None, dict[str, str]]:
    """(LPIPS function or None, its variant label, the ``skip`` reasons for :func:`score`)."""
    if not lpips:
        return None, None, {"lpips": "LPIPS switched off (--no-lpips)"}
    fn, variant, why = optional_lpips(lpips_net)  # reported as variant None / lpips None with the reason
    return fn, variant, {} if why is None else {"lpips": f"LPIPS unavailable: {why}"}


def score_item(method: Any, item: BenchImage, scale: int, tile: int | None, backend: str | None, opts: dict[str, Any],
               lpips_fn: Any, skip: dict[str, str]) -> Scores:
    """Upscale one LR image, time it (``seconds``) and score it on :data:`BENCH_METRICS`."""
    out, secs = run_timed(Ready(method.id, method, opts), item.lr, scale, tile, backend)
    row = score(out, scale, hr=item.hr, lr=item.lr, lpips_fns={"lpips": lpips_fn} if lpips_fn else None,
                metrics=BENCH_METRICS, skip=skip)
    row.values["seconds"] = secs
    return row


def method_summary(rows: list[Scores]) -> dict[str, Any]:
    """One method's JSON row: dataset means (in image order), ``seconds_per_image`` and the reasons."""
    mean = aggregate(rows)
    return {**{k: mean.values[k] for k in BENCH_METRICS}, "seconds_per_image": mean.values["seconds"], "reasons": mean.reasons}
