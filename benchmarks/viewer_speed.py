"""Is the comparison viewer usable at 15 methods of 4000 px? Decode time and redraw times in real headless Chromium.

    python benchmarks/viewer_speed.py                         # 15 x 4000x3000 -> docs/viewer_speed.json
    python benchmarks/viewer_speed.py --n 5 --width 1000 --height 750 --json /tmp/v.json   # quick

It writes N distinct 4000x3000 PNGs (scikit-image's astronaut enlarged with different kernels,
then shifted and noised so no two are alike) and a page using the same builder as the export
(srcore/html_report.py), but with the PNGs as files next to it instead of data URIs (as the app
serves them), serves them over loopback HTTP to Chromium at 1440x900 and measures, in the page:
the time until every picture is decoded (``data-ready``), then the median and worst time of the
redraw after a key switches the method (1-9, Space), after a wheel-zoom step, and of one
difference-view frame (|A - B| computed over the visible canvas). Redraws are synchronous canvas
work, so ``performance.now()`` around the key press measures them. The CPU model goes with the
figures (speed targets live here, not in tests).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.screenshots import CHROMIUM_ARGS, chromium_path  # noqa: E402
from benchmarks.tta_cost import cpu_model  # noqa: E402
from srcore.html_report import PAGE, ViewerImage, assets, viewer_data, viewer_element  # noqa: E402

KERNELS = [cv2.INTER_NEAREST, cv2.INTER_LINEAR, cv2.INTER_CUBIC, cv2.INTER_LANCZOS4, cv2.INTER_AREA]
MEASURE_JS = """async (n) => {
  const el = document.querySelector('srlab-viewer'), out = {switch: [], zoom: [], diff: []};
  const press = (key) => el.onKey(new KeyboardEvent('keydown', {key}));
  for (let i = 0; i < 60; i++) { const t = performance.now(); press(String(1 + i % Math.min(9, n))); out.switch.push(performance.now() - t); }
  for (let i = 0; i < 30; i++) { const t = performance.now(); press(' '); out.switch.push(performance.now() - t); }
  el.setZoom(el.fitZoom());
  for (let i = 0; i < 24; i++) { const t = performance.now(); el.setZoom(el.state.zoom * (i < 12 ? 1.25 : 0.8)); out.zoom.push(performance.now() - t); }
  el.setZoom(8);
  press('d');
  for (let i = 0; i < 10; i++) { const t = performance.now(); el.state.amp = 1 + i; el.draw(); out.diff.push(performance.now() - t); }
  return out;
}"""


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        """No request log: the figures are the output."""


def make_images(folder: Path, n: int, width: int, height: int) -> list[Path]:
    import skimage.data

    base = skimage.data.astronaut()
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        img = cv2.resize(base, (width, height), interpolation=KERNELS[i % len(KERNELS)])
        img = np.roll(img, i, axis=1)
        img = np.clip(img.astype(np.int16) + rng.integers(-2 * (i // 5), 2 * (i // 5) + 1, img.shape, dtype=np.int16), 0, 255).astype(np.uint8)
        path = folder / f"method_{i + 1:02d}.png"
        cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 1])
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=15, help="methods (default 15)")
    ap.add_argument("--width", type=int, default=4000)
    ap.add_argument("--height", type=int, default=3000)
    ap.add_argument("--json", type=Path, default=REPO / "docs" / "viewer_speed.json")
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="srlab-viewer-"))
    try:
        paths = make_images(work, args.n, args.width, args.height)
        images = [ViewerImage(f"m{i + 1}", f"Method {i + 1}", p.name, "method", [("PSNR-Y ↑", f"{30 + i / 10:.2f} dB")])
                  for i, p in enumerate(paths)]
        js, css = assets()
        data = viewer_data(images, args.width, args.height, title="viewer speed", autofocus=True)
        page_html = PAGE.format(title="viewer speed", meta="", viewer=viewer_element(data), table="", notes="", css=css, js=js)
        (work / "index.html").write_text(page_html, encoding="utf-8")
        mb = sum(p.stat().st_size for p in paths) / 1e6
        # Served over loopback HTTP, as the app serves them: file:// pictures would taint the canvas (the difference
        # view reads pixels back), and the export inlines its pictures as data: URIs for the same reason.
        server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(work)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        with sync_playwright() as pw:
            exe = chromium_path()
            browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS) if exe else pw.chromium.launch(args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 900}, device_scale_factor=1)
            t0 = time.perf_counter()
            page.goto(f"http://127.0.0.1:{server.server_address[1]}/index.html")
            page.wait_for_selector("srlab-viewer[data-ready='1']", timeout=600_000)
            ready_s = time.perf_counter() - t0
            times = page.evaluate(MEASURE_JS, args.n)
            browser.close()
        server.shutdown()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary = {k: {"median_ms": statistics.median(v), "max_ms": max(v), "n": len(v)} for k, v in times.items()}
    report = {"cpu": cpu_model(), "browser": "headless Chromium (software canvas, no GPU)", "viewport": "1440x900",
              "methods": args.n, "image": f"{args.width}x{args.height}", "png_mb_total": round(mb, 1),
              "decode_all_s": round(ready_s, 2), **summary}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2))
    print(f"CPU: {report['cpu']}; {args.n} x {args.width}x{args.height} PNGs ({mb:.0f} MB): all decoded in {ready_s:.1f} s")
    for k, v in summary.items():
        print(f"  {k:<6} redraw: median {v['median_ms']:.1f} ms, worst {v['max_ms']:.1f} ms ({v['n']} times)")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
