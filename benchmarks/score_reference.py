"""Pin today's metric values on Set5/Set14 x4, so faster scoring code can be checked against them.

    python benchmarks/score_reference.py --data ../shared/data/benchmark --out tests/data/score_reference.json

For every HR image: the MATLAB-bicubic LR (:func:`srcore.degrade.degrade`), then two outputs made
without any network (OpenCV nearest and bicubic x4 of that LR), each scored with every metric of
:func:`srcore.scoring.score` (PSNR-Y/SSIM-Y/PSNR-RGB/GMSD/NIQE/LR-PSNR and the shared LPIPS, its
variant recorded), plus the LPIPS map's mean and samples, and samples of ``imresize`` itself
(uint8 x1/4, float x1/2 and x2) at fixed seeded positions. ``tests/test_score_reference.py``
recomputes the same dict with the current code and compares (1e-4; LPIPS 1e-3).
The committed JSON was written by this script *before* the scoring code was made faster (issue 22).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from srcore.degrade import degrade, imresize  # noqa: E402
from srcore.imageio import load_image  # noqa: E402
from srcore.scoring import score  # noqa: E402

DATASETS = ("Set5", "Set14")
SCALE = 4
SAMPLES = 64


def _samples(a: np.ndarray, seed: int) -> list[float]:
    """``SAMPLES`` values of ``a`` at positions drawn from ``seed`` (same positions for the same shape)."""
    flat = a.reshape(-1)
    idx = np.random.default_rng(seed).integers(0, flat.size, SAMPLES)
    return [float(v) for v in flat[idx]]


def image_record(hr_rgb: np.ndarray, lpips_metric: Any) -> dict[str, Any]:
    """Every pinned number for one HR image."""
    hr, lr = degrade(hr_rgb, SCALE)
    f = hr.astype(np.float64) / 255.0
    rec: dict[str, Any] = {
        "hr_shape": list(hr.shape),
        "imresize": {
            "u8_quarter": _samples(lr, 1),
            "u8_quarter_mean": float(lr.mean()),
            "float_half": _samples(imresize(f, 0.5), 2),
            "float_double": _samples(imresize(f[:64, :64], 2.0), 3),
        },
        "outputs": {},
    }
    h, w = lr.shape[:2]
    for name, interp in (("nearest", cv2.INTER_NEAREST), ("bicubic", cv2.INTER_CUBIC)):
        out = cv2.resize(lr, (w * SCALE, h * SCALE), interpolation=interp)
        s = score(out, SCALE, hr=hr, lr=lr, lpips_fns={"lpips": lpips_metric})
        lmap = lpips_metric.spatial_map(out, hr)
        rec["outputs"][name] = {"metrics": s.values, "reasons": s.reasons,
                                "lpips_map_mean": float(lmap.mean()), "lpips_map": _samples(lmap, 4)}
    return rec


def compute(data: Path, datasets: tuple[str, ...] = DATASETS) -> dict[str, Any]:
    """The whole reference dict: ``{"lpips_variant", "scale", "images": {"Set5/baby.png": record}}``."""
    from srcore.lpips import get_lpips

    metric = get_lpips()
    images: dict[str, Any] = {}
    for ds in datasets:
        for p in sorted((data / ds / f"x{SCALE}" / "HR").iterdir()):
            images[f"{ds}/{p.name}"] = image_record(load_image(p).rgb, metric)
    return {"lpips_variant": metric.variant, "scale": SCALE, "images": images}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "benchmark")
    ap.add_argument("--out", type=Path, default=REPO / "tests" / "data" / "score_reference.json")
    args = ap.parse_args()
    ref = compute(args.data)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(ref, indent=1) + "\n")
    print(f"{len(ref['images'])} images, {ref['lpips_variant']} -> {args.out}")


if __name__ == "__main__":
    main()
