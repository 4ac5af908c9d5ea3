"""Regenerate the README's app screenshot: a real server, a real headless Chromium, the default methods.

    python benchmarks/screenshots.py                          # -> docs/screenshot-compare.png
    python benchmarks/screenshots.py --out /tmp/shot.png --methods bicubic,edsr,srgan,srgan@0.5 --maps
    python benchmarks/screenshots.py --viewer view --methods bicubic,espcn,edsr,srgan,real-gan --out docs/screenshot-viewer.png
    python benchmarks/screenshots.py --viewer diff --methods bicubic,espcn,edsr,srgan,real-gan --out docs/screenshot-viewer-diff.png

It starts the app as an operator would (``python app.py`` on loopback, with
``--models-dir ../shared/models/opencv`` when that folder exists), opens the Compare tab at
1440x900 in Debian's ``chromium`` (or Playwright's own browser), uploads a 256x256 crop of
scikit-image's astronaut, keeps the page's default method selection unless ``--methods`` is
given, presses *Compare*, waits for "Done", and saves a full-page screenshot. Tests never write
into ``docs/``; this script is the one way the README picture is made.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks import load  # noqa: E402 - the one server launcher (benchmarks/load.py)
from srcore.specs import split_ids  # noqa: E402 - after the path set-up above

SHARED_OPENCV = REPO.parent / "shared" / "models" / "opencv"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1440, "height": 900}


def chromium_path() -> str | None:
    """Debian's chromium (what CI installs), else any Chrome on PATH; None: Playwright's own download."""
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser"), shutil.which("google-chrome")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None



def pick_methods(page: Any, wanted: list[str], scale: int = 4) -> None:
    """Tick exactly ``wanted`` in the Compare tab's method list (checkboxes show labels; the app's own choices map them to ids)."""
    from app.methods import method_choices

    ids = {c.label: c.id for c in method_choices(scale)}
    boxes = page.locator("#methods label")
    for i in range(boxes.count()):
        label = boxes.nth(i)
        label.locator("input[type=checkbox]").set_checked(ids.get(label.inner_text().strip()) in wanted)


def pick_strengths(page: Any, alphas: list[str]) -> None:
    boxes = page.locator("#strengths label")
    for i in range(boxes.count()):
        label = boxes.nth(i)
        label.locator("input[type=checkbox]").set_checked(label.inner_text().strip() in alphas)


def run_compare(page: Any, url: str, photo: Path, methods: list[str] | None, maps: bool, timeout_ms: int) -> None:
    """Upload, choose, run, wait until done (and the maps, with ``maps``): the page as a person leaves it."""
    page.set_default_timeout(timeout_ms)
    page.goto(url)
    page.wait_for_selector("#input-image input[type=file]", state="attached")
    page.set_input_files("#input-image input[type=file]", str(photo))
    page.wait_for_selector("#upload-msg >> text=/×/")  # our own check accepted the upload
    if methods:
        plain = [m.partition("@")[0] for m in methods]
        pick_methods(page, plain)
        alphas = [m.partition("@")[2] for m in methods if "@" in m]
        if alphas:
            page.wait_for_selector("#strengths", state="visible")
            pick_strengths(page, alphas)
    page.click("#run")
    page.wait_for_selector("#status >> text=/Done: \\d+\\/\\d+ methods|⚠/")
    if page.locator("#status .srlab-error").count():
        raise RuntimeError(f"the run failed: {page.inner_text('#status')}")
    if maps:
        page.click("#maps-panel .label-wrap")
        page.wait_for_selector("#error-maps img")
    page.wait_for_timeout(800)  # let the last pictures paint


#: Output pixels of the 256x256 astronaut crop where the viewer shots look: the eye (edges, lashes, skin texture).
VIEWER_SPOT = (98.0, 86.0)


def viewer_shot(page: Any, mode: str, out: Path) -> None:
    """The Compare tab's viewer as a person leaves it: a method at 8x on the eye, or the difference/onion/blind view."""
    page.wait_for_selector("#viewer srlab-viewer[data-ready='1']")
    page.locator("#viewer").scroll_into_view_if_needed()
    page.click("#viewer .srv-stage")
    page.keyboard.press("5")  # HR, LR, then the methods: with the README's five, 5 = edsr
    page.evaluate("([x, y]) => { const el = document.querySelector('#viewer srlab-viewer'); el.state.cx = x; el.state.cy = y;"
                  " el.setZoom(8); }", list(VIEWER_SPOT))
    if mode == "diff":  # A = the 5th picture (edsr with the README's methods), B = the 6th (srgan)
        page.select_option("#viewer .srv-a", index=4)
        page.select_option("#viewer .srv-b", index=5)
        page.keyboard.press("d")
        page.locator("#viewer .srv-amp").fill("8")
    elif mode == "onion":
        page.keyboard.press("o")
    elif mode == "blind":
        page.click("#viewer [data-mode=blind]")
    page.wait_for_timeout(300)
    page.locator("#viewer").screenshot(path=str(out))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=REPO / "docs" / "screenshot-compare.png")
    p.add_argument("--methods", help="comma-separated ids (srgan@0.5 style for strengths); default: the page's own selection")
    p.add_argument("--maps", action="store_true", help="open the error-map panel before the screenshot")
    p.add_argument("--viewport-only", action="store_true", help="only the first screen (1440x900), not the full page")
    p.add_argument("--timeout", type=float, default=600, help="seconds for the comparison")
    p.add_argument("--viewer", choices=["view", "diff", "onion", "blind"],
                   help="screenshot the viewer only: method 4 at 8x on the eye (view), |A - B| x8 of two methods (diff), ...")
    args = p.parse_args(argv)

    import numpy as np
    import skimage.data
    from playwright.sync_api import sync_playwright

    from srcore.imageio import save_image

    work = Path(tempfile.mkdtemp(prefix="srlab-shots-"))
    photo = work / "astronaut.png"
    save_image(photo, np.ascontiguousarray(skimage.data.astronaut()[0:256, 128:384]))  # face, helmet and flag: detail everywhere
    server = load.start_server(work, SHARED_OPENCV if SHARED_OPENCV.is_dir() else None, time.monotonic() + 300)
    try:
        with sync_playwright() as pw:
            exe = chromium_path()
            browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS) if exe else pw.chromium.launch(args=CHROMIUM_ARGS)
            page = browser.new_page(viewport=VIEWPORT)
            run_compare(page, server.url, photo, split_ids(args.methods) if args.methods else None, args.maps, int(args.timeout * 1000))
            args.out.parent.mkdir(parents=True, exist_ok=True)
            if args.viewer:
                viewer_shot(page, args.viewer, args.out)
            else:
                page.evaluate("window.scrollTo(0, 0)")
                page.wait_for_timeout(300)
                page.screenshot(path=str(args.out), full_page=not args.viewport_only)
            browser.close()
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
