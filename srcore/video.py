"""Video: upscale a clip frame by frame, or score methods on it, streaming through PyAV.

Why streaming: a clip is many images; holding it would make memory grow with its length. Here a
single pass demuxes the input, decodes one frame, runs every method on it, encodes each result
into its own output and forgets the frame - only the previous frame is kept (for the temporal
metrics). Peak memory is therefore that of one frame per method, whatever the clip's length.

What is kept from the input, because users notice when it is not:

* **Timing**: each output frame carries its input frame's ``pts`` in the input stream's
  ``time_base``, so constant, fractional (30000/1001) and variable frame rates survive, and the
  frame count is the input's (or ``max_frames``).
* **Audio**: every audio stream is copied packet for packet (not re-encoded), with its timestamps,
  so it stays in sync and bit-identical.
* **Rotation**: the display matrix (phone videos store pictures sideways plus "rotate 90") is
  copied from the decoded frames' side data or the legacy ``rotate`` tag; pixels are not rotated.

Outputs are written to a hidden temporary name next to the target and renamed only when
complete, so an error or Ctrl-C never leaves a half-written file.

*Reference mode* treats every frame as ground truth: degrade it (``srcore.degrade``, crop to a
multiple of the scale included), restore it, and score it - per frame PSNR-Y/SSIM-Y/LPIPS as
:mod:`srcore.compare` scores images, plus temporal metrics (see :class:`TemporalMeter`).
"""

from __future__ import annotations

import csv
import io
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from srcore.color import rgb_to_y_bt601
from srcore.degrade import Degradation, degrade_image
from srcore.errors import SRError
from srcore.metrics import CONVENTION
from srcore.registry import get_method
from srcore.scoring import score
from srcore.sheet import nearest_enlarge

MODES = ("upscale", "reference")
DEFAULT_CRF = 18
#: Output containers we write (the muxer is chosen from the suffix).
OUTPUT_SUFFIXES = (".mp4", ".mkv", ".mov")
#: Definitions shown next to the temporal numbers (JSON, README, UI).
TEMPORAL_NOTES = {
    "flicker": "mean |Y_t - Y_t-1| of the output minus that of the ground truth (BT.601 Y levels); "
    "> 0: more frame-to-frame change than the truth (flicker, crawling texture), < 0: temporally smoother than the truth",
    "temporal_error": "mean |(out_t - out_t-1) - (gt_t - gt_t-1)| on Y: how differently from the truth the output changes; 0 = identical",
    "warp_error": "mean |Y(out_t) - Y(warp(out_t-1))| over non-occluded pixels, with DIS optical flow from the ground-truth frames "
    "(forward-backward consistency mask); compare with warp_error_gt, the same for the ground truth itself",
}


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
        self.tmp = path.with_name(f".{path.stem}.partial-{os.getpid()}-{id(self)}{path.suffix}")
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
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Close and delete the temporary file: nothing half-written stays behind."""
        if self._container is not None:
            try:
                self._container.close()
            except Exception:  # noqa: BLE001 - already failing; removing the file is what matters
                pass
            self._container = None
        self.tmp.unlink(missing_ok=True)


# ------------------------------------------------------------------------------------------- temporal metrics


def _flow(dis: Any, to_frame: np.ndarray, from_frame: np.ndarray) -> np.ndarray:
    return dis.calc(to_frame, from_frame, None)


def _warp(img: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``img`` sampled at ``x + flow(x)``: brings the previous frame onto the current one."""
    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(img, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


@dataclass
class FlowPair:
    """Optical flow from ground-truth frame t to t-1, and where it can be trusted (not occluded, inside)."""

    flow: np.ndarray
    valid: np.ndarray


class TemporalMeter:
    """Temporal consistency of outputs against the ground truth's own motion; keeps only frame t-1.

    Flow comes from the *ground truth* (DIS, medium preset) so every method is judged against the
    same true motion; occlusions are masked with the forward-backward check of Ruder et al. (2016).
    """

    def __init__(self) -> None:
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        self._prev_gt: np.ndarray | None = None
        self._prev_out: dict[str, np.ndarray] = {}
        self.pair: FlowPair | None = None
        self._gt_dy: np.ndarray | None = None
        self.gt_warp_error: float | None = None

    @staticmethod
    def luma(rgb: np.ndarray) -> np.ndarray:
        return rgb_to_y_bt601(rgb).astype(np.float32)

    def next_ground_truth(self, gt: np.ndarray) -> None:
        """Advance to a new ground-truth frame: compute the flow to the previous one."""
        y = self.luma(gt)
        self.pair, self._gt_dy, self.gt_warp_error = None, None, None
        if self._prev_gt is not None and self._prev_gt.shape == y.shape:
            a, b = np.clip(y, 0, 255).astype(np.uint8), np.clip(self._prev_gt, 0, 255).astype(np.uint8)
            fw = _flow(self._dis, a, b)  # t -> t-1
            bw = _flow(self._dis, b, a)  # t-1 -> t
            bw_at = _warp(bw, fw)
            sq = np.sum((fw + bw_at) ** 2, axis=2)
            valid = sq < 0.01 * (np.sum(fw**2, axis=2) + np.sum(bw_at**2, axis=2)) + 0.5
            h, w = y.shape
            gx, gy = np.meshgrid(np.arange(w), np.arange(h))
            tx, ty = gx + fw[..., 0], gy + fw[..., 1]
            valid &= (tx >= 0) & (tx <= w - 1) & (ty >= 0) & (ty <= h - 1)
            self.pair = FlowPair(fw, valid)
            self._gt_dy = y - self._prev_gt
            self.gt_warp_error = self._masked_mean(np.abs(y - _warp(self._prev_gt, fw)), valid)
        self._prev_gt = y

    @staticmethod
    def _masked_mean(x: np.ndarray, mask: np.ndarray) -> float | None:
        return float(x[mask].mean()) if mask.any() else None

    def output(self, method_id: str, out: np.ndarray) -> dict[str, float | None]:
        """Temporal metrics of ``method_id``'s frame t (None for the first frame)."""
        y = self.luma(out)
        prev = self._prev_out.get(method_id)
        self._prev_out[method_id] = y
        if prev is None or self.pair is None or self._gt_dy is None or prev.shape != y.shape:
            return {"flicker": None, "temporal_error": None, "warp_error": None}
        dy = y - prev
        return {
            "flicker": float(np.abs(dy).mean() - np.abs(self._gt_dy).mean()),
            "temporal_error": float(np.abs(dy - self._gt_dy).mean()),
            "warp_error": self._masked_mean(np.abs(y - _warp(prev, self.pair.flow)), self.pair.valid),
        }


# ------------------------------------------------------------------------------------------- side by side


def side_by_side_frame(panels: list[tuple[str, np.ndarray]]) -> np.ndarray:
    """Equal-height frames next to each other, each labelled in its top-left corner.

    One clip holding every method is synchronised playback by construction (the app shows it; the CLI
    writes it with ``--side-by-side``), where separate players drift apart.
    """
    h = max(p.shape[0] for _, p in panels)
    tiles = []
    for label, img in panels:
        tile = np.zeros((h, img.shape[1], 3), np.uint8)
        tile[: img.shape[0]] = img
        scale = max(0.35, min(1.0, img.shape[1] / 400))
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        cv2.rectangle(tile, (0, 0), (tw + 6, th + base + 6), (0, 0, 0), -1)
        cv2.putText(tile, label, (3, th + 3), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
        tiles.append(tile)
        tiles.append(np.full((h, 2, 3), 255, np.uint8))  # a white rule between panels
    return np.hstack(tiles[:-1])


# ------------------------------------------------------------------------------------------- the run

#: Per-frame image metrics (srcore.scoring keys); NIQE is left out: seconds per frame, for a no-reference number.
FRAME_METRICS = ("psnr_y", "ssim_y", "lpips")
FRAME_KEYS = ("frame", "time", "psnr_y", "ssim_y", "lpips", "flicker", "temporal_error", "warp_error", "seconds")


@dataclass
class MethodTrack:
    """One method's output clip and per-frame numbers."""

    method_id: str
    label: str
    output: Path
    options: dict[str, Any]
    frames: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Means over frames (temporal ones over frame pairs); None where nothing was measured."""
        out: dict[str, Any] = {}
        for k in ("psnr_y", "ssim_y", "lpips", "flicker", "temporal_error", "warp_error", "seconds"):
            vals = [f[k] for f in self.frames if f.get(k) is not None and math.isfinite(f[k])]
            out[k] = float(np.mean(vals)) if vals else None
        return out


@dataclass
class VideoReport:
    input: VideoInfo
    mode: str
    scale: int
    degradation: Degradation | None
    lpips_variant: str | None
    tracks: list[MethodTrack]
    frames: int
    gt_warp_error: float | None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        ref = self.mode == "reference"
        return {
            "input": self.input.to_json(),
            "mode": self.mode,
            "scale": self.scale,
            "frames": self.frames,
            "degradation": self.degradation.label if ref and self.degradation else None,
            "metric_convention": CONVENTION if ref else None,
            "lpips_variant": self.lpips_variant,
            "temporal_definitions": TEMPORAL_NOTES if ref else None,
            "warp_error_gt": self.gt_warp_error,
            "notes": self.notes,
            "methods": [
                {"method": t.method_id, "label": t.label, "output": str(t.output), "options": t.options,
                 "summary": t.summary(), "frames": t.frames}
                for t in self.tracks
            ],
        }

    def csv_text(self) -> str:
        """Per-frame rows of every method (the CSV download and ``--csv``)."""
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["method", *FRAME_KEYS])
        for t in self.tracks:
            for f in t.frames:
                w.writerow([t.method_id, *("" if f.get(k) is None else f[k] for k in FRAME_KEYS)])
        return buf.getvalue()

    def summary_rows(self) -> list[dict[str, Any]]:
        return [{"method": t.method_id, **t.summary()} for t in self.tracks]


def write_atomic(path: Path, text: str) -> Path:
    """Write text to a temporary name and rename it (no half-written reports either)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


def output_paths(output: Path, method_ids: list[str], scale: int, input_path: Path) -> list[Path]:
    """One method: ``output`` is the file. Several: ``output`` is a folder, one ``STEM_METHOD_xS.mp4`` each."""
    if len(method_ids) == 1 and output.suffix:
        return [output]
    if output.suffix:
        raise SRError(f"{output}: with several methods the output must be a folder")
    safe = [m.replace(":", "_").replace("/", "_") for m in method_ids]
    return [output / f"{input_path.stem}_{m}_x{scale}.mp4" for m in safe]


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


def run_video(
    src: str | Path,
    scale: int,
    method_ids: list[str],
    outputs: list[Path],
    mode: str = "upscale",
    degradation: Degradation | None = None,
    crf: int = DEFAULT_CRF,
    max_frames: int | None = None,
    tile: int | None = None,
    options: dict[str, dict[str, Any]] | None = None,
    lpips: bool = True,
    backend: str | None = None,
    progress: Callable[[int, int | None, str], None] | None = None,
    limits: dict[str, Any] | None = None,
    allow_files: bool = True,
    allowed_dirs: list[Path] | None = None,
    side_by_side: Path | None = None,
) -> VideoReport:
    """Upscale (or, in reference mode, degrade-restore-score) every frame of ``src`` with each method.

    ``outputs[i]`` receives method ``i``'s clip. ``progress(done, total, method_id)`` is called per frame
    (``total`` is the header's estimate, None when unknown). ``limits`` are :func:`check_limits`'s keywords.
    ``side_by_side``: also write one clip with the input (nearest-neighbour enlarged), every method and, in
    reference mode, the ground truth next to each other (with the audio).
    """
    if mode not in MODES:
        raise SRError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
    if not method_ids:
        raise SRError("no method chosen")
    if len(outputs) != len(method_ids):
        raise SRError("one output path per method is needed")
    if max_frames is not None and max_frames < 1:
        raise SRError(f"--max-frames must be at least 1, got {max_frames}")
    if not 0 <= crf <= 51:
        raise SRError(f"--crf must be between 0 (lossless) and 51, got {crf}")
    src = Path(src)
    for o in outputs:
        if o.resolve() == src.resolve():
            raise SRError(f"{o}: the output would overwrite the input")
    info = probe(src)
    check_limits(info, **(limits or {}))
    from srcore.imageio import max_pixels

    if info.width * info.height > max_pixels():
        check_limits(info, max_pixels=max_pixels())
    degradation = degradation or Degradation()
    methods = []
    for mid in method_ids:
        m = get_method(mid, allow_files=allow_files, allowed_dirs=allowed_dirs)
        avail = m.availability(scale)
        if not avail:
            raise SRError(avail.reason)
        opts = {k: v for k, v in ((options or {}).get(mid) or {}).items() if k in {o.name for o in m.options}}
        methods.append((m, opts))
    lpips_fn, variant, notes = None, None, []
    if mode == "reference":
        notes.append(f"reference mode: every frame degraded ({degradation.label}), restored and scored; metrics: {CONVENTION}")
        if lpips:
            try:
                from srcore.lpips import get_lpips

                lpips_fn = get_lpips()
                variant = lpips_fn.variant
            except Exception as exc:  # noqa: BLE001 - LPIPS is optional: say so, keep the rest
                notes.append(f"LPIPS not computed: {exc}")
    total = min(info.frames, max_frames) if info.frames and max_frames else (max_frames or info.frames)
    container, vs = _open_input(src)
    audio = list(container.streams.audio)
    writers = [VideoWriter(o, vs, audio, crf) for o in outputs]
    sbs = VideoWriter(side_by_side, vs, audio, crf) if side_by_side is not None else None
    all_writers = writers + ([sbs] if sbs is not None else [])
    tracks = [MethodTrack(m.id, m.label, o, opts) for (m, opts), o in zip(methods, outputs, strict=True)]
    meter = TemporalMeter() if mode == "reference" else None
    gt_warp: list[float] = []
    count, end_time, done = 0, math.inf, False
    # With --max-frames the cut point is the end of the last kept frame, unknown until that frame is decoded
    # (decoders lag behind the demuxer), so audio waits here until the video has passed it.
    held: list[Any] = []

    def release(limit: float) -> None:
        keep = []
        for p in held:
            pt = _packet_time(p)
            if pt is None or pt < limit:
                for w in all_writers:
                    w.audio(p)
            else:
                keep.append(p)
        held[:] = keep

    try:
        for packet in container.demux(vs, *audio):
            if packet.stream.type == "audio":
                if packet.dts is None or packet.size == 0:
                    continue
                pt = _packet_time(packet)
                if done and pt is not None and pt >= end_time:
                    break  # past the cut: nothing more to read
                if max_frames is None or done:
                    for w in all_writers:
                        w.audio(packet)
                else:
                    held.append(packet)
                continue
            if done:
                continue
            try:
                frames = packet.decode()
            except Exception as exc:  # noqa: BLE001 - FFmpeg decode errors: a damaged clip
                if count == 0:
                    raise VideoInputError(f"{src.name}: the video cannot be decoded ({exc})") from None
                notes.append(f"stopped at frame {count}: the rest could not be decoded ({exc})")
                done = True
                continue
            for frame in frames:
                if done:
                    break
                matrix = _display_matrix(frame)
                pts, t = _frame_time(frame, count, vs)
                rgb = frame.to_ndarray(format="rgb24")
                if meter is not None:
                    deg = degrade_image(rgb, scale, degradation, index=count)
                    hr, lr = deg.hr, deg.lr
                    meter.next_ground_truth(hr)
                    if meter.gt_warp_error is not None:
                        gt_warp.append(meter.gt_warp_error)
                else:
                    hr, lr = None, rgb
                panels: list[tuple[str, np.ndarray]] = []
                if sbs is not None:
                    panels.append(("LR (nearest)" if hr is not None else "input (nearest)", nearest_enlarge(lr, scale)))
                for (m, opts), w, track in zip(methods, writers, tracks, strict=True):
                    t0 = time.perf_counter()
                    out = m.upscale(lr, scale, tile=tile, backend=backend, **opts)
                    row: dict[str, Any] = {"frame": count, "time": round(t, 6), "seconds": round(time.perf_counter() - t0, 4)}
                    if hr is not None and meter is not None:
                        sc = score(out, scale, hr=hr, metrics=FRAME_METRICS, lpips_fns={"lpips": lpips_fn} if lpips_fn else None)
                        row.update(psnr_y=sc.get("psnr_y"), ssim_y=sc.get("ssim_y"), lpips=sc.get("lpips"))
                        row.update(meter.output(m.id, out))
                    track.frames.append(row)
                    w.write(out, pts, matrix)
                    if sbs is not None:
                        panels.append((m.id, out))
                    if progress:
                        progress(count + 1, total, m.id)
                if sbs is not None:
                    if hr is not None:
                        panels.append(("ground truth", hr))
                    sbs.write(side_by_side_frame(panels), pts, matrix)
                count += 1
                release(t)  # audio up to this frame's time belongs in the output whatever comes next
                if max_frames is not None and count >= max_frames:
                    rate = vs.average_rate or vs.guessed_rate or Fraction(25)
                    dur = float(frame.duration * vs.time_base) if frame.duration else float(1 / rate)
                    end_time, done = t + dur, True
                    release(end_time)
                    held.clear()
            if done and not audio:
                break
        if count == 0:
            raise VideoInputError(f"{src.name}: no video frame could be decoded (empty or damaged clip)")
        release(end_time)
        for w in all_writers:
            w.finish()
    except BaseException as exc:
        for w in all_writers:
            w.abort()
        if isinstance(exc, _av().error.FFmpegError):  # a damaged stream or a failing muxer: one line, not a traceback
            raise SRError(f"{src.name}: FFmpeg failed: {exc}") from None
        raise
    finally:
        container.close()
    return VideoReport(info, mode, scale, degradation if mode == "reference" else None, variant, tracks, count,
                       float(np.mean(gt_warp)) if gt_warp else None, notes)


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
