"""The Video tab against a real server: ``gradio_client`` uploads a generated clip to ``/video`` and scrubs frames.

The report must be srcore.video's (12 frames, per-frame and temporal metrics), the downloads real
clips PyAV reads back with the input's frame count and audio, and bad clips one-line errors.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.test_video import make_clip, read_clip

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning"),
]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip.make_clip(tmp_path_factory.mktemp("appvideo") / "tiny.mp4", frames=12, size=(96, 64))


def _run(client: Any, path: Path, scale: int, methods: list[str], mode: str) -> tuple[Any, ...]:
    from gradio_client import handle_file

    return client.predict(handle_file(str(path)), scale, methods, mode, "bicubic", 4, api_name="/video")


def test_video_reference_run_and_scrub(client: Any, clip: Path) -> None:
    status, video, table, plot, frame, crops, locator, files, report = _run(client, clip, 2, ["bicubic", "espcn"], "reference")
    assert "Done: 12 frames" in status
    assert report["frames"] == 12 and report["mode"] == "reference"
    assert [m["method"] for m in report["methods"]] == ["bicubic", "espcn"]
    for m in report["methods"]:
        assert len(m["frames"]) == 12 and m["summary"]["psnr_y"] > 20 and m["summary"]["warp_error"] is not None
    assert "flicker" in table and "warp error" in table
    names = sorted(Path(f).name for f in files)
    assert names == ["clip_bicubic_x2.mp4", "clip_espcn_x2.mp4", "side_by_side_x2.mp4", "video_metrics.csv", "video_metrics.json"]
    by_name = {Path(f).name: Path(f) for f in files}
    src = read_clip(clip)
    for name in ("clip_espcn_x2.mp4", "side_by_side_x2.mp4"):
        got = read_clip(by_name[name])
        assert got["times"] == pytest.approx(src["times"], abs=1e-3) and got["audio"] == src["audio"]
    assert json.loads(by_name["video_metrics.json"].read_text())["frames"] == 12
    # side by side: LR (nearest), bicubic, espcn, ground truth, 96 px each with 2 px rules
    assert read_clip(Path(video))["size"] == (4 * 96 + 3 * 2, 64)

    from PIL import Image

    sheet0 = np.asarray(Image.open(crops))
    new_crops, _ = client.predict(7, 4, api_name="/video_frame")
    sheet7 = np.asarray(Image.open(new_crops))
    assert sheet7.shape == sheet0.shape and not np.array_equal(sheet7, sheet0)  # the clip pans: frame 7 differs


@pytest.mark.parametrize(
    ("kind", "needle"),
    [("text", "not a video file"), ("big", "pixels per frame")],
)
def test_video_bad_clip_is_one_line(client: Any, tmp_path: Path, kind: str, needle: str) -> None:
    from gradio_client.exceptions import AppError

    if kind == "text":
        path = tmp_path / "notes.mp4"
        path.write_text("not a video")
    else:
        path = make_clip.make_clip(tmp_path / "big.mp4", frames=2, size=(640, 480), audio=False)
    with pytest.raises(AppError) as err:
        _run(client, path, 2, ["bicubic"], "upscale")
    msg = str(err.value)
    assert needle in msg and "\n" not in msg.strip() and "Traceback" not in msg


def test_upload_check_message(tmp_path: Path) -> None:
    """The tab checks a clip on upload: its facts, or the one line saying why it cannot be used (no run needed)."""
    from app.config import AppConfig
    from app.video_tab import VideoLimits, VideoTab
    from tests.test_video import _audio_only

    tab = VideoTab(AppConfig(), VideoLimits(max_seconds=0.3))
    assert "not a video file" in tab.on_upload(b"not a video")
    assert "audio only" in tab.on_upload(_audio_only(tmp_path / "tone.m4a").read_bytes())
    clip = make_clip.make_clip(tmp_path / "c.mp4", frames=12, size=(32, 24))
    assert "the limit is 0.3 s" in tab.on_upload(clip.read_bytes())
    ok = VideoTab(AppConfig()).on_upload(clip.read_bytes())
    assert ok.startswith("Clip: 32×24, 24 fps") and "aac" in ok
