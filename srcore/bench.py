"""Dataset benchmark: mean PSNR-Y / SSIM-Y / LPIPS and seconds per image, per method.

A dataset folder holds either ``HR/`` and ``LR/`` with matching file names (pairs used as
given, e.g. the MATLAB-made Set5/Set14 LR files) or just images (LR made with our
MATLAB-style degradation). The JSON it writes is a contract:
``{"scale", "lpips_variant", "images", "results": {id: {psnr_y, ssim_y, lpips, seconds_per_image}}}``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from srcore.compare import score
from srcore.degrade import crop_to_multiple, degrade
from srcore.errors import InputImageError, SRError
from srcore.imageio import is_image_file, load_image
from srcore.registry import get_method


@dataclass
class BenchImage:
    name: str
    hr: np.ndarray
    lr: np.ndarray


@dataclass
class BenchResult:
    scale: int
    lpips_variant: str | None
    images: int
    results: dict[str, dict[str, float | None]]
    skipped: dict[str, str] = field(default_factory=dict)
    per_image: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"scale": self.scale, "lpips_variant": self.lpips_variant, "images": self.images, "results": self.results}


def load_dataset(folder: Path, scale: int, limit: int | None = None) -> list[BenchImage]:
    folder = Path(folder)
    if not folder.is_dir():
        raise InputImageError(f"dataset folder not found: {folder}")
    hr_dir, lr_dir = folder / "HR", folder / "LR"
    items: list[BenchImage] = []
    if hr_dir.is_dir() and lr_dir.is_dir():
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
        for path in sorted(p for p in folder.iterdir() if is_image_file(p)):
            hr, lr = degrade(crop_to_multiple(load_image(path).rgb, scale), scale)
            items.append(BenchImage(path.stem, hr, lr))
            if limit and len(items) >= limit:
                break
    if not items:
        raise InputImageError(f"no images found in {folder} (expected HR/ + LR/ or image files)")
    return items


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
    backend: str | None = None,
) -> BenchResult:
    """Benchmark ``method_ids``; unavailable methods land in ``skipped`` with the reason.

    ``lpips_net`` picks the LPIPS backbone (``alex`` or ``vgg``): a perceptually trained model is
    judged on both, so one tuned to a single distance cannot pass for better.
    """
    images = load_dataset(data, scale, limit) if isinstance(data, (str, Path)) else data
    lpips_fn, variant = None, None
    if lpips:
        try:
            from srcore.lpips import get_lpips

            lpips_fn = get_lpips(lpips_net)
            variant = lpips_fn.variant
        except Exception:  # reported as variant None / lpips None
            lpips_fn = None
    results: dict[str, dict[str, float | None]] = {}
    skipped: dict[str, str] = {}
    per_image: dict[str, list[dict[str, Any]]] = {}
    total, done = len(method_ids) * len(images), 0
    for mid in method_ids:
        try:
            method = get_method(mid)
        except SRError as exc:
            skipped[mid] = str(exc)
            done += len(images)
            continue
        avail = method.availability(scale)
        if not avail:
            skipped[mid] = avail.reason
            done += len(images)
            continue
        opts = {k: v for k, v in (options or {}).get(mid, {}).items() if k in {o.name for o in method.options}}
        rows = []
        for item in images:
            t0 = time.perf_counter()
            out = method.upscale(item.lr, scale, tile=tile, backend=backend, **opts)
            secs = time.perf_counter() - t0
            rows.append({"image": item.name, "seconds": secs, **score(out, item.hr, scale, lpips_fn)})
            done += 1
            if progress:
                progress(done, total, mid)
        per_image[mid] = rows
        results[mid] = {
            "psnr_y": float(np.mean([r["psnr_y"] for r in rows])),
            "ssim_y": float(np.mean([r["ssim_y"] for r in rows])),
            "lpips": float(np.mean([r["lpips"] for r in rows])) if lpips_fn is not None else None,
            "seconds_per_image": float(np.mean([r["seconds"] for r in rows])),
        }
    return BenchResult(scale, variant, len(images), results, skipped, per_image)
