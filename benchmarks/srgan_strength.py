"""Choose a GAN method's default strength by a rule that no single metric can game.

Why: LPIPS alone rewards any high-frequency energy, so "lowest LPIPS" always picks the strongest
GAN, grain included (issue 12). The rule here lets LPIPS choose only among strengths that the
other judges accept, each measured against the PSNR-trained counterpart (``edsr`` for ``srgan``):

* **NIQE** (no-reference naturalness) may be worse than the counterpart's by at most ``--niqe-margin``
  (absolute; a GAN should look *more* natural than a smooth PSNR output, not less);
* **GMSD** (weight-free structure; rises with grain and ringing) at most ``--gmsd-margin`` times worse;
* **LR-PSNR** (does the output still downscale to the input it was given?) at least ``--lr-psnr-floor`` dB;
* **hatching** (``srcore.hatching``: grating-like fine detail, the cross-hatched texture LPIPS rewards and
  NIQE/GMSD only partly see) at most ``--hatching-ceiling`` (default :data:`srcore.hatching.CEILING`);
* optionally, **PSNR-Y** at most ``--psnr-drop-max`` dB under the counterpart's: a distortion budget, for a
  method that must sit between its PSNR network and the GANs (``unet-perceptual``, issue 25);
* among those, the lowest LPIPS wins; ties go to the weaker strength.

    python benchmarks/srgan_strength.py --data ../shared/data/benchmark/Set14/x4 --json docs/srgan_strength_Set14_x4.json
    python benchmarks/srgan_strength.py --data ../shared/data/benchmark/Set14/x4 --method real-gan --counterpart real-edsr \
        --degrade jpeg --jpeg-quality 50 --lr-psnr-floor 0 --json docs/srgan_strength_real_gan_Set14_jpeg50.json
    python benchmarks/srgan_strength.py --data ../shared/data/benchmark/Set14/x4 --method unet-perceptual --counterpart unet \
        --psnr-drop-max 1.5 --json docs/srgan_strength_unet_perceptual_Set14_x4.json

The JSON's ``chosen`` is each method's default strength: ``tests/test_scoring.py`` checks the code's
constants against these files.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from srcore.atomic import atomic_write  # noqa: E402
from srcore.bench import load_dataset, run_bench  # noqa: E402
from srcore.degrade import DEGRADATIONS, Degradation  # noqa: E402
from srcore.hatching import CEILING  # noqa: E402


def choose(
    candidates: dict[float, dict[str, Any]], reference: dict[str, Any], niqe_margin: float, gmsd_margin: float, lr_psnr_floor: float,
    hatching_ceiling: float | None = CEILING, psnr_drop_max: float | None = None,
) -> tuple[float | None, dict[float, list[str]]]:
    """The admissible strength with the lowest LPIPS (None if none is), and why each other one was refused."""
    refused: dict[float, list[str]] = {}
    for a, r in candidates.items():
        why = []
        if r["niqe"] is None or r["niqe"] > reference["niqe"] + niqe_margin:
            why.append(f"NIQE {r['niqe']:.3f} > {reference['niqe']:.3f} + {niqe_margin}")
        if r["gmsd"] is None or r["gmsd"] > reference["gmsd"] * (1 + gmsd_margin):
            why.append(f"GMSD {r['gmsd']:.4f} > {1 + gmsd_margin:.2f} x {reference['gmsd']:.4f}")
        if r["lr_psnr"] is None or r["lr_psnr"] < lr_psnr_floor:
            why.append(f"LR-PSNR {r['lr_psnr']:.2f} < {lr_psnr_floor}")
        if hatching_ceiling is not None and (r.get("hatching") is None or r["hatching"] > hatching_ceiling):
            why.append(f"hatching {r.get('hatching') or float('nan'):.3f} > {hatching_ceiling}")
        if psnr_drop_max is not None and r["psnr_y"] < reference["psnr_y"] - psnr_drop_max:
            why.append(f"PSNR-Y {r['psnr_y']:.2f} < {reference['psnr_y']:.2f} - {psnr_drop_max}")
        if why:
            refused[a] = why
    ok = [a for a in candidates if a not in refused]
    best = min(ok, key=lambda a: (candidates[a]["lpips"], a)) if ok else None
    return best, refused


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, type=Path)
    p.add_argument("-s", "--scale", type=int, default=4)
    p.add_argument("--method", default="srgan")
    p.add_argument("--counterpart", default="edsr", help="the PSNR-trained method the margins are measured against")
    p.add_argument("--strengths", default="0,0.25,0.5,0.625,0.75,0.875,1")
    p.add_argument("--niqe-margin", type=float, default=0.0)
    p.add_argument("--gmsd-margin", type=float, default=0.15)
    p.add_argument("--lr-psnr-floor", type=float, default=40.0)
    p.add_argument("--hatching-ceiling", type=float, default=CEILING, help="highest admissible hatching index (srcore.hatching)")
    p.add_argument("--degrade", choices=DEGRADATIONS, default="bicubic", help="how LR is made (as bench --degrade; default: the LR/ files)")
    p.add_argument("--jpeg-quality", type=int, default=50)
    p.add_argument("--psnr-drop-max", type=float, help="refuse strengths whose PSNR-Y is more than this many dB under the counterpart's")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)

    degradation = Degradation(args.degrade, args.seed, args.jpeg_quality)
    images = load_dataset(args.data, args.scale, degradation=degradation)
    ref_run = run_bench(images, args.scale, ["bicubic", args.counterpart])
    if args.counterpart not in ref_run.results:
        raise SystemExit(f"{args.counterpart}: {ref_run.skipped.get(args.counterpart)}")
    reference = ref_run.results[args.counterpart]
    candidates: dict[float, dict[str, Any]] = {}
    for a in (float(t) for t in args.strengths.split(",")):
        res = run_bench(images, args.scale, [args.method], options={args.method: {"strength": a}})
        if args.method not in res.results:
            raise SystemExit(f"{args.method}: {res.skipped.get(args.method)}")
        candidates[a] = res.results[args.method]
        print(f"{args.method} strength {a}: " + ", ".join(f"{k} {v:.4f}" for k, v in candidates[a].items() if isinstance(v, float)),
              file=sys.stderr)
    best, refused = choose(candidates, reference, args.niqe_margin, args.gmsd_margin, args.lr_psnr_floor, args.hatching_ceiling,
                           args.psnr_drop_max)
    cols = ("psnr_y", "ssim_y", "lpips", "gmsd", "niqe", "lr_psnr", "hatching")
    print(f"{args.data}  x{args.scale}  {len(images)} images  ({ref_run.lpips_variant})")
    print("row".ljust(16) + "".join(c.rjust(10) for c in cols) + "  verdict")
    for name, r in [("bicubic", ref_run.results["bicubic"]), (args.counterpart, reference)]:
        print(name.ljust(16) + "".join(f"{r[c]:10.4f}" for c in cols))
    for a, r in candidates.items():
        verdict = "CHOSEN" if a == best else ("; ".join(refused[a]) if a in refused else "admissible")
        print(f"{args.method}@{a:g}".ljust(16) + "".join(f"{r[c]:10.4f}" for c in cols) + f"  {verdict}")
    print(f"chosen default strength: {best}")
    if args.json:
        atomic_write(args.json, json.dumps({
            "data": str(args.data), "scale": args.scale, "images": len(images), "lpips_variant": ref_run.lpips_variant,
            "degradation": ref_run.degradation, "method": args.method,
            "rule": {"niqe_margin": args.niqe_margin, "gmsd_margin": args.gmsd_margin, "lr_psnr_floor": args.lr_psnr_floor,
                     "hatching_ceiling": args.hatching_ceiling, "psnr_drop_max": args.psnr_drop_max, "counterpart": args.counterpart},
            "reference": {"bicubic": ref_run.results["bicubic"], args.counterpart: reference},
            "candidates": {str(a): r for a, r in candidates.items()},
            "refused": {str(a): w for a, w in refused.items()}, "chosen": best,
        }, indent=2))
    return 0 if best is not None else 1


if __name__ == "__main__":
    sys.exit(main())
