"""Does ``python -m srcore video`` hold the clip in memory? Peak RSS for a short and a 10x longer clip.

Why: the video pipeline promises to stream (one decoded frame and one output frame per method in
flight, whatever the length), so the peak RSS of a 100-frame run must equal that of a 10-frame
run up to noise. Each run is a fresh ``python -m srcore video`` process measured by
``benchmarks/memory.py``'s ``run_measured`` (GNU ``/usr/bin/time -v``'s kernel peak, or psutil
polling without it). The clips are ``benchmarks/make_clip.py`` pans with audio::

    python benchmarks/video_memory.py                                   # 10, 100, 200 frames, 160x120, espcn x4
    python benchmarks/video_memory.py -m edsr --size 96x64 --json vm.json
    python benchmarks/video_memory.py --mode reference -m bicubic,espcn  # with per-frame and temporal metrics

Exit code 0 when every run succeeded and the longest clip's peak is within ``--tolerance-mb``
(default 40 MB) of the second longest's; 1 otherwise. The first ~50 frames cost a fixed amount
(the H.264 encoder's lookahead and frame threads fill up), hence three lengths by default.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from srcore.atomic import atomic_write  # noqa: E402 - stdlib only

MB = 1024 * 1024


def _load(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(mod)
    return mod


def run(args: argparse.Namespace) -> dict[str, Any]:
    memory, make_clip = _load("memory"), _load("make_clip")
    use_time = memory.gnu_time_works() and not args.psutil
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    results = []
    with tempfile.TemporaryDirectory(prefix="video-memory-") as tmp:
        work = Path(tmp)
        for n in args.frames:
            clip = make_clip.make_clip(work / f"clip_{n}.mp4", frames=n, size=args.size)
            out = work / f"out_{n}" if "," in args.methods else work / f"out_{n}.mp4"
            cmd = [sys.executable, "-m", "srcore", "video", str(clip), "-m", args.methods, "-s", str(args.scale), "-o", str(out),
                   "--mode", args.mode]
            if args.mode == "reference" and args.no_lpips:
                cmd.append("--no-lpips")
            if args.models_dir:
                cmd += ["--models-dir", args.models_dir]
            r = memory.run_measured(cmd, args.timeout, use_time, env)
            row = {"frames": n, "peak_rss_mb": round(r["peak_rss"] / MB, 1) if r["peak_rss"] else None, "wall_s": round(r["wall_s"], 1),
                   "returncode": r["returncode"], "measured_with": r["measured_with"]}
            if r["returncode"] != 0:
                row["error"] = r["stderr"].strip().splitlines()[-1:] or ["(no output)"]
            results.append(row)
            print(f"{n:>5} frames  peak RSS {row['peak_rss_mb']} MB  wall {row['wall_s']} s  rc {r['returncode']}"
                  + (f"  {row['error'][0]}" if "error" in row else ""), flush=True)
    peaks = [r["peak_rss_mb"] for r in results]
    ok = all(r["returncode"] == 0 for r in results) and None not in peaks and len(peaks) >= 2
    # The encoder's pipeline (x264: 40-frame rate-control lookahead, B-frames, frame threads) fills during the first
    # ~50 frames and then stays; judged is the growth between the two longest clips, once that fixed cost is paid.
    growth = round(peaks[-1] - peaks[-2], 1) if ok else None
    total = round(peaks[-1] - peaks[0], 1) if ok else None
    flat = bool(ok and growth is not None and growth <= args.tolerance_mb)
    summary = {"methods": args.methods, "scale": args.scale, "size": f"{args.size[0]}x{args.size[1]}", "mode": args.mode,
               "runs": results, "growth_mb": growth, "growth_first_to_last_mb": total, "tolerance_mb": args.tolerance_mb, "flat": flat}
    print(f"peak growth {args.frames[-2]} -> {args.frames[-1]} frames: {growth} MB ({'flat' if flat else 'NOT flat'}); "
          f"{args.frames[0]} -> {args.frames[-1]}: {total} MB")
    return summary


def main(argv: list[str] | None = None) -> int:
    make_clip = _load("make_clip")
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=lambda t: [int(v) for v in t.split(",")], default=[10, 100, 200], help="clip lengths, ascending (default 10,100,200)")
    p.add_argument("--size", type=make_clip._size, default=(160, 120), help="input WxH (default 160x120)")
    p.add_argument("-m", "--methods", default="espcn", help="method id(s), comma-separated (default espcn)")
    p.add_argument("-s", "--scale", type=int, default=4)
    p.add_argument("--mode", choices=["upscale", "reference"], default="upscale")
    p.add_argument("--no-lpips", action="store_true", help="reference mode without LPIPS")
    p.add_argument("--models-dir")
    p.add_argument("--timeout", type=float, default=1800)
    p.add_argument("--tolerance-mb", type=float, default=40.0)
    p.add_argument("--psutil", action="store_true", help="poll with psutil even when GNU time exists")
    p.add_argument("--json", help="write the figures here")
    args = p.parse_args(argv)
    summary = run(args)
    if args.json:
        atomic_write(Path(args.json), json.dumps(summary, indent=2))
    return 0 if summary["flat"] else 1


if __name__ == "__main__":
    sys.exit(main())
