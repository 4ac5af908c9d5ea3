"""Compare tab: one image, several methods, side by side.

The upscales are computed once per run and kept in the session's ``gr.State``; everything the
user does afterwards (moving the crop, changing the zoom, picking slider sides, opening the
error maps) only re-renders from those arrays. Results stream in as each method finishes.

Two rules shape the event wiring:

* Uploads are checked **on upload** by our own decoder (``app.inputs``), from the raw file
  (``preprocess=False``): Gradio's image preprocessing would fail on a non-image before any
  handler of ours ran, and mark every output with an "Error" badge. The run reads the checked
  upload from state, never the image component.
* A run that fails (bad settings, an image that does not fit) says so once, in the status area,
  and leaves the page as it was; it never raises into Gradio's per-component error display.
"""

from __future__ import annotations

import html
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import cv2
import gradio as gr
import numpy as np

from app import render, viewer, workspace
from app.config import AppConfig
from app.inputs import (
    DEGRADATION_CHOICES,
    MODE_CHOICES,
    backend_choices,
    check_output_size,
    check_outscale_size,
    check_reference_size,
    degradation_spec,
    jpeg_quality,
    load_input,
    normalize_mode,
    parse_backend,
    parse_methods,
    parse_outscale,
    parse_scale,
    safe_name,
    safe_stem,
    upload_source,
)
from app.messages import public_text, user_errors
from app.methods import (
    DEFAULT_STRENGTH,
    REAL_PHOTO_METHODS,
    REFERENCE_GROUP,
    SCALES,
    checkbox_choices,
    default_methods,
    expand_strengths,
    method_choices,
    on_scale,
    strength_choices,
    strength_methods,
    tta_label,
    unavailable_html,
)
from app.runner import lpips_for, report_json, run_specs
from srcore.artefacts import CAPTION as ARTEFACT_CAPTION
from srcore.artefacts import artefact_map, normalise_map, psnr_counterpart
from srcore.atomic import atomic_path, atomic_write
from srcore.compare import Comparison, MethodResult, Prepared, get_lpips_metric, prepare, run_one
from srcore.deltae import CAPTION as DELTAE_CAPTION
from srcore.deltae import MAP_VMAX as DELTAE_VMAX
from srcore.deltae import delta_e_map
from srcore.errors import SRError
from srcore.html_report import ViewerImage, comparison_document, file_data_uri, metric_entries, write_document
from srcore.imageio import save_image
from srcore.metrics import CONVENTION, error_map_y
from srcore.paths import model_dirs
from srcore.registry import get_method
from srcore.sheet import crop_box, crop_sheet, nearest_enlarge
from srcore.tta import TTA_NOTE, each_with_tta

CROP_SIZES = [32, 48, 64, 96, 128]
ZOOMS = [2, 3, 4, 5, 6, 7, 8]
HR_KEY = "HR (ground truth)"
STALE_HTML = ("<div class='srlab-stale'>Settings changed since these results were made: "
              "press <b>Compare</b> to update them.</div>")


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
    lr_up: np.ndarray | None = None
    locator_scale: float = 1.0  # output pixels per displayed locator pixel
    #: rendered error/artefact maps (computed when the maps panel is first opened, then reused)
    maps_html: str | None = None
    #: PSNR counterparts run only for the artefact maps (not part of the comparison)
    extra_outputs: dict[str, np.ndarray] = field(default_factory=dict)
    #: the uploaded picture's size ("WxH"); in reference mode the methods get a smaller LR
    input_size: str = ""
    #: the upload's JPEG quality (estimated from its tables), None for other files
    jpeg_quality: int | None = None

    def unranked(self) -> dict[str, str]:
        """Metrics whose "best" would mislead here: LR-PSNR when a JPEG is upscaled as is (faithful = keeps the blocks)."""
        if self.mode == "upscale" and self.jpeg_quality is not None:
            return {"lr_psnr": "the input is a JPEG, so the method that best reproduces its 8×8 blocks scores highest "
                               "(consistency with a degraded input, not quality)"}
        return {}

    @property
    def scale(self) -> int:
        return self.prepared.scale

    @property
    def mode(self) -> str:
        return self.prepared.mode

    @property
    def out_size(self) -> tuple[int, int]:
        """(width, height) of every output: the network's, or what the output-scale setting asked for."""
        if self.prepared.out_size is not None:
            return self.prepared.out_size[1], self.prepared.out_size[0]
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
            w, h = self.out_size
            self.lr_up = (nearest_enlarge(self.prepared.lr, self.scale) if self.prepared.out_size is None
                          else cv2.resize(self.prepared.lr, (w, h), interpolation=cv2.INTER_NEAREST))
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

    def crops(self) -> list[tuple[np.ndarray, str, str]]:
        """(un-zoomed crop, caption, second line) for every image; the page enlarges them by ``zoom``."""
        x0, y0, x1, y1 = self.box()
        items: list[tuple[np.ndarray, str, str]] = []
        if self.prepared.hr is not None:
            items.append((self.prepared.hr[y0:y1, x0:x1], "Ground truth", "HR"))
        lr = self.prepared.lr
        s = self.scale
        if self.prepared.out_size is None:  # only the crop is enlarged
            lr_crop = lr[y0 // s : -(-y1 // s), x0 // s : -(-x1 // s)]
            lr_up = nearest_enlarge(lr_crop, s)[y0 - (y0 // s) * s :, x0 - (x0 // s) * s :][: y1 - y0, : x1 - x0]
        else:
            lr_up = self.images()[self.lr_key][y0:y1, x0:x1]
        items.append((lr_up, "LR input" if self.mode == "reference" else "Input", f"nearest ×{self.out_size[0] / lr.shape[1]:.3g}"))
        for r in self.results:
            if r.ok:
                items.append((r.output[y0:y1, x0:x1], r.label, r.method_id))  # type: ignore[index]
        return items

    def crops_html(self) -> str:
        return render.crops_html(self.crops(), self.zoom)

    def locator(self) -> np.ndarray:
        """The picture the user clicks on: HR in reference mode, the input itself in upscale mode."""
        lr = self.prepared.lr
        src, factor = (self.prepared.hr, 1.0) if self.prepared.hr is not None else (lr, self.out_size[0] / lr.shape[1])
        img, self.locator_scale = render.locator_image(src, self.box(), factor)
        return img

    def comparison(self) -> Comparison:
        return Comparison(self.prepared, self.results, self.variant)

    def gan_results(self) -> list[MethodResult]:
        """Results of GAN methods (those with a PSNR counterpart): the ones that get an artefact map."""
        return [r for r in self.results if r.ok and psnr_counterpart(r.method_id.partition("@")[0])]

    def has_maps(self) -> bool:
        """Maps need a ground truth, a GAN result, or (upscale mode) a method to read against bicubic."""
        return any(r.ok for r in self.results) and (self.prepared.hr is not None or bool(self.gan_results())
                                                    or any(r.ok and r.method_id != "bicubic" for r in self.results))

    def png_files(self) -> dict[str, Path]:
        """HR, LR and every output as PNG in the run folder (alpha re-attached), each written once.

        Keys: ``HR``, ``LR`` and each result's method id, in display order (the viewer's keys too).
        """
        d, stem, s = self.workdir, safe_stem(self.name), self.scale
        p = self.prepared
        pictures: list[tuple[str, Path, np.ndarray, np.ndarray | None]] = []
        if p.hr is not None:
            pictures.append(("HR", d / f"{stem}_HR.png", p.hr, p.hr_alpha))
        pictures.append(("LR", d / f"{stem}_LR.png", p.lr, p.lr_alpha))
        pictures += [(r.method_id, d / f"{stem}_{safe_name(r.method_id)}_x{s}.png", r.output, r.alpha)  # type: ignore[misc]
                     for r in self.results if r.ok]
        for _, path, img, alpha in pictures:
            if not path.exists():
                save_image(path, img, alpha)
        return {key: path for key, path, _, _ in pictures}

    def viewer_labels(self) -> tuple[dict[str, str], dict[str, str]]:
        """(label, kind) per viewer key: the ground truth, the input (shown enlarged), the methods."""
        labels = {"HR": "Ground truth (HR)", "LR": self.lr_key, **{r.method_id: self.result_key(r) for r in self.results if r.ok}}
        kinds = {"HR": "reference", "LR": "input"}
        return labels, kinds

    def viewer_html(self, block: gr.HTML, query: str = "") -> str:
        """The in-page viewer (app/viewer.py) over this run's PNGs; ``query`` goes into the page URL with the view."""
        labels, kinds = self.viewer_labels()
        report = report_json(self.comparison(), self.name, self.input_size)
        return viewer.view_html(block, report, self.png_files(), labels, self.out_size, kinds, query)

    def export_html(self, pngs: dict[str, Path]) -> Path:
        """The self-contained HTML file (srcore/html_report.py): the same viewer, every PNG inlined, the metrics table."""
        labels, kinds = self.viewer_labels()
        report = report_json(self.comparison(), self.name, self.input_size)
        rows = {r["method"]: r for r in report["results"]}
        images = [ViewerImage(k, labels[k], file_data_uri(path), kinds.get(k, "method"),
                              metric_entries(rows[k], self.mode) if k in rows else []) for k, path in pngs.items()]
        target = self.workdir / f"{safe_stem(self.name)}_srlab_x{self.scale}.html"
        if target.exists():  # a run's results never change once done; re-cropping must not re-inline every PNG
            return target
        write_document(target, comparison_document(report, images, f"SR Lab · {self.name} · ×{self.scale}"))
        return target

    def write_downloads(self) -> list[str]:
        """Every output as PNG (alpha re-attached), HR/LR, metrics JSON and the crop sheet, plus one zip of all."""
        d, stem, s = self.workdir, safe_stem(self.name), self.scale
        pngs = self.png_files()
        files = [pngs[k] for k in ("HR", "LR") if k in pngs]
        outputs = [path for k, path in pngs.items() if k not in ("HR", "LR")]
        metrics = d / f"{stem}_metrics.json"
        atomic_write(metrics, json.dumps(report_json(self.comparison(), self.name, self.input_size), indent=2))
        sheet = d / f"{stem}_crops.png"
        # Every file goes through a temporary name unique to its writer (srcore.atomic) and is renamed whole:
        # handlers of one session running at once (locator, crop, zoom) never share or half-write a file.
        save_image(sheet, crop_sheet(list(self.images().items()), self.center, self.crop, self.zoom))
        archive = d / f"{stem}_srlab_x{s}.zip"
        with atomic_path(archive) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as z:  # PNGs are compressed already
            for f in [*files, *outputs, metrics, sheet]:
                z.write(f, f.name)
        return [str(archive), *(str(o) for o in outputs)]


#: An image whose short side is under this many LR pixels at the chosen scale is "small": upscale it as is.
SMALL_LR_SIDE = 64


def upscale_reason(w: int, h: int, quality: int | None, scale: int) -> str | None:
    """Why a new upload should open in *Upscale as is* rather than as ground truth, or None.

    A JPEG is already degraded (the methods would be scored against its blocks), and a small picture
    would be shrunk to a thumbnail first (225×150 at ×4: 56×37) - neither is what its user means.
    """
    lr = f"{w // scale}×{h // scale}"
    if quality is not None:
        return f"a JPEG (quality ≈ {quality}) is already compressed; as ground truth it would be shrunk to {lr} and scored against its own artefacts"
    if min(w, h) < SMALL_LR_SIDE * scale:
        return f"at {w}×{h} it is small; as ground truth it would first be shrunk to {lr} at ×{scale}"
    return None


def jpeg_note(quality: int | None) -> str:
    """What a JPEG input means for the methods (point 6 of issue 17), or "" for other files."""
    if quality is None:
        return ""
    ready = {c.id for c in method_choices(4) if c.ok}
    real = [m for m in REAL_PHOTO_METHODS if m in ready]
    made = (f"{' and '.join(f'`{m}`' for m in REAL_PHOTO_METHODS)} are made for compressed photos"
            + ("" if real else " (not available on this server yet)"))
    return (f"JPEG, quality ≈ {quality} (from its quantization tables): networks trained on clean images "
            f"(`espcn`, `edsr`, `srgan`) sharpen its 8×8 block artefacts into a visible grid; {made}.")


def _discard(session: CompareSession | None) -> None:
    """gr.State delete_callback: a session's files go when its state expires."""
    if isinstance(session, CompareSession):
        workspace.remove(session.workdir)


def _status(session: CompareSession, total: int, done: bool, extra: list[str]) -> str:
    """What ran, under which convention, and every note srcore made about the input (one count, no competing bar)."""
    n = len(session.results)
    ok = sum(r.ok for r in session.results)
    if session.mode == "reference":
        what = f"×{session.scale} · ground truth: scored against your image"
    else:
        what = f"×{session.scale} · upscale as is: no ground truth, so NIQE, Hatch and LR-PSNR only"
    if done:
        head = f"**Done: {n}/{total} methods** ({ok} succeeded) · {what}"
    else:
        nxt = session.results and n < total
        head = f"**Running: {n}/{total} methods done**{' …' if nxt or n == 0 else ''} · {what}"
    lines = [head, "", f"<progress value='{n}' max='{total}'></progress>" if not done else ""]
    if session.mode == "reference":
        made = session.prepared.degradation or {}
        how = {"jpeg": f"MATLAB bicubic, then JPEG quality {made.get('jpeg_quality')}",
               "realistic": f"the realistic pipeline (blur, resize, noise, JPEG; seed {made.get('seed')}, drawn parameters in the metrics JSON)"}
        lines.append(f"- LR made with {how.get(made.get('kind', ''), 'MATLAB-style bicubic (the benchmark convention)')}")
        lines.append(f"- PSNR/SSIM/GMSD: {CONVENTION}; LPIPS: {session.variant or 'not computed'}")
    lines += [f"- {public_text(n)}" for n in session.prepared.notes if not n.startswith(("reference mode:", "upscale mode:"))]
    lines += [f"- {e}" for e in extra if e]
    return "\n".join(lines)


def _error_status(message: str) -> str:
    return f"<div class='srlab-error'>⚠ {html.escape(message, quote=False)}</div>"


class CompareTab:
    """Builds the tab's components and holds the handlers (bound to the server's config)."""

    N_OUT = 14  # outputs of run(): see build()

    def __init__(self, cfg: AppConfig) -> None:
        self.cfg = cfg
        self.examples_dir: Path | None = None  # set by build(): the shared-link examples
        #: set by build(); a tab used without a page (tests, scripts) gets an unrendered one to serve files through
        self.viewer_block: gr.HTML | None = None

    # ------------------------------------------------------------------------------ handlers

    def on_upload(self, value: Any, scale: Any, mode: Any, session: CompareSession | None,
                  previous: dict[str, Any] | None = None) -> tuple[Any, ...]:
        """Check a new upload with our own decoder; a bad one is cleared with one line that names it and says what to do.

        Returns (upload state, image component, message, stale banner). Clearing the picture clears
        the line about it, but not an error: the error's own clearing of the bad file must not erase it.
        """
        got = upload_source(value)
        if got is None:
            return None, gr.skip(), ("" if previous else gr.skip()), gr.skip()
        stale = STALE_HTML if session is not None else ""
        src = got[0]
        try:
            img = load_input(value, self.cfg.max_pixels)
            s, m = parse_scale(scale), normalize_mode(mode)
            h, w = img.rgb.shape[:2]
            q = jpeg_quality(src if isinstance(src, bytes) else src)
            why = upscale_reason(w, h, q, s) if m == "reference" else None
            m = "upscale" if why else m  # the mode the upload will run in (on_upload_mode sets the radio to it)
            check_reference_size(img, s, m)
            check_output_size(img, s, m, self.cfg.max_pixels)
        except SRError as exc:
            return None, None, _error_status(public_text(str(exc))), stale
        info = f"**{html.escape(img.name)}** · {w}×{h}" + (f"\n\n{jpeg_note(q)}" if q else "")
        if why:
            info += (f"\n\nMode set to **Upscale as is**: {why}. To score the methods against this picture anyway, "
                     "choose *Treat as ground truth* under Mode.")
        state = {"path": src if isinstance(src, str) else None, "name": img.name, "size": f"{w}x{h}", "jpeg_quality": q,
                 "mode": m}
        return state, gr.skip(), info, stale

    def share_query(self, upload: dict[str, Any], scale: int, mode: str, specs: list[str]) -> str:
        """The page-URL query that reopens this comparison's settings on the hosted demo (example uploads only:
        a user's own picture is not on the server for anyone else); "" when it is not an example."""
        stem = Path(str(upload.get("name") or "")).stem
        if not self.examples_dir or stem not in {p.stem for p in self.examples_dir.iterdir()}:
            return ""
        return urlencode({"example": stem, "scale": scale, "mode": mode, "methods": ",".join(specs)})

    def on_page_load(self, request: gr.Request) -> tuple[Any, Any, Any, Any]:
        """A shared link (``?example=chelsea&scale=4&mode=reference&methods=bicubic,edsr``) restores its settings:
        the example picture, scale, mode and methods; the viewer then reads its ``#srlab=`` view (method, zoom, spot).
        Unknown values are ignored, so an old or edited link still opens the page."""
        q = dict(request.query_params) if request is not None else {}
        image = scale = mode = methods = gr.skip()
        examples = {p.stem: p for p in self.examples_dir.iterdir()} if self.examples_dir else {}
        if q.get("example") in examples:
            image = str(examples[q["example"]])
        if q.get("scale", "").isdigit() and int(q["scale"]) in SCALES:
            scale = int(q["scale"])
        if q.get("mode") in ("reference", "upscale"):
            mode = q["mode"]
        if q.get("methods"):
            ready = {c.id for c in method_choices(int(scale) if isinstance(scale, int) else 4) if c.ok}
            wanted = [m.partition("@")[0] for m in q["methods"].split(",")]
            methods = gr.update(value=[m for m in dict.fromkeys(wanted) if m in ready])
        return image, scale, mode, methods

    def on_upload_mode(self, upload: dict[str, Any] | None, mode: Any) -> Any:
        """The Mode radio follows the upload: what :meth:`on_upload` decided (a small or JPEG picture: upscale as is)."""
        if not upload or not upload.get("mode") or normalize_mode(mode) == upload["mode"]:
            return gr.skip()
        return gr.update(value=upload["mode"])

    def on_export(self, session: CompareSession | None) -> str:
        """The *Export* button: the finished comparison as one self-contained HTML file (srcore/html_report.py)."""
        if session is None or not any(r.ok for r in session.results):
            raise SRError("run a comparison first: the export holds its outputs")
        return str(session.export_html(session.png_files()))

    def on_stale(self, session: CompareSession | None) -> str:
        """Any setting that changes what a run computes marks the shown results as out of date."""
        return STALE_HTML if session is not None else ""

    def on_methods(self, selected: list[str] | None) -> Any:
        """The strength choice sits under the methods and shows only while a method with a strength is chosen."""
        return gr.update(visible=any(m in strength_methods() for m in (selected or [])))

    def on_mode(self, mode: str) -> Any:
        """Degradation settings mean something only when the image is treated as ground truth."""
        return gr.update(visible=normalize_mode(mode) == "reference")

    def on_degradation(self, kind: str) -> tuple[Any, Any]:
        return gr.update(visible=kind == "jpeg"), gr.update(visible=kind == "realistic")

    def specs(self, methods: list[str] | None, strengths: list[str] | None, file_model: str | None) -> list[str]:
        """The chosen methods as run specs: ``id``, ``id@α`` per chosen strength, plus the operator-allowed file model."""
        ids = list(methods or [])
        if self.cfg.allow_file_models and file_model and file_model.strip():
            fm = file_model.strip()
            ids.append(fm if fm.startswith("file:") else f"file:{fm}")
        order = {c.id: i for i, c in enumerate(method_choices(4))}  # registry order, whatever order they were ticked in
        ids = sorted(parse_methods(ids), key=lambda m: order.get(m, len(order)))
        return expand_strengths(ids, list(strengths or []))

    def run(
        self,
        upload: dict[str, Any] | None,
        scale: int,
        methods: list[str] | None,
        strengths: list[str] | None,
        mode: str,
        degradation: str | None,
        quality: float | None,
        seed: float | None,
        backend: str | None,
        file_model: str | None,
        crop: int,
        zoom: int,
        maps_open: bool,
        old: CompareSession | None,
        tta: bool = False,
        outscale: float | None = None,
    ) -> Iterator[tuple[Any, ...]]:
        """Run the comparison, yielding the whole result view after every method; a bad setting is one status line."""
        try:
            specs = self.specs(methods, strengths, file_model)
            s, m = parse_scale(scale), normalize_mode(mode)
            if not upload or not upload.get("path"):
                raise SRError("upload an image (or pick an example) first")
            img = load_input(upload["path"], self.cfg.max_pixels, name=upload.get("name"))
            check_reference_size(img, s, m)
            check_output_size(img, s, m, self.cfg.max_pixels)
            spec = degradation_spec(m, degradation, quality, seed)
            engine = parse_backend(backend)
            prep = prepare(img, s, m, spec, parse_outscale(outscale))
            check_outscale_size(prep.out_size, self.cfg.max_pixels)
        except SRError as exc:
            yield self._fail(public_text(str(exc)))
            return
        _discard(old)
        lpips_fn, variant = lpips_for(prep)
        ref = prep.hr if prep.hr is not None else nearest_enlarge(prep.lr, s)
        session = CompareSession(prep, img.name, workspace.new_run_dir("compare"), variant=variant,
                                 center=render.detail_center(ref, int(crop)), crop=int(crop), zoom=int(zoom),
                                 input_size=upload.get("size") or "", jpeg_quality=upload.get("jpeg_quality"))
        extra: list[str] = [TTA_NOTE] if tta else []  # the JPEG note stays under the upload (shown once, where the picture is)
        slider_pair: tuple[str, str] | None = None
        yield self._view(session, len(specs), False, extra, slider_pair, first=True)
        for res in each_with_tta(bool(tta), run_specs(prep, specs, lpips_fn, self.cfg.allow_file_models, engine)):
            res.label = tta_label(res.method_id, res.label, bool(tta))
            session.results.append(res)
            done = len(session.results) == len(specs)
            pair = self._slider_pair(session)
            view = list(self._view(session, len(specs), done, extra, slider_pair))
            if pair != slider_pair:
                slider_pair = pair
                view[8] = self._slider_images(session, *pair)
            if done:
                if maps_open and session.has_maps():
                    view[10] = self.maps_view(session)
                view[11] = session.write_downloads()
                self.viewer_block = self.viewer_block or viewer.component(render=False)
                view[13] = session.viewer_html(self.viewer_block, self.share_query(upload, s, m, specs))
            yield tuple(view)

    def _fail(self, message: str) -> tuple[Any, ...]:
        """Only the status changes: previous results (or empty panels) stay as they were."""
        out: list[Any] = [gr.skip()] * self.N_OUT
        out[1] = _error_status(message)
        return tuple(out)

    def _view(self, s: CompareSession, total: int, done: bool, extra: list[str], pair: tuple[str, str] | None,
              first: bool = False) -> tuple[Any, ...]:
        """Every output of a run step (order as ``build`` wires them); unchanged heavy parts are skipped."""
        keys = list(s.images())
        a, b = pair or self._slider_pair(s)
        maps_label = ("Error maps: |ΔY|, colour shift (ΔE00) and LPIPS per method; artefact maps for GAN methods (computed when opened)"
                      if s.mode == "reference" else
                      "Colour shift (ΔE00 against bicubic) per method; artefact maps for GAN methods (computed when opened)")
        return (
            s,
            _status(s, total, done, extra),
            "",  # a new run is never stale
            render.metrics_html(s.comparison().table(), s.mode, unranked=s.unranked()),
            s.locator() if first else gr.skip(),
            s.crops_html(),
            gr.update(choices=keys, value=a),
            gr.update(choices=keys, value=b),
            None if first else gr.skip(),  # slider: cleared at the start, set when its pair changes
            gr.update(visible=s.has_maps(), label=maps_label) if (first or done or len(s.results) <= 2) else gr.skip(),
            "" if first else gr.skip(),  # maps: recomputed for the new results when shown
            [] if first else gr.skip(),  # downloads: written once everything is done
            gr.skip(),
            viewer.EMPTY if first else gr.skip(),  # the viewer: made once everything is done
        )

    def _slider_pair(self, s: CompareSession) -> tuple[str, str]:
        """Default slider sides: the LR input against the first learned method (or whatever finished)."""
        ok = [r for r in s.results if r.ok]
        if not ok:
            return s.lr_key, s.lr_key
        learned = [r for r in ok if r.method_id.startswith("file:") or get_method(r.method_id.partition("@")[0]).family != "interpolation"]
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
        """A click moves the crop only: the downloads were written once, when the run finished.

        Why not rewrite them: each click would make a new zip that Gradio keeps for an hour (disk grows
        per click), and the locator, crop and zoom handlers of one session may run at once.
        """
        return session, session.locator(), session.crops_html(), gr.skip()

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

    # ------------------------------------------------------------------------------ error / artefact maps

    def maps_view(self, session: CompareSession) -> str:
        """|ΔY| and LPIPS maps against the ground truth (reference mode) and artefact maps for GAN methods (both modes).

        Computed only when the panel is opened (they cost an LPIPS pass per method), then kept.
        """
        if session.maps_html is not None:
            return session.maps_html
        prep = session.prepared
        errors: list[tuple[np.ndarray, str, str]] = []
        lpips_maps: dict[str, np.ndarray] = {}
        metric = None
        for r in session.results:
            if not r.ok or prep.hr is None:
                continue
            errors.append((render.colorize(error_map_y(r.output, prep.hr), render.ERROR_VMAX), f"|ΔY| · {r.label}",
                           f"absolute luma error against the ground truth, 0–{render.ERROR_VMAX:.0f} levels"))
            if session.variant:
                try:
                    metric = metric or get_lpips_metric()
                    lpips_maps[r.method_id] = metric.spatial_map(r.output, prep.hr)
                except ValueError:
                    pass  # too small for the LPIPS network; the |ΔY| map still stands
        labels = {r.method_id: r.label for r in session.results}
        vmax = render.shared_vmax(lpips_maps.values())
        lpips_items = [(render.colorize(lm, vmax), f"{session.variant} map · {labels[mid]}", f"spatial LPIPS, 0–{vmax:.2f}")
                       for mid, lm in lpips_maps.items()]
        arts: dict[str, tuple[np.ndarray, str]] = {}
        for r in session.gan_results():
            base = psnr_counterpart(r.method_id.partition("@")[0])
            psnr_out = self._counterpart_output(session, base)  # type: ignore[arg-type]
            if psnr_out is not None:
                arts[r.method_id] = (artefact_map(r.output, psnr_out), base)  # type: ignore[arg-type]
        art_items = []
        if arts:
            ceiling = max(float(np.percentile(a, 99)) for a, _ in arts.values()) or 1.0
            art_items = [(render.colorize(normalise_map(amap, ceiling), 1.0), f"Artefact map · {labels[mid]} vs {base}",
                          ARTEFACT_CAPTION.format(gan=mid, psnr=base)) for mid, (amap, base) in arts.items()]
        session.maps_html = render.maps_html([
            ("|ΔY| against the ground truth", f"Dark = close to the ground truth, bright = where the method fails; one fixed "
             f"scale for all methods (0–{render.ERROR_VMAX:.0f} luma levels).", errors),
            *self._colour_shift_group(session),
            (f"{session.variant} maps", f"Where the perceptual distance comes from; one scale for this run (0–{vmax:.2f}).", lpips_items),
            ("Artefact maps (GAN methods)", "How to read: bright = texture the GAN invented or changed abruptly compared with "
             "the output of its PSNR-trained counterpart (likely grain or artefacts); dark = agrees with it. Needs no ground truth, "
             "so it works in both modes; one scale for all GAN results of this run.", art_items),
        ])
        return session.maps_html

    def _colour_shift_group(self, session: CompareSession) -> list[tuple[str, str, list[tuple[np.ndarray, str, str]]]]:
        """ΔE00 maps: tint and colour drift that |ΔY| cannot show; against the ground truth, or bicubic in upscale mode."""
        ref, against = session.prepared.hr, "the ground truth"
        if ref is None:
            ref, against = self._counterpart_output(session, "bicubic"), "bicubic (no ground truth in upscale mode)"
        if ref is None:
            return []
        items = [(render.colorize(delta_e_map(r.output, ref), DELTAE_VMAX), f"ΔE00 · {r.label}",  # type: ignore[arg-type]
                  f"CIEDE2000 colour difference against {against}, 0–{DELTAE_VMAX:g}")
                 for r in session.results if r.ok and not (session.prepared.hr is None and r.method_id == "bicubic")]
        return [(f"Colour shift (ΔE00) against {against}", f"Dark = same colour; bright = tint or colour drift. {DELTAE_CAPTION}", items)]

    def _counterpart_output(self, session: CompareSession, base: str) -> np.ndarray | None:
        """The PSNR counterpart's output: from this run when it is in it (``edsr``, ``srgan@0``), else run once now."""
        for r in session.results:
            if r.ok and (r.method_id == base or r.method_id.endswith("@0") and psnr_counterpart(r.method_id[:-2]) == base):
                return r.output
        if base not in session.extra_outputs:
            res = run_one(base, session.prepared, None, None, None, False, model_dirs())
            if not res.ok:
                return None
            session.extra_outputs[base] = res.output  # type: ignore[assignment]
        return session.extra_outputs[base]

    def on_maps_open(self, session: CompareSession | None) -> tuple[bool, Any]:
        return True, (self.maps_view(session) if session is not None and session.has_maps() else gr.skip())

    # ------------------------------------------------------------------------------ layout

    def build(self, examples_dir: Path | None) -> None:
        """Create the components inside the current ``gr.Blocks`` context and wire the events."""
        self.examples_dir = examples_dir
        default_scale = 4
        chosen = default_methods(default_scale)
        with gr.Row(equal_height=False):
            with gr.Column(scale=5, min_width=380, elem_id="compare-controls"):
                with gr.Row(equal_height=False):
                    with gr.Column(min_width=200):
                        image = gr.Image(label="Image", type="filepath", image_mode=None, sources=["upload", "clipboard"], format="png",
                                         elem_id="input-image", height=220)
                        # Right under the picture: on the first screen whatever the number of methods listed below.
                        run = gr.Button("Compare", variant="primary", elem_id="run")
                    with gr.Column(min_width=180):
                        scale = gr.Radio(list(SCALES), value=default_scale, label="Scale", elem_id="scale")
                        mode = gr.Radio(MODE_CHOICES, value="reference", label="Mode", elem_id="mode")
                        with gr.Row(elem_id="degradation-row") as degradation_row:
                            degradation = gr.Dropdown(DEGRADATION_CHOICES, value="bicubic", label="LR made with", elem_id="degradation",
                                                      info="bicubic: the benchmark convention; jpeg/realistic: web photos",
                                                      min_width=120)
                            quality = gr.Slider(10, 95, value=50, step=5, label="JPEG quality", visible=False, elem_id="jpeg-quality",
                                                min_width=100)
                            seed = gr.Number(0, precision=0, label="Seed", visible=False, elem_id="seed", min_width=70)
                upload_msg = gr.Markdown(elem_id="upload-msg")
                status = gr.Markdown(elem_id="status")
                if examples_dir is not None:
                    gr.Examples([[str(p)] for p in sorted(examples_dir.iterdir()) if p.suffix in {".png", ".jpg"}], inputs=[image],
                                label="Examples (scikit-image; chelsea_q60 is a JPEG)", examples_per_page=8)
                methods = gr.CheckboxGroup(checkbox_choices(default_scale), value=chosen, label="Methods", elem_id="methods",
                                              info=f"Ours and the classics, then {REFERENCE_GROUP} (published weights, marked 'reference')")
                strengths = gr.CheckboxGroup(strength_choices(), value=[DEFAULT_STRENGTH], elem_id="strengths",
                                             label="GAN strength α: one result per α (0 = PSNR network, 1 = full GAN)",
                                             visible=any(m in strength_methods() for m in chosen))
                with gr.Accordion("More settings", open=False, elem_id="more-settings"):
                    backend = gr.Dropdown(backend_choices(), value="", label="Networks run on (edsr, srgan, … : same results within 1/255)",
                                          elem_id="backend", info="onnxruntime / OpenVINO are faster on a CPU than torch; "
                                          "server default: what the operator set (SRCORE_BACKEND), else torch")
                    tta = gr.Checkbox(False, label="TTA ×8: each network method also runs on the 8 flips/rotations, outputs "
                                      "averaged (EDSR+; ~8× the time; see the README for the measured gain)", elem_id="tta")
                    outscale = gr.Number(None, label="Output scale (blank = the network's ×): e.g. 3.5 runs ×4, then resizes "
                                         "(area down, Lanczos up); ground-truth mode makes the LR 1/F and scores at F",
                                         elem_id="outscale", minimum=0.1, maximum=16)
                    file_model = gr.Textbox(label="Extra model: file:<path on this server> (spandrel)", visible=self.cfg.allow_file_models,
                                            placeholder="file:/models/4x-UltraSharp.pth")
                unavailable = gr.HTML(unavailable_html(default_scale), elem_id="unavailable")
                locator = gr.Image(label="Crop location: click to move the crops", interactive=False, format="png", elem_id="locator",
                                   buttons=["fullscreen"], height=420)
            with gr.Column(scale=8, min_width=480, elem_id="compare-results"):
                stale = gr.HTML(elem_id="stale")
                with gr.Row():
                    crop = gr.Radio(CROP_SIZES, value=64, label="Crop side (output px)", elem_id="crop-size")
                    zoom = gr.Radio(ZOOMS, value=4, label="Zoom × (nearest neighbour, shown at true size)", elem_id="zoom")
                crops = gr.HTML(elem_id="crops", label="Same region, every method")
                table = gr.HTML(elem_id="metrics")
                gr.Markdown("### Viewer · keys 1–9 show a method in place, Space the next, B flicks A⇄B; wheel zoom up to 16× "
                            "(nearest neighbour), drag to pan; Difference |A−B| ×1…×20; Onion skin; Blind test")
                self.viewer_block = viewer.component(elem_id="viewer")
                gr.Markdown("### Before / after")
                with gr.Row():
                    side_a = gr.Dropdown(label="Left", choices=[], elem_id="slider-a")
                    side_b = gr.Dropdown(label="Right", choices=[], elem_id="slider-b")
                slider = gr.ImageSlider(label="Drag to compare", format="png", type="numpy", elem_id="slider", max_height=600)
                with gr.Accordion("Error maps", open=False, visible=False, elem_id="maps-panel") as maps_panel:
                    maps = gr.HTML(elem_id="error-maps")
                files = gr.File(label="Downloads: zip (outputs, HR/LR, crop sheet, metrics) and each output as PNG",
                                file_count="multiple", interactive=False, elem_id="downloads")
                with gr.Row():
                    # On demand: the file inlines every output (15 outputs of 4000 px are hundreds of MB), so not per run.
                    export = gr.Button("Export the viewer as one HTML file (every output inside; opens offline)",
                                       elem_id="export-html", size="sm")
                    export_file = gr.File(label="Self-contained HTML", interactive=False, elem_id="export-file")
        session = gr.State(None, time_to_live=3600, delete_callback=_discard)
        upload = gr.State(None, time_to_live=3600)
        maps_open = gr.State(False)

        private: dict[str, Any] = {"api_visibility": "private"}
        # Undocumented, not private: scripted UI runs (benchmarks/latency.py) upload through the same check.
        image.change(self.on_upload, [image, scale, mode, session, upload], [upload, image, upload_msg, stale], preprocess=False,
                     show_progress="hidden", api_name="check_upload", api_visibility="undocumented").then(
            self.on_upload_mode, [upload, mode], [mode], show_progress="hidden", **private)
        root = gr.context.Context.root_block
        if root is not None:  # a shared link's settings (the hosted demo): see on_page_load
            root.load(self.on_page_load, None, [image, scale, mode, methods], show_progress="hidden", **private)
        scale.change(user_errors(on_scale), [scale, methods], [methods, unavailable], **private)
        methods.change(self.on_methods, [methods], [strengths], **private)
        mode.change(self.on_mode, [mode], [degradation_row], **private)
        degradation.change(self.on_degradation, [degradation], [quality, seed], **private)
        for control in (scale, mode, methods, strengths, degradation, quality, seed, backend, file_model, tta, outscale):
            control.change(self.on_stale, [session], [stale], show_progress="hidden", **private)
        outputs = [session, status, stale, table, locator, crops, side_a, side_b, slider, maps_panel, maps, files, upload_msg,
                   self.viewer_block]
        assert len(outputs) == self.N_OUT
        run.click(self.run, [upload, scale, methods, strengths, mode, degradation, quality, seed, backend, file_model, crop, zoom,
                             maps_open, session, tta, outscale], outputs, api_name="compare_ui", api_visibility="undocumented",
                  concurrency_limit=self.cfg.concurrency, concurrency_id="heavy", show_progress="minimal", show_progress_on=[status])
        recrop_out = [session, locator, crops, files]
        locator.select(user_errors(self.on_locator_click), [session], recrop_out, **private)
        crop.change(user_errors(self.on_zoom), [session, crop, zoom], recrop_out, **private)
        zoom.change(user_errors(self.on_zoom), [session, crop, zoom], recrop_out, **private)
        for dd in (side_a, side_b):
            dd.input(user_errors(self.on_slider), [session, side_a, side_b], [slider], **private)
        # The maps run LPIPS networks over whole outputs: as heavy as a run, so under the same limit.
        export.click(user_errors(self.on_export), [session], [export_file], concurrency_limit=self.cfg.concurrency,
                     concurrency_id="heavy", **private)
        maps_panel.expand(user_errors(self.on_maps_open), [session], [maps_open, maps], concurrency_limit=self.cfg.concurrency,
                          concurrency_id="heavy", **private)
        maps_panel.collapse(lambda: False, None, [maps_open], **private)
