"""The comparison viewer's HTML: one builder for the app's Compare tab and the self-contained export.

The viewer itself is ``srcore/data/viewer.js`` + ``viewer.css`` (a ``<srlab-viewer>`` custom
element: keys 1-9 / Space / B flick between methods in place, wheel zoom fit ... 16x with
nearest-neighbour pixels, drag to pan, |A - B| x1 ... x20 difference and heatmap, onion skin,
blind A/B test with CSV). This module only writes the element's data (which images, their
labels and metrics) and, for ``python -m srcore compare ... --html out.html``, a whole document
that inlines the script, the style, every picture as a PNG ``data:`` URI and the metrics table
with its conventions - so the file opens from ``file://`` with no network, for a bug report or a
colleague. Why one builder: the app and the export must show the same viewer with the same keys.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from srcore.atomic import atomic_write
from srcore.metrics import CONVENTION
from srcore.scoring import METRICS

DATA = Path(__file__).resolve().parent / "data"
#: How each metric is printed in the viewer's label and the export's table.
FORMATS = {"psnr_y": "{:.2f}", "ssim_y": "{:.4f}", "psnr_rgb": "{:.2f}", "lpips": "{:.4f}", "gmsd": "{:.4f}", "niqe": "{:.2f}",
           "hatching": "{:.3f}", "lr_psnr": "{:.2f}"}
_UNITS = {"psnr_y": " dB", "lr_psnr": " dB", "psnr_rgb": " dB"}
#: Metric keys shown per mode (upscale mode has no ground truth: the full-reference ones are absent).
SHOWN = {"reference": ("psnr_y", "ssim_y", "lpips", "gmsd", "niqe", "hatching", "lr_psnr"), "upscale": ("niqe", "hatching", "lr_psnr")}


@dataclass
class ViewerImage:
    """One picture the viewer can show: ``kind`` is ``reference`` (ground truth), ``input`` or ``method``.

    Only ``method`` images take part in the blind test. ``src`` is a URL or a ``data:`` URI; a picture
    smaller than the output (the LR input) is shown enlarged with nearest neighbour.
    """

    key: str
    label: str
    src: str
    kind: str = "method"
    metrics: list[tuple[str, str]] = field(default_factory=list)


@cache
def assets() -> tuple[str, str]:
    """(viewer JavaScript, viewer CSS), read once from the package's data folder."""
    return (DATA / "viewer.js").read_text(encoding="utf-8"), (DATA / "viewer.css").read_text(encoding="utf-8")


def png_data_uri(rgb: np.ndarray, compression: int = 1) -> str:
    """An RGB (or grey) uint8 array as an inline PNG: lossless, so what is shown is what the method made."""
    img = np.ascontiguousarray(rgb)
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    ok, buf = cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, compression])
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return "data:image/png;base64," + base64.b64encode(buf.tobytes()).decode("ascii")


def metric_entries(row: dict[str, Any], mode: str) -> list[tuple[str, str]]:
    """(heading with unit and direction, value) for a result row's metrics, e.g. ``("PSNR-Y ↑", "31.19 dB")``.

    Only computed metrics are listed: the viewer's label says what is known, the table says why the rest is not.
    """
    out = []
    for k in SHOWN.get(mode, SHOWN["reference"]):
        v = row.get(k)
        if v is None:
            continue
        label = (row.get("lpips_variant") or "LPIPS") if k == "lpips" else METRICS[k].label
        out.append((f"{label} {METRICS[k].arrow}", FORMATS[k].format(float(v)) + _UNITS.get(k, "")))
    if row.get("seconds") is not None and not row.get("error"):
        out.append(("time", f"{float(row['seconds']):.2f} s"))
    return out


def viewer_data(images: Sequence[ViewerImage], width: int, height: int, *, a: str | None = None, b: str | None = None,
                title: str = "", note: str = "", hash_state: bool = True, autofocus: bool = False, query: str = "") -> dict[str, Any]:
    """The element's JSON: output size (every picture is shown at it), the pictures, the default A/B pair.

    ``hash_state``: the view (method, A/B, position, zoom, mode) is kept in the page URL's ``#srlab=...``
    so a link reopens the same view; one viewer per page should have it. ``query``: the page URL's query
    written with it (the app's shared-link settings: example, scale, mode, methods).
    """
    if not images:
        raise ValueError("the viewer needs at least one image")
    keys = [im.key for im in images]
    methods = [im.key for im in images if im.kind == "method"]
    ref = next((im.key for im in images if im.kind == "reference"), None)
    default_b = methods[0] if methods else keys[-1]
    default_a = ref or next((k for k in keys if k != default_b), default_b)
    return {"title": title, "width": int(width), "height": int(height), "images": [asdict(im) for im in images],
            "a": a if a in keys else default_a, "b": b if b in keys else default_b, "reference": ref, "note": note,
            "hash": hash_state, "autofocus": autofocus, "query": query}


def viewer_element(data: dict[str, Any], height_css: str = "70vh") -> str:
    """``<srlab-viewer>`` with its data; needs :func:`assets`' script on the page (the app loads it once)."""
    # An attribute, not a <script> child: HTML inserted by innerHTML (Gradio's gr.HTML) keeps it as data, and escaping
    # makes any label safe.
    payload = html.escape(json.dumps(data, ensure_ascii=False), quote=True)
    return f"<srlab-viewer style='--srv-height:{html.escape(height_css, quote=True)}' data-viewer=\"{payload}\"></srlab-viewer>"


def comparison_images(report: dict[str, Any], hr: np.ndarray | None, lr: np.ndarray, outputs: dict[str, np.ndarray],
                      srcs: dict[str, str] | None = None) -> list[ViewerImage]:
    """Viewer pictures for a comparison report (``Comparison.to_json()``): ground truth, the input, every output.

    ``outputs`` maps a result's ``method`` to its picture; ``srcs`` may give URLs for keys (``HR``, ``LR``
    or a method id) instead of inlining them as PNG data (the app serves files; the export inlines).
    """
    srcs = srcs or {}
    mode = report.get("mode", "reference")
    scale = report.get("scale")
    images = []
    if hr is not None:
        images.append(ViewerImage("HR", "Ground truth (HR)", srcs.get("HR") or png_data_uri(hr), "reference"))
    what = "LR input" if mode == "reference" else "Input"
    images.append(ViewerImage("LR", f"{what} (nearest ×{scale})", srcs.get("LR") or png_data_uri(lr), "input"))
    for row in report.get("results", []):
        mid = row["method"]
        if mid in outputs:
            images.append(ViewerImage(mid, row.get("label") or mid, srcs.get(mid) or png_data_uri(outputs[mid]), "method",
                                      metric_entries(row, mode)))
    return images


def metrics_table_html(report: dict[str, Any]) -> str:
    """The metrics as a plain table, with the conventions and which way is better (the export's own copy)."""
    mode = report.get("mode", "reference")
    keys = SHOWN.get(mode, SHOWN["reference"])
    variant = report.get("lpips_variant")
    heads = [f"{(variant or 'LPIPS') if k == 'lpips' else METRICS[k].label}{_UNITS.get(k, '')} {METRICS[k].arrow}" for k in keys]
    rows = []
    for r in report.get("results", []):
        cells = [f"<td>{html.escape(str(r.get('label') or r['method']))}</td><td><code>{html.escape(r['method'])}</code></td>"]
        for k in keys:
            v = r.get(k)
            why = (r.get("reasons") or {}).get(k, "")
            cells.append(f"<td class='num'>{FORMATS[k].format(float(v))}</td>" if v is not None
                         else f"<td class='num' title='{html.escape(why, quote=True)}'>—</td>")
        secs = r.get("seconds")
        cells.append(f"<td class='num'>{float(secs):.3f}</td>" if secs is not None and not r.get("error") else "<td>—</td>")
        cells.append(f"<td>{html.escape(r.get('error') or '')}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    th = "".join(f"<th>{html.escape(h)}</th>" for h in ["Method", "id", *heads, "seconds ↓", "error"])
    conv = (f"PSNR-Y / SSIM-Y: {CONVENTION}; MATLAB-style bicubic LR; LPIPS: {html.escape(variant or 'not computed')}."
            if mode == "reference" else
            "Upscale mode: no ground truth, so only the no-reference metrics (NIQE, Hatch, LR-PSNR) are computed.")
    return (f"<table class='srlab-table'><thead><tr>{th}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
            f"<p class='note'>↑ higher is better · ↓ lower is better. {conv}</p>")


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ margin: 12px 18px; font: 14px/1.4 system-ui, sans-serif; color: #111; }}
h1 {{ font-size: 1.25em; margin: 0 0 4px; }}
.srlab-table {{ border-collapse: collapse; margin-top: 10px; }}
.srlab-table th, .srlab-table td {{ border: 1px solid #ccc; padding: 3px 8px; text-align: left; }}
.srlab-table td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
.note, .meta {{ color: #555; font-size: 0.9em; }}
{css}
</style></head>
<body>
<h1>{title}</h1>
<div class="meta">{meta}</div>
{viewer}
{table}
<ul class="note">{notes}</ul>
<script>{js}</script>
</body></html>
"""


def comparison_document(report: dict[str, Any], images: Sequence[ViewerImage], title: str) -> str:
    """A whole, self-contained HTML page: the viewer (script and style inline), every picture, the metrics table."""
    js, css = assets()
    w, h = _output_size(report)
    data = viewer_data(images, w, h, title=title, autofocus=True)
    meta = (f"{html.escape(report.get('mode', ''))} mode · ×{report.get('scale')} · output {w}×{h} · "
            f"made by SR Lab (python -m srcore compare); opens offline, nothing is fetched")
    notes = "".join(f"<li>{html.escape(str(n))}</li>" for n in report.get("notes", []))
    return PAGE.format(title=html.escape(title), meta=meta, viewer=viewer_element(data), table=metrics_table_html(report),
                       notes=notes, css=css, js=js.replace("</script", "<\\/script"))


def _output_size(report: dict[str, Any]) -> tuple[int, int]:
    for r in report.get("results", []):
        if r.get("output_size"):
            w, h = r["output_size"].split("x")
            return int(w), int(h)
    raise ValueError("no method produced an output: nothing to show")


def write_document(path: Path, text: str) -> int:
    """Write ``text`` to ``path`` through a temporary file in the same folder (never half-written); returns bytes."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; name the .html file to write")
    data = text.encode("utf-8")
    atomic_write(path, data)
    return len(data)


def export_comparison(comp: Any, path: Path, title: str) -> int:
    """Write a :class:`srcore.compare.Comparison` as one self-contained HTML file; returns its size in bytes."""
    report = comp.to_json()
    outputs = {r.method_id: r.output for r in comp.results if r.ok}
    if not outputs:
        raise ValueError("no method produced an output: nothing to export")
    images = comparison_images(report, comp.prepared.hr, comp.prepared.lr, outputs)
    return write_document(path, comparison_document(report, images, title))


def file_data_uri(path: Path) -> str:
    """A PNG file as a ``data:`` URI, from its bytes (no re-encoding: the export carries exactly what was saved)."""
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")
