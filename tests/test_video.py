"""``python -m srcore video`` on real clips: made by benchmarks/make_clip.py, written and read back with PyAV.

What users notice is checked frame-exactly: the frame count, each frame's timestamp (so constant,
fractional and variable rates all survive), the audio packets (copied, so byte-identical), the
rotation metadata and the output size; reference mode's numbers must be srcore's own; bad input
exits 2 with one line and leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import av  # a requirement (PyAV): missing, the video tests fail instead of skipping
import numpy as np
import pytest

from benchmarks import make_clip

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The tests' clips: 12 frames of 96x64 with a tone (rotated mp4; 30000/1001 fps mkv) and a 32x24 one for EDSR."""
    d = tmp_path_factory.mktemp("clips")
    return {
        "mp4": make_clip.make_clip(d / "tiny.mp4", frames=12, size=(96, 64), rotate=90),
        "micro": make_clip.make_clip(d / "micro.mp4", frames=12, size=(32, 24), rotate=90),  # for the slow torch methods
        "mkv": make_clip.make_clip(d / "tiny.mkv", frames=12, size=(96, 64), fps=make_clip.Fraction(30000, 1001), motion="panzoom"),
    }


def read_clip(path: Path) -> dict[str, Any]:
    """Everything the round trip must keep, read with PyAV: frame times, rate, size, rotation, audio packet hashes."""
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        times, rotation, size = [], None, None
        for f in c.decode(vs):
            times.append(float(f.pts * vs.time_base))
            rotation = f.rotation if rotation is None else rotation
            size = (f.width, f.height)
        rate = vs.average_rate
    audio: list[tuple[str, float]] = []
    codec = None
    with av.open(str(path)) as c:
        if c.streams.audio:
            a = c.streams.audio[0]
            codec = a.codec_context.name
            for p in c.demux(a):
                if p.size:
                    audio.append((hashlib.sha1(bytes(p)).hexdigest(), round(float(p.pts * p.time_base), 4)))
    return {"times": times, "rate": rate, "size": size, "rotation": rotation, "audio": audio, "audio_codec": codec}


def run_cli(*args: str) -> tuple[int, str, str]:
    import contextlib
    import io

    from srcore.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(list(args))
    return rc, out.getvalue(), err.getvalue()


def assert_round_trip(src: Path, dst: Path, scale: int) -> None:
    a, b = read_clip(src), read_clip(dst)
    assert len(b["times"]) == len(a["times"]) == 12
    assert b["times"] == pytest.approx(a["times"], abs=1e-3)  # every frame keeps its timestamp
    assert b["rate"] == a["rate"]
    assert b["size"] == (a["size"][0] * scale, a["size"][1] * scale)
    assert b["rotation"] == a["rotation"]
    assert b["audio_codec"] == a["audio_codec"] and b["audio"] == a["audio"]  # stream copy: the same packets
    assert a["audio"], "the test clip must carry audio"


@pytest.mark.parametrize(
    ("method", "scale", "clip"),
    [("bicubic", 2, "mp4"), ("bicubic", 4, "mp4"), ("espcn", 2, "mp4"), ("espcn", 4, "mp4"), ("edsr", 2, "micro"),
     pytest.param("edsr", 4, "mp4", marks=pytest.mark.slow)],
)
def test_round_trip(clips: dict[str, Path], tmp_path: Path, method: str, scale: int, clip: str) -> None:
    """Interpolation, OpenCV (our ESPCN .pb) and torch (our EDSR) methods: same frames, times, audio, rotation."""
    out = tmp_path / "out.mp4"
    rc, stdout, err = run_cli("video", str(clips[clip]), "-m", method, "-s", str(scale), "-o", str(out))
    assert rc == 0, err
    assert_round_trip(clips[clip], out, scale)
    assert read_clip(out)["rotation"] == 90
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]  # no temporary file left


def test_fractional_rate_mkv(clips: dict[str, Path], tmp_path: Path) -> None:
    """30000/1001 fps in Matroska (millisecond timestamps, so not evenly spaced): every pts carried over."""
    out = tmp_path / "out.mkv"
    rc, _, err = run_cli("video", str(clips["mkv"]), "-m", "bicubic", "-s", "2", "-o", str(out))
    assert rc == 0, err
    assert_round_trip(clips["mkv"], out, 2)
    assert read_clip(out)["rate"] == make_clip.Fraction(30000, 1001)


def test_max_frames_cuts_audio_too(clips: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "five.mp4"
    rc, _, err = run_cli("video", str(clips["mp4"]), "-m", "bicubic", "-s", "2", "-o", str(out), "--max-frames", "5")
    assert rc == 0, err
    a, b = read_clip(clips["mp4"]), read_clip(out)
    assert b["times"] == pytest.approx(a["times"][:5], abs=1e-3)
    end = a["times"][5]
    assert b["audio"] == [p for p in a["audio"] if p[1] < end]


def test_reference_mode_metrics(clips: dict[str, Path], tmp_path: Path) -> None:
    """Per-frame PSNR/SSIM are srcore's for the same degraded frame; temporal metrics for every frame pair."""
    from srcore.degrade import Degradation, degrade_image
    from srcore.metrics import psnr_y, ssim_y
    from srcore.registry import get_method
    from srcore.video import iter_frames

    out = tmp_path / "ref"
    rc, stdout, err = run_cli("video", str(clips["mp4"]), "-m", "bicubic,espcn", "-s", "2", "-o", str(out),
                              "--mode", "reference", "--no-lpips", "--degrade", "jpeg")
    assert rc == 0, err
    assert "flicker" in stdout and "warp err" in stdout
    report = json.loads((out / "tiny_metrics.json").read_text())
    assert report["frames"] == 12 and report["degradation"] == "jpeg Q50"
    assert report["warp_error_gt"] > 0
    by = {m["method"]: m for m in report["methods"]}
    assert list(by) == ["bicubic", "espcn"]
    for m in by.values():
        frames = m["frames"]
        assert [f["frame"] for f in frames] == list(range(12))
        assert frames[0]["flicker"] is None and frames[0]["warp_error"] is None
        assert all(f["temporal_error"] >= 0 and f["warp_error"] >= 0 for f in frames[1:])
        assert m["summary"]["psnr_y"] == pytest.approx(np.mean([f["psnr_y"] for f in frames]))
    # frame 3 recomputed here from the decoded input frame
    hr = list(iter_frames(clips["mp4"], 4))[3]
    deg = degrade_image(hr, 2, Degradation("jpeg"), index=3)
    sr = get_method("espcn").upscale(deg.lr, 2)
    assert by["espcn"]["frames"][3]["psnr_y"] == pytest.approx(psnr_y(sr, deg.hr, shave=2), abs=1e-9)
    assert by["espcn"]["frames"][3]["ssim_y"] == pytest.approx(ssim_y(sr, deg.hr, shave=2), abs=1e-9)
    rows = (out / "tiny_metrics.csv").read_text().splitlines()
    assert rows[0].startswith("method,frame,time,psnr_y") and len(rows) == 1 + 2 * 12
    for name in ("tiny_bicubic_x2.mp4", "tiny_espcn_x2.mp4"):
        assert len(read_clip(out / name)["times"]) == 12


def test_temporal_meter_identity_and_flicker() -> None:
    """Output == ground truth: flicker and temporal error 0; added per-frame noise: positive flicker."""
    import cv2

    from srcore.video import TemporalMeter

    rng = np.random.default_rng(0)
    smooth = cv2.GaussianBlur(rng.uniform(0, 255, (48, 64, 3)), (0, 0), 4)
    base = np.clip((smooth - smooth.mean()) * 8 + 128, 0, 255).astype(np.uint8)  # smooth texture, full contrast
    frames = [np.roll(base, t, axis=1) for t in range(4)]
    meter = TemporalMeter()
    for t, gt in enumerate(frames):
        meter.next_ground_truth(gt)
        same = meter.output("same", gt)
        noisy = meter.output("noisy", np.clip(gt + rng.normal(0, 8, gt.shape), 0, 255).astype(np.uint8))
        if t:
            assert same["flicker"] == pytest.approx(0) and same["temporal_error"] == pytest.approx(0)
            assert noisy["flicker"] > 1 and noisy["temporal_error"] > 5
            assert noisy["warp_error"] > same["warp_error"]


def _audio_only(path: Path) -> Path:
    with av.open(str(path), "w") as c:
        a = c.add_stream("aac", rate=48000, layout="mono")
        fr = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        fr.sample_rate, fr.pts = 48000, 0
        c.mux(a.encode(fr))
        c.mux(a.encode(None))
    return path


def _zero_frames(path: Path) -> Path:
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264" if "libx264" in av.codecs_available else "mpeg4", rate=24)
        s.width, s.height, s.pix_fmt = 32, 32, "yuv420p"
        c.start_encoding()
    return path


def _unknown_codec(path: Path) -> Path:
    """A real FFV1 Matroska clip whose codec id is renamed to one no FFmpeg knows."""
    raw = path.with_name("ffv1.mkv")
    with av.open(str(raw), "w") as c:
        s = c.add_stream("ffv1", rate=24)
        s.width, s.height, s.pix_fmt = 32, 32, "yuv420p"
        for i in range(3):
            f = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
            f.pts = i
            c.mux(s.encode(f))
        c.mux(s.encode(None))
    data = bytearray(raw.read_bytes())
    i = data.find(b"V_FFV1")
    assert i >= 0
    data[i : i + 6] = b"V_ZZZZ"
    raw.unlink()
    path.write_bytes(bytes(data))
    return path


def _still_png(path: Path) -> Path:
    """A PNG: FFmpeg opens it as a one-frame "video", which is not what the user meant."""
    import cv2

    cv2.imwrite(str(path), np.full((24, 32, 3), 128, np.uint8))
    return path


@pytest.mark.parametrize(
    ("case", "needle"),
    [
        ("text", "not a video file"),
        ("empty", "empty"),
        ("zero", "zero-length"),
        ("audio", "audio only"),
        ("codec", "not supported"),
        ("pixels", "the limit is 1,000 pixels"),
        ("still", "still image"),
    ],
)
def test_bad_input_exits_2_one_line(clips: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str, needle: str) -> None:
    src_dir = tmp_path / "in"
    src_dir.mkdir()
    src = {
        "text": lambda: (src_dir / "notes.mp4").write_text("not a video") and src_dir / "notes.mp4",
        "empty": lambda: (src_dir / "empty.mp4").write_bytes(b"") or src_dir / "empty.mp4",
        "zero": lambda: _zero_frames(src_dir / "zero.mp4"),
        "audio": lambda: _audio_only(src_dir / "tone.m4a"),
        "codec": lambda: _unknown_codec(src_dir / "odd.mkv"),
        "pixels": lambda: clips["mp4"],
        "still": lambda: _still_png(src_dir / "photo.png"),
    }[case]()
    if case == "pixels":
        monkeypatch.setenv("SRCORE_MAX_PIXELS", "1000")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    rc, stdout, err = run_cli("video", str(src), "-m", "bicubic", "-s", "2", "-o", str(out_dir / "x.mp4"))
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], err
    assert list(out_dir.iterdir()) == []


def test_failure_midway_leaves_nothing(clips: dict[str, Path], tmp_path: Path) -> None:
    """An error after frames were written (here: the progress callback raising) removes the partial output."""
    from srcore.video import run_video

    def boom(done: int, total: int | None, mid: str) -> None:
        if done == 6:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_video(clips["mp4"], 2, ["bicubic"], [tmp_path / "x.mp4"], progress=boom)
    assert list(tmp_path.iterdir()) == []


def test_make_clip_is_deterministic(tmp_path: Path) -> None:
    a = make_clip.make_clip(tmp_path / "a.mp4", frames=3, size=(32, 32), noise=2, jpeg=80, audio=False)
    b = make_clip.make_clip(tmp_path / "b.mp4", frames=3, size=(32, 32), noise=2, jpeg=80, audio=False)
    fa = [f.to_ndarray(format="rgb24") for f in av.open(str(a)).decode(video=0)]
    fb = [f.to_ndarray(format="rgb24") for f in av.open(str(b)).decode(video=0)]
    assert len(fa) == 3 and all(np.array_equal(x, y) for x, y in zip(fa, fb, strict=True))
    assert not np.array_equal(fa[0], fa[1])  # it moves


def test_variable_frame_rate(tmp_path: Path) -> None:
    """Irregular timestamps (a VFR clip: frames at 0, 1, 3, 4, 8, 9 in 1/24 s) come out exactly as they went in."""
    src = tmp_path / "vfr.mp4"
    pts = [0, 1, 3, 4, 8, 9]
    with av.open(str(src), "w") as c:
        s = c.add_stream("libx264" if "libx264" in av.codecs_available else "mpeg4", rate=24)
        s.width, s.height, s.pix_fmt = 32, 32, "yuv420p"
        s.codec_context.time_base = make_clip.Fraction(1, 24)
        for i, p in enumerate(pts):
            f = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 40 * i, np.uint8), format="rgb24")
            f.pts = p
            c.mux(s.encode(f))
        c.mux(s.encode(None))
    out = tmp_path / "vfr_x2.mp4"
    rc, _, err = run_cli("video", str(src), "-m", "bicubic", "-s", "2", "-o", str(out))
    assert rc == 0, err
    assert read_clip(out)["times"] == pytest.approx([p / 24 for p in pts], abs=1e-3) == read_clip(src)["times"]


@pytest.mark.slow
def test_video_memory_script(tmp_path: Path) -> None:
    """benchmarks/video_memory.py runs end to end (tiny clips; the real figure is in benchmarks/README.md)."""
    import subprocess

    out = tmp_path / "vm.json"
    r = subprocess.run([sys.executable, "benchmarks/video_memory.py", "--frames", "3,6", "--size", "32x24", "-m", "bicubic", "-s", "2",
                        "--tolerance-mb", "300", "--json", str(out)], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    data = json.loads(out.read_text())
    assert [run["frames"] for run in data["runs"]] == [3, 6] and all(run["peak_rss_mb"] > 50 for run in data["runs"])


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
