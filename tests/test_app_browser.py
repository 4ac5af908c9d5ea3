"""The Compare tab in a real browser: headless Chromium uploads an image, picks methods, runs, moves the crop.

This is the check that the page works as people use it (upload widget, checkboxes, streaming
results, click-to-crop), which no API test can see. It leaves a screenshot in the test's tmp_path
only: a test run never writes into the tree (``benchmarks/screenshots.py`` makes the README's picture).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import skimage.data

from srcore.imageio import save_image

pytestmark = [
    pytest.mark.slow,
    # Gradio 6.31 itself trips pandas 3 deprecation warnings while queueing DataFrames; not ours to fix.
    pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning"),
]

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 90_000


def _chromium() -> str | None:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser"), shutil.which("google-chrome")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


@pytest.fixture
def browser() -> Any:
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError as exc:
        pytest.skip(f"playwright (python) is not importable ({exc}); install requirements-dev.txt")
    exe = _chromium()
    with sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS) if exe else p.chromium.launch(args=CHROMIUM_ARGS)
        except Error as exc:
            if exe:
                raise
            pytest.skip(f"no browser: no chromium executable on PATH and playwright has no downloaded browser ({str(exc).splitlines()[0]})")
        try:
            yield b
        finally:
            b.close()


def test_compare_in_browser(browser: Any, srlab_server: dict[str, Any], tmp_path: Path) -> None:
    photo = tmp_path / "astronaut.png"
    save_image(photo, np.ascontiguousarray(skimage.data.astronaut()[20:276, 130:386]))
    wanted = ["bicubic", "dnn-espcn", "dnn-fsrcnn"] if srlab_server["shared"] else ["bicubic", "bilinear", "lanczos"]

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(srlab_server["url"])
    page.wait_for_selector("#input-image input[type=file]", state="attached")
    page.set_input_files("#input-image input[type=file]", str(photo))
    page.wait_for_selector("#input-image img")  # the upload has arrived and is shown

    # Pick exactly the wanted methods: the checkbox labels end in "(<id>)".
    boxes = page.locator("#methods label")
    for i in range(boxes.count()):
        label = boxes.nth(i)
        method_id = label.inner_text().strip().rsplit("(", 1)[-1].rstrip(")")
        label.locator("input[type=checkbox]").set_checked(method_id in wanted)
    checked = page.locator("#methods input[type=checkbox]:checked").count()
    assert checked == len(wanted)

    page.click("#run")
    page.wait_for_selector(f"#status >> text=/Done: {len(wanted)}\\/{len(wanted)} methods/")
    # HR + LR + one crop per method, labelled.
    page.wait_for_function(f"document.querySelectorAll('#crops img').length >= {len(wanted) + 2}")
    crops_text = page.inner_text("#crops")
    assert "HR (ground truth)" in crops_text and "LR input" in crops_text
    table = page.inner_text("#metrics")
    for mid in wanted:
        assert mid in table
    assert "LPIPS" in table and "PSNR-Y" in table
    page.wait_for_selector("#downloads :text('.zip')")

    # Clicking the locator moves the crop: the locator is redrawn (new box) and the crops re-rendered.
    before_loc = page.get_attribute("#locator img", "src")
    before_crop = page.get_attribute("#crops img >> nth=0", "src")
    box = page.locator("#locator img").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.25)
    page.wait_for_function(f"document.querySelector('#locator img').src !== {before_loc!r}")
    page.wait_for_function(f"document.querySelector('#crops img').src !== {before_crop!r}")
    page.wait_for_timeout(500)  # let the new crops paint before the screenshot

    shot = tmp_path / "screenshot-compare.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
