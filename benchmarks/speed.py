"""Speed per method x backend: seconds, output megapixels/s and, for the networks, GFLOP/s vs the CPU's fp32 peak.

Why this shape: on a shared machine absolute times drift by 2x within minutes, so backends are
compared *within one run*, interleaved (every repeat visits every method x backend in turn) and
summarised by the median; the ``auto / torch-nchw`` ratio of each network (``torch-nchw`` = the
torch path before issue 13) is the issue-13 figure.
Each (method, backend) is warmed first (weights loaded, ONNX exported, runtime compiled) on a
small input; the first timed repeat of a new size still pays the runtime's plan for that window
shape, which is why several repeats are taken. Every backend's output is checked against
torch's (max |diff| in 1/255 steps).

    python benchmarks/speed.py                                      # 256^2 and 1024^2 at x4, the default set
    python benchmarks/speed.py --sizes 256 -m edsr,srgan --backends torch,auto --repeats 5
    python benchmarks/speed.py --sizes 32 -m bicubic,edsr --backends torch,auto --repeats 1 --json s.json   # CI size

The GFLOP/s column counts the network's own convolutions on the whole image (tile overlap is
not counted: it is overhead, not useful work); the peak is cores x fp32 SIMD lanes x 2 flops per
FMA x 2 FMA units x base clock (:class:`srcore.backends.CpuInfo`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from srcore.atomic import atomic_write  # noqa: E402
from srcore.specs import split_ids  # noqa: E402 - after the path set-up above

DEFAULT_METHODS = "bicubic,espcn,fsrcnn,edsr,srgan"
DEFAULT_BACKENDS = "torch-nchw,torch,onnxruntime,openvino,openvino-bf16,auto"
#: Ratios and output checks are against the torch path as it was before issue 13 (eager, NCHW).
BASELINE = "torch-nchw"


def make_input(size: int) -> np.ndarray:
    """A natural photo (the astronaut), resized to ``size`` x ``size``: content does not change speed, but keeps outputs meaningful."""
    import cv2
    import skimage.data

    return np.ascontiguousarray(cv2.resize(skimage.data.astronaut(), (size, size), interpolation=cv2.INTER_AREA))


def conv_gflop(module: Any, h: int, w: int) -> float:
    """GFLOP of one forward pass on an h x w input: 2 x MACs of every Conv2d (linear in area, so measured at 32 x 32)."""
    import torch
    from torch import nn

    from srcore.torch2onnx import export_target

    net = export_target(module)
    total = 0

    def hook(mod: nn.Conv2d, _inp: Any, out: torch.Tensor) -> None:
        nonlocal total
        k = mod.kernel_size[0] * mod.kernel_size[1]
        total += 2 * (mod.in_channels // mod.groups) * k * out.shape[1] * out.shape[2] * out.shape[3]

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, nn.Conv2d)]
    try:
        with torch.inference_mode():
            net(torch.rand(1, 3, 32, 32))
    finally:
        for hd in handles:
            hd.remove()
    return total * (h * w) / (32 * 32) / 1e9


def run(methods: list[str], backends: list[str], sizes: list[int], scale: int, repeats: int, tile: int | None,
        options: dict[str, Any]) -> dict[str, Any]:
    import torch

    from srcore.backends import cpu_info, installed, resolve
    from srcore.registry import get_method

    cpu = cpu_info()
    rows: list[dict[str, Any]] = []
    combos: list[tuple[Any, str]] = []
    for mid in methods:
        m = get_method(mid)
        if not m.availability(scale):
            print(f"skipped {mid}: {m.availability(scale).reason}", file=sys.stderr)
            continue
        for b in backends if m.family == "torch" else ["torch"]:
            if not installed(b):
                print(f"skipped {mid} on {b}: not installed", file=sys.stderr)
                continue
            combos.append((m, b))
    warm = make_input(48)
    for m, b in combos:  # warm: load, export, compile
        m.upscale(warm, scale, tile=tile, backend=b, **_opts(m, options))
    for size in sizes:
        img = make_input(size)
        times: dict[tuple[str, str], list[float]] = {(m.id, b): [] for m, b in combos}
        outputs: dict[tuple[str, str], np.ndarray] = {}
        for _ in range(repeats):
            for m, b in combos:
                t0 = time.perf_counter()
                out = m.upscale(img, scale, tile=tile, backend=b, **_opts(m, options))
                times[(m.id, b)].append(time.perf_counter() - t0)
                outputs.setdefault((m.id, b), out)
        for m, b in combos:
            sec = statistics.median(times[(m.id, b)])
            base = BASELINE if m.family == "torch" else "torch"
            ref = outputs.get((m.id, base))
            row = {"method": m.id, "backend": b, "resolved": resolve(b), "size": size, "seconds": sec,
                   "all_seconds": times[(m.id, b)], "out_mp_per_s": (size * scale) ** 2 / 1e6 / sec,
                   "max_diff_vs_torch": None if ref is None else int(np.abs(outputs[(m.id, b)].astype(int) - ref).max())}
            if m.family == "torch":
                gflop = conv_gflop(m.torch_network(scale, **_opts(m, options)), size, size)
                row |= {"gflop": gflop, "gflops": gflop / sec, "pct_of_fp32_peak": 100 * gflop / sec / cpu.fp32_peak_gflops}
                torch_sec = statistics.median(times[(m.id, base)]) if (m.id, base) in times else None
                row["ratio_vs_torch"] = sec / torch_sec if torch_sec else None
            rows.append(row)
            _print_row(row)
    return {"cpu": cpu.describe(), "cpu_model": cpu.model, "cores": cpu.cores, "torch_threads": torch.get_num_threads(),
            "fp32_peak_gflops": cpu.fp32_peak_gflops, "scale": scale, "repeats": repeats, "tile": tile, "rows": rows}


def _opts(m: Any, options: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in options.items() if k in {o.name for o in m.options}}


def _print_row(r: dict[str, Any]) -> None:
    extra = ""
    if "gflops" in r:
        ratio = f"{r['ratio_vs_torch']:.2f}x torch-nchw" if r.get("ratio_vs_torch") else ""
        extra = f"  {r['gflops']:6.1f} GFLOP/s ({r['pct_of_fp32_peak']:4.1f}% of peak)  {ratio}"
    diff = "-" if r["max_diff_vs_torch"] is None else f"{r['max_diff_vs_torch']}/255"
    print(f"{r['method']:<10} {r['backend']:<14} {r['resolved']:<14} {r['size']:>5}^2  {r['seconds']:8.3f} s  "
          f"{r['out_mp_per_s']:7.3f} MP/s  max|d| {diff:>6}{extra}", flush=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-m", "--methods", default=DEFAULT_METHODS, help=f"comma-separated ids (default {DEFAULT_METHODS})")
    p.add_argument("--backends", default=DEFAULT_BACKENDS, help=f"for the torch methods (default {DEFAULT_BACKENDS})")
    p.add_argument("--sizes", default="256,1024", help="input sides in pixels (default 256,1024)")
    p.add_argument("-s", "--scale", type=int, default=4)
    p.add_argument("--repeats", type=int, default=3, help="timed runs per method x backend x size (median reported)")
    p.add_argument("--tile", type=int, default=None, help="tile side (default: automatic, as the CLI)")
    p.add_argument("--strength", type=float, default=None, help="srgan strength")
    p.add_argument("--models-dir", help="folder with the stock OpenCV files (for dnn-* methods)")
    p.add_argument("--json", help="write the figures here")
    args = p.parse_args(argv)
    if args.models_dir:
        from srcore.paths import use_models_dir

        use_models_dir(args.models_dir)
    from srcore.backends import BACKENDS, cpu_info

    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    bad = [b for b in backends if b not in BACKENDS]
    if bad or args.repeats < 1:
        print(f"error: unknown backend(s) {', '.join(bad)} (choose from {', '.join(BACKENDS)})" if bad else "error: --repeats >= 1",
              file=sys.stderr)
        return 2
    if BASELINE not in backends:
        backends.insert(0, BASELINE)  # the reference for ratios and output checks
    import torch

    print(f"CPU: {cpu_info().describe()}; torch threads {torch.get_num_threads()}", flush=True)
    res = run(split_ids(args.methods), backends, [int(s) for s in args.sizes.split(",")],
              args.scale, args.repeats, args.tile, {"strength": args.strength} if args.strength is not None else {})
    if args.json:
        atomic_write(Path(args.json), json.dumps(res, indent=2))
    return 0 if res["rows"] else 1


if __name__ == "__main__":
    sys.exit(main())
