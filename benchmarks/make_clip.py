"""Deterministic test clips for the video pipeline: sub-pixel pans and zooms across still photos, with a tone.

Why: Vid4 and friends cannot be downloaded here, and a clip whose every frame is a known, exactly
reproducible resampling of a still photo is better test material anyway - the motion is sub-pixel
(so nearest-pixel shortcuts show), smooth (so any flicker is the method's), and the same command
gives the same frames on every machine. Independent of ``srcore`` on purpose: test material must
not be made by the code under test.

    python benchmarks/make_clip.py clip.mp4                                   # 24 frames 128x96, pan over Set14 img_005
    python benchmarks/make_clip.py tiny.mp4 --frames 12 --size 96x64          # the tests' clip
    python benchmarks/make_clip.py zoom.mkv --motion zoom --noise 2 --jpeg 70 --fps 30000/1001 --rotate 90

Every frame ``t`` is the source photo warped by an affine map (``cv2.warpAffine``, Lanczos) that
pans ``--speed`` pixels per frame along a fixed direction (``pan``), zooms in by ``--zoom-rate`` per
frame (``zoom``), or both (``panzoom``); optional Gaussian noise (``--noise`` sigma, seeded per frame)
and a JPEG round trip (``--jpeg`` quality) degrade it. The audio track (unless ``--no-audio``) is a
440 Hz sine tone (AAC in .mp4/.mov, FLAC in .mkv) as long as the video, so a dropped or shifted
audio stream shows. ``--rotate`` writes display-matrix rotation metadata (the pixels are not rotated).
"""

from __future__ import annotations

import argparse
import sys
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
SOURCES = {
    "set14": SHARED / "benchmark" / "Set14" / "x4" / "HR",
    "bsd": SHARED / "train" / "bsd200",
}
DEFAULT_SOURCE = "set14:img_005"
MOTIONS = ("pan", "zoom", "panzoom")
AUDIO_RATE = 48000


def load_source(spec: str) -> np.ndarray:
    """RGB uint8 photo for ``set14:NAME``, ``bsd:NAME`` or a file path; scikit-image's astronaut if the shared data is absent."""
    if ":" in spec and spec.split(":", 1)[0] in SOURCES:
        kind, name = spec.split(":", 1)
        path = SOURCES[kind] / (name if name.endswith(".png") else f"{name}.png")
    else:
        path = Path(spec)
    if path.is_file():
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise SystemExit(f"error: {path}: not an image")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    if spec != DEFAULT_SOURCE:
        raise SystemExit(f"error: source {spec}: no such image ({path})")
    import skimage.data  # the shared data is absent: a photo that ships with scikit-image

    return skimage.data.astronaut()


def frame_at(src: np.ndarray, t: int, size: tuple[int, int], motion: str, speed: float, zoom_rate: float) -> np.ndarray:
    """Frame ``t``: a ``size`` (w, h) window of ``src`` after a sub-pixel pan/zoom, centred on the photo."""
    w, h = size
    sh, sw = src.shape[:2]
    # The window must stay inside the photo for the whole clip: start zoomed so that it fits.
    z = (1.0 + zoom_rate) ** t if motion in ("zoom", "panzoom") else 1.0
    dx = dy = 0.0
    if motion in ("pan", "panzoom"):
        # An irrational-ish direction so x and y both move by sub-pixel steps, never whole pixels in lockstep.
        dx, dy = speed * t * 0.8944, speed * t * 0.4472
    cx, cy = sw / 2.0 + dx, sh / 2.0 + dy
    # output (u, v) -> source (cx + (u - w/2) / z, cy + (v - h/2) / z)
    m = np.array([[z, 0.0, w / 2.0 - z * cx], [0.0, z, h / 2.0 - z * cy]])
    return cv2.warpAffine(src, m, (w, h), flags=cv2.INTER_LANCZOS4, borderMode=cv2.BORDER_REFLECT_101)


def degrade_frame(frame: np.ndarray, t: int, noise: float, jpeg: int | None, seed: int) -> np.ndarray:
    if noise > 0:
        rng = np.random.default_rng([seed, t])
        frame = np.clip(frame + rng.normal(0.0, noise, frame.shape), 0, 255).astype(np.uint8)
    if jpeg:
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(jpeg)])
        frame = cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return frame


def _audio_codec(path: Path) -> str:
    return "flac" if path.suffix.lower() in (".mkv", ".webm") else "aac"


def make_clip(
    out: Path,
    frames: int = 24,
    size: tuple[int, int] = (128, 96),
    fps: Fraction = Fraction(24),
    source: str = DEFAULT_SOURCE,
    motion: str = "pan",
    speed: float = 0.37,
    zoom_rate: float = 0.004,
    noise: float = 0.0,
    jpeg: int | None = None,
    audio: bool = True,
    rotate: int = 0,
    crf: int = 12,
    seed: int = 0,
) -> Path:
    """Write the clip to ``out`` (H.264 yuv420p, near-lossless CRF) and return it."""
    if motion not in MOTIONS:
        raise SystemExit(f"error: --motion must be one of {', '.join(MOTIONS)}")
    w, h = size
    if w % 2 or h % 2 or w < 16 or h < 16:
        raise SystemExit("error: --size must be even and at least 16x16 (H.264 4:2:0)")
    src = load_source(source)
    out.parent.mkdir(parents=True, exist_ok=True)
    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    with av.open(str(out), "w") as container:
        vs = container.add_stream(codec, rate=fps)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        vs.codec_context.time_base = Fraction(1, 1) / fps
        if codec == "libx264":
            vs.options = {"crf": str(crf), "preset": "medium"}
        if rotate:
            vs.set_display_rotation(rotate)
        astream = None
        if audio:
            astream = container.add_stream(_audio_codec(out), rate=AUDIO_RATE, layout="mono")
        for t in range(frames):
            rgb = degrade_frame(frame_at(src, t, size, motion, speed, zoom_rate), t, noise, jpeg, seed)
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            vf.pts = t
            container.mux(vs.encode(vf))
        container.mux(vs.encode(None))
        if astream is not None:
            n = int(round(frames / fps * AUDIO_RATE))
            tone = (0.3 * np.sin(2 * np.pi * 440.0 * np.arange(n) / AUDIO_RATE)).astype(np.float32)
            fmt = "fltp" if astream.codec_context.codec.name == "aac" else "s16"
            chunk = 1024
            for start in range(0, n, chunk):
                part = tone[start : start + chunk]
                data = part[None] if fmt == "fltp" else (part * 32767).astype(np.int16)[None]
                af = av.AudioFrame.from_ndarray(data, format=fmt, layout="mono")
                af.sample_rate, af.pts = AUDIO_RATE, start
                container.mux(astream.encode(af))
            container.mux(astream.encode(None))
    return out


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
        return w, h
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WxH, e.g. 128x96, got {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("output", type=Path, help="clip to write (.mp4, .mkv, .mov)")
    p.add_argument("--frames", type=int, default=24)
    p.add_argument("--size", type=_size, default=(128, 96), help="WxH (even), default 128x96")
    p.add_argument("--fps", type=Fraction, default=Fraction(24), help="frame rate, fractions allowed (30000/1001)")
    p.add_argument("--source", default=DEFAULT_SOURCE, help="set14:NAME, bsd:NAME or an image file (default set14:img_005)")
    p.add_argument("--motion", choices=MOTIONS, default="pan")
    p.add_argument("--speed", type=float, default=0.37, help="pan speed in pixels per frame")
    p.add_argument("--zoom-rate", type=float, default=0.004, help="zoom per frame (0.004 = 0.4%%)")
    p.add_argument("--noise", type=float, default=0.0, help="Gaussian noise sigma (0-255 levels)")
    p.add_argument("--jpeg", type=int, default=None, help="JPEG round trip quality per frame")
    p.add_argument("--no-audio", action="store_true")
    p.add_argument("--rotate", type=int, default=0, help="display rotation metadata in degrees (counter-clockwise)")
    p.add_argument("--crf", type=int, default=12, help="x264 quality of the clip itself (default 12: near lossless)")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    path = make_clip(a.output, a.frames, a.size, a.fps, a.source, a.motion, a.speed, a.zoom_rate, a.noise, a.jpeg,
                     not a.no_audio, a.rotate, a.crf, a.seed)
    print(f"wrote {path} ({a.frames} frames, {a.size[0]}x{a.size[1]}, {a.fps} fps{', audio' if not a.no_audio else ''})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
