"""Peak memory of a big CPU upscale through the CLI: ``python -m srcore upscale IMG -m METHOD -s 4 -o OUT``.

Why the CLI in a child process: peak RSS is a property of a whole run (imports, model load,
tiles, the full-size output array and the PNG encoder), and only a fresh process measures it
without the harness's own memory mixed in. ``/usr/bin/time -v`` (GNU time) reads the kernel's
``ru_maxrss`` - exact, no sampling gaps; without it, psutil polls the process tree instead.

The method defaults to our EDSR (``edsr``). Until its weights ship in ``assets/``, the run falls
back to ``--official-like``: a random-weight checkpoint in the official EDSR-PyTorch format
(``edsr_baseline_x4-<sha256[:8]>.pt``, EDSR-baseline: 16 blocks x 64 features, the same
architecture and memory footprint as ours) in a temporary models folder, measured as
``edsr-official``. Random weights change the pixels, not the memory.

Target: a 2000x2000 input at x4 stays under 4 GB peak RSS on the CPU (``--limit-mb``)::

    python benchmarks/memory.py                        # 2000x2000, x4, edsr (or official-like)
    python benchmarks/memory.py --size 600 --tile 128 --official-like --json mem.json

Exit code: 0 when the upscale succeeded, wrote a (size*scale)^2 PNG and stayed under the limit;
1 otherwise; 2 when it could not be set up.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as `python benchmarks/memory.py` from anywhere: srcore must import
    sys.path.insert(0, str(REPO))

from srcore.atomic import atomic_write  # noqa: E402 - stdlib only: the parent's RSS is not what is measured

GNU_TIME = Path("/usr/bin/time")
DEFAULT_LIMIT_MB = 4096
MB = 1024 * 1024
#: The CLI's imports for a torch method, without running anything: the baseline RSS.
BASELINE_CODE = "import srcore.cli, srcore.registry, srcore.methods.torch_sr, srcore.imageio; srcore.registry.all_methods()"
_MAXRSS_RE = re.compile(r"Maximum resident set size \(kbytes\):\s*(\d+)")


def make_input(path: Path, size: int) -> None:
    """A ``size`` x ``size`` photo-like image (astronaut, resized): content does not change memory, but keep it real."""
    import cv2
    import skimage.data

    from srcore.imageio import save_image

    img = cv2.resize(skimage.data.astronaut(), (size, size), interpolation=cv2.INTER_CUBIC)
    save_image(path, img)


def write_official_like_checkpoint(folder: Path, scale: int = 4, seed: int = 0) -> Path:
    """A random-weight EDSR-baseline checkpoint named the way EDSR-PyTorch names its files.

    The 8 hex digits are the file's SHA-256 prefix (torch.hub convention), which ``edsr-official``
    verifies before loading, so the file is accepted exactly like a downloaded one.
    """
    import torch

    from srcore.models import EDSR

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    buf = io.BytesIO()
    torch.save(EDSR(scale).state_dict(), buf)
    data = buf.getvalue()
    return atomic_write(folder / f"edsr_baseline_x{scale}-{hashlib.sha256(data).hexdigest()[:8]}.pt", data)


def gnu_time_works() -> bool:
    """True when /usr/bin/time is GNU time (BusyBox's has no ``-v``)."""
    if not GNU_TIME.is_file():
        return False
    try:
        r = subprocess.run([str(GNU_TIME), "-v", "true"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return r.returncode == 0 and _MAXRSS_RE.search(r.stderr) is not None


def poll_peak_rss(proc: subprocess.Popen[str], interval: float = 0.05) -> int:
    """Peak total RSS of ``proc`` and its children, sampled until it exits (the fallback; may miss short spikes)."""
    peak = 0
    try:
        root = psutil.Process(proc.pid)
    except psutil.Error:
        return 0
    while proc.poll() is None:
        total = 0
        try:
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            procs = [root]
        for p in procs:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        peak = max(peak, total)
        time.sleep(interval)
    return peak


def run_measured(command: list[str], timeout: float, use_gnu_time: bool, env: dict[str, str]) -> dict[str, Any]:
    """Run ``command``; return its exit code, wall time, peak RSS (bytes), how it was measured, and stderr."""
    argv = [str(GNU_TIME), "-v", *command] if use_gnu_time else command
    t0 = time.perf_counter()
    # Own session: on timeout the whole group (GNU time and the python under it) is killed, nothing else.
    proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    polled: dict[str, int] = {}
    poller = None
    if not use_gnu_time:
        poller = threading.Thread(target=lambda: polled.setdefault("peak", poll_peak_rss(proc)), daemon=True)
        poller.start()
    try:
        out, err = proc.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        timed_out = True
    wall = time.perf_counter() - t0
    if poller is not None:
        poller.join(5)
    peak = None
    if use_gnu_time:
        m = _MAXRSS_RE.search(err)
        peak = int(m.group(1)) * 1024 if m else None
        err = err[: err.find("\tCommand being timed:")] if "\tCommand being timed:" in err else err
    else:
        peak = polled.get("peak")
    return {"returncode": proc.returncode, "timed_out": timed_out, "wall_s": wall, "peak_rss": peak,
            "measured_with": "/usr/bin/time -v" if use_gnu_time else "psutil polling (0.05 s)", "stdout": out, "stderr": err}


def auto_tile_estimate(method: str, scale: int) -> int | None:
    """The tile side the CLI's automatic choice gives EDSR here (it depends on free memory, so: an estimate)."""
    if method not in {"edsr", "edsr-official"}:
        return None
    from srcore.methods.torch_sr import edsr_bytes_per_pixel
    from srcore.tiling import auto_tile

    return auto_tile(edsr_bytes_per_pixel(64, scale), "cpu")


def image_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from the PNG header, without decoding a 8000x8000 image."""
    if not path.is_file():
        return None
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None  # our own output; x4 of a 2400px input would trip the decompression-bomb guard
    with Image.open(path) as im:
        return im.size


def choose_method(args: argparse.Namespace, work: Path) -> tuple[str, Path | None, str | None]:
    """(method id, models dir, note): ``edsr`` when shipped, else the official-format stand-in."""
    method, models_dir = args.method, args.models_dir
    if not args.official_like:
        from srcore.paths import use_models_dir
        from srcore.registry import get_method

        if models_dir:
            use_models_dir(models_dir)
        avail = get_method(method).availability(args.scale)
        if avail or method != "edsr":
            if not avail:
                raise RuntimeError(f"{method} cannot run at x{args.scale}: {avail.reason}")
            return method, models_dir, None
    models_dir = work / "models"
    ckpt = write_official_like_checkpoint(models_dir, args.scale)
    note = (f"measuring edsr-official with a random-weight official-format checkpoint ({ckpt.name}): same "
            "EDSR-baseline architecture and memory footprint as our edsr" + ("" if args.official_like else ", whose weights are not shipped yet"))
    return "edsr-official", models_dir, note


def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="srlab-mem-"))
    try:
        method, models_dir, note = choose_method(args, work)
        if note:
            print(f"note: {note}", flush=True)
        src, dst = work / f"input_{args.size}.png", work / f"output_{method}_x{args.scale}.png"
        make_input(src, args.size)
        command = [sys.executable, "-m", "srcore", "upscale", str(src), "-m", method, "-s", str(args.scale), "-o", str(dst)]
        if args.tile is not None:
            command += ["--tile", str(args.tile)]
        if models_dir is not None:
            command += ["--models-dir", str(models_dir)]
        use_gnu = not args.psutil and gnu_time_works()
        if not use_gnu and not args.psutil:
            print("note: GNU /usr/bin/time not found (Debian: apt-get install -y time); polling RSS with psutil instead", flush=True)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        if not args.allow_gpu:  # the target is CPU memory; on a GPU machine the network would run on the GPU
            env["CUDA_VISIBLE_DEVICES"] = ""
        if method == "edsr-official" and note:  # only our stand-in: a real full EDSR in the user cache would be preferred
            env["XDG_CACHE_HOME"] = str(work / "xdg")
            env.pop("SRCORE_MODELS", None)
        shown = ["python", *command[1:]]
        print(f"running: {' '.join(shown)}", flush=True)
        # What the interpreter, torch and srcore cost before any pixel is touched, to tell it apart from the upscale.
        base = run_measured([sys.executable, "-c", BASELINE_CODE], 300, use_gnu, env)
        base_mb = base["peak_rss"] / MB if base["returncode"] == 0 and base["peak_rss"] else None
        r = run_measured(command, args.timeout, use_gnu, env)
        want = (args.size * args.scale, args.size * args.scale)
        got = image_size(dst) if r["returncode"] == 0 else None
        peak_mb = r["peak_rss"] / MB if r["peak_rss"] else None
        problems = []
        if r["timed_out"]:
            problems.append(f"timed out after {args.timeout:.0f} s")
        elif r["returncode"] != 0:
            problems.append(f"upscale exited with code {r['returncode']}: {r['stderr'].strip()[-2000:]}")
        elif got != want:
            problems.append(f"output size {got}, expected {want}")
        if peak_mb is None:
            problems.append("peak RSS could not be measured")
        elif peak_mb > args.limit_mb:
            problems.append(f"peak RSS {peak_mb:.0f} MB is over the {args.limit_mb} MB limit")
        result = {
            "ok": not problems,
            "problems": problems,
            "method": method,
            "method_requested": args.method,
            "note": note,
            "scale": args.scale,
            "input_size": f"{args.size}x{args.size}",
            "output_size": f"{got[0]}x{got[1]}" if got else None,
            "expected_output_size": f"{want[0]}x{want[1]}",
            "output_bytes": dst.stat().st_size if dst.is_file() else None,
            "tile": args.tile if args.tile is not None else "auto",
            "auto_tile_estimate": auto_tile_estimate(method, args.scale) if args.tile is None else None,
            "peak_rss_mb": round(peak_mb, 1) if peak_mb is not None else None,
            "baseline_rss_mb": round(base_mb, 1) if base_mb is not None else None,
            "upscale_rss_mb": round(peak_mb - base_mb, 1) if peak_mb is not None and base_mb is not None else None,
            "device": "gpu allowed" if args.allow_gpu else "cpu",
            "limit_mb": args.limit_mb,
            "wall_s": round(r["wall_s"], 1),
            "measured_with": r["measured_with"],
            "cpu_count": os.cpu_count(),
            "command": shown,
        }
        if args.keep_output and dst.is_file():
            args.keep_output.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(dst, args.keep_output)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Peak RSS of `python -m srcore upscale` on a big generated image.")
    p.add_argument("--size", type=int, default=2000, help="input side in pixels (default 2000)")
    p.add_argument("-s", "--scale", type=int, default=4, help="scale (default 4)")
    p.add_argument("-m", "--method", default="edsr", help="method id (default edsr; falls back to --official-like while edsr is not shipped)")
    p.add_argument("--official-like", action="store_true", help="measure edsr-official with a random-weight official-format EDSR-baseline checkpoint")
    p.add_argument("--models-dir", type=Path, help="passed to the CLI (ignored with --official-like)")
    p.add_argument("--tile", type=int, default=None, help="the CLI's --tile (default: its own automatic choice)")
    p.add_argument("--limit-mb", type=float, default=DEFAULT_LIMIT_MB, help=f"fail above this peak RSS (default {DEFAULT_LIMIT_MB} MB)")
    p.add_argument("--timeout", type=float, default=3600.0, help="give up after this many seconds (default 3600)")
    p.add_argument("--psutil", action="store_true", help="poll with psutil even when GNU time is available")
    p.add_argument("--allow-gpu", action="store_true", help="let the upscale use a GPU (default: CPU only, CUDA_VISIBLE_DEVICES='')")
    p.add_argument("--keep-output", type=Path, help="copy the upscaled PNG here")
    p.add_argument("--json", type=Path, help="write the figures here")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.size < 8 or args.scale < 2:
        print("error: --size must be >= 8 and --scale >= 2", file=sys.stderr)
        return 2
    try:
        res = run(args)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    peak = f"{res['peak_rss_mb']:.0f} MB" if res["peak_rss_mb"] is not None else "unknown"
    tile = f"auto (~{res['auto_tile_estimate']} px)" if res["auto_tile_estimate"] else res["tile"]
    print(f"method {res['method']} x{res['scale']}, input {res['input_size']}, tile {tile}, {res['cpu_count']} CPUs")
    print(f"peak RSS: {peak} (limit {res['limit_mb']:.0f} MB; {res['measured_with']})")
    if res["baseline_rss_mb"] is not None and res["upscale_rss_mb"] is not None:
        print(f"  of which interpreter + torch + srcore imports: {res['baseline_rss_mb']:.0f} MB; the upscale itself: {res['upscale_rss_mb']:.0f} MB")
    print(f"wall time: {res['wall_s']:.1f} s")
    out_mb = f", {res['output_bytes'] / MB:.1f} MB PNG" if res["output_bytes"] else ""
    print(f"output: {res['output_size'] or 'none'} (expected {res['expected_output_size']}){out_mb}")
    for p in res["problems"]:
        print(f"problem: {p}")
    print("OK" if res["ok"] else "FAILED")
    if args.json:
        atomic_write(args.json, json.dumps(res, indent=2))
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
