"""Crop sheet of *real JPEG photos* upscaled as they are (no ground truth), for the README.

Each row is one photo: its input (nearest-neighbour enlarged, so the LR pixels and the 8x8
JPEG blocks stay visible), then every method. Labels give the block-grid ratio of the whole
output (``srcore.blockiness.grid_ratio`` with an ``8 * scale`` px grid; ~1 = no visible grid,
the input's own ratio is its 8-px grid): the number that tells whether a method magnified the
JPEG blocks into a grid.

    python benchmarks/photo_sheet.py --examples docs/photos          # writes the two example photos
    python benchmarks/photo_sheet.py -s 4 -m bicubic,edsr,srgan,real-edsr,real-gan \\
        --photo docs/photos/chelsea_q60.jpg:140,60 --photo docs/photos/astronaut_noisy_q70.jpg:120,95 \\
        --out docs/real_photo_crops.png --json docs/real_photo_crops.json

``--json`` records every label's figure (and the CPU and seconds per method) so the README's
grid ratios have a committed source. The examples: scikit-image's ``chelsea`` halved with INTER_AREA and saved at JPEG quality 60
(the issue's case, 225x150), and ``astronaut`` reduced to a quarter with INTER_AREA, with
Gaussian sensor noise (sigma 6) and JPEG quality 70 (128x128): a noisy phone-style picture.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from crop_sheet import parse_centre, parse_method, write_sheet  # noqa: E402

from srcore.atomic import atomic_write  # noqa: E402
from srcore.backends import cpu_info  # noqa: E402
from srcore.blockiness import grid_ratio  # noqa: E402
from srcore.imageio import load_image  # noqa: E402
from srcore.registry import get_method  # noqa: E402
from srcore.sheet import crop_sheet  # noqa: E402
from srcore.specs import split_ids  # noqa: E402


def make_examples(folder: Path) -> list[Path]:
    """Write the two example JPEG photos (deterministic) and return their paths."""
    from skimage import data

    folder.mkdir(parents=True, exist_ok=True)
    chelsea = data.chelsea()
    chelsea = cv2.resize(chelsea, (chelsea.shape[1] // 2, chelsea.shape[0] // 2), interpolation=cv2.INTER_AREA)
    astro = data.astronaut()
    astro = cv2.resize(astro, (astro.shape[1] // 4, astro.shape[0] // 4), interpolation=cv2.INTER_AREA).astype(np.float32)
    astro += np.random.default_rng(0).normal(0, 6, astro.shape).astype(np.float32)
    out = []
    for name, img, q in (("chelsea_q60.jpg", chelsea, 60), ("astronaut_noisy_q70.jpg", np.clip(np.rint(astro), 0, 255).astype(np.uint8), 70)):
        path = folder / name
        cv2.imwrite(str(path), np.ascontiguousarray(img[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, q])
        out.append(path)
    return out


def parse_photo(spec: str) -> tuple[Path, tuple[float, float]]:
    """``photo.jpg:120,80`` -> (path, crop centre in *input* pixels)."""
    path, centre = parse_centre(spec, "--photo", "PATH:X,Y (crop centre in input pixels)")
    return Path(path), centre


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--examples", type=Path, help="write the example photos into this folder and exit")
    p.add_argument("--photo", action="append", default=[], help="PATH:X,Y - photo and crop centre (input pixels); repeatable")
    p.add_argument("-s", "--scale", type=int, default=4)
    p.add_argument("-m", "--methods", default="bicubic,edsr,srgan,real-edsr,real-gan", help="comma-separated ids; id@strength")
    p.add_argument("--size", type=int, default=24, help="crop side in input pixels")
    p.add_argument("--zoom", type=int, default=2, help="extra nearest-neighbour zoom of the output crops")
    p.add_argument("--out", type=Path)
    p.add_argument("--json", type=Path, help="also write each photo's grid ratios (and seconds) per method here")
    args = p.parse_args(argv)
    if args.examples:
        for path in make_examples(args.examples):
            print(f"wrote {path}")
        return 0
    if not args.photo or not args.out:
        p.error("--photo and --out are required (or --examples DIR)")
    specs = [parse_method(s) for s in split_ids(args.methods)]
    s = args.scale
    rows = []
    record: dict[str, dict] = {}
    for path, (cx, cy) in (parse_photo(ph) for ph in args.photo):
        lr = load_image(path).rgb
        near = np.repeat(np.repeat(lr, s, axis=0), s, axis=1)
        input_ratio = grid_ratio(lr, 8)
        tiles = [(f"input  grid {input_ratio:.2f}", near)]
        methods: dict[str, dict[str, float]] = {}
        for mid, opts, label in specs:
            t0 = time.perf_counter()
            out = get_method(mid).upscale(lr, s, **opts)
            seconds = time.perf_counter() - t0
            ratio = grid_ratio(out, 8 * s)
            methods[label] = {"grid_ratio": ratio, "seconds": seconds}
            tiles.append((f"{label}  grid {ratio:.2f}", out))
            print(f"{path.name} {label}: grid ratio {ratio:.3f}", file=sys.stderr)
        record[path.name] = {"size": [lr.shape[1], lr.shape[0]], "crop_centre": [cx, cy], "input_grid_ratio": input_ratio,
                             "methods": methods}
        rows.append(crop_sheet(tiles, (cx * s, cy * s), args.size * s, args.zoom, columns=len(tiles)))
    write_sheet(rows, args.out)
    if args.json:
        doc = {"scale": s, "cpu": cpu_info().describe(), "sheet": str(args.out),
               "convention": f"block-grid ratio (srcore.blockiness.grid_ratio): mean |dY| across the lines of the {8 * s}-px grid "
                             "of the output / mean |dY| elsewhere; the input's own 8-px grid; lower is better, ~1 = no grid. "
                             "seconds: one upscale, model load included on a method's first photo",
               "photos": record}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(args.json, json.dumps(doc, indent=2) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
