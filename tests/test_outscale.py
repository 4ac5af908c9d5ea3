"""Any output scale (srcore/outscale.py): sizes, the resize kernels, reference mode at the requested scale, CLI and video."""

from __future__ import annotations

import contextlib
import html
import io
import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data

from srcore.cli import main
from srcore.compare import compare
from srcore.degrade import imresize
from srcore.errors import SRError
from srcore.imageio import load_image, save_image
from srcore.metrics import lr_psnr, psnr_y
from srcore.outscale import OutputSize, reference_pair, resize_to
from srcore.registry import get_method


def _cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(list(args))
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return np.ascontiguousarray(skimage.data.astronaut()[0:130, 160:290])  # 130 x 130


def test_target_sizes_and_checks() -> None:
    assert OutputSize(3.5).target(37, 40, 4) == (130, 140)
    assert OutputSize(width=300).target(100, 150, 4) == (200, 300)  # aspect kept
    assert OutputSize(height=50).target(100, 150, 4) == (50, 75)
    assert OutputSize(width=10, height=20).target(100, 150, 4) == (20, 10)
    assert OutputSize().target(10, 20, 3) == (30, 60) and OutputSize().native
    assert OutputSize(width=300).factor(100, 150, 4) == pytest.approx(2.0)
    for bad in ({"outscale": 0.0}, {"outscale": 40.0}, {"outscale": 2.0, "width": 10}, {"width": 0}):
        with pytest.raises(SRError):
            OutputSize(**bad)


def test_area_down_lanczos_up(photo: np.ndarray) -> None:
    assert np.array_equal(resize_to(photo, (60, 70)), cv2.resize(photo, (70, 60), interpolation=cv2.INTER_AREA))
    assert np.array_equal(resize_to(photo, (200, 210)), cv2.resize(photo, (210, 200), interpolation=cv2.INTER_LANCZOS4))
    assert resize_to(photo, photo.shape[:2]) is photo
    alpha = photo[..., 0]
    assert resize_to(alpha, (10, 12)).shape == (10, 12)


def test_reference_pair_is_exact_for_simple_fractions(photo: np.ndarray) -> None:
    hr, lr = reference_pair(photo, 3.5)  # 7/2: sides cropped to a multiple of 7
    assert hr.shape[:2] == (126, 126) and lr.shape[:2] == (36, 36)
    hr, lr = reference_pair(photo, 2.37)  # no small fraction: floor(130 / 2.37) = 54 LR px, 127 HR px
    assert lr.shape[:2] == (54, 54) and hr.shape[:2] == (127, 127)
    with pytest.raises(SRError):
        reference_pair(photo[:5, :5], 3.5)


def test_reference_mode_scores_at_the_requested_scale(photo: np.ndarray) -> None:
    res = compare(photo, 4, ["bicubic", "espcn"], "reference", lpips=False, size=OutputSize(3.5))
    prep = res.prepared
    assert prep.hr.shape[:2] == (126, 126) and prep.lr.shape[:2] == (36, 36) and prep.out_size == (126, 126)
    espcn = get_method("espcn").upscale(prep.lr, 4)  # 144 x 144, resized (area) to 126
    want = resize_to(espcn, (126, 126))
    r = res.results[1]
    assert np.array_equal(r.output, want)
    assert r.metrics["psnr_y"] == pytest.approx(psnr_y(want, prep.hr, shave=4), abs=1e-9)
    assert r.metrics["lr_psnr"] == pytest.approx(lr_psnr(want, prep.lr, 3.5), abs=1e-9)  # type: ignore[arg-type]
    assert imresize(want, 1 / 3.5).shape == prep.lr.shape  # downscales back to exactly the LR
    report = res.to_json()
    assert report["scale"] == 4 and report["outscale"] == 3.5 and report["results"][1]["output_size"] == "126x126"
    assert report["degradation"] == {"kind": "bicubic", "outscale": 3.5}


def test_cli_upscale_compare_and_refusals(tmp_path: Path, photo: np.ndarray) -> None:
    src = tmp_path / "p.png"
    save_image(src, photo[:40, :60])
    assert _cli("upscale", str(src), "-m", "espcn", "-s", "4", "--outscale", "2.5", "-o", str(tmp_path / "a.png"))[0] == 0
    assert load_image(tmp_path / "a.png").rgb.shape == (100, 150, 3)
    assert _cli("upscale", str(src), "-m", "bicubic", "-s", "2", "--width", "300", "-o", str(tmp_path / "b.png"))[0] == 0
    out = load_image(tmp_path / "b.png").rgb
    assert out.shape == (200, 300, 3)
    assert np.array_equal(out, resize_to(get_method("bicubic").upscale(photo[:40, :60], 2), (200, 300)))  # x2 then Lanczos up
    rc, _, _ = _cli("compare", str(src), "-s", "4", "-m", "bicubic", "--mode", "upscale", "--outscale", "3", "--no-lpips",
                    "--json", str(tmp_path / "c.json"))
    report = json.loads((tmp_path / "c.json").read_text())
    assert rc == 0 and report["scale"] == 4 and report["outscale"] == 3 and report["results"][0]["output_size"] == "180x120"
    for args, needle in ((["compare", str(src), "-s", "4", "-m", "bicubic", "--width", "100"], "--width/--height apply to upscale mode"),
                         (["compare", str(src), "-s", "4", "-m", "bicubic", "--outscale", "2", "--degrade", "jpeg"], "MATLAB bicubic"),
                         (["upscale", str(src), "-m", "bicubic", "-s", "2", "--outscale", "-1", "-o", str(tmp_path / "x.png")], "above 0"),
                         (["upscale", str(src), "-m", "bicubic", "-s", "2", "--outscale", "2", "--width", "9", "-o", str(tmp_path / "x.png")],
                          "give one of them")):
        rc, _, err = _cli(*args)
        assert rc == 2 and needle in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "x.png").exists()


def test_video_outscale(tmp_path: Path) -> None:
    import av

    from benchmarks import make_clip

    clip = make_clip.make_clip(tmp_path / "c.mp4", frames=4, size=(48, 32))
    rc, _, err = _cli("video", str(clip), "-m", "bicubic", "-s", "2", "--outscale", "1.5", "-o", str(tmp_path / "o.mp4"))
    assert rc == 0, err
    with av.open(str(tmp_path / "o.mp4")) as c:
        f = next(c.decode(video=0))
        assert (f.width, f.height) == (72, 48)
    rc, _, err = _cli("video", str(clip), "-m", "bicubic", "-s", "2", "--outscale", "1.5", "--mode", "reference", "-o", str(tmp_path / "r.mp4"))
    assert rc == 2 and "video upscale mode" in err


def test_app_run_at_an_output_scale(tmp_path: Path, photo: np.ndarray) -> None:
    import gradio as gr

    from app.compare_tab import CompareTab
    from app.config import AppConfig

    src = tmp_path / "p.png"
    save_image(src, photo)
    tab = CompareTab(AppConfig())
    up, _, _, _ = tab.on_upload({"path": str(src), "orig_name": src.name}, 4, "reference", None)
    last = list(tab.run(up, 4, ["bicubic", "nearest"], [], "reference", "bicubic", 50, 0, "", None, 32, 4, False, None, False, 3.5))[-1]
    session = last[0]
    assert session.out_size == (126, 126) and all(r.output.shape == (126, 126, 3) for r in session.results)
    assert all(img.shape[:2] == (126, 126) for img in session.images().values())  # HR, LR (nearest) and outputs line up
    assert all(c[0].shape[:2] == (32, 32) for c in session.crops())
    view = json.loads(html.unescape(re.search(r'data-viewer="([^"]*)"', last[13]).group(1)))
    assert (view["width"], view["height"]) == (126, 126)  # the viewer draws every picture at the output size
    # upscale mode: a click on the input maps through the output/input ratio
    up, _, _, _ = tab.on_upload({"path": str(src), "orig_name": src.name}, 2, "upscale", None)
    session = list(tab.run(up, 2, ["bicubic"], [], "upscale", "bicubic", 50, 0, "", None, 32, 4, False, None, False, 1.5))[-1][0]
    assert session.out_size == (195, 195) and session.results[0].output.shape == (195, 195, 3)
    tab.on_locator_click(session, gr.SelectData(None, {"index": [10, 20], "value": None, "selected": True}))
    assert session.center == pytest.approx((10 * session.locator_scale, 20 * session.locator_scale))
    bad = list(tab.run(up, 2, ["bicubic"], [], "upscale", "bicubic", 50, 0, "", None, 32, 4, False, None, False, "big"))
    assert len(bad) == 1 and "output scale must be a number" in bad[0][1]


def test_video_tab_frame_viewer(tmp_path: Path) -> None:
    """The Video tab's frame view in the viewer: the input, each method's frame and (reference mode) the ground truth."""
    from app import viewer
    from app.config import AppConfig
    from app.video_tab import VideoSession, VideoTab
    from benchmarks import make_clip
    from srcore.degrade import Degradation
    from srcore.video import run_video

    clip = make_clip.make_clip(tmp_path / "c.mp4", frames=3, size=(48, 32))
    outs = [tmp_path / "bicubic.mp4", tmp_path / "nearest.mp4"]
    rep = run_video(clip, 2, ["bicubic", "nearest"], outs, "reference", Degradation(), lpips=False)
    session = VideoSession(tmp_path, clip, 2, "reference", Degradation(), ["bicubic", "nearest"], outs, rep.frames, rep.to_json())
    tab = VideoTab(AppConfig())
    assert tab.on_frame_viewer(session, 1) == viewer.EMPTY  # no page: nothing to serve through
    tab.viewer_block = viewer.component(render=False)
    page = tab.on_frame_viewer(session, 1)
    data = json.loads(html.unescape(re.search(r'data-viewer="([^"]*)"', page).group(1)))
    assert [im["kind"] for im in data["images"]] == ["input", "method", "method", "reference"]
    assert all(im["label"].endswith("frame 1") for im in data["images"]) and data["hash"] is False
    assert (data["width"], data["height"]) == (48, 32)  # reference mode: the ground truth's size
