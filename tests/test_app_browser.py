"""The Compare tab in a real browser: headless Chromium uploads, picks methods, runs, reads the page as a person would.

These are the checks no API test can see: a non-image upload answered on upload (no wall of
"Error" badges), a 9-method run whose captions, crops and table columns are all whole (element
scroll widths), crops drawn at their true zoom, clicks that keep the comparison, strengths side by
side, results marked stale when a setting changes. Screenshots go to the test's tmp_path only: a
test run never writes into the tree (``benchmarks/screenshots.py`` makes the README's picture).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import skimage.data
from conftest import require_shipped

from srcore.imageio import save_image

pytestmark = [
    pytest.mark.slow,
    # Gradio 6.31 itself trips pandas 3 deprecation warnings while queueing DataFrames; not ours to fix.
    pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning"),
]

TIMEOUT_MS = 120_000
#: Elements whose text must never be cut: crop/map captions and every table cell.
CLIPPED_JS = """() => {
  const bad = [];
  for (const el of document.querySelectorAll('#crops figcaption, #error-maps figcaption, #metrics th, #metrics td')) {
    if (el.scrollWidth > el.clientWidth + 1) bad.push(el.textContent.trim());
  }
  const wrap = document.querySelector('#metrics .srlab-table-wrap');
  if (wrap && wrap.scrollWidth > wrap.clientWidth + 1) bad.push('metrics table wider than its box');
  return bad;
}"""
#: Each crop is drawn at crop side x zoom CSS pixels, i.e. its natural size x zoom: the zoom the user asked for.
ZOOM_JS = """(zoom) => Array.from(document.querySelectorAll('#crops img')).map(
  img => [img.naturalWidth * zoom, img.getBoundingClientRect().width])"""


def _screenshots() -> Any:
    """The README's screenshot script: one browser set-up and one way to pick methods."""
    from benchmarks import screenshots

    return screenshots


@pytest.fixture
def page(srlab_server: dict[str, Any]) -> Any:
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError as exc:
        pytest.skip(f"playwright (python) is not importable ({exc}); install requirements-dev.txt")
    shots = _screenshots()
    exe = shots.chromium_path()
    with sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=exe, args=shots.CHROMIUM_ARGS) if exe else p.chromium.launch(args=shots.CHROMIUM_ARGS)
        except Error as exc:
            if exe:
                raise
            pytest.skip(f"no browser: no chromium executable on PATH and playwright has no downloaded browser ({str(exc).splitlines()[0]})")
        try:
            pg = b.new_page(viewport=shots.VIEWPORT)
            pg.set_default_timeout(TIMEOUT_MS)
            pg.goto(srlab_server["url"])
            pg.wait_for_selector("#input-image input[type=file]", state="attached")
            yield pg
        finally:
            b.close()


def _upload(page: Any, path: Path) -> None:
    page.set_input_files("#input-image input[type=file]", str(path))


def _as_ground_truth(page: Any) -> None:
    """A small upload opens in *Upscale as is* (the mode follows the upload); switch back as the note says."""
    page.wait_for_function("document.querySelector('#mode input[value=upscale]').checked")
    page.locator("#mode label", has_text="Treat as ground truth").click()
    page.wait_for_function("document.querySelector('#mode input[value=reference]').checked")


def _pick(page: Any, ids: list[str]) -> None:
    _screenshots().pick_methods(page, ids)


def _error_badges(page: Any) -> int:
    return page.locator(".error:visible", has_text="Error").count()


def test_non_image_upload_is_answered_on_upload(page: Any, tmp_path: Path) -> None:
    bogus = tmp_path / "notes.png"
    bogus.write_text("this is not an image\n")
    t0 = time.monotonic()
    _upload(page, bogus)
    page.wait_for_selector("#upload-msg >> text=/notes.png: not an image file/", timeout=10_000)
    assert time.monotonic() - t0 < 10
    assert "upload a PNG" in page.inner_text("#upload-msg")
    page.click("#run")  # pressing Compare anyway: one line in the status, nothing else touched
    page.wait_for_selector("#status >> text=/upload an image/", timeout=10_000)
    page.wait_for_timeout(500)
    assert _error_badges(page) == 0


def test_nine_methods_fit_the_page(page: Any, srlab_server: dict[str, Any], tmp_path: Path) -> None:
    from app.methods import method_choices

    photo = tmp_path / "astronaut.png"
    save_image(photo, np.ascontiguousarray(skimage.data.astronaut()[0:128, 160:288]))
    ready = [c.id for c in method_choices(4) if c.ok and c.id != "srgan"]
    ids = ready[:8] + ["srgan"]  # 9 methods (the 9th at two strengths when fewer are available)
    _upload(page, photo)
    page.wait_for_selector("#upload-msg >> text=/128×128/")
    _as_ground_truth(page)
    _pick(page, ids)
    total = len(ids) + (1 if len(ready) < 8 else 0)
    if len(ready) < 8:
        page.locator("#strengths label", has_text="0.5").locator("input").set_checked(True)
    page.click("#run")
    page.wait_for_selector(f"#status >> text=/Done: {total}\\/{total} methods/")
    assert page.locator("#crops figure").count() == total + 2  # HR, LR and every method
    assert page.evaluate(CLIPPED_JS) == []
    widths = page.evaluate(ZOOM_JS, 4)
    assert widths and all(abs(want - got) < 1 for want, got in widths)
    # Clicking a crop keeps the side-by-side (no single-image view replaces it).
    page.locator("#crops img").nth(3).click()
    assert page.locator("#crops figure").count() == total + 2
    # Clicking the locator moves every crop.
    before = page.get_attribute("#crops img >> nth=0", "src")
    loc = page.locator("#locator img")
    loc.scroll_into_view_if_needed()
    box = loc.bounding_box()
    loc.click(position={"x": box["width"] * 0.2, "y": box["height"] * 0.8})
    page.wait_for_function(f"document.querySelector('#crops img').src !== {before!r}")
    # Error maps on demand, each caption naming its map and its method.
    page.click("#maps-panel .label-wrap")
    page.wait_for_selector("#error-maps >> text=/\\|ΔY\\| · Bicubic/")
    assert page.evaluate(CLIPPED_JS) == []
    assert _error_badges(page) == 0
    page.screenshot(path=str(tmp_path / "nine.png"), full_page=True)


def test_strengths_side_by_side_and_stale(page: Any, tmp_path: Path) -> None:

    require_shipped("srgan", 4)
    photo = tmp_path / "cat.png"
    save_image(photo, np.ascontiguousarray(skimage.data.chelsea()[60:188, 120:248]))
    _upload(page, photo)
    page.wait_for_selector("#upload-msg >> text=/128×128/")
    _pick(page, ["srgan"])
    page.wait_for_selector("#strengths", state="visible")
    page.locator("#strengths label", has_text="its default").locator("input").set_checked(False)
    for label in ("0", "0.5", "1"):
        page.locator("#strengths label", has_text=label).first.locator("input").set_checked(True)
    page.click("#run")
    page.wait_for_selector("#status >> text=/Done: 3\\/3 methods/")
    captions = page.inner_text("#crops")
    for a in ("α=0", "α=0.5", "α=1"):
        assert f"SRGAN (ours) {a}" in captions
    table = page.inner_text("#metrics")
    assert "srgan@0" in table and "srgan@0.5" in table and "srgan@1" in table
    assert page.inner_text("#stale").strip() == ""
    page.locator("#strengths label", has_text="0.5").locator("input").set_checked(False)
    page.wait_for_selector("#stale >> text=/press Compare to update/", timeout=10_000)
