"""Images/s of ``upscale`` on one process vs ``upscale --ray`` with 1 and 2 local workers, and Ray's per-image overhead.

What is timed (all on the same generated folder, outputs checked byte for byte against the plain run):

* **plain**: the single-machine loop (:func:`srcore.batch.upscale_file` per file, as ``python -m srcore
  upscale DIR`` runs it), after one warm-up image so the model load is not counted; with the default
  threads (torch and OpenCV use every core) and with 1 thread, the setting a 1-CPU Ray worker runs at;
* **ray, W workers**: :func:`srcore.distributed.upscale_on_ray` on a local Ray instance, after each
  worker has upscaled one image (model loaded), so the figure is the steady rate a long run sees;
  the one-off cost (Ray start + workers + first image) is reported apart, as is the end-to-end
  wall time of the CLI with and without ``--ray``;
* **overhead**: the same with ``nearest`` on tiny images (almost no compute), 1 worker vs plain:
  what Ray adds per image (a call to the worker, SHA-256 of input and output, the manifest line).

    python benchmarks/ray_scaling.py --json docs/ray_scaling.json        # the README figures
    python benchmarks/ray_scaling.py --methods espcn --images 4 --size 32 --rounds 1 --no-cli  # smoke size

On a shared machine the rates drift; compare them as ratios within one run (the CPU is printed).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def make_folder(folder: Path, n: int, size: int) -> list[Path]:
    """``n`` different ``size`` x ``size`` crops of a natural photo (content keeps outputs meaningful)."""
    import cv2
    import skimage.data
    from PIL import Image

    big = cv2.resize(skimage.data.astronaut(), (max(512, 2 * size), max(512, 2 * size)), interpolation=cv2.INTER_AREA)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        y, x = rng.integers(0, big.shape[0] - size + 1, 2)
        p = folder / f"img{i:03d}.png"
        Image.fromarray(np.ascontiguousarray(big[y : y + size, x : x + size])).save(p)
        paths.append(p)
    return paths


def _plain(method_id: str, scale: int, files: list[Path], out: Path, threads: int | None = None) -> float:
    """Seconds for the single-machine loop over ``files`` (model already warm); ``threads``: torch/OpenCV threads (None: default)."""
    import cv2
    import torch

    from srcore.batch import output_path, upscale_file
    from srcore.registry import get_method

    before = torch.get_num_threads(), cv2.getNumThreads()
    if threads:
        torch.set_num_threads(threads)
        cv2.setNumThreads(threads)
    try:
        method = get_method(method_id)
        upscale_file(method, files[0], out / "warmup.png", scale, None, {})
        (out / "warmup.png").unlink()
        t0 = time.perf_counter()
        for f in files:
            upscale_file(method, f, output_path(out, f, method_id, scale), scale, None, {})
        return time.perf_counter() - t0
    finally:
        torch.set_num_threads(before[0])
        cv2.setNumThreads(before[1])


def _ray(method_id: str, scale: int, files: list[Path], out: Path, workers: int) -> dict[str, Any]:
    """Start-up seconds, warm seconds for ``files`` and the workers' threads, on ``workers`` Ray workers."""
    import ray

    from srcore.batch import output_path
    from srcore.distributed import RaySettings, WorkerPool, upscale_on_ray

    t0 = time.perf_counter()
    with WorkerPool(RaySettings(workers=workers)) as pool:
        warm = out.parent / f"{out.name}-warm"
        pool.run([lambda a, k=k: a.upscale.remote(method_id, scale, None, {}, str(files[k % len(files)]), str(warm / f"w{k}.png"), "warm")
                  for k in range(workers)], lambda *_: None)
        startup = time.perf_counter() - t0
        threads = ray.get(pool.actors[0].threads.remote())
        targets = [output_path(out, f, method_id, scale) for f in files]
        t1 = time.perf_counter()
        failed, _ = upscale_on_ray(RaySettings(workers=workers), method_id, scale, None, {}, files, targets, True, pool=pool)
        secs = time.perf_counter() - t1
        roundtrip = _roundtrip_ms(pool.actors[0])
    if failed:
        raise RuntimeError(f"{failed} file(s) failed on Ray")
    return {"startup_s": round(startup, 2), "seconds": secs, "worker_threads": threads, "roundtrip_ms": roundtrip}


def _roundtrip_ms(actor: Any, calls: int = 200) -> float:
    """Milliseconds of one driver -> worker -> driver call that does nothing (sequential, no pipelining)."""
    import ray

    t0 = time.perf_counter()
    for _ in range(calls):
        ray.get(actor.pid.remote())
    return 1000 * (time.perf_counter() - t0) / calls


def _same(a: Path, b: Path) -> bool:
    pa, pb = sorted(a.glob("*.png")), sorted(b.glob("*.png"))
    return [p.name for p in pa] == [p.name for p in pb] and all(x.read_bytes() == y.read_bytes() for x, y in zip(pa, pb, strict=True))


def _cli_wall(src: Path, out: Path, method_id: str, scale: int, ray_on: bool, cpus: int) -> float:
    """End-to-end wall seconds of ``python -m srcore upscale`` (imports, Ray start, model load included)."""
    cmd = [sys.executable, "-m", "srcore", "upscale", str(src), "-m", method_id, "-s", str(scale), "-o", str(out)]
    env = dict(os.environ)
    if ray_on:
        cmd += ["--ray", "--workers", str(cpus)]
        env.pop("RAY_ADDRESS", None)  # a fresh local instance, not whatever cluster this shell points at
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=REPO, env=env, check=True, capture_output=True, timeout=1800)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--methods", default="espcn,edsr", help="comma-separated method ids (default espcn: OpenCV dnn, edsr: torch)")
    p.add_argument("-s", "--scale", type=int, default=2)
    p.add_argument("--images", type=int, default=24, help="images in the folder")
    p.add_argument("--size", type=int, default=128, help="side of each (square) input image")
    p.add_argument("--overhead-images", type=int, default=200, help="tiny images for the per-image overhead")
    p.add_argument("--workers", default="1,2", help="comma-separated Ray worker counts (default 1,2; capped at the CPUs)")
    p.add_argument("--rounds", type=int, default=2, help="interleaved rounds; each configuration keeps its best (default 2)")
    p.add_argument("--no-cli", action="store_true", help="skip the end-to-end CLI wall times")
    p.add_argument("--json", help="write the figures here")
    args = p.parse_args(argv)

    import ray
    import torch

    from srcore.backends import cpu_info

    cpus = os.cpu_count() or 1
    cpu = cpu_info().describe()
    print(f"CPU: {cpu}; load average before: {os.getloadavg()}", flush=True)
    own = not ray.is_initialized()  # the CI smoke test runs it inside its own 2-CPU cluster
    if own:
        ray.init(address="local", num_cpus=cpus, include_dashboard=False, log_to_driver=False, object_store_memory=128 * 2**20)
    else:
        cpus = int(ray.cluster_resources().get("CPU", 1))
    counts = sorted({min(int(w), cpus) for w in args.workers.split(",") if w.strip()})
    result: dict[str, Any] = {"cpu": cpu, "ray": ray.__version__, "cpus": cpus, "images": args.images, "size": args.size,
                              "scale": args.scale, "rounds": args.rounds, "figure": "best of the rounds, model already loaded", "load_before": os.getloadavg(), "plain_threads": {"torch": torch.get_num_threads()},
                              "methods": {}}
    with tempfile.TemporaryDirectory(prefix="ray_scaling-") as tmp:
        root = Path(tmp)
        files = make_folder(root / "in", args.images, args.size)
        for mid in [m.strip() for m in args.methods.split(",") if m.strip()]:
            # rounds interleave the configurations (the machine's load drifts); each keeps its best round
            best: dict[str, float] = {}
            rays: dict[int, dict[str, Any]] = {}
            for k in range(args.rounds):
                for name, threads in (("plain", None), ("plain_1_thread", 1)):
                    t = _plain(mid, args.scale, files, root / f"{mid}-{name}-{k}", threads)
                    best[name] = min(best.get(name, t), t)
                for w in counts:
                    r = _ray(mid, args.scale, files, root / f"{mid}-ray{w}-{k}", w)
                    r["identical_to_plain"] = _same(root / f"{mid}-plain-{k}", root / f"{mid}-ray{w}-{k}")
                    if w not in rays or r["seconds"] < rays[w]["seconds"]:
                        rays[w] = r
            t = best["plain"]
            row: dict[str, Any] = {name: {"seconds": round(v, 3), "images_per_s": round(args.images / v, 3)} for name, v in best.items()}
            for w, r in rays.items():
                row[f"ray_{w}"] = {"workers": w, "seconds": round(r["seconds"], 3), "images_per_s": round(args.images / r["seconds"], 3),
                                   "vs_plain": round(t / r["seconds"], 3), "vs_plain_1_thread": round(best["plain_1_thread"] / r["seconds"], 3),
                                   "startup_s": r["startup_s"], "worker_threads": r["worker_threads"],
                                   "identical_to_plain": r["identical_to_plain"]}
            if not args.no_cli and own:
                src = root / "in"
                row["cli_wall_s"] = {"plain": round(_cli_wall(src, root / f"{mid}-cli", mid, args.scale, False, cpus), 2)}
                ray.shutdown()  # the CLI starts its own instance
                row["cli_wall_s"][f"ray_{min(2, cpus)}"] = round(_cli_wall(src, root / f"{mid}-cli-ray", mid, args.scale, True, cpus), 2)
                ray.init(address="local", num_cpus=cpus, include_dashboard=False, log_to_driver=False, object_store_memory=128 * 2**20)
            result["methods"][mid] = row
            print(f"{mid}: " + json.dumps(row), flush=True)
        # per-image overhead: almost no compute, so the difference is what Ray adds
        tiny = make_folder(root / "tiny", args.overhead_images, 16)
        t_plain = _plain("nearest", 2, tiny, root / "tiny-plain")
        r = _ray("nearest", 2, tiny, root / "tiny-ray", 1)
        result["overhead"] = {"method": "nearest", "images": args.overhead_images, "size": 16,
                              "plain_ms_per_image": round(1000 * t_plain / len(tiny), 2),
                              "ray_1_worker_ms_per_image": round(1000 * r["seconds"] / len(tiny), 2),
                              "ray_overhead_ms_per_image": round(1000 * (r["seconds"] - t_plain) / len(tiny), 2),
                              "ray_call_roundtrip_ms": round(r["roundtrip_ms"], 2)}
        print("overhead: " + json.dumps(result["overhead"]), flush=True)
    if own:
        ray.shutdown()
    result["load_after"] = os.getloadavg()
    print(f"CPU: {cpu}; load average after: {result['load_after']}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
