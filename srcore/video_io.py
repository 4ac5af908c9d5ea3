"""Video container I/O through PyAV: probe a clip, check limits, write outputs that keep timing, audio and rotation, read frames.

Why its own module: the pipeline (:mod:`srcore.video`) decides *what* each frame becomes; this module
is *how* frames get in and out of containers - the FFmpeg details users notice when they are wrong
(fractional and variable frame rates, audio copied packet for packet, the display matrix of phone
videos). Outputs go to a hidden temporary name and are renamed only when complete.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from srcore.atomic import commit, partial_name
from srcore.errors import SRError

DEFAULT_CRF = 18
#: Output containers we write (the muxer is chosen from the suffix).
OUTPUT_SUFFIXES = (".mp4", ".mkv", ".mov")


class VideoInputError(SRError):
    """A clip that cannot be used: not a video, no frames, audio only, no decoder, over a limit."""


# ------------------------------------------------------------------------------------------- probing


@dataclass
class VideoInfo:
    """What a clip is, from its headers (``frames``/``duration`` are estimates some containers lack)."""

    path: str
    format: str
    codec: str
    width: int
    height: int
    fps: Fraction | None
    time_base: Fraction
    frames: int | None
    duration: float | None
    rotation: int
    audio: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["fps"] = str(self.fps) if self.fps is not None else None
        d["fps_float"] = float(self.fps) if self.fps else None
        d["time_base"] = str(self.time_base)
        return d


def _av() -> Any:
    """PyAV, imported on first use: a missing or broken install is one line for the video commands only."""
    try:
        import av
    except ImportError:
        raise SRError("video needs PyAV: pip install av") from None
    return av


def _open_input(path: str | Path) -> tuple[Any, Any]:
    """Open ``path`` and return ``(container, video_stream)``, or raise one clear VideoInputError."""
    av = _av()
    p = Path(path)
    if not p.is_file():
        raise VideoInputError(f"{p}: no such file")
    if p.stat().st_size == 0:
        raise VideoInputError(f"{p.name}: the file is empty (0 bytes)")
    try:
        container = av.open(str(p), "r")
    except av.error.EOFError:
        raise VideoInputError(f"{p.name}: the file ends before any video (a zero-length or truncated clip)") from None
    except av.error.FFmpegError as exc:
        raise VideoInputError(f"{p.name}: not a video file FFmpeg can read ({exc.strerror or exc})") from None
    fmt = container.format.name if container.format is not None else ""
    if fmt == "image2" or fmt.endswith("_pipe"):  # FFmpeg's still-image demuxers (png_pipe, jpeg_pipe, image2, ...)
        container.close()
        raise VideoInputError(f"{p.name}: is a still image, not a video (upscale it with `python -m srcore upscale`)")
    if not container.streams.video:
        kinds = sorted({s.type for s in container.streams})
        container.close()
        if not kinds:
            raise VideoInputError(f"{p.name}: holds no video frames (a zero-length clip)")
        what = "audio only" if kinds == ["audio"] else f"only {', '.join(kinds)}"
        raise VideoInputError(f"{p.name}: has no video stream ({what})")
    vs = container.streams.video[0]
    name = vs.codec_context.name if vs.codec_context is not None else None
    if vs.codec_context is None or name in (None, "", "none"):
        container.close()
        raise VideoInputError(f"{p.name}: the video codec is not supported (no decoder for it in this FFmpeg build)")
    if not vs.codec_context.width or not vs.codec_context.height:
        container.close()
        raise VideoInputError(f"{p.name}: the video stream has no picture size (damaged or unsupported)")
    vs.thread_type = "AUTO"
    return container, vs


def _legacy_rotation(vs: Any) -> int:
    """The pre-FFmpeg-6 ``rotate`` tag (clockwise degrees), as a counter-clockwise angle like ``frame.rotation``."""
    try:
        return -int(float(vs.metadata.get("rotate", 0))) % 360
    except (TypeError, ValueError):
        return 0


def probe(path: str | Path) -> VideoInfo:
    """Read a clip's headers (nothing decoded except, for the rotation, the first frame)."""
    container, vs = _open_input(path)
    try:
        fps = vs.average_rate or vs.guessed_rate or vs.base_rate
        duration = None
        if vs.duration is not None:
            duration = float(vs.duration * vs.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        frames = vs.frames or (round(duration * fps) if duration and fps else None)
        rotation = _legacy_rotation(vs)
        try:
            first = next(container.decode(vs), None)
        except Exception:  # noqa: BLE001 - FFmpeg's errors are many; the meaning is "cannot decode"
            first = None
        if first is None:
            raise VideoInputError(f"{Path(path).name}: no video frame could be decoded (empty or damaged clip)")
        rotation = first.rotation % 360 if _display_matrix(first) else rotation
        return VideoInfo(str(path), container.format.name, vs.codec_context.name, vs.codec_context.width,
                         vs.codec_context.height, Fraction(fps) if fps else None, Fraction(vs.time_base), frames,
                         duration, rotation, [s.codec_context.name for s in container.streams.audio if s.codec_context])
    finally:
        container.close()


def check_limits(info: VideoInfo, max_seconds: float | None = None, max_pixels: int | None = None,
                 max_frames: int | None = None) -> None:
    """Refuse clips over the operator's limits, with the number and the limit in one line."""
    name = Path(info.path).name
    if max_pixels and info.width * info.height > max_pixels:
        raise VideoInputError(f"{name}: frames are {info.width}x{info.height} = {info.width * info.height:,} pixels; "
                              f"the limit is {max_pixels:,} pixels per frame")
    if max_seconds and info.duration is not None and info.duration > max_seconds + 1e-6:
        raise VideoInputError(f"{name}: the clip is {info.duration:.1f} s long; the limit is {max_seconds:g} s")
    if max_frames and info.frames is not None and info.frames > max_frames:
        raise VideoInputError(f"{name}: the clip has {info.frames} frames; the limit is {max_frames}")


# ------------------------------------------------------------------------------------------- writing


def _display_matrix(frame: Any) -> list[int] | None:
    """The frame's display matrix (9 int32, FFmpeg's layout), or None when it has none."""
    for sd in frame.side_data:
        if sd.type.name == "DISPLAYMATRIX":
            raw = bytes(sd)
            if len(raw) == 36:
                return [int(v) for v in np.frombuffer(raw, dtype="<i4")]
    return None


def video_codec() -> str:
    """H.264 via libx264 when the PyAV wheel has it, else the best shipped fallback."""
    av = _av()
    for name in ("libx264", "libopenh264", "mpeg4"):
        if name in av.codecs_available:
            try:
                av.codec.Codec(name, "w")
                return name
            except Exception:  # noqa: BLE001 - listed but not an encoder here
                continue
    raise SRError("this PyAV build ships no usable video encoder (libx264, libopenh264 or mpeg4)")


def _encoder_options(codec: str, crf: int) -> dict[str, str]:
    if codec == "libx264":
        return {"crf": str(crf), "preset": "medium"}
    if codec == "mpeg4":  # no CRF: map the 0-51 scale onto qscale 2-31
        return {"qscale": str(max(2, min(31, round(2 + crf * 29 / 51))))}
    return {}


def _copy_packet(packet: Any) -> Any:
    """A fresh packet with the same bytes and timing: muxing rewrites a packet, and each output needs its own."""
    av = _av()
    p = av.Packet(bytes(packet))
    p.pts, p.dts, p.time_base = packet.pts, packet.dts, packet.time_base
    p.duration = packet.duration
    p.is_keyframe = packet.is_keyframe
    return p


class VideoWriter:
    """One output clip: opened at the first frame (its size is known then), audio copied, renamed when complete."""

    def __init__(self, path: Path, in_video: Any, in_audio: list[Any], crf: int = DEFAULT_CRF) -> None:
        if path.suffix.lower() not in OUTPUT_SUFFIXES:
            raise SRError(f"{path}: output must end in {', '.join(OUTPUT_SUFFIXES)}")
        self.path = path
        self.tmp = partial_name(path)
        self.in_video, self.in_audio, self.crf = in_video, in_audio, crf
        self.codec = video_codec()
        self._container: Any = None
        self._vstream: Any = None
        self._audio: dict[int, Any] = {}
        self._pending: list[tuple[int, Any]] = []  # audio packets that arrive before the first video frame
        self.frames = 0
        self.size: tuple[int, int] | None = None

    def _open(self, width: int, height: int, matrix: list[int] | None) -> None:
        av = _av()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._container = av.open(str(self.tmp), "w", format={".mkv": "matroska", ".mov": "mov"}.get(self.path.suffix.lower(), "mp4"))
        rate = self.in_video.average_rate or self.in_video.guessed_rate or Fraction(25)
        vs = self._container.add_stream(self.codec, rate=rate)
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        vs.codec_context.time_base = self.in_video.time_base
        vs.time_base = self.in_video.time_base
        vs.options = _encoder_options(self.codec, self.crf)
        if matrix is not None:
            vs.set_display_matrix(matrix)
        elif _legacy_rotation(self.in_video):
            vs.set_display_rotation(_legacy_rotation(self.in_video))
        self._vstream = vs
        for s in self.in_audio:
            try:
                self._audio[s.index] = self._container.add_stream_from_template(s)
            except Exception as exc:  # noqa: BLE001
                raise SRError(f"the audio codec {s.codec_context.name} cannot be copied into {self.path.suffix}: {exc}; "
                              "use .mkv") from None
        self.size = (width, height)

    def write(self, rgb: np.ndarray, pts: int, matrix: list[int] | None) -> None:
        """Encode one RGB frame at ``pts`` (input time base); odd sides lose their last row/column (4:2:0)."""
        av = _av()
        h, w = rgb.shape[:2]
        rgb = rgb[: h - h % 2, : w - w % 2]
        if self._container is None:
            self._open(rgb.shape[1], rgb.shape[0], matrix)
            for index, p in self._pending:
                self._mux_audio_at(index, p)
            self._pending.clear()
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        vf.pts, vf.time_base = pts, self.in_video.time_base
        self._container.mux(self._vstream.encode(vf))
        self.frames += 1

    def audio(self, packet: Any) -> None:
        """Copy one audio packet (held back until the first video frame has opened the output)."""
        p = _copy_packet(packet)
        if self._container is None:
            self._pending.append((packet.stream.index, p))
        else:
            self._mux_audio_at(packet.stream.index, p)

    def _mux_audio_at(self, index: int, p: Any) -> None:
        out = self._audio.get(index)
        if out is not None:
            p.stream = out
            self._container.mux(p)

    def finish(self) -> Path:
        """Flush the encoder, close, and move the temporary file onto the target."""
        if self._container is None:
            raise VideoInputError("no video frame could be decoded (empty or damaged clip)")
        self._container.mux(self._vstream.encode(None))
        self._container.close()
        self._container = None
        return commit(self.tmp, self.path)

    def abort(self) -> None:
        """Close and delete the temporary file: nothing half-written stays behind."""
        if self._container is not None:
            try:
                self._container.close()
            except Exception:  # noqa: BLE001 - already failing; removing the file is what matters
                pass
            self._container = None
        self.tmp.unlink(missing_ok=True)


def _packet_time(packet: Any) -> float | None:
    return float(packet.pts * packet.time_base) if packet.pts is not None and packet.time_base is not None else None


def _frame_time(frame: Any, index: int, vs: Any) -> tuple[int, float]:
    """(pts in the stream time base, seconds); frames without a pts get one from the frame rate."""
    tb = vs.time_base
    if frame.pts is not None:
        return int(frame.pts), float(frame.pts * tb)
    rate = vs.average_rate or vs.guessed_rate or Fraction(25)
    pts = int(round(index / (rate * tb)))
    return pts, float(pts * tb)


def iter_frames(path: str | Path, max_frames: int | None = None) -> Iterator[np.ndarray]:
    """RGB frames of a clip, one at a time (the app's frame scrubber and the tests read outputs with it)."""
    container, vs = _open_input(path)
    try:
        for i, frame in enumerate(container.decode(vs)):
            if max_frames is not None and i >= max_frames:
                break
            yield frame.to_ndarray(format="rgb24")
    finally:
        container.close()


def read_frame(path: str | Path, index: int) -> np.ndarray:
    """Frame ``index`` (0-based) of a clip, decoding from the start: exact for any codec, fine for short clips."""
    for i, frame in enumerate(iter_frames(path, index + 1)):
        if i == index:
            return frame
    raise SRError(f"{Path(path).name}: has no frame {index}")
