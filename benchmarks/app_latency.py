"""App latency: request -> full answer of the real server's ``/compare`` API, per method, at x4.

Two cases (issue 13): a 256x256 input in *Upscale as is* (the network sees 256x256, returns
1024x1024) and a 1024x1024 input in *Treat as ground truth* (degraded to 256x256, restored to
1024x1024 and scored). The app is started once as an operator would (``python app.py`` on
loopback, via ``benchmarks/load.py``'s launcher); every request names its backend in the API's
``backend`` field, and the backends take turns per method and case, so their ratio comes from one
run on the same server. Each method x backend is warmed on a small image first (model loading and
runtime compilation are not latency users feel twice), then each case is timed ``--runs`` times,
one request at a time; the median is reported.

    python benchmarks/app_latency.py                                   # every shipped method, torch and auto
    python benchmarks/app_latency.py -m bicubic,edsr --sizes 32,64 --backends auto --runs 1 --json a.json   # CI size
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import load  # noqa: E402 - the one server launcher (benchmarks/load.py)
from srcore.atomic import atomic_write  # noqa: E402
from srcore.specs import split_ids  # noqa: E402 - after the path set-up above


def shipped_methods(models_dir: Path | None) -> list[str]:
    """Every method that can run at x4 here (with ``models_dir`` for the stock OpenCV files)."""
    from srcore.paths import use_models_dir
    from srcore.registry import all_methods

    if models_dir is not None:
        use_models_dir(models_dir)
    return [m.id for m in all_methods() if m.availability(4)]


def one_request(client: Any, path: Path, method: str, mode: str, backend: str) -> tuple[float, dict[str, Any]]:
    from gradio_client import handle_file

    t0 = time.perf_counter()
    report, _ = client.predict(image=handle_file(str(path)), scale=4, methods=[method], mode=mode, backend=backend, api_name="/compare")
    return time.perf_counter() - t0, report


def run(methods: list[str] | None, backends: list[str], sizes: tuple[int, int], runs: int, models_dir: Path | None,
        timeout: float) -> dict[str, Any]:
    from gradio_client import Client

    from srcore.backends import cpu_info
    from srcore.imageio import save_image
    from srcore.registry import get_method

    methods = methods or shipped_methods(models_dir)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="srlab-latency-") as tmp:
        work = Path(tmp)
        up_size, ref_size = sizes
        inputs = {"warm": work / "warm.png", "upscale": work / "upscale.png", "reference": work / "reference.png"}
        save_image(inputs["warm"], load.make_crop(0, 32))
        save_image(inputs["upscale"], load.make_crop(1, up_size))
        save_image(inputs["reference"], load.make_crop(2, ref_size))
        (work / "server").mkdir()
        server = load.start_server(work / "server", models_dir, time.monotonic() + 300)
        try:
            client = Client(server.url, verbose=False)
            for method in methods:
                # backends only matter for torch networks; the others are timed once
                mine = backends if get_method(method).family == "torch" else backends[:1]
                for backend in mine:
                    one_request(client, inputs["warm"], method, "upscale", backend)
                for mode in ("upscale", "reference"):
                    times: dict[str, list[float]] = {b: [] for b in mine}
                    last: dict[str, dict[str, Any]] = {}
                    for _ in range(runs):
                        for backend in mine:  # interleaved: drift in the machine's load hits every backend alike
                            secs, report = one_request(client, inputs[mode], method, mode, backend)
                            times[backend].append(secs)
                            last[backend] = report["results"][0]
                    for backend in mine:
                        r = last[backend]
                        row = {"backend": backend if len(mine) > 1 else "-", "method": method, "mode": mode,
                               "input": f"{up_size if mode == 'upscale' else ref_size}^2", "seconds": statistics.median(times[backend]),
                               "all_seconds": times[backend], "method_seconds": r["seconds"], "error": r["error"]}
                        rows.append(row)
                        print(f"{row['backend']:<11} {method:<16} {mode:<9} {row['input']:>6}  {row['seconds']:7.2f} s "
                              f"(method itself {row['method_seconds'] or 0:.2f} s){'  ERROR ' + r['error'] if r['error'] else ''}", flush=True)
            client.close()
        finally:
            server.stop()
    return {"cpu": cpu_info().describe(), "sizes": sizes, "runs": runs, "rows": rows}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-m", "--methods", help="comma-separated ids (default: every method available at x4)")
    p.add_argument("--backends", default="torch-nchw,auto", help="backends to compare for torch networks (default torch-nchw,auto: "
                   "before issue 13 vs now)")
    p.add_argument("--sizes", default="256,1024", help="upscale-mode side, reference-mode side (default 256,1024)")
    p.add_argument("--runs", type=int, default=1, help="timed requests per method and case (median reported)")
    p.add_argument("--models-dir", default=None, help="stock OpenCV files (default ../shared/models/opencv when present)")
    p.add_argument("--timeout", type=float, default=1800)
    p.add_argument("--json", help="write the figures here")
    args = p.parse_args(argv)
    models_dir = Path(args.models_dir) if args.models_dir else load.SHARED_OPENCV
    models_dir = models_dir if models_dir.is_dir() else None
    sizes = tuple(int(s) for s in args.sizes.split(","))
    if len(sizes) != 2 or min(sizes) < 8:
        print("error: --sizes wants two sides >= 8, e.g. 256,1024", file=sys.stderr)
        return 2
    methods = split_ids(args.methods) if args.methods else None
    res = run(methods, [b.strip() for b in args.backends.split(",")], sizes, args.runs, models_dir, args.timeout)  # type: ignore[arg-type]
    if args.json:
        atomic_write(Path(args.json), json.dumps(res, indent=2))
    return 0 if res["rows"] and not any(r["error"] for r in res["rows"]) else 1


if __name__ == "__main__":
    sys.exit(main())
