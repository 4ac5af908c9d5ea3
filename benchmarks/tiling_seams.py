"""Tiled vs untiled output of the reference models on a real photo: how seam-free their tiles are.

Why a benchmark and not a test: Real-ESRGAN's RRDB networks have a receptive field wider than any useful tile
margin, so their tiles are exact only up to rounding -- measured here at the margin they ship with (64 LR px),
on a photo large enough that the tiles are real tiles (256^2 LR, 64-px tiles: 16 windows of at most 192^2). The compact and
Real-CUGAN models are exact by construction and held to it in tests/test_ncnn_zoo.py.

    python benchmarks/tiling_seams.py --json docs/tiling_seams.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np
from skimage import data

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from srcore.atomic import atomic_write  # noqa: E402
from srcore.backends import cpu_info  # noqa: E402
from srcore.registry import get_method  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-m", "--methods", default="realesrgan-x4plus,realesrgan-x4plus-anime,realesr-animevideov3,realcugan")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--tile", type=int, default=64)
    p.add_argument("--backend", default="auto")
    p.add_argument("--json")
    args = p.parse_args()
    img = cv2.resize(data.astronaut(), (args.size, args.size), interpolation=cv2.INTER_AREA)
    rows = []
    print(cpu_info().describe())
    for mid in args.methods.split(","):
        m = get_method(mid)
        whole = m.upscale(img, 4, tile=0, backend=args.backend)
        tiled = m.upscale(img, 4, tile=args.tile, backend=args.backend)
        d = np.abs(whole.astype(int) - tiled)
        row = {"method": mid, "margin_lr_px": m.receptive_margin, "max_diff_255": int(d.max()),
               "share_differing": float((d > 0).mean()), "share_over_1": float((d > 1).mean())}
        rows.append(row)
        print(f"{mid:24s} margin {row['margin_lr_px']:3d}  max |tiled - untiled| {row['max_diff_255']}/255  "
              f"{row['share_differing']:.4%} of values differ, {row['share_over_1']:.4%} by more than 1")
    if args.json:
        atomic_write(args.json, json.dumps({"cpu": cpu_info().describe(), "size": args.size, "tile": args.tile,
                                            "backend": args.backend, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
