"""Video tab: upscale a short clip with several methods, watch them side by side, scrub frames, plot per-frame metrics.

Everything heavy is :func:`srcore.video.run_video` (the CLI's ``video`` command): one streamed pass
that writes each method's clip plus one side-by-side clip - a single video holding every method
is synchronised playback by construction, where separate players drift. The frame scrubber
decodes frame *i* of each output clip and shows the same region of each (nearest-neighbour
zoom), like the Compare tab's crops.

Limits are the operator's (``SRLAB_VIDEO_MAX_SECONDS``, ``SRLAB_VIDEO_MAX_PIXELS``,
``SRLAB_VIDEO_MAX_FRAMES``, following ``app/config.py``'s env-twin style): a clip is checked
when it is uploaded, so a too-long or too-large clip gets its one-line message before any work.
"""

from __future__ import annotations

import html
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
from matplotlib.figure import Figure

from app import viewer, workspace
from app.config import AppConfig
from app.inputs import parse_methods, parse_scale, safe_name
from app.messages import public_text, user_errors
from app.methods import SCALES, checkbox_choices, on_scale, unavailable_html
from srcore.atomic import atomic_write
from srcore.degrade import DEGRADATIONS, Degradation, degrade_image
from srcore.errors import SRError
from srcore.html_report import ViewerImage, assets, viewer_data, viewer_element
from srcore.imageio import save_image
from srcore.paths import model_dirs
from srcore.sheet import crop_sheet, nearest_enlarge
from srcore.video import check_limits, probe, read_frame, run_video

#: Defaults sized for a shared CPU server: 10 s of 480x360 at x4 with a network is minutes of work.
DEFAULT_MAX_SECONDS = 10.0
DEFAULT_MAX_PIXELS = 480 * 360
DEFAULT_MAX_FRAMES = 250
MODES = [("Upscale as is", "upscale"), ("Treat as ground truth (degrade, restore, score)", "reference")]
CROP = 64
ZOOMS = (2, 4, 8)


def _env_number(name: str, default: float) -> float:
    try:
        return float(os.environ[name])
    except (KeyError, ValueError):
        return default


@dataclass(frozen=True)
class VideoLimits:
    """What a clip may be: seconds, pixels per input frame, frames. Zero or less = no limit."""

    max_seconds: float = DEFAULT_MAX_SECONDS
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_frames: int = DEFAULT_MAX_FRAMES

    @classmethod
    def from_env(cls) -> VideoLimits:
        return cls(_env_number("SRLAB_VIDEO_MAX_SECONDS", DEFAULT_MAX_SECONDS),
                   int(_env_number("SRLAB_VIDEO_MAX_PIXELS", DEFAULT_MAX_PIXELS)),
                   int(_env_number("SRLAB_VIDEO_MAX_FRAMES", DEFAULT_MAX_FRAMES)))

    def kwargs(self) -> dict[str, Any]:
        """srcore.video.check_limits' keywords."""
        return {"max_seconds": self.max_seconds or None, "max_pixels": self.max_pixels or None, "max_frames": self.max_frames or None}

    def text(self) -> str:
        parts = []
        if self.max_seconds > 0:
            parts.append(f"up to {self.max_seconds:g} s")
        if self.max_pixels > 0:
            parts.append(f"{self.max_pixels:,} pixels per frame (e.g. 480×360)" if self.max_pixels == DEFAULT_MAX_PIXELS
                         else f"{self.max_pixels:,} pixels per frame")
        if self.max_frames > 0:
            parts.append(f"{self.max_frames} frames")
        return ", ".join(parts) or "no limits"


@dataclass
class VideoSession:
    """One user's last run: its folder (removed with the session or by the next run) and what it wrote."""

    workdir: Path
    clip: Path
    scale: int
    mode: str
    degradation: Degradation
    methods: list[str]
    outputs: list[Path]
    frames: int
    report: dict[str, Any]
    center: tuple[float, float] | None = None
    files: list[str] = field(default_factory=list)


def _discard(session: VideoSession | None) -> None:
    if isinstance(session, VideoSession):
        workspace.remove(session.workdir)


def _save_upload(data: bytes | str | None, workdir: Path) -> Path:
    """The upload as a file in the run folder (FFmpeg recognises the container from its content, not the name)."""
    if data is None:
        raise SRError("upload a video clip first")
    if isinstance(data, str):  # a path (gradio_client/filepath uploads)
        data = Path(data).read_bytes()
    return atomic_write(workdir / "clip", data)


def check_clip(path: Path, limits: VideoLimits) -> Any:
    """Probe the clip and hold it to the limits: one clear line for anything unusable."""
    info = probe(path)
    check_limits(info, **limits.kwargs())
    return info


def _describe(info: Any) -> str:
    fps = f"{float(info.fps):.3g} fps" if info.fps else "unknown rate"
    dur = f"{info.duration:.2f} s" if info.duration is not None else "unknown length"
    frames = f"{info.frames} frames" if info.frames else "frame count unknown"
    audio = f"audio: {', '.join(info.audio)} (copied)" if info.audio else "no audio"
    rot = f", rotated {info.rotation}°" if info.rotation else ""
    return f"{info.width}×{info.height}, {fps}, {dur}, {frames}, {info.codec}{rot}; {audio}"


def metrics_plot(report: dict[str, Any]) -> Any:
    """Per-frame PSNR-Y and temporal error (reference mode), or seconds per frame (upscale mode), one line per method."""
    ref = report["mode"] == "reference"
    panels = [("psnr_y", "PSNR-Y (dB) ↑"), ("temporal_error", "temporal error ↓"), ("warp_error", "warp error ↓")] if ref \
        else [("seconds", "seconds per frame")]
    # The object API, not pyplot: handlers run in worker threads, and pyplot's global figure registry is
    # neither thread-safe nor freed (every run would keep its figure); a bare Figure is garbage-collected.
    fig = Figure(figsize=(4.2 * len(panels), 3.0))
    axes = fig.subplots(1, len(panels), squeeze=False)
    for ax, (key, title) in zip(axes[0], panels, strict=True):
        for m in report["methods"]:
            xs = [f["frame"] for f in m["frames"] if f.get(key) is not None]
            ys = [f[key] for f in m["frames"] if f.get(key) is not None]
            ax.plot(xs, ys, marker=".", label=m["method"])
        if key == "warp_error" and report.get("warp_error_gt") is not None:
            ax.axhline(report["warp_error_gt"], color="grey", ls="--", lw=1, label="ground truth")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("frame")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def summary_table(report: dict[str, Any]) -> str:
    """The per-method means as an HTML table (best value per column in bold)."""
    ref = report["mode"] == "reference"
    cols = [("psnr_y", "PSNR-Y ↑", 2, max), ("ssim_y", "SSIM-Y ↑", 4, max), ("lpips", f"{report.get('lpips_variant') or 'LPIPS'} ↓", 4, min),
            ("flicker", "flicker", 3, None), ("temporal_error", "temporal error ↓", 3, min), ("warp_error", "warp error ↓", 3, min),
            ("seconds", "s/frame ↓", 3, min)] if ref else [("seconds", "s/frame ↓", 3, min)]
    rows = [(m["method"], m["summary"]) for m in report["methods"]]
    best = {}
    for key, _, _, pick in cols:
        vals = [s[key] for _, s in rows if s.get(key) is not None]
        if pick and len(vals) > 1:
            best[key] = pick(vals)
    head = "".join(f"<th>{html.escape(c[1])}</th>" for c in cols)
    body = ""
    for mid, s in rows:
        cells = ""
        for key, _, digits, _ in cols:
            v = s.get(key)
            txt = "-" if v is None else f"{v:.{digits}f}"
            cells += f"<td class='num'>{'<b>' + txt + '</b>' if key in best and v == best[key] else txt}</td>"
        body += f"<tr><td><code>{html.escape(mid)}</code></td>{cells}</tr>"
    note = ""
    if ref:
        gt = report.get("warp_error_gt")
        note = ("<div class='srlab-note'>flicker: mean |Δ frame| of the output minus the ground truth's (&gt; 0 flickers, &lt; 0 "
                "smoother than the truth); temporal error: how differently from the truth it changes; warp error: vs the previous "
                f"frame moved by the true optical flow (ground truth itself: {gt:.3f})</div>" if gt is not None else "")
    return f"<div class='srlab-table-wrap'><table class='srlab-table'><tr><th>method</th>{head}</tr>{body}</table></div>{note}"


def frame_panels(session: VideoSession, index: int) -> list[tuple[str, np.ndarray]]:
    """Frame ``index`` of the input (as the methods saw it, nearest-enlarged), every output and the ground truth."""
    index = max(0, min(int(index), session.frames - 1))
    src = read_frame(session.clip, index)
    if session.mode == "reference":
        deg = degrade_image(src, session.scale, session.degradation, index=index)
        first = [(f"LR (nearest ×{session.scale})", nearest_enlarge(deg.lr, session.scale))]
        last = [("ground truth", deg.hr)]
    else:
        first, last = [(f"input (nearest ×{session.scale})", nearest_enlarge(src, session.scale))], []
    panels = first + [(mid, read_frame(path, index)) for mid, path in zip(session.methods, session.outputs, strict=True)] + last
    # The encoder drops an odd last row/column (4:2:0), so crop every panel to the common size.
    h, w = min(p.shape[0] for _, p in panels), min(p.shape[1] for _, p in panels)
    return [(label, img[:h, :w]) for label, img in panels]


def crops_image(session: VideoSession, index: int, zoom: int) -> tuple[np.ndarray, np.ndarray]:
    """(crop sheet of frame ``index`` at the session's crop centre, the first output's whole frame as the locator)."""
    panels = frame_panels(session, index)
    h, w = panels[1][1].shape[:2]
    center = session.center or (w / 2, h / 2)
    return crop_sheet(panels, center, CROP, int(zoom), columns=len(panels)), panels[1][1]


class VideoTab:
    def __init__(self, cfg: AppConfig, limits: VideoLimits | None = None) -> None:
        self.cfg = cfg
        self.limits = limits or VideoLimits.from_env()
        self.viewer_block: gr.HTML | None = None  # set by build()

    # -- handlers -------------------------------------------------------------------------------------

    def on_upload(self, data: bytes | None) -> str:
        """Check the clip as soon as it arrives: its facts, or the one line saying why it cannot be used."""
        if data is None:
            return ""
        d = workspace.new_run_dir("video-check")
        try:
            info = check_clip(_save_upload(data, d), self.limits)
            return f"Clip: {_describe(info)}"
        except SRError as exc:
            return f"<div class='srlab-error'>{public_text(str(exc))}</div>"
        finally:
            workspace.remove(d)

    def run(self, data: bytes | None, scale: Any, methods: Any, mode: str | None, degradation: str | None, zoom: Any,
            session: VideoSession | None, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
        """Upscale (or degrade-restore-score) the clip with every chosen method; returns everything the tab shows."""
        s, ids = parse_scale(scale), parse_methods(methods)
        mode = mode if mode in ("upscale", "reference") else "upscale"
        kind = degradation if degradation in DEGRADATIONS else "bicubic"
        _discard(session)
        workdir = workspace.new_run_dir("video")
        try:
            clip = _save_upload(data, workdir)
            info = check_clip(clip, self.limits)
            outputs = [workdir / f"clip_{safe_name(mid)}_x{s}.mp4" for mid in ids]
            sbs = workdir / f"side_by_side_x{s}.mp4"
            total = info.frames or 0
            progress(0.0, desc="starting")

            def tick(done: int, est: int | None, mid: str) -> None:
                n = est or total
                progress((done / n) if n else 0.0, desc=f"frame {done}/{n or '?'} · {mid}")

            rep = run_video(clip, s, ids, outputs, mode, Degradation(kind), max_frames=self.limits.max_frames or None,
                            progress=tick, limits=self.limits.kwargs(), allow_files=self.cfg.allow_file_models,
                            allowed_dirs=model_dirs(), side_by_side=sbs)
            report = rep.to_json()
            # no "path" key in a JSON output: gradio_client takes any {"path": ...} for a file to download
            report["input"].pop("path", None)
            for m in report["methods"]:
                m["output"] = Path(m["output"]).name
            report["notes"] = [public_text(n) for n in report["notes"]]
            files = [str(p) for p in outputs] + [str(sbs)]
            files.append(str(atomic_write(workdir / "video_metrics.json", json.dumps(report, indent=2))))
            if mode == "reference":
                files.append(str(atomic_write(workdir / "video_metrics.csv", rep.csv_text())))
        except BaseException:
            workspace.remove(workdir)
            raise
        sess = VideoSession(workdir, clip, s, mode, Degradation(kind), ids, outputs, rep.frames, report, files=files)
        sheet, locator = crops_image(sess, 0, int(zoom or 4))
        status = (f"**Done: {rep.frames} frames × {len(ids)} method(s)**, ×{s}, "
                  + ("ground truth: every frame degraded " f"({Degradation(kind).label}), restored and scored" if mode == "reference"
                     else "upscaled as is (no ground truth: timing only)")
                  + f" · input {_describe(info)}")
        return (sess, status, str(sbs), summary_table(report), metrics_plot(report),
                gr.update(maximum=max(rep.frames - 1, 1), value=0, interactive=rep.frames > 1), sheet, locator, files, report)

    def on_frame(self, session: VideoSession | None, index: Any, zoom: Any) -> tuple[Any, Any]:
        """The scrubber moved: the same region of frame ``index`` in every clip."""
        if not isinstance(session, VideoSession):
            raise SRError("run a video first")
        return crops_image(session, int(index or 0), int(zoom or 4))

    def on_locator_click(self, session: VideoSession | None, index: Any, zoom: Any, evt: gr.SelectData) -> tuple[Any, Any, Any]:
        if not isinstance(session, VideoSession):
            raise SRError("run a video first")
        session.center = (float(evt.index[0]), float(evt.index[1]))
        sheet, locator = crops_image(session, int(index or 0), int(zoom or 4))
        return session, sheet, locator

    def on_frame_viewer(self, session: VideoSession | None, index: Any) -> str:
        """Frame ``index`` of every clip in the comparison viewer (app/viewer.py): flick, zoom, difference, blind test.

        The frames are written as PNGs in the run's folder and served, as the Compare tab's outputs are.
        The page URL's view state belongs to the Compare tab's viewer, so this one keeps none.
        """
        if not isinstance(session, VideoSession) or self.viewer_block is None:
            return viewer.EMPTY
        idx = max(0, min(int(index or 0), session.frames - 1))
        panels = frame_panels(session, idx)
        images = []
        for k, (label, img) in enumerate(panels):
            path = session.workdir / f"viewer_frame{idx}_{k}.png"
            if not path.exists():
                save_image(path, img)
            kind = "input" if k == 0 else "reference" if label == "ground truth" else "method"
            images.append(ViewerImage(f"p{k}", f"{label} · frame {idx}", viewer.served_url(self.viewer_block, path), kind))
        h, w = panels[0][1].shape[:2]
        _, css = assets()
        return f"<style>{css}</style>" + viewer_element(viewer_data(images, w, h, hash_state=False), "55vh")

    # -- layout ---------------------------------------------------------------------------------------

    def build(self) -> None:
        default_scale = 2
        ready = [c[1] for c in checkbox_choices(default_scale)]
        chosen = [m for m in ("bicubic", "espcn") if m in ready] or ready[:1]
        gr.Markdown(f"Upscale a short clip with several methods (frame rate, audio and rotation kept). Limits here: "
                    f"{self.limits.text()}. *Treat as ground truth* degrades every frame, restores it and scores each method "
                    "per frame and over time (flicker, warp error).")
        with gr.Row():
            with gr.Column(scale=4, min_width=320):
                clip = gr.File(label="Video clip (.mp4, .mkv, .mov, .webm, …)", type="binary", elem_id="video-upload")
                clip_msg = gr.Markdown(elem_id="video-upload-msg")
                with gr.Row():
                    scale = gr.Radio(list(SCALES), value=default_scale, label="Scale", elem_id="video-scale")
                    mode = gr.Radio(MODES, value="upscale", label="Mode", elem_id="video-mode")
                degradation = gr.Dropdown([(k, k) for k in DEGRADATIONS], value="bicubic", label="LR made with (ground-truth mode)",
                                          elem_id="video-degradation")
                methods = gr.CheckboxGroup(checkbox_choices(default_scale), value=chosen, label="Methods", elem_id="video-methods")
                unavailable = gr.HTML(unavailable_html(default_scale))
                run = gr.Button("Run", variant="primary", elem_id="video-run")
                status = gr.Markdown(elem_id="video-status")
            with gr.Column(scale=8, min_width=480):
                video = gr.Video(label="Side by side (input · methods · ground truth), one clip: synchronised playback",
                                 interactive=False, elem_id="video-sbs")
                table = gr.HTML(elem_id="video-metrics")
                plot = gr.Plot(label="Per-frame metrics", elem_id="video-plot")
                with gr.Row():
                    frame = gr.Slider(0, 1, value=0, step=1, label="Frame", interactive=False, elem_id="video-frame")
                    zoom = gr.Radio(list(ZOOMS), value=4, label="Zoom × (nearest neighbour)", elem_id="video-zoom")
                crops = gr.Image(label="Same region of this frame, every clip", format="png", interactive=False, elem_id="video-crops")
                locator = gr.Image(label="Click to move the crops", format="png", interactive=False, elem_id="video-locator", height=300)
                gr.Markdown("**This frame in the viewer** · keys 1–9 / Space / B flick between the clips in place, wheel zoom "
                            "to 16× (nearest), drag to pan, D difference, O onion skin")
                self.viewer_block = viewer.component(elem_id="video-viewer")
                files = gr.File(label="Downloads: each method's clip, the side-by-side clip, metrics JSON/CSV", file_count="multiple",
                                interactive=False, elem_id="video-downloads")
                report = gr.JSON(visible=False)
        session = gr.State(None, time_to_live=3600, delete_callback=_discard)
        private: dict[str, Any] = {"api_visibility": "private"}
        clip.change(user_errors(self.on_upload), [clip], [clip_msg], show_progress="hidden", **private)
        scale.change(user_errors(on_scale), [scale, methods], [methods, unavailable], **private)
        run.click(user_errors(self.run), [clip, scale, methods, mode, degradation, zoom, session],
                  [session, status, video, table, plot, frame, crops, locator, files, report], api_name="video",
                  concurrency_limit=self.cfg.concurrency, concurrency_id="heavy", show_progress_on=[status]).then(
            user_errors(self.on_frame_viewer), [session, frame], [self.viewer_block], **private)
        frame.release(user_errors(self.on_frame), [session, frame, zoom], [crops, locator], api_name="video_frame").then(
            user_errors(self.on_frame_viewer), [session, frame], [self.viewer_block], **private)
        zoom.change(user_errors(self.on_frame), [session, frame, zoom], [crops, locator], **private)
        locator.select(user_errors(self.on_locator_click), [session, frame, zoom], [session, crops, locator], **private)
