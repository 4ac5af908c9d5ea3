"""What TTA costs and gains: the x8 self-ensemble against a plain run, per method, on Set5/Set14 x4.

    python benchmarks/tta_cost.py                      # -> docs/tta_x4.json, a table on stdout
    python benchmarks/tta_cost.py -m edsr --images 1 --repeats 1 --json /tmp/t.json   # quick

Gain: read from the two committed benchmark runs of each set, made with the CLI (the same code
users run)::

    python -m srcore bench --data ../shared/data/benchmark/Set5/x4 -s 4 -m edsr,real-edsr,srgan --tile 0 --json docs/bench_tta_Set5_x4_off.json
    python -m srcore bench --data ../shared/data/benchmark/Set5/x4 -s 4 -m edsr,real-edsr,srgan --tile 0 --tta --json docs/bench_tta_Set5_x4_on.json

(and the same for Set14). Cost: timed here, not taken from those runs - on a shared machine
absolute seconds drift by 2x within minutes, so plain and TTA runs of the same image are
interleaved in one process (plain, TTA, plain, TTA, ...) and the ratio of their medians is the
figure. The CPU model is recorded with it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data" / "benchmark"
METRICS = ("psnr_y", "ssim_y", "lpips", "gmsd", "niqe")


def gains(sets: list[str], methods: list[str]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per set and method: the plain and TTA means from the committed bench JSONs, and their difference."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for name in sets:
        off = json.loads((REPO / "docs" / f"bench_tta_{name}_x4_off.json").read_text())
        on = json.loads((REPO / "docs" / f"bench_tta_{name}_x4_on.json").read_text())
        if on.get("tta") is not True or off.get("tta") is not False:
            raise SystemExit(f"docs/bench_tta_{name}_x4_on/off.json: 'tta' keys are not True/False")
        out[name] = {}
        for m in methods:
            a, b = off["results"][m], on["results"][m]
            out[name][m] = {"images": off["images"], "plain": {k: a[k] for k in METRICS}, "tta": {k: b[k] for k in METRICS},
                            "gain": {k: (b[k] - a[k]) if a[k] is not None and b[k] is not None else None for k in METRICS}}
    return out


def cost(methods: list[str], images: int, repeats: int) -> dict[str, Any]:
    """Median seconds of plain and TTA runs, interleaved, on the first ``images`` LR images of Set5 and Set14."""
    from srcore.imageio import load_image
    from srcore.registry import get_method

    lrs = [load_image(p).rgb for name in ("Set5", "Set14") for p in sorted((DATA / name / "x4" / "LR").iterdir())[:images]]
    out: dict[str, Any] = {}
    for mid in methods:
        m = get_method(mid)
        m.upscale(lrs[0][:32, :32], 4, tile=0)  # weights loaded before timing
        plain: list[float] = []
        tta: list[float] = []
        for _ in range(repeats):
            for lr in lrs:
                for on, bucket in ((False, plain), (True, tta)):
                    t0 = time.perf_counter()
                    m.upscale(lr, 4, tile=0, tta=on)
                    bucket.append(time.perf_counter() - t0)
        p, t = statistics.median(plain), statistics.median(tta)
        out[mid] = {"plain_s": p, "tta_s": t, "ratio": t / p, "runs": len(plain)}
        print(f"{mid}: plain {p:.2f} s, TTA {t:.2f} s, x{t / p:.1f}", file=sys.stderr)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-m", "--methods", default="edsr,real-edsr,srgan")
    ap.add_argument("--images", type=int, default=2, help="LR images per set timed (default 2 of Set5 and 2 of Set14)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--json", type=Path, default=REPO / "docs" / "tta_x4.json")
    args = ap.parse_args(argv)
    import torch

    from srcore.backends import cpu_info

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    report = {"cpu": cpu_info().describe(), "torch_threads": torch.get_num_threads(), "scale": 4, "passes": 8,
              "gain": gains(["Set5", "Set14"], methods), "cost": cost(methods, args.images, args.repeats),
              "conventions": "PSNR-Y/SSIM-Y on BT.601 Y, 4 px shaved, MATLAB bicubic LR (the sets' own LR files); "
                             "gain = TTA minus plain (PSNR/SSIM: up is better; LPIPS/GMSD/NIQE: down is better)"}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2))
    print(f"CPU: {report['cpu']} ({report['torch_threads']} torch threads)")
    print("method      set    PSNR-Y plain -> TTA (dB)   SSIM-Y gain   LPIPS gain   time x")
    for name, per in report["gain"].items():
        for m, r in per.items():
            g = r["gain"]
            print(f"{m:<11} {name:<6} {r['plain']['psnr_y']:.2f} -> {r['tta']['psnr_y']:.2f} ({g['psnr_y']:+.3f})   "
                  f"{g['ssim_y']:+.4f}       {g['lpips']:+.4f}      x{report['cost'][m]['ratio']:.1f}")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
