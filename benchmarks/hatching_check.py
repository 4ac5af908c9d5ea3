"""Hatching check: ``srcore.hatching.hatching_index`` on the inputs where ``real-gan`` at strength 1 hatches.

    python benchmarks/hatching_check.py --json docs/hatching_check.json            # + whole Set14: --full
    python benchmarks/hatching_check.py --fixtures tests/data/hatching             # freeze today's real-gan crops

Upscale mode, x4, no ground truth. Inputs (:func:`inputs`):

* ``photos``: the README's two JPEG photos (``docs/photos``), whole, and 64-px crops at the crop
  sheet's centres (the cat's eye, the astronaut's face);
* ``set14_jpeg50`` / ``set14_realistic0``: 64-px centre crops of the Set14 LR that ``srcore.degrade``
  makes exactly as ``tests/test_shipped_real.py`` does (JPEG q50; realistic, seed 0, image ``i`` seeded ``(0, i)``);
* with ``--full``: whole Set14 images at those two degradations and the clean MATLAB-made LR, what the
  shipped-quality tests score (the ceiling they assert is read against these).

Methods: bicubic, ``real-edsr``, ``real-gan`` (default strength) and ``real-gan@1``, ``edsr``, ``srgan``
(default) and ``srgan@1``, and the reference Real-ESRGAN x4plus (``realesrgan-x4plus``, OpenVINO, untiled).
Also the ground truth of the Set14 sets (the HR under each crop), ``real-gan`` swept over its strength on
the crop sets (means), and the index's time on a 1024x1024 output (median of 20 runs) with the CPU model.

``--fixtures DIR`` writes ``real-gan``'s outputs at strengths 1 and 0.5 on :func:`fixture_inputs` as PNGs:
``tests/test_hatching.py`` reads them, so its validation judges the index on *today's* hatching network
even after ``assets/real_gan_x4.safetensors`` is replaced.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from srcore.atomic import atomic_write  # noqa: E402
from srcore.degrade import Degradation, degrade_image  # noqa: E402
from srcore.hatching import PERIODS, SIGMA, VISIBLE_RMS, WINDOW, hatching_index  # noqa: E402
from srcore.imageio import load_image, save_image  # noqa: E402
from srcore.registry import get_method  # noqa: E402
from srcore.specs import parse_spec  # noqa: E402

BENCHMARK = REPO.parent / "shared" / "data" / "benchmark"
PHOTOS = REPO / "docs" / "photos"
SCALE, CROP = 4, 64
#: The crop sheet's centres (input px, ``README.md`` "Real photos"): the cat's eye, the astronaut's face.
PHOTO_CROPS = {"chelsea_q60": (95, 55), "astronaut_noisy_q70": (60, 40)}
DEGRADATIONS = {"jpeg50": Degradation("jpeg", jpeg_quality=50), "realistic0": Degradation("realistic", seed=0)}
REFERENCE = "realesrgan-x4plus"
METHODS = ("bicubic", "real-edsr", "real-gan", "real-gan@1", "edsr", "srgan", "srgan@1", REFERENCE)
#: ``real-gan`` strengths of the sweep (crop sets only): how the index grows with the GAN share of the weights.
SWEEP = (0.0, 0.25, 0.5, 0.625, 0.75, 0.875, 1.0)


def crop(img: np.ndarray, cx: int, cy: int, size: int = CROP) -> np.ndarray:
    """A ``size`` square of ``img`` centred on (cx, cy), kept inside the image."""
    h, w = img.shape[:2]
    x0, y0 = min(max(cx - size // 2, 0), max(w - size, 0)), min(max(cy - size // 2, 0), max(h - size, 0))
    return np.ascontiguousarray(img[y0:y0 + size, x0:x0 + size])


def photo_crops() -> dict[str, np.ndarray]:
    """The two photo crops (64-px LR) the crop sheet shows, by name."""
    return {f"{name}_crop": crop(load_image(PHOTOS / f"{name}.jpg").rgb, *xy) for name, xy in PHOTO_CROPS.items()}


def set14_crops(spec: Degradation) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(64-px LR centre crop, the HR under it) of every Set14 image degraded with ``spec``."""
    out = {}
    for i, path in enumerate(sorted((BENCHMARK / "Set14" / "x4" / "HR").iterdir())):
        d = degrade_image(load_image(path).rgb, SCALE, spec, index=i)
        h, w = d.lr.shape[:2]
        lr = crop(d.lr, w // 2, h // 2)
        y0, x0 = min(max(h // 2 - CROP // 2, 0), max(h - CROP, 0)), min(max(w // 2 - CROP // 2, 0), max(w - CROP, 0))
        out[path.stem] = (lr, np.ascontiguousarray(d.hr[y0 * SCALE:(y0 + CROP) * SCALE, x0 * SCALE:(x0 + CROP) * SCALE]))
    return out


def inputs(full: bool = False) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray | None]]]:
    """Every set: ``{set: {image: (lr, hr or None)}}``."""
    sets: dict[str, dict[str, tuple[np.ndarray, np.ndarray | None]]] = {
        "photos": {**{n: (load_image(PHOTOS / f"{n}.jpg").rgb, None) for n in PHOTO_CROPS}, **{n: (c, None) for n, c in photo_crops().items()}},
    }
    for tag, spec in DEGRADATIONS.items():
        sets[f"set14_{tag}"] = dict(set14_crops(spec).items())
    if full:
        from srcore.bench import load_dataset

        for tag, spec in (*DEGRADATIONS.items(), ("clean", None)):
            items = load_dataset(BENCHMARK / "Set14" / "x4", SCALE, degradation=spec)
            sets[f"set14_{tag}_full"] = {it.name: (it.lr, it.hr) for it in items}
    return sets


def upscale(spec: str, lr: np.ndarray) -> np.ndarray:
    """``spec``'s x4 output (Real-ESRGAN x4plus through OpenVINO, untiled: the lab's fastest path for it)."""
    s = parse_spec(spec)
    extra = {"tile": 0, "backend": "openvino"} if s.method_id == REFERENCE else {}
    return get_method(s.method_id).upscale(lr, SCALE, **s.options, **extra)


def timing(repeats: int = 20) -> dict[str, Any]:
    """Median time of the index on a 1024x1024 RGB output (a real photo resized, so real detail)."""
    img = cv2.resize(load_image(PHOTOS / "chelsea_q60.jpg").rgb, (1024, 1024), interpolation=cv2.INTER_CUBIC)
    hatching_index(img)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        hatching_index(img)
        times.append(time.perf_counter() - t)
    return {"size": "1024x1024", "repeats": repeats, "median_ms": round(1000 * float(np.median(times)), 1),
            "min_ms": round(1000 * float(np.min(times)), 1)}


def fixture_inputs() -> dict[str, np.ndarray]:
    """The LR crops ``tests/test_hatching.py`` judges: the two photo crops and the Set14 JPEG q50 crop where
    x4plus's own texture (water ripples) scores highest, so the margin is tested where it is narrowest."""
    return {**photo_crops(), "set14_jpeg50_img_004": set14_crops(DEGRADATIONS["jpeg50"])["img_004"][0]}


def write_fixtures(folder: Path) -> None:
    for name, lr in fixture_inputs().items():
        for alpha in ("1", "0.5"):
            path = folder / f"{name}_real-gan@{alpha}.png"
            save_image(path, upscale(f"real-gan@{alpha}", lr))
            print(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    from benchmarks.tta_cost import cpu_model

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", type=Path, help="write the figures here")
    p.add_argument("--full", action="store_true", help="also whole Set14 images (jpeg50, realistic0, clean): ~3 min of x4plus")
    p.add_argument("--fixtures", type=Path, help="write today's real-gan@1 / @0.5 photo-crop outputs (PNG) here and exit")
    args = p.parse_args(argv)
    if args.fixtures:
        write_fixtures(args.fixtures)
        return 0
    if not args.json:
        p.error("--json (or --fixtures) is required")
    cpu = cpu_model()
    print(f"CPU: {cpu}")
    sets: dict[str, Any] = {}
    for set_name, images in inputs(args.full).items():
        rows: dict[str, dict[str, float]] = {}
        for name, (lr, hr) in images.items():
            row = {m: round(hatching_index(upscale(m, lr)), 4) for m in METHODS}
            if hr is not None:
                row["HR"] = round(hatching_index(hr), 4)
            rows[name] = row
            print(f"{set_name:22s} {name:26s} " + " ".join(f"{k}={v:.3f}" for k, v in row.items()), flush=True)
        keys = list(next(iter(rows.values())))
        ratio = [r["real-gan@1"] / max(r[REFERENCE], 1e-4) for r in rows.values()]
        sets[set_name] = {
            "lr_size": (f"whole images and {CROP}x{CROP} crops" if set_name == "photos" else
                        "whole images" if set_name.endswith("_full") else f"{CROP}x{CROP} centre crops"),
            "images": rows,
            "mean": {k: round(float(np.mean([r[k] for r in rows.values()])), 4) for k in keys},
            "min_ratio_real-gan@1_over_x4plus": round(float(min(ratio)), 2),
        }
    sweep = {set_name: {str(a): round(float(np.mean([hatching_index(upscale(f"real-gan@{a}", lr)) for lr, _ in images.values()])), 4)
                        for a in SWEEP}
             for set_name, images in inputs(False).items()}
    print(f"real-gan strength sweep: {sweep}")
    record = {
        "what": "hatching index (srcore.hatching.hatching_index): share of grating-like fine detail, lower is better; "
                "x4, upscale mode (no ground truth); 'HR' = the ground truth under the same crop",
        "cpu": cpu,
        "definition": {"window": WINDOW, "sigma": SIGMA, "periods_px": list(PERIODS), "visible_rms": VISIBLE_RMS},
        "default_strengths": {m: get_method(m).options[0].default for m in ("real-gan", "srgan")},
        "reference": f"{REFERENCE} via OpenVINO, tile 0",
        "sets": sets,
        "real_gan_strength_sweep": sweep,
        "timing": timing(),
    }
    print(f"hatching_index on 1024x1024: median {record['timing']['median_ms']} ms ({cpu})")
    atomic_write(args.json, json.dumps(record, indent=1) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
