"""Compare tab: one image, several methods, side by side.

The upscales are computed once per run and kept in the session's ``gr.State``; everything the
user does afterwards (moving the crop, changing the zoom, picking slider sides) only re-renders
from those arrays. Results stream in as each method finishes.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from app import render, workspace
from app.config import AppConfig
from app.messages import public_text, user_errors
from app.methods import SCALES, checkbox_choices, default_methods, keep_valid, method_options, unavailable_html
from srcore.compare import Comparison, MethodResult, Prepared, get_lpips_metric, iter_compare
from srcore.errors import InputImageError, SRError
from srcore.imageio import load_image, save_image
from srcore.metrics import CONVENTION, error_map_y
from srcore.paths import model_dirs
from srcore.registry import get_method
from srcore.sheet import crop_box, crop_sheet, nearest_enlarge, zoom_crop

MODE_CHOICES = [("Treat as ground truth", "reference"), ("Upscale as is", "upscale")]
CROP_SIZES = [32, 48, 64, 96, 128]
ZOOMS = [2, 3, 4, 5, 6, 7, 8]
HR_KEY = "HR (ground truth)"


def normalize_mode(mode: str | None) -> str:
    """API and UI spellings of the mode ("reference", "Treat as ground truth", ...) -> srcore's value."""
    text = (mode or "reference").strip().lower()
    for label, value in MODE_CHOICES:
        if text in (label.lower(), value):
            return value
    raise SRError(f"unknown mode {mode!r}; use 'reference' (treat as ground truth) or 'upscale' (upscale as is)")


def parse_scale(scale: Any) -> int:
    try:
        s = int(float(scale))
    except (TypeError, ValueError):
        raise SRError(f"scale must be a whole number such as 2, 3 or 4, got {scale!r}") from None
    if s != float(scale) or not 2 <= s <= 8:
        raise SRError(f"scale {scale} is not supported; use 2, 3 or 4 (some methods go up to 8)")
    return s


def parse_methods(methods: list[str] | str | None) -> list[str]:
    """A list of ids, or one comma-separated string (handy from curl)."""
    if isinstance(methods, str):
        methods = methods.split(",")
    ids = [m.strip() for m in (methods or []) if m and m.strip()]
    if not ids:
        raise SRError("choose at least one method")
    return list(dict.fromkeys(ids))


def load_input(path: str | bytes | None, max_pixels: int) -> Any:
    """The uploaded file (a path, or the bytes of an API upload) through srcore's loader (alpha, 16-bit, EXIF, size limit)."""
    if not path:
        raise SRError("upload an image (or pick an example) first")
    if isinstance(path, bytes):
        return load_image(path, name="upload", pixel_limit=max_pixels)
    return load_image(path, name=Path(path).name, pixel_limit=max_pixels)


def check_output_size(img: Any, scale: int, mode: str, max_pixels: int) -> None:
    """Upscale mode multiplies the input by scale²: cap outputs at 4x the input limit (one method's output
    is held per session and encoded for the slider), with the numbers in the message."""
    h, w = img.rgb.shape[:2]
    if mode == "upscale" and w * h * scale * scale > 4 * max_pixels:
        raise InputImageError(
            f"{img.name}: upscaling {w}x{h} by x{scale} makes {w * h * scale * scale / 1e6:.1f} MP outputs, above this server's "
            f"limit of {4 * max_pixels / 1e6:.1f} MP; crop the image, use a smaller scale, or 'Treat as ground truth'"
        )


def _safe_stem(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).stem)[:60] or "image"


@dataclass
class CompareSession:
    """One user's latest comparison: what was run and everything needed to re-render it."""

    prepared: Prepared
    name: str
    workdir: Path
    results: list[MethodResult] = field(default_factory=list)
    variant: str | None = None
    center: tuple[float, float] = (0.0, 0.0)  # crop centre, output pixels
    crop: int = 64
    zoom: int = 4
    error_maps: dict[str, np.ndarray] = field(default_factory=dict)  # id -> coloured |ΔY|
    lpips_maps: dict[str, np.ndarray] = field(default_factory=dict)  # id -> raw spatial LPIPS
    lr_up: np.ndarray | None = None
    locator_scale: float = 1.0  # output pixels per displayed locator pixel

    @property
    def scale(self) -> int:
        return self.prepared.scale

    @property
    def mode(self) -> str:
        return self.prepared.mode

    @property
    def out_size(self) -> tuple[int, int]:
        h, w = self.prepared.lr.shape[:2]
        return w * self.scale, h * self.scale

    @property
    def lr_key(self) -> str:
        return f"{'LR input' if self.mode == 'reference' else 'Input'} (nearest ×{self.scale})"

    def result_key(self, r: MethodResult) -> str:
        return r.label if sum(x.label == r.label for x in self.results) == 1 else f"{r.label} [{r.method_id}]"

    def images(self) -> dict[str, np.ndarray]:
        """Everything that can be shown at output size, in display order."""
        if self.lr_up is None:
            self.lr_up = nearest_enlarge(self.prepared.lr, self.scale)
        out: dict[str, np.ndarray] = {}
        if self.prepared.hr is not None:
            out[HR_KEY] = self.prepared.hr
        out[self.lr_key] = self.lr_up
        for r in self.results:
            if r.ok:
                out[self.result_key(r)] = r.output  # type: ignore[assignment]
        return out

    def box(self) -> tuple[int, int, int, int]:
        w, h = self.out_size
        return crop_box(self.center, self.crop, w, h)

    def crops(self) -> list[tuple[np.ndarray, str]]:
        box = self.box()
        return [(zoom_crop(img, box, self.zoom), key) for key, img in self.images().items()]

    def locator(self) -> np.ndarray:
        """The picture the user clicks on: HR in reference mode, the input itself in upscale mode."""
        src, factor = (self.prepared.hr, 1.0) if self.prepared.hr is not None else (self.prepared.lr, float(self.scale))
        img, self.locator_scale = render.locator_image(src, self.box(), factor)
        return img

    def comparison(self) -> Comparison:
        return Comparison(self.prepared, self.results, self.variant)

    def error_gallery(self) -> list[tuple[np.ndarray, str]]:
        vmax = render.shared_vmax(self.lpips_maps.values())
        items: list[tuple[np.ndarray, str]] = []
        for r in self.results:
            if r.method_id in self.error_maps:
                items.append((self.error_maps[r.method_id], f"{r.label} · |ΔY| (0–{render.ERROR_VMAX:.0f} levels)"))
            if r.method_id in self.lpips_maps:
                items.append((render.colorize(self.lpips_maps[r.method_id], vmax), f"{r.label} · {self.variant} map (0–{vmax:.2f})"))
        return items

    def write_downloads(self) -> list[str]:
        """Every output as PNG (alpha re-attached), HR/LR, metrics JSON and the crop sheet, plus one zip of all."""
        d, stem, s = self.workdir, _safe_stem(self.name), self.scale
        files: list[Path] = []
        outputs: list[Path] = []
        p = self.prepared
        if p.hr is not None:
            files.append(d / f"{stem}_HR.png")
            if not files[-1].exists():
                save_image(files[-1], p.hr, p.hr_alpha)
        files.append(d / f"{stem}_LR.png")
        if not files[-1].exists():
            save_image(files[-1], p.lr, p.lr_alpha)
        for r in self.results:
            if r.ok:
                path = d / f"{stem}_{re.sub(r'[^A-Za-z0-9._-]+', '_', r.method_id)}_x{s}.png"
                if not path.exists():
                    save_image(path, r.output, r.alpha)  # type: ignore[arg-type]
                outputs.append(path)
        metrics = d / f"{stem}_metrics.json"
        data = self.comparison().to_json()
        data["notes"] = [public_text(n) for n in data["notes"]]
        metrics.write_text(json.dumps(data, indent=2))
        sheet = d / f"{stem}_crops.png"
        # Written under temporary names and renamed: quick successive clicks never leave a half-written file.
        save_image(d / ".crops.tmp.png", crop_sheet(list(self.images().items()), self.center, self.crop, self.zoom))
        os.replace(d / ".crops.tmp.png", sheet)
        archive = d / f"{stem}_srlab_x{s}.zip"
        with zipfile.ZipFile(d / ".zip.tmp", "w", compression=zipfile.ZIP_STORED) as z:  # PNGs are compressed already
            for f in [*files, *outputs, metrics, sheet]:
                z.write(f, f.name)
        os.replace(d / ".zip.tmp", archive)
        return [str(archive), *(str(o) for o in outputs)]


def _discard(session: CompareSession | None) -> None:
    """gr.State delete_callback: a session's files go when its state expires."""
    if isinstance(session, CompareSession):
        workspace.remove(session.workdir)


def _status(session: CompareSession, total: int, done: bool) -> str:
    """What ran, under which convention, and every note srcore made about the input."""
    ok = sum(r.ok for r in session.results)
    what = ("reference mode: scored against your image as ground truth" if session.mode == "reference"
            else "upscale mode: no ground truth, so no PSNR/SSIM/LPIPS")
    lines = [f"**{'Done' if done else 'Running'}: {len(session.results)}/{total} methods** ({ok} succeeded) · ×{session.scale} · {what}", ""]
    if session.mode == "reference":
        lines.append(f"- PSNR/SSIM: {CONVENTION}; LPIPS: {session.variant or 'not computed'}")
    lines += [f"- {public_text(n)}" for n in session.prepared.notes if not n.startswith("reference mode:")]
    lines += ["", "Click the picture under *Crop location* to move the zoomed crops."]
    return "\n".join(lines)


class CompareTab:
    """Builds the tab's components and holds the handlers (bound to the server's config)."""

    def __init__(self, cfg: AppConfig) -> None:
        self.cfg = cfg

    # ------------------------------------------------------------------------------ handlers

    def on_scale(self, scale: int, selected: list[str] | None) -> tuple[Any, str]:
        """Offer only what runs at ``scale``; list the rest with reasons."""
        s = int(scale)
        return gr.update(choices=checkbox_choices(s), value=keep_valid(selected, s)), unavailable_html(s)

    def on_methods(self, selected: list[str] | None) -> Any:
        """Show each method option's slider only while that method is chosen."""
        updates = [gr.update(visible=mid in (selected or [])) for mid, _ in method_options()]
        return updates[0] if len(updates) == 1 else tuple(updates)  # one output: Gradio would take a list as its value

    def on_option(self, options: dict[str, dict[str, float]], *values: float) -> dict[str, dict[str, float]]:
        """Collect every option slider into the one dict ``iter_compare`` takes (method id -> options)."""
        out: dict[str, dict[str, float]] = {}
        for (mid, opt), v in zip(method_options(), values, strict=False):
            out.setdefault(mid, {})[opt.name] = float(v)
        return out

    def _ids(self, methods: list[str] | None, file_model: str | None) -> list[str]:
        ids = list(methods or [])
        if self.cfg.allow_file_models and file_model and file_model.strip():
            fm = file_model.strip()
            ids.append(fm if fm.startswith("file:") else f"file:{fm}")
        return parse_methods(ids)

    def run(
        self,
        image: str | None,
        scale: int,
        methods: list[str] | None,
        mode: str,
        file_model: str | None,
        options: dict[str, dict[str, float]] | None,
        crop: int,
        zoom: int,
        old: CompareSession | None,
        progress: gr.Progress = gr.Progress(),
    ) -> Iterator[tuple[Any, ...]]:
        """Run the comparison, yielding the whole result view after every method."""
        ids = self._ids(methods, file_model)
        s, m = parse_scale(scale), normalize_mode(mode)
        img = load_input(image, self.cfg.max_pixels)
        check_output_size(img, s, m, self.cfg.max_pixels)
        _discard(old)
        progress(0.0, desc=f"Preparing ×{s} {'reference' if m == 'reference' else 'upscale'} run")
        session: CompareSession | None = None
        lpips_metric = None
        slider_pair: tuple[str, str] | None = None
        stream = iter_compare(img, s, ids, m, options=options or {}, lpips=True, allow_files=self.cfg.allow_file_models,
                              allowed_dirs=model_dirs())
        for i, (prep, variant, res) in enumerate(stream):
            if session is None:
                w, h = prep.lr.shape[1] * s, prep.lr.shape[0] * s
                session = CompareSession(prep, img.name, workspace.new_run_dir("compare"), variant=variant,
                                         center=(w / 2, h / 2), crop=int(crop), zoom=int(zoom))
            if res.error:
                res.error = public_text(res.error)
            session.results.append(res)
            if res.ok and prep.hr is not None:
                progress((i + 0.8) / len(ids), desc=f"{res.method_id}: error maps")
                session.error_maps[res.method_id] = render.colorize(error_map_y(res.output, prep.hr), render.ERROR_VMAX)
                if variant:
                    try:
                        lpips_metric = lpips_metric or get_lpips_metric()
                        session.lpips_maps[res.method_id] = lpips_metric.spatial_map(res.output, prep.hr)
                    except ValueError:
                        pass  # too small for the LPIPS network; the |ΔY| map still stands
            done = i + 1 == len(ids)
            progress((i + 1) / len(ids), desc=f"{i + 1}/{len(ids)} methods finished ({res.method_id})")
            keys = list(session.images())
            pair = self._slider_pair(session)
            slider_value: Any = gr.skip()
            if pair != slider_pair:
                slider_pair = pair
                slider_value = self._slider_images(session, *pair)
            yield (
                session,
                _status(session, len(ids), done),
                render.metrics_table(session.comparison().table(), m),
                session.locator(),
                session.crops(),
                gr.update(choices=keys, value=pair[0]),
                gr.update(choices=keys, value=pair[1]),
                slider_value,
                session.error_gallery(),
                session.write_downloads() if done else gr.skip(),
            )

    def _slider_pair(self, s: CompareSession) -> tuple[str, str]:
        """Default slider sides: the LR input against the first learned method (or whatever finished)."""
        ok = [r for r in s.results if r.ok]
        if not ok:
            return s.lr_key, s.lr_key
        learned = [r for r in ok if r.method_id.startswith("file:") or get_method(r.method_id).family != "interpolation"]
        return s.lr_key, s.result_key((learned or ok)[0])

    @staticmethod
    def _slider_images(s: CompareSession, a: str, b: str) -> tuple[np.ndarray, np.ndarray] | None:
        imgs = s.images()
        if a not in imgs or b not in imgs:
            return None
        return imgs[a], imgs[b]

    def on_slider(self, session: CompareSession | None, a: str | None, b: str | None) -> Any:
        if session is None or not a or not b:
            return gr.skip()
        return self._slider_images(session, a, b)

    def _recrop(self, session: CompareSession) -> tuple[Any, ...]:
        return session, session.locator(), session.crops(), session.write_downloads()

    def on_locator_click(self, session: CompareSession | None, evt: gr.SelectData) -> tuple[Any, ...]:
        """A click on the locator (displayed pixels) moves the crop centre (output pixels)."""
        if session is None or not isinstance(evt.index, (list, tuple)) or len(evt.index) < 2:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        x, y = evt.index[0], evt.index[1]
        session.center = (x * session.locator_scale, y * session.locator_scale)
        return self._recrop(session)

    def on_zoom(self, session: CompareSession | None, crop: int, zoom: int) -> tuple[Any, ...]:
        if session is None:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip()
        session.crop, session.zoom = int(crop), int(zoom)
        return self._recrop(session)

    # ------------------------------------------------------------------------------ layout

    def build(self, examples_dir: Path | None) -> None:
        """Create the components inside the current ``gr.Blocks`` context and wire the events."""
        default_scale = 4
        options = method_options()
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=320):
                image = gr.Image(label="Input image (drop, paste or click to upload)", type="filepath", image_mode=None,
                                 sources=["upload", "clipboard"], format="png", elem_id="input-image", height=320)
                if examples_dir is not None:
                    gr.Examples([[str(p)] for p in sorted(examples_dir.glob("*.png"))], inputs=[image], label="Examples (scikit-image)")
                scale = gr.Radio(list(SCALES), value=default_scale, label="Scale", elem_id="scale")
                mode = gr.Radio(MODE_CHOICES, value="reference", label="Mode", elem_id="mode",
                                info="Ground truth: downscale (MATLAB bicubic), restore, score. As is: upscale, no metrics.")
                methods = gr.CheckboxGroup(checkbox_choices(default_scale), value=default_methods(default_scale), label="Methods",
                                           elem_id="methods")
                unavailable = gr.HTML(unavailable_html(default_scale), elem_id="unavailable")
                option_state = gr.State({mid: {o.name: o.default} for mid, o in options})
                sliders = [
                    gr.Slider(o.minimum, o.maximum, value=o.default, step=0.05, label=f"{get_method(mid).label}: {o.name}",
                              info=o.help, visible=mid in default_methods(default_scale), elem_id=f"opt-{mid}-{o.name}")
                    for mid, o in options
                ]
                file_model = gr.Textbox(label="Extra model: file:<path on this server> (spandrel)", visible=self.cfg.allow_file_models,
                                        placeholder="file:/models/4x-UltraSharp.pth")
                run = gr.Button("Compare", variant="primary", elem_id="run")
                status = gr.Markdown(elem_id="status")
            with gr.Column(scale=2, min_width=480):
                gr.Markdown("### Synchronized zoomed crops")
                with gr.Row():
                    crop = gr.Radio(CROP_SIZES, value=64, label="Crop side (output px)")
                    zoom = gr.Radio(ZOOMS, value=4, label="Zoom × (nearest neighbour)")
                gallery = gr.Gallery(label="Same region, every method", columns=4, format="png", object_fit="contain",
                                     elem_id="crops", height="auto", buttons=["download", "fullscreen"])
                locator = gr.Image(label="Crop location: click to move", interactive=False, format="png", elem_id="locator",
                                   height=360, buttons=["fullscreen"])
                gr.Markdown("### Metrics")
                table = gr.Dataframe(render.empty_table(), interactive=False, elem_id="metrics", wrap=True,
                                     label="Best value per column highlighted; click a header to sort")
                gr.Markdown("### Before / after")
                with gr.Row():
                    side_a = gr.Dropdown(label="Left", choices=[], elem_id="slider-a")
                    side_b = gr.Dropdown(label="Right", choices=[], elem_id="slider-b")
                slider = gr.ImageSlider(label="Drag to compare", format="png", type="numpy", elem_id="slider", max_height=600)
                gr.Markdown("### Error maps (reference mode)\n|ΔY| on one fixed scale for all methods; LPIPS maps on a scale shared by "
                            "the methods of this run. Dark = close to the ground truth, bright = where the method fails.")
                errors = gr.Gallery(label="Where methods fail", columns=4, format="png", elem_id="error-maps", height="auto")
                files = gr.File(label="Downloads: zip (outputs, HR/LR, crop sheet, metrics) and each output as PNG",
                                file_count="multiple", interactive=False, elem_id="downloads")
        session = gr.State(None, time_to_live=3600, delete_callback=_discard)

        private: dict[str, Any] = {"api_visibility": "private"}
        scale.change(user_errors(self.on_scale), [scale, methods], [methods, unavailable], **private)
        if sliders:
            methods.change(user_errors(self.on_methods), [methods], sliders, **private)
            for sl in sliders:
                sl.change(user_errors(self.on_option), [option_state, *sliders], [option_state], **private)
        outputs = [session, status, table, locator, gallery, side_a, side_b, slider, errors, files]
        run.click(user_errors(self.run), [image, scale, methods, mode, file_model, option_state, crop, zoom, session], outputs,
                  api_name="compare_ui", api_visibility="undocumented", concurrency_limit=self.cfg.concurrency,
                  concurrency_id="heavy", show_progress="minimal")
        recrop_out = [session, locator, gallery, files]
        locator.select(user_errors(self.on_locator_click), [session], recrop_out, **private)
        crop.change(user_errors(self.on_zoom), [session, crop, zoom], recrop_out, **private)
        zoom.change(user_errors(self.on_zoom), [session, crop, zoom], recrop_out, **private)
        for dd in (side_a, side_b):
            dd.input(user_errors(self.on_slider), [session, side_a, side_b], [slider], **private)
