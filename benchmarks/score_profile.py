"""Where a reference-mode comparison spends its time besides the network: per stage and per metric.

    python benchmarks/score_profile.py --json docs/score_profile.json              # 256², 1024², 2048² outputs
    python benchmarks/score_profile.py --sizes 64 --repeats 1 --json /tmp/p.json   # CI size
    python benchmarks/score_profile.py --table docs/score_profile_before.json docs/score_profile.json   # README table

For each output side N (x4: the LR is N/4): decode of the uploaded PNG, the degradation (MATLAB
bicubic x1/4), the method (``nearest``, so the network is not what is measured), every default
metric of :func:`srcore.scoring.score` on its own, all of them together as ``compare`` scores an
output (maps off), the maps a user may open (|ΔY| and the LPIPS map), PNG encoding of the output as
``save_image`` writes it, and Gradio's own encoding of a numpy image (what serving an array costs).
LPIPS is timed on outputs (and references) it has not seen, so its caches cannot flatter it: *new
reference* is a one-method comparison, *next output* every further method against the same ground truth.
Each stage's first call (``first_s``: loading, compiling) and its median over ``--repeats`` warm
calls (``seconds``) are reported; start-up is the import of the scoring modules in a fresh
process. The CPU is printed with every figure: compare figures as ratios within one machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SCALE = 4
METRIC_KEYS = ("psnr_y", "ssim_y", "psnr_rgb", "lpips", "gmsd", "niqe", "lr_psnr")


def photo(size: int) -> np.ndarray:
    """skimage's astronaut resized to ``size``² (a natural photo at every size)."""
    import skimage.data

    base = skimage.data.astronaut()
    interp = cv2.INTER_AREA if size < base.shape[0] else cv2.INTER_CUBIC
    return np.ascontiguousarray(cv2.resize(base, (size, size), interpolation=interp))


class _Fresh:
    """Copies of an image that differ in one pixel, one per call: content-keyed caches miss, the cost is the same."""

    def __init__(self, image: np.ndarray, start: int = 0) -> None:
        self.image, self.n = image, start  # two _Fresh of one image must start apart, or the second replays the first's

    def __call__(self) -> np.ndarray:
        self.n += 1
        img = self.image.copy()
        img[0, 0, 0] ^= self.n % 255 + 1
        return img


def timed(fn: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """(first call, median of ``repeats`` further calls) in seconds."""
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    warm = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        warm.append(time.perf_counter() - t0)
    return first, statistics.median(warm) if warm else first


def startup_seconds(module: str, repeats: int = 3) -> float:
    """Seconds ``import <module>`` adds to a fresh interpreter (median, minus a bare start)."""
    def run(code: str) -> float:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)
        return time.perf_counter() - t0

    bare = statistics.median(run("pass") for _ in range(repeats))
    return max(0.0, statistics.median(run(f"import {module}") for _ in range(repeats)) - bare)


def profile_size(size: int, repeats: int, work: Path) -> list[dict[str, Any]]:
    from gradio import processing_utils

    from srcore.compare import get_lpips_metric, prepare, score_prepared
    from srcore.imageio import load_image, save_image
    from srcore.metrics import error_map_y
    from srcore.registry import get_method
    from srcore.scoring import score

    rows: list[dict[str, Any]] = []

    def add(stage: str, fn: Callable[[], Any]) -> None:
        first, warm = timed(fn, repeats)
        rows.append({"size": size, "stage": stage, "first_s": first, "seconds": warm})
        print(f"{size:>5}²  {stage:<34} first {first:8.3f} s   warm {warm:8.3f} s", flush=True)

    upload = work / f"upload_{size}.png"
    from PIL import Image

    Image.fromarray(photo(size)).save(upload)  # as a browser/phone would hand it over (PIL default level)
    add("decode (upload PNG)", lambda: load_image(upload))
    img = load_image(upload)
    add("degrade (MATLAB x1/4)", lambda: prepare(img, SCALE, "reference"))
    prep = prepare(img, SCALE, "reference")
    nearest = get_method("nearest")
    add("method: nearest", lambda: nearest.upscale(prep.lr, SCALE))
    out = nearest.upscale(prep.lr, SCALE)
    metric = get_lpips_metric()
    fresh = _Fresh(out)
    for key in METRIC_KEYS:
        if key == "lpips":  # a cache must not flatter it: each call scores an output not seen before
            ref = _Fresh(prep.hr)
            add("metric: lpips (new reference)", lambda ref=ref: metric(fresh(), ref()))
            metric(out, prep.hr)
            add("metric: lpips (next output)", lambda: metric(fresh(), prep.hr))
            continue
        add(f"metric: {key}", lambda key=key: score(out, SCALE, hr=prep.hr, lr=prep.lr, metrics=[key]))
    add("score: all (maps off)", lambda: score_prepared(fresh(), prep, metric))
    new_ref = _Fresh(prep.hr, start=100)  # not the copies "lpips (new reference)" made: their features are cached
    # the first method of an image: the ground truth's LPIPS features are not known yet (issue 22's "<= 2 s" case)
    add("score: all, new image (maps off)", lambda: score_prepared(fresh(), dataclasses.replace(prep, hr=new_ref()), metric))
    add("map: ΔY error", lambda: error_map_y(out, prep.hr))
    add("map: LPIPS (after score)", lambda: metric.spatial_map(out, prep.hr))
    add("PNG write (save_image)", lambda: save_image(work / "out.png", out))
    add("Gradio encode (numpy PNG)", lambda: processing_utils.save_img_array_to_cache(out, str(work / "gradio"), format="png"))
    return rows


def table(before: dict[str, Any], after: dict[str, Any]) -> str:
    """Markdown: warm seconds per stage, before -> after, one column pair per size present in both."""
    sizes = [n for n in after["sizes"] if n in before["sizes"]]
    get = {(r["size"], r["stage"]): r["seconds"] for r in before["rows"]}
    lines = ["| stage | " + " | ".join(f"{n}² before → after (s)" for n in sizes) + " |", "|---|" + "---|" * len(sizes)]
    stages = list(dict.fromkeys(r["stage"] for r in after["rows"]))
    for stage in stages:
        now = {(r["size"], r["stage"]): r["seconds"] for r in after["rows"]}
        cells = []
        for n in sizes:
            b, a = get.get((n, stage)), now.get((n, stage))
            cells.append("—" if a is None else f"{b:.3f} → **{a:.3f}**" if b is not None else f"— → **{a:.3f}**")
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    starts = " · ".join(f"`import {m}` {before['startup_s'].get(m, float('nan')):.2f} → {s:.2f} s" for m, s in after["startup_s"].items())
    return "\n".join(lines) + f"\n\nStart-up (fresh process): {starts}. CPU: {after['cpu']}."


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--table", nargs=2, metavar=("BEFORE", "AFTER"), help="print the README table of two JSON files and exit")
    p.add_argument("--sizes", default="256,1024,2048", help="output sides (x4 of the LR), comma-separated")
    p.add_argument("--repeats", type=int, default=3, help="warm calls per stage (median reported)")
    p.add_argument("--json", help="write the figures here")
    args = p.parse_args(argv)
    if args.table:
        before, after = (json.loads(Path(f).read_text()) for f in args.table)
        print(table(before, after))
        return 0
    try:
        sizes = [int(s) for s in args.sizes.split(",")]
    except ValueError:
        print(f"error: --sizes wants integers, got {args.sizes!r}", file=sys.stderr)
        return 2
    if min(sizes) < 32 or any(s % SCALE for s in sizes):
        print(f"error: sizes must be multiples of {SCALE}, at least 32", file=sys.stderr)
        return 2
    import torch

    from srcore.backends import cpu_info

    print(f"CPU: {cpu_info().describe()}; torch threads {torch.get_num_threads()}", flush=True)
    startup = {m: startup_seconds(m) for m in ("srcore.scoring", "srcore.lpips")}
    for m, s in startup.items():
        print(f"start-up: import {m:<16} {s:6.2f} s", flush=True)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="srlab-score-") as tmp:
        for size in sizes:
            rows += profile_size(size, args.repeats, Path(tmp))
    res = {"cpu": cpu_info().describe(), "repeats": args.repeats, "sizes": sizes, "startup_s": startup, "rows": rows}
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
