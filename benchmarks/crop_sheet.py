"""Crop sheet for the README: the same zoomed regions of several benchmark images, one row each.

Why a script and not the app: the README's sheet must be reproducible from the exact command
shown under it. Columns are HR, then every method (``id@strength`` sets srgan's strength α),
each labelled with its full-image PSNR-Y (BT.601 Y, border shaved by the scale) so a crop that
looks sharper can be read against what it cost in distortion.

    python benchmarks/crop_sheet.py --data ../shared/data/benchmark/Set14/x4 -s 4 \\
        --crop img_001:80,300 --crop img_005:120,110 -m bicubic,edsr,srgan@0,srgan@0.5,srgan@1 \\
        --out docs/srgan_crops.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from srcore.bench import load_dataset  # noqa: E402
from srcore.imageio import save_image  # noqa: E402
from srcore.metrics import psnr_y  # noqa: E402
from srcore.registry import get_method  # noqa: E402
from srcore.sheet import crop_sheet, stack_rows  # noqa: E402
from srcore.specs import parse_spec, split_ids  # noqa: E402


def parse_method(spec: str) -> tuple[str, dict[str, float], str]:
    """``srgan@0.5`` -> ("srgan", {"strength": 0.5}, "srgan@0.5"), validated by :func:`srcore.specs.parse_spec`;
    the label keeps the CLI spelling (and Pillow's default font has no α)."""
    s = parse_spec(spec)
    return s.method_id, s.options, s.spec


def parse_centre(spec: str, flag: str, form: str) -> tuple[str, tuple[float, float]]:
    """``NAME:X,Y`` -> (NAME, (X, Y)) for ``--crop``/``--photo``; split at the *last* colon so paths may hold one.
    ``form`` is what the error shows, e.g. ``NAME:X,Y (crop centre in HR pixels)``."""
    name, _, xy = spec.rpartition(":")
    try:
        x, y = (float(v) for v in xy.split(","))
    except ValueError:
        raise SystemExit(f"{flag} {spec!r}: expected {form}") from None
    return name, (x, y)


def parse_crop(spec: str) -> tuple[str, tuple[float, float]]:
    """``baboon:300,150`` -> ("baboon", (300.0, 150.0)): image stem and crop centre in HR pixels."""
    return parse_centre(spec, "--crop", "NAME:X,Y (crop centre in HR pixels)")


def write_sheet(rows: list[np.ndarray], out: Path) -> None:
    """Stack the crop rows into one picture at ``out`` (its folder made) and say where it went."""
    sheet = stack_rows(rows)
    save_image(out, sheet)
    print(f"wrote {out} ({sheet.shape[1]}x{sheet.shape[0]})")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="benchmark folder with HR/ and LR/")
    p.add_argument("-s", "--scale", type=int, default=4)
    p.add_argument("-m", "--methods", required=True, help="comma-separated ids; id@strength for srgan")
    p.add_argument("--crop", action="append", required=True, help="NAME:X,Y - image stem and crop centre (HR pixels); repeatable")
    p.add_argument("--size", type=int, default=64, help="crop side in HR pixels")
    p.add_argument("--zoom", type=int, default=3)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)

    crops = [parse_crop(c) for c in args.crop]
    items = {it.name: it for it in load_dataset(args.data, args.scale)}
    missing = [n for n, _ in crops if n not in items]
    if missing:
        raise SystemExit(f"not in {args.data}: {', '.join(missing)}; have {', '.join(sorted(items))}")
    specs = [parse_method(s) for s in split_ids(args.methods)]
    rows = []
    for name, center in crops:
        item = items[name]
        tiles = [(f"{name}: HR", item.hr)]
        for mid, opts, label in specs:
            out = get_method(mid).upscale(item.lr, args.scale, **opts)
            tiles.append((f"{label}  {psnr_y(out, item.hr, args.scale):.2f} dB", out))
            print(f"{name} {label}: PSNR-Y {psnr_y(out, item.hr, args.scale):.2f}", file=sys.stderr)
        rows.append(crop_sheet(tiles, center, args.size, args.zoom, columns=len(tiles)))
    write_sheet(rows, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
