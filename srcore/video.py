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

Container I/O is :mod:`srcore.video_io`, the temporal metrics :mod:`srcore.temporal`, the report
:mod:`srcore.video_report`; this module is the pipeline that ties them together.

*Reference mode* treats every frame as ground truth: degrade it (``srcore.degrade``, crop to a
multiple of the scale included), restore it, and score it - per frame PSNR-Y/SSIM-Y/LPIPS as
:mod:`srcore.compare` scores images, plus temporal metrics (see :class:`TemporalMeter`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from srcore.degrade import Degradation, degrade_image
from srcore.engine import optional_lpips, resolve, run_timed
from srcore.errors import SRError
from srcore.filenames import safe_name
from srcore.imageio import max_pixels
from srcore.metrics import CONVENTION
from srcore.outscale import OutputSize, resize_to
from srcore.scoring import score
from srcore.sheet import nearest_enlarge
from srcore.temporal import TEMPORAL_NOTES, TemporalMeter  # noqa: F401 - public here too (tests, app)
from srcore.video_io import (  # noqa: F401 - the pipeline's public names, as before the split
    DEFAULT_CRF,
    OUTPUT_SUFFIXES,
    VideoInfo,
    VideoInputError,
    VideoWriter,
    _av,
    _display_matrix,
    _frame_time,
    _open_input,
    _packet_time,
    check_limits,
    iter_frames,
    probe,
    read_frame,
    video_codec,
)
from srcore.video_report import FRAME_KEYS, FRAME_METRICS, MethodTrack, VideoReport  # noqa: F401

MODES = ("upscale", "reference")


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


def output_paths(output: Path, method_ids: list[str], scale: int, input_path: Path) -> list[Path]:
    """One method: ``output`` is the file. Several: ``output`` is a folder, one ``STEM_METHOD_xS.mp4`` each."""
    if len(method_ids) == 1 and output.suffix:
        return [output]
    if output.suffix:
        raise SRError(f"{output}: with several methods the output must be a folder")
    return [output / f"{input_path.stem}_{safe_name(m)}_x{scale}.mp4" for m in method_ids]


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
    size: OutputSize | None = None,
) -> VideoReport:
    """Upscale (or, in reference mode, degrade-restore-score) every frame of ``src`` with each method.

    ``outputs[i]`` receives method ``i``'s clip. ``progress(done, total, method_id)`` is called per frame
    (``total`` is the header's estimate, None when unknown). ``limits`` are :func:`check_limits`'s keywords.
    ``side_by_side``: also write one clip with the input (nearest-neighbour enlarged), every method and, in
    reference mode, the ground truth next to each other (with the audio).
    ``size``: --outscale/--width/--height (upscale mode): every output frame is resized to it (srcore/outscale.py).
    """
    if mode not in MODES:
        raise SRError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
    if size is not None and mode != "upscale":
        raise SRError("--outscale/--width/--height apply to video upscale mode (reference mode scores at the network's scale)")
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
    if info.width * info.height > max_pixels():
        check_limits(info, max_pixels=max_pixels())
    degradation = degradation or Degradation()
    methods = [resolve(mid, scale, (options or {}).get(mid), allow_files, allowed_dirs) for mid in method_ids]
    lpips_fn, variant, notes = None, None, []
    if mode == "reference":
        notes.append(f"reference mode: every frame degraded ({degradation.label}), restored and scored; metrics: {CONVENTION}")
        if lpips:
            lpips_fn, variant, why = optional_lpips()
            if why is not None:
                notes.append(f"LPIPS not computed: {why}")
    total = min(info.frames, max_frames) if info.frames and max_frames else (max_frames or info.frames)
    container, vs = _open_input(src)
    audio = list(container.streams.audio)
    writers = [VideoWriter(o, vs, audio, crf) for o in outputs]
    sbs = VideoWriter(side_by_side, vs, audio, crf) if side_by_side is not None else None
    all_writers = writers + ([sbs] if sbs is not None else [])
    tracks = [MethodTrack(r.spec, r.method.label, o, r.options) for r, o in zip(methods, outputs, strict=True)]
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
                for ready, w, track in zip(methods, writers, tracks, strict=True):
                    out, secs = run_timed(ready, lr, scale, tile, backend)
                    if size is not None:
                        out = resize_to(out, size.target(*lr.shape[:2], scale))
                    row: dict[str, Any] = {"frame": count, "time": round(t, 6), "seconds": round(secs, 4)}
                    if hr is not None and meter is not None:
                        sc = score(out, scale, hr=hr, metrics=FRAME_METRICS, lpips_fns={"lpips": lpips_fn} if lpips_fn else None)
                        row.update(psnr_y=sc.get("psnr_y"), ssim_y=sc.get("ssim_y"), lpips=sc.get("lpips"))
                        row.update(meter.output(ready.spec, out))
                    track.frames.append(row)
                    w.write(out, pts, matrix)
                    if sbs is not None:
                        panels.append((ready.spec, out))
                    if progress:
                        progress(count + 1, total, ready.spec)
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
