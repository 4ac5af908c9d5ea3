"""Per-method overhead of the Compare tab: wall time of a UI run against the methods' own runtimes.

The Compare tab streams its results through the ``/compare_ui`` event (the one the page's
*Compare* button fires). This script starts the app as an operator would (``python app.py`` on
loopback, via ``benchmarks/load.py``'s launcher), warms the methods up on a small image (model
loading is not what we measure), then runs one comparison on a 512x512 crop of
``skimage.data.astronaut`` at x4 and reports::

    overhead per method = (wall time of the run - sum of the methods' own "seconds") / methods

Everything else the app does per method (scoring, LPIPS, error maps, PNG encoding of crops,
maps and slider images, the table, downloads) is in that overhead. Target: <= 1 s per method
(issue 17). ``--json OUT`` writes the figures; the exit code is 0 only when the target is met.

    python benchmarks/latency.py                       # the 9 default methods with ../shared's OpenCV zoo
    python benchmarks/latency.py -m bicubic,edsr,srgan --runs 2
"""

from __future__ import annotations

import argparse
import json
import re
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

SHARED_OPENCV = REPO.parent / "shared" / "models" / "opencv"
#: Nine methods: bicubic, the four stock OpenCV networks, our four (the pre-issue-17 default selection).
NINE = ("bicubic", "dnn-espcn", "dnn-fsrcnn", "dnn-fsrcnn-small", "dnn-lapsrn", "espcn", "fsrcnn", "edsr", "srgan")
FALLBACK = ("bicubic", "bilinear", "lanczos", "nearest", "espcn", "fsrcnn", "edsr", "srgan")
TARGET_S = 1.0



def ui_args(methods: list[str]) -> list[Any]:
    """The ``/compare_ui`` inputs that are not session state, in the order the tab wires them."""
    plain = [m.partition("@")[0] for m in methods]
    alphas = sorted({f"{float(m.partition('@')[2]):g}" for m in methods if "@" in m})  # none: each GAN at its default α
    # scale, methods, strengths, mode, degradation, JPEG quality, seed, backend (server default), file model, crop side, zoom,
    # TTA off, output scale blank (the maps' open flag and the session are state, not inputs)
    return [4, list(dict.fromkeys(plain)), alphas, "reference", "bicubic", 50, 0, "", "", 64, 4, False, None]


def table_rows(table_html: str) -> list[dict[str, str]]:
    """The page's metrics table (``app.render.metrics_html``) as dicts of cell text, keyed by header."""
    heads = [re.sub(r"<[^>]+>", "", h) for h in re.findall(r"<th[^>]*>(.*?)</th>", table_html.split("</thead>")[0])]
    body = table_html.split("<tbody>", 1)[-1]
    return [dict(zip(heads, (re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)), strict=False))
            for row in re.findall(r"<tr>(.*?)</tr>", body)]


def timed_run(client: Any, path: Path, methods: list[str]) -> dict[str, Any]:
    """One UI comparison (upload check, then the run); wall time to the last streamed update, and the methods' own seconds."""
    from gradio_client import handle_file

    t0 = time.monotonic()
    client.predict(handle_file(str(path)), 4, "reference", api_name="/check_upload")
    job = client.submit(*ui_args(methods), api_name="/compare_ui")
    first: float | None = None
    for _ in job:
        first = first if first is not None else time.monotonic() - t0
    outputs = job.outputs()
    wall = time.monotonic() - t0
    final = outputs[-1]
    table = next((o for o in final if isinstance(o, str) and "srlab-table" in o), None)
    if table is None:
        raise RuntimeError(f"the UI run returned no metrics table: {final[0] if final else final}")
    rows = table_rows(table)
    seconds = {r["id"]: float(r["Seconds ↓"]) if r.get("Seconds ↓", "—") != "—" else 0.0 for r in rows}
    errors = {r["id"]: r["Error"] for r in rows if r.get("Error")}
    own = sum(seconds.values())
    n = len(rows)
    return {"methods": n, "wall_s": round(wall, 2), "first_update_s": round(first or wall, 2), "method_seconds": round(own, 2),
            "overhead_per_method_s": round((wall - own) / max(n, 1), 3), "errors": errors, "per_method": seconds}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-m", "--methods", help="comma-separated ids (default: 9 methods; without ../shared, 8 that ship)")
    p.add_argument("--runs", type=int, default=1, help="measured runs (the best is reported)")
    p.add_argument("--json", type=Path, help="write the figures here")
    p.add_argument("--startup-timeout", type=float, default=300)
    args = p.parse_args(argv)

    import numpy as np
    from gradio_client import Client

    from srcore.imageio import save_image

    shared = SHARED_OPENCV.is_dir()
    methods = split_ids(args.methods) if args.methods else list(NINE if shared else FALLBACK)
    work = Path(tempfile.mkdtemp(prefix="srlab-latency-"))
    photo, small = work / "astronaut512.png", work / "warmup.png"
    save_image(photo, load.make_crop(0, 512))
    save_image(small, np.ascontiguousarray(load.make_crop(1, 64)))
    server = load.start_server(work, SHARED_OPENCV if shared else None, time.monotonic() + args.startup_timeout)
    try:
        client = Client(server.url, verbose=False, download_files=False)
        t = time.monotonic()
        timed_run(client, small, methods)  # loads every network and LPIPS once
        print(f"warm-up (64x64, loads the models): {time.monotonic() - t:.1f} s", flush=True)
        runs = [timed_run(client, photo, methods) for _ in range(max(1, args.runs))]
        client.close()
    finally:
        server.stop()
    best = dict(min(runs, key=lambda r: r["overhead_per_method_s"]))
    best["ok"] = best["overhead_per_method_s"] <= TARGET_S and not best["errors"]
    best["runs"] = runs
    print(f"{best['methods']} methods, 512x512 x4 reference: wall {best['wall_s']} s, first result {best['first_update_s']} s, "
          f"methods' own {best['method_seconds']} s -> overhead {best['overhead_per_method_s']} s per method (target <= {TARGET_S} s)")
    for mid, s in best["per_method"].items():
        print(f"  {mid:18s} {s:8.3f} s" + (f"  error: {best['errors'][mid]}" if mid in best["errors"] else ""))
    if args.json:
        atomic_write(args.json, json.dumps(best, indent=2))
    return 0 if best["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
