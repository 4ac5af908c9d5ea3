"""The comparison viewer (srcore/data/viewer.js) in a real headless Chromium: the exported file and the app's tab.

What is checked is what a person sees: the key pressed changes the method on screen, 8x zoom draws
each output pixel as a uniform 8x8 block of exactly its colour (nearest neighbour, no smoothing),
B flicks A and B, the difference view's pixels are |A - B| x amplification of the two outputs, the
exported file opens from ``file://`` with every request to the network refused, and blind votes end
up in the downloaded CSV with per-method win rates. Canvas pixels are compared with the numpy arrays
the methods produced, so a blurred or shifted draw fails.
"""

from __future__ import annotations

import base64
import csv
import io
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import skimage.data

from srcore.imageio import save_image

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")]

METHODS = ["nearest", "bilinear", "bicubic", "lanczos", "espcn"]
#: the canvas region as drawn (device px) and the output pixels it shows: (sx0, sy0, sw, sh, dx, dy, dw, dh)
REGION_JS = "(el) => { const r = el.region(); return [r.sx0, r.sy0, r.sw, r.sh, r.dx, r.dy, r.dw, r.dh]; }"
CANVAS_JS = "(el) => el.querySelector('canvas').toDataURL('image/png')"  # lossless: the canvas as drawn


def _shots() -> Any:
    """The README's screenshot script: one browser set-up and one way to pick methods."""
    from benchmarks import screenshots

    return screenshots


@pytest.fixture(scope="module")
def browser() -> Any:
    from playwright.sync_api import sync_playwright

    shots = _shots()
    exe = shots.chromium_path()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=shots.CHROMIUM_ARGS) if exe else p.chromium.launch(args=shots.CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray]]:
    """``python -m srcore compare ... --html`` on a 96x96 photo, and the outputs it embedded (from ``--out``)."""
    from srcore.cli import main
    from srcore.imageio import load_image

    d = tmp_path_factory.mktemp("export")
    photo = d / "astro.png"
    save_image(photo, np.ascontiguousarray(skimage.data.astronaut()[20:116, 180:276]))
    page = d / "view.html"
    assert main(["compare", str(photo), "-s", "4", "-m", ",".join(METHODS), "--no-lpips", "--out", str(d / "out"), "--html", str(page)]) == 0
    outs = {m: load_image(d / "out" / f"astro_{m}_x4.png").rgb for m in METHODS if (d / "out" / f"astro_{m}_x4.png").exists()}
    outs["HR"] = load_image(d / "out" / "astro_HR.png").rgb
    return page, outs


def _canvas(page: Any) -> np.ndarray:
    uri = page.evaluate(CANVAS_JS, page.query_selector("srlab-viewer"))
    png = cv2.imdecode(np.frombuffer(base64.b64decode(uri.split(",", 1)[1]), np.uint8), cv2.IMREAD_COLOR)
    return cv2.cvtColor(png, cv2.COLOR_BGR2RGB)


def _expected(img: np.ndarray, region: list[int], zoom: int) -> tuple[np.ndarray, tuple[int, int]]:
    sx0, sy0, sw, sh, dx, dy, _, _ = region
    return np.repeat(np.repeat(img[sy0 : sy0 + sh, sx0 : sx0 + sw], zoom, 0), zoom, 1), (dx, dy)


def _drawn(canvas: np.ndarray, want: np.ndarray, at: tuple[int, int]) -> np.ndarray:
    """The part of the canvas where ``want`` should be (both cut to what is on screen)."""
    dx, dy = at
    got = canvas[max(0, dy) : dy + want.shape[0], max(0, dx) : dx + want.shape[1]]
    return got, want[max(0, -dy) : max(0, -dy) + got.shape[0], max(0, -dx) : max(0, -dx) + got.shape[1]]


def test_export_opens_offline_with_keys_zoom_diff_and_blind(browser: Any, exported: tuple[Path, dict[str, np.ndarray]], tmp_path: Path) -> None:
    path, outs = exported
    assert path.stat().st_size > 10_000
    page = browser.new_page(viewport={"width": 1100, "height": 800}, device_scale_factor=1, accept_downloads=True)
    requests: list[str] = []
    page.route("**/*", lambda route: (requests.append(route.request.url), route.abort()) if not route.request.url.startswith(("file:", "data:", "blob:"))
               else route.continue_())
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri())
    page.wait_for_selector("srlab-viewer[data-ready='1']", timeout=20_000)
    el = page.query_selector("srlab-viewer")
    n = page.evaluate("(el) => el.bitmaps.filter(Boolean).length", el)
    assert n == len(outs) + 1  # HR, LR input and every method, all decoded
    # Keys 1-9 switch the method in place (HR is 1, LR 2, then the methods in their order).
    page.keyboard.press("3")
    assert el.get_attribute("data-shown") == "nearest"
    page.keyboard.press("7")
    assert el.get_attribute("data-shown") == "espcn"
    assert "PSNR-Y ↑" in page.inner_text(".srv-label") and "ESPCN" in page.inner_text(".srv-label")
    page.keyboard.press("Space")
    assert el.get_attribute("data-shown") == "HR"  # Space steps on (and wraps)
    # 8x zoom: each output pixel is an 8x8 block of exactly its colour.
    page.click(".srv-8")
    page.keyboard.press("5")
    shown = _canvas(page)
    got, want = _drawn(shown, *_expected(outs["bicubic"], page.evaluate(REGION_JS, el), 8))
    assert got.size > 100_000 and np.array_equal(got, want)
    assert "8×" in page.inner_text(".srv-zoomv")
    # B flicks between A (ground truth by default) and B.
    page.select_option(".srv-a", label="4 · Bilinear")
    page.select_option(".srv-b", label="7 · ESPCN (ours, OpenCV)")
    page.keyboard.press("b")
    first = el.get_attribute("data-shown")
    page.keyboard.press("b")
    assert {first, el.get_attribute("data-shown")} == {"bilinear", "espcn"}
    # Difference view, per channel, x10: |A - B| x 10 of the two outputs, pixel for pixel.
    page.keyboard.press("d")
    page.locator(".srv-heat").set_checked(False)
    page.locator(".srv-amp").fill("10")
    region = page.evaluate(REGION_JS, el)
    diff = np.minimum(255, np.abs(outs["bilinear"].astype(int) - outs["espcn"].astype(int)) * 10).astype(np.uint8)
    got, want = _drawn(_canvas(page), *_expected(diff, region, 8))
    assert np.array_equal(got, want) and want.max() > 0
    assert "|A − B| ×10" in page.inner_text(".srv-label")
    # The state is in the URL: a reload reopens the same view.
    assert "mode%3Ddiff" in page.url and "z%3D8" in page.url
    # Blind test: 4 votes, then the CSV: per-method win rates that add up to the votes.
    page.click("[data-mode=blind]")
    assert "methods hidden" in page.inner_text(".srv-label")
    for key in ("1", "2", "3", "1"):
        page.keyboard.press(key)
    assert "4 votes" in page.inner_text(".srv-tally")
    with page.expect_download() as dl:
        page.click(".srv-csv")
    text = Path(dl.value.path()).read_text()
    summary, votes = text.split("\n\n")
    rows = list(csv.DictReader(io.StringIO(summary)))
    assert sum(int(r["votes"]) for r in rows) == 8 and sum(int(r["wins"]) for r in rows) == 3
    assert all(r["method"] in METHODS for r in rows)
    assert all(0 <= float(r["win_rate"]) <= 1 for r in rows)
    assert len(list(csv.DictReader(io.StringIO(votes)))) == 4
    assert requests == [] and errors == []
    page.close()


def test_app_viewer_and_a_small_jpeg_upload(browser: Any, srlab_server: dict[str, Any], tmp_path: Path) -> None:
    """A first-time user's 225x150 JPEG: the mode follows the upload (upscale as is, with the reason), LR-PSNR is not
    crowned, and the page's viewer flicks between the served outputs with the keys."""
    photo = tmp_path / "photo.jpg"
    small = cv2.resize(skimage.data.chelsea(), (225, 150), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(photo), cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 75])
    page = browser.new_page(viewport={"width": 1440, "height": 900}, device_scale_factor=1)
    page.set_default_timeout(60_000)
    page.goto(srlab_server["url"])
    page.set_input_files("#input-image input[type=file]", str(photo))
    page.wait_for_selector("#upload-msg >> text=/Mode set to Upscale as is/")
    assert "shrunk to 56×37" in page.inner_text("#upload-msg") and "Treat as ground truth" in page.inner_text("#upload-msg")
    page.wait_for_function("document.querySelector('#mode input[value=upscale]').checked")
    _shots().pick_methods(page, ["bicubic", "nearest", "lanczos"])
    page.click("#run")
    page.wait_for_selector("#status >> text=/Done: 3\\/3 methods/")
    assert "upscale as is" in page.inner_text("#status")
    table = page.inner_text("#metrics")
    assert "LR-PSNR not ranked: the input is a JPEG" in table
    heads = page.eval_on_selector_all("#metrics th", "ths => ths.map(t => t.textContent)")
    col = next(i for i, h in enumerate(heads) if h.startswith("LR-PSNR"))
    assert page.eval_on_selector_all(f"#metrics tbody tr td:nth-child({col + 1}).best", "tds => tds.length") == 0
    page.wait_for_selector("#viewer srlab-viewer[data-ready='1']")
    el = page.query_selector("#viewer srlab-viewer")
    assert page.evaluate("(el) => el.bitmaps.filter(Boolean).length", el) == 4  # the input and 3 served outputs, all decoded
    page.click("#viewer .srv-stage")
    page.keyboard.press("2")  # 1 = the input, then the methods in registry order
    assert el.get_attribute("data-shown") == "nearest"
    page.keyboard.press("Space")
    assert el.get_attribute("data-shown") == "bicubic"
    assert "srlab=" in page.url  # the view is in the page URL
    w, h = page.evaluate("(el) => [el.bitmaps[1].width, el.bitmaps[1].height]", el)
    assert (w, h) == (900, 600)  # the output itself (x4), not a thumbnail
    page.click("#export-html")  # the app's button: the same viewer as one file
    link = page.wait_for_selector("#export-file a[href]")
    text = page.evaluate("(href) => fetch(href).then(r => r.text())", link.get_attribute("href"))
    assert "customElements.define('srlab-viewer'" in text and text.count("data:image/png;base64,") == 4
    page.close()


def test_shared_link_reopens_the_comparison_and_view(browser: Any, srlab_server: dict[str, Any]) -> None:
    """The hosted demo's link: the query restores example, scale, mode and methods; the hash the viewer's method and zoom."""
    page = browser.new_page(viewport={"width": 1440, "height": 900}, device_scale_factor=1)
    page.set_default_timeout(60_000)
    view = "m%3Dnearest%26mode%3Dview%26z%3D8%26x%3D100%26y%3D120"
    page.goto(srlab_server["url"] + "?example=astronaut&scale=4&mode=reference&methods=bicubic,nearest,nope#srlab=" + view)
    page.wait_for_selector("#upload-msg >> text=/astronaut.png · 512×512/")
    ticked = page.eval_on_selector_all("#methods input:checked", "xs => xs.map(x => x.parentElement.textContent.trim())")
    assert sorted(ticked) == ["Bicubic", "Nearest neighbour"]
    page.click("#run")
    page.wait_for_selector("#status >> text=/Done: 2\\/2 methods/")
    page.wait_for_selector("#viewer srlab-viewer[data-ready='1']")
    el = page.query_selector("#viewer srlab-viewer")
    assert el.get_attribute("data-shown") == "nearest" and page.inner_text("#viewer .srv-zoomv") == "8×"
    page.click("#viewer .srv-stage")
    page.keyboard.press("b")  # A is the ground truth by default
    assert el.get_attribute("data-shown") == "HR"
    assert "example=astronaut" in page.url and "methods=nearest%2Cbicubic" in page.url and "m%3DHR" in page.url
    page.close()


def test_export_embeds_every_png(exported: tuple[Path, dict[str, np.ndarray]]) -> None:
    """The PNGs are embedded: every ``data:image/png`` URI decodes to a PNG of the output size."""
    path, outs = exported
    text = path.read_text()
    uris = [u.split("&quot;")[0] for u in text.split("&quot;src&quot;: &quot;data:image/png;base64,")[1:]]
    assert len(uris) == len(outs) + 1
    sizes = {cv2.imdecode(np.frombuffer(base64.b64decode(u), np.uint8), cv2.IMREAD_UNCHANGED).shape[:2] for u in uris}
    assert sizes == {(96, 96), (24, 24)}  # outputs and HR, the LR input at its own size (shown enlarged)
    assert "<script>" in text and "http://" not in text.split("<script>")[1] and "https://" not in text
