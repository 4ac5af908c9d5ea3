"""Held-out degradation: how the methods do on an LR made in a way none of our networks saw in training.

Why: the real-world networks were trained on bicubic/JPEG/"realistic" LR; a degradation outside that
family (Gaussian blur, area downscaling, WebP instead of JPEG) shows whether their lead is general or
specific to the artefacts they were trained on. Each HR image (cropped to a multiple of the scale) is
blurred (Gaussian, sigma ``--sigma``), downscaled by ``cv2.INTER_AREA`` and WebP-encoded at ``--quality``
(Pillow); then ``srcore.bench`` scores every method exactly as ``python -m srcore bench`` does.

    python benchmarks/heldout.py --data ../shared/data/benchmark/Set14/x4 --json docs/heldout_Set14_x4.json
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from srcore.atomic import atomic_write  # noqa: E402
from srcore.bench import BenchImage, run_bench  # noqa: E402
from srcore.imageio import is_image_file, load_image  # noqa: E402
from srcore.specs import split_ids  # noqa: E402

DEFAULT_METHODS = "bicubic,edsr,srgan,real-edsr,real-gan"


def heldout_pair(hr: np.ndarray, scale: int, sigma: float, quality: int) -> tuple[np.ndarray, np.ndarray]:
    """(HR cropped to a multiple of ``scale``, its held-out LR: blur, INTER_AREA / scale, WebP)."""
    h, w = hr.shape[0] // scale * scale, hr.shape[1] // scale * scale
    hr = np.ascontiguousarray(hr[:h, :w])
    small = cv2.resize(cv2.GaussianBlur(hr, (0, 0), sigma), (w // scale, h // scale), interpolation=cv2.INTER_AREA)
    buf = io.BytesIO()
    Image.fromarray(small).save(buf, "WEBP", quality=quality)
    buf.seek(0)
    return hr, np.asarray(Image.open(buf).convert("RGB"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, required=True, help="benchmark folder (its HR/ images are used)")
    p.add_argument("-s", "--scale", type=int, default=4)
    p.add_argument("-m", "--methods", default=DEFAULT_METHODS, help=f"ids or id@α (default {DEFAULT_METHODS})")
    p.add_argument("--sigma", type=float, default=0.8, help="Gaussian blur sigma in HR pixels (default 0.8)")
    p.add_argument("--quality", type=int, default=40, help="WebP quality (default 40)")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    folder = args.data / "HR" if (args.data / "HR").is_dir() else args.data
    if not folder.is_dir():
        print(f"error: {folder}: no such folder", file=sys.stderr)
        return 2
    record = {"kind": "heldout", "blur_sigma": args.sigma, "downscale": "cv2.INTER_AREA", "webp_quality": args.quality,
              "scale": args.scale}
    images = []
    for path in sorted(q for q in folder.iterdir() if is_image_file(q)):
        hr, lr = heldout_pair(load_image(path).rgb, args.scale, args.sigma, args.quality)
        images.append(BenchImage(path.stem, hr, lr, dict(record)))
    res = run_bench(images, args.scale, split_ids(args.methods))
    for mid, why in res.skipped.items():
        print(f"skipped {mid}: {why}", file=sys.stderr)
    print(f"{args.data}  x{args.scale}  {res.images} images  LR: blur {args.sigma}, INTER_AREA, WebP q{args.quality}  ({res.lpips_variant})")
    for mid, r in res.results.items():
        print(f"{mid:14s} PSNR-Y {r['psnr_y']:.2f}  SSIM-Y {r['ssim_y']:.4f}  LPIPS {r['lpips']:.3f}")
    if args.json:
        atomic_write(args.json, json.dumps(res.to_json(), indent=2))
    return 0 if res.results else 2


if __name__ == "__main__":
    sys.exit(main())
