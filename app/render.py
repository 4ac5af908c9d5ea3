"""Pure presentation: metric tables, heatmaps, crop and map galleries, the crop locator, plots and model cards.

No Gradio here and no computation of results - only turning srcore's numbers and arrays into
things people read. Kept free of UI state so it is trivially testable.

Galleries and tables are plain HTML rather than Gradio's Gallery/Dataframe: those shrink
images to fit a grid and clip long captions and wide tables, while a comparison needs crops
at their true zoom, every caption whole and every column visible, for any number of methods.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import cv2
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from pandas.io.formats.style import Styler
from PIL import Image, ImageDraw

from srcore.html_report import png_data_uri
from srcore.scoring import METRICS

#: |ΔY| maps are drawn on one fixed scale so colours mean the same for every method and image.
ERROR_VMAX = 32.0
BEST_CSS = "background-color: #bbf7d0; color: #14532d; font-weight: 700"
#: The locator is drawn at about this size whatever the input's: big enough to aim at, small enough to see whole.
LOCATOR_SIDE = 720
#: Error/artefact maps are shown at most this wide (they show *where*, not pixel detail).
MAP_SIDE = 256

COL_METHOD, COL_ID = "Method", "id"
COL_SECONDS, COL_SIZE, COL_ERROR = "Seconds ↓", "Output size", "Error"
COL_PSNR = "PSNR-Y (dB) ↑"  # kept verbatim: API clients read this header
COL_SSIM = "SSIM-Y ↑"
COL_PER_IMAGE = "s / image ↓"
#: Metric columns, in display order; which appear depends on the mode (upscale: the no-reference ones).
TABLE_METRICS = ("psnr_y", "ssim_y", "lpips", "gmsd", "niqe", "hatching", "lr_psnr")
FORMATS = {"psnr_y": "{:.2f}", "ssim_y": "{:.4f}", "lpips": "{:.4f}", "gmsd": "{:.4f}", "niqe": "{:.2f}", "hatching": "{:.3f}",
           "lr_psnr": "{:.2f}", "seconds": "{:.3f}"}
_UNITS = {"psnr_y": " (dB)", "lr_psnr": " (dB)", "psnr_rgb": " (dB)"}


def lpips_header(variant: str | None) -> str:
    """LPIPS column title naming the variant (LPIPS-alex vs ST-LPIPS-alex are not comparable)."""
    return f"{variant or 'LPIPS'} ↓"


def metric_heading(key: str, variant: str | None = None) -> str:
    """Column title with the unit and the better direction (srcore's ``METRICS``), e.g. ``NIQE ↓``."""
    if key == "lpips":
        return lpips_header(variant)
    info = METRICS[key]
    return f"{info.label}{_UNITS.get(key, '')} {info.arrow}"


def shown_metrics(mode: str) -> list[str]:
    """The metric keys a table shows: all in reference mode, only those needing no ground truth in upscale mode."""
    return [k for k in TABLE_METRICS if k in METRICS and (mode == "reference" or not METRICS[k].needs_reference)]


def _highlight(styler: Styler, df: pd.DataFrame, higher: list[str], lower: list[str]) -> Styler:
    """Mark the best value of each metric column (only where there is something to compare)."""
    for cols, fn in ((higher, styler.highlight_max), (lower, styler.highlight_min)):
        for col in cols:
            if col in df and pd.to_numeric(df[col], errors="coerce").notna().sum() >= 2:
                fn(subset=[col], props=BEST_CSS)
    return styler


def _frame(rows: list[dict[str, Any]], mode: str, seconds_col: str = COL_SECONDS,
           with_size: bool = True) -> tuple[pd.DataFrame, dict[str, str], list[str], list[str]]:
    """(table, column -> metric key, higher-is-better columns, lower-is-better columns) for both table renderings."""
    variant = next((r.get("lpips_variant") for r in rows if r.get("lpips_variant")), None)
    keys = shown_metrics(mode)
    heads = {metric_heading(k, variant): k for k in keys}
    records = []
    for r in rows:
        rec: dict[str, Any] = {COL_METHOD: r["label"], COL_ID: r["method"]}
        for head, k in heads.items():
            rec[head] = r.get(k)
        rec[seconds_col] = r.get("seconds") if r.get("error") is None else None
        rec[COL_SIZE] = r.get("output_size") or ""
        rec[COL_ERROR] = r.get("error") or ""
        records.append(rec)
    cols = [COL_METHOD, COL_ID, *heads, seconds_col, *([COL_SIZE] if with_size else [])]
    if any(r.get("error") for r in rows):
        cols.append(COL_ERROR)  # only when something failed: an empty column just squeezes the others
    df = pd.DataFrame(records, columns=list(dict.fromkeys([*cols, COL_ERROR])))[cols]
    for c in [*heads, seconds_col]:
        df[c] = pd.to_numeric(df[c], errors="coerce")
    heads[seconds_col] = "seconds"
    higher = [h for h, k in heads.items() if k in METRICS and METRICS[k].better == "higher"]
    lower = [h for h, k in heads.items() if h not in higher]
    return df, heads, higher, lower


def metrics_table(rows: list[dict[str, Any]], mode: str) -> Styler:
    """The comparison table (``MethodResult.row`` dicts) for the API's Dataframe output; best values highlighted.

    Upscale mode has no ground truth, so the full-reference columns are left out rather than shown empty.
    """
    df, heads, higher, lower = _frame(rows, mode)
    styler = df.style.format({h: FORMATS[k] for h, k in heads.items()}, na_rep="—")
    return _highlight(styler, df, higher, lower)


def metrics_html(rows: list[dict[str, Any]], mode: str, seconds_col: str = COL_SECONDS, with_size: bool = True,
                 unranked: Mapping[str, str] | None = None) -> str:
    """The same table as HTML for the page: never clipped (it scrolls sideways inside its box if it must),
    headers say which way is better, the best value per column is highlighted, a dash's tooltip says why.

    ``unranked``: metric key -> why its "best" would mislead for this input (LR-PSNR on a JPEG: the method
    that reproduces the blocks wins); that column gets no highlight, and the reason is said under the table.
    """
    if not rows:
        return ""
    df, heads, higher, lower = _frame(rows, mode, seconds_col, with_size)
    unranked = dict(unranked or {})
    best: dict[str, float] = {}
    for col in [*higher, *lower]:
        if heads.get(col) in unranked:
            continue
        vals = df[col].dropna()
        if len(vals) >= 2:
            best[col] = float(vals.max() if col in higher else vals.min())
    th = []
    for c in df.columns:
        k = heads.get(c)
        tip = METRICS[k].what if k in METRICS else ("run time of the method itself" if k == "seconds" else "")
        th.append(f"<th title='{html.escape(tip, quote=True)}'>{html.escape(c)}</th>")
    body = []
    for i, (_, rec) in enumerate(df.iterrows()):
        reasons = rows[i].get("reasons") or {}
        cells = []
        for c in df.columns:
            v = rec[c]
            k = heads.get(c)
            if k is not None:
                if pd.isna(v):
                    why = reasons.get(k, "") if k in METRICS else ""
                    cells.append(f"<td class='num na' title='{html.escape(why, quote=True)}'>—</td>")
                else:
                    cls = "num best" if c in best and math.isclose(float(v), best[c], rel_tol=0, abs_tol=1e-12) else "num"
                    cells.append(f"<td class='{cls}'>{FORMATS[k].format(float(v))}</td>")
            elif c == COL_ID:
                cells.append(f"<td><code>{html.escape(str(v))}</code></td>")
            else:
                cells.append(f"<td>{html.escape(str(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f"<div class='srlab-table-wrap'><table class='srlab-table'><thead><tr>{''.join(th)}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table></div>"
            "<div class='srlab-note'>↑ higher is better · ↓ lower is better · best of each column in green · "
            "hover a heading for what it measures, a dash for why it is missing</div>"
            + "".join(f"<div class='srlab-note srlab-unranked'>{html.escape(METRICS[k].label)} not ranked: {html.escape(why)}</div>"
                      for k, why in unranked.items() if k in heads.values()))


def empty_table() -> pd.DataFrame:
    return pd.DataFrame(columns=[COL_METHOD, COL_ID, COL_PSNR, COL_SSIM, lpips_header(None), COL_SECONDS, COL_SIZE, COL_ERROR])


# ---------------------------------------------------------------------------------------- images


def colorize(values: np.ndarray, vmax: float) -> np.ndarray:
    """Map a non-negative float map to RGB with inferno (black = no difference, yellow = large)."""
    vmax = vmax if vmax > 0 and math.isfinite(vmax) else 1.0
    u8 = np.clip(np.asarray(values, np.float64) / vmax * 255.0, 0, 255).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(u8, cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)


def shared_vmax(maps: Iterable[np.ndarray]) -> float:
    """One colour scale for a set of maps (99.5th percentile of all), so methods are comparable."""
    tops = [float(np.percentile(m, 99.5)) for m in maps if m is not None and m.size]
    return max(tops) if tops else 1.0


def figure_html(uri: str, width: int, height: int, caption: str, sub: str = "", title: str = "") -> str:
    """One picture with its whole caption under it, drawn at exactly ``width`` x ``height`` CSS pixels."""
    cap = html.escape(caption) + (f"<br><small>{html.escape(sub)}</small>" if sub else "")
    return (f"<figure class='srlab-fig' style='width:{width}px' title='{html.escape(title or caption, quote=True)}'>"
            f"<img src='{uri}' width='{width}' height='{height}' style='width:{width}px;height:{height}px' alt='{html.escape(caption, quote=True)}'>"
            f"<figcaption>{cap}</figcaption></figure>")


def crops_html(crops: Sequence[tuple[np.ndarray, str, str]], zoom: int) -> str:
    """The synchronized crops, each at ``zoom`` x its pixel size (the browser enlarges with nearest neighbour).

    Sending the un-zoomed crop and letting CSS enlarge it keeps every pixel exact while moving
    zoom² fewer bytes. Rows wrap with the number of methods; a row wider than the page scrolls.
    """
    figs = [figure_html(png_data_uri(img), img.shape[1] * zoom, img.shape[0] * zoom, cap, sub) for img, cap, sub in crops]
    return f"<div class='srlab-grid srlab-crops' data-zoom='{zoom}'>{''.join(figs)}</div>"


def thumbnail(rgb: np.ndarray, side: int = MAP_SIDE) -> np.ndarray:
    """``rgb`` shrunk (area averaging) so its longer side is at most ``side``."""
    h, w = rgb.shape[:2]
    f = min(1.0, side / max(h, w))
    if f == 1.0:
        return rgb
    return cv2.resize(rgb, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)


def maps_html(groups: Sequence[tuple[str, str, Sequence[tuple[np.ndarray, str, str]]]]) -> str:
    """Error/artefact maps grouped by kind: (heading, how to read it, [(coloured map, caption, tooltip), ...]).

    One wrapped grid per kind, so N methods take rows of several maps rather than one row each,
    and maps of the same kind (same colour scale) sit side by side.
    """
    out = []
    for heading, legend, maps in groups:
        if not maps:
            continue
        figs = []
        for m, cap, tip in maps:
            t = thumbnail(m)
            figs.append(figure_html(png_data_uri(t), t.shape[1], t.shape[0], cap, title=tip))
        note = f"<div class='srlab-note'>{html.escape(legend)}</div>" if legend else ""
        out.append(f"<div class='srlab-maprow'><div class='srlab-maplabel'>{html.escape(heading)}</div>{note}"
                   f"<div class='srlab-grid'>{''.join(figs)}</div></div>")
    return f"<div class='srlab-maps'>{''.join(out)}</div>"


def locator_image(image: np.ndarray, box: tuple[int, int, int, int], factor: float, side: int = LOCATOR_SIDE) -> tuple[np.ndarray, float]:
    """The image to click on, scaled to about ``side`` px (small inputs enlarged, at most 8x), with the crop box drawn.

    ``box`` is in output pixels and ``factor`` = output pixels per pixel of ``image``.
    Returns the picture and the output pixels per *displayed* pixel, to map clicks back.
    """
    h, w = image.shape[:2]
    f = min(8.0, side / max(h, w))
    if f == 1.0:
        shown = image
    else:
        size = (max(1, round(w * f)), max(1, round(h * f)))
        shown = cv2.resize(image, size, interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC)
        f = shown.shape[1] / w
    per_shown = factor / f
    pil = Image.fromarray(np.ascontiguousarray(shown))
    draw = ImageDraw.Draw(pil)
    x0, y0, x1, y1 = (v / per_shown for v in box)
    lw = max(2, round(max(pil.size) / 256))
    draw.rectangle([x0 - lw, y0 - lw, x1 + lw - 1, y1 + lw - 1], outline=(0, 0, 0), width=lw)
    draw.rectangle([x0, y0, x1 - 1, y1 - 1], outline=(255, 230, 0), width=lw)
    return np.asarray(pil), per_shown


def detail_center(image: np.ndarray, crop: int) -> tuple[float, float]:
    """Centre (x, y) of the ``crop``-sized window with the most detail (mean gradient magnitude of luma).

    The default crop should land where methods differ - on edges and texture, not on a flat area
    where every method looks alike. A 2-px border margin keeps the window inside the image.
    """
    y = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY).astype(np.float32)
    h, w = y.shape
    k = max(1, min(crop, h, w))
    energy = np.abs(cv2.Sobel(y, cv2.CV_32F, 1, 0, ksize=3)) + np.abs(cv2.Sobel(y, cv2.CV_32F, 0, 1, ksize=3))
    mean = cv2.blur(energy, (k, k), borderType=cv2.BORDER_CONSTANT)
    half = k // 2
    inner = mean[half : max(half + 1, h - half), half : max(half + 1, w - half)]
    iy, ix = np.unravel_index(int(np.argmax(inner)), inner.shape)
    return float(ix + half), float(iy + half)


# ---------------------------------------------------------------------------------------- benchmark


BENCH_KEYS = ("psnr_y", "ssim_y", "lpips", "gmsd", "niqe", "lr_psnr")
#: Axes the perception–distortion plot can use for perception (both lower = better).
PERCEPTION_AXES = {"lpips": "LPIPS (full-reference)", "niqe": "NIQE (no-reference)"}
_FONT = {"label": 12, "tick": 11, "point": 11, "title": 12}


def bench_frame(results: Mapping[str, Mapping[str, Any]], labels: Mapping[str, str], variant: str | None) -> pd.DataFrame:
    """Benchmark means, one row per method (plain numbers: also the CSV)."""
    rows = [
        {
            "method": mid,
            "label": labels.get(mid, mid),
            **{k: r.get(k) for k in BENCH_KEYS},
            "lpips_variant": variant if r.get("lpips") is not None else None,
            "seconds_per_image": r.get("seconds_per_image"),
        }
        for mid, r in results.items()
    ]
    return pd.DataFrame(rows, columns=["method", "label", *BENCH_KEYS, "lpips_variant", "seconds_per_image"])


def bench_html(df: pd.DataFrame) -> str:
    """The benchmark means as the page's table (same look and rules as the Compare tab's)."""
    rows = [{"method": r["method"], "label": r["label"], **{k: r[k] for k in BENCH_KEYS}, "lpips_variant": r["lpips_variant"],
             "seconds": r["seconds_per_image"], "output_size": None, "error": None}
            for r in df.to_dict("records")]
    rows = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()} for r in rows]
    return metrics_html(rows, "reference", seconds_col=COL_PER_IMAGE, with_size=False)


def _scatter(ax: Any, xs: list[float], ys: list[float], names: list[str]) -> None:
    ax.scatter(xs, ys, s=80, c=[f"C{i % 10}" for i in range(len(xs))], zorder=3)
    ax.margins(x=0.25, y=0.15)  # room for the method names next to the points
    for x, y, n in zip(xs, ys, names, strict=False):
        ax.annotate(n, (x, y), textcoords="offset points", xytext=(6, 4), fontsize=_FONT["point"])
    ax.tick_params(labelsize=_FONT["tick"])
    ax.grid(True, alpha=0.3)


def _figure() -> tuple[Figure, Any]:
    fig = Figure(figsize=(6.4, 4.8), dpi=110, layout="constrained")
    return fig, fig.add_subplot()


def perception_distortion_plot(df: pd.DataFrame, variant: str | None, title: str, perception: str = "lpips") -> Figure:
    """PSNR (distortion, up is better) against LPIPS or NIQE (perception, left is better), one point per method."""
    fig, ax = _figure()
    key = perception if perception in PERCEPTION_AXES else "lpips"
    ok = df.dropna(subset=["psnr_y", key]) if key in df else df.iloc[0:0]
    name = (variant or "LPIPS") if key == "lpips" else "NIQE"
    if ok.empty:
        ax.text(0.5, 0.5, f"{name} not computed: no perception axis", ha="center", va="center", transform=ax.transAxes,
                fontsize=_FONT["label"])
    else:
        _scatter(ax, ok[key].astype(float).tolist(), ok["psnr_y"].astype(float).tolist(), ok["method"].tolist())
    kind = "perceptually closer" if key == "lpips" else "more natural, no reference"
    ax.set_xlabel(f"← {name} (lower = {kind})", fontsize=_FONT["label"])
    ax.set_ylabel("PSNR-Y (dB, higher = less distortion) →", fontsize=_FONT["label"])
    ax.set_title(f"Perception–distortion · {title}", fontsize=_FONT["title"])
    return fig


def speed_quality_plot(df: pd.DataFrame, title: str) -> Figure:
    """PSNR against seconds per image (log scale): what each dB costs."""
    fig, ax = _figure()
    ok = df.dropna(subset=["psnr_y", "seconds_per_image"])
    if ok.empty:
        ax.text(0.5, 0.5, "no results", ha="center", va="center", transform=ax.transAxes, fontsize=_FONT["label"])
    else:
        secs = [max(float(s), 1e-4) for s in ok["seconds_per_image"]]
        _scatter(ax, secs, ok["psnr_y"].astype(float).tolist(), ok["method"].tolist())
        ax.set_xscale("log")
    ax.set_xlabel("← seconds per image (log scale, this server)", fontsize=_FONT["label"])
    ax.set_ylabel("PSNR-Y (dB) →", fontsize=_FONT["label"])
    ax.set_title(f"Speed–quality · {title}", fontsize=_FONT["title"])
    return fig


# ---------------------------------------------------------------------------------------- model cards


def _fmt_value(key: str, v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if key.endswith("wall_time_s") or key == "wall_time_s":
            return f"{v / 3600:.1f} h" if v >= 3600 else f"{v / 60:.0f} min"
        return f"{v:.4f}" if abs(v) < 10 else f"{v:,.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, (list, tuple)):
        return html.escape(", ".join(str(x) for x in v))
    text = str(v)
    if "sha256" in key.lower() and len(text) > 16:
        return f"<code>{html.escape(text[:12])}…</code>"
    if text.startswith("python ") or " --" in text:
        return f"<code class='srlab-cmd'>{html.escape(text)}</code>"
    return html.escape(text)


def _human(key: str) -> str:
    return key.replace("_", " ").replace(" s", " (s)") if key.endswith("_s") else key.replace("_", " ")


def _kv_table(items: Iterable[tuple[str, Any]]) -> str:
    rows = "".join(f"<tr><th>{html.escape(_human(k))}</th><td>{_fmt_value(k, v)}</td></tr>" for k, v in items)
    return f"<table class='srlab-kv'>{rows}</table>"


def _matrix_table(d: Mapping[str, Mapping[str, Any]]) -> str:
    """A dict of dicts (e.g. ``metrics: {Set5: {...}, Set14: {...}}``) as one table: rows = outer keys."""
    cols: list[str] = []
    for sub in d.values():
        cols += [k for k, v in sub.items() if k not in cols and not isinstance(v, Mapping) and k != "convention"]
    head = "".join(f"<th>{html.escape(_human(c))}</th>" for c in cols)
    body = "".join(f"<tr><th>{html.escape(str(k))}</th>" + "".join(f"<td>{_fmt_value(c, sub.get(c))}</td>" for c in cols) + "</tr>"
                   for k, sub in d.items())
    notes = {str(sub["convention"]) for sub in d.values() if isinstance(sub.get("convention"), str)}
    foot = "".join(f"<div class='srlab-note'>{html.escape(n)}</div>" for n in sorted(notes))
    return f"<div class='srlab-table-wrap'><table class='srlab-table'><thead><tr><th></th>{head}</tr></thead><tbody>{body}</tbody></table></div>{foot}"


def card_markdown(card: Mapping[str, Any]) -> str:
    """A model card (assets/<name>.json) as readable sections: the model's facts, then one section per group.

    Any keys work (new card fields appear without UI changes): scalars go to the first table, a
    dict of dicts (measured numbers per dataset) becomes one table with a row per dataset, other
    dicts a two-column table with readable keys.
    """
    scalars = [(k, v) for k, v in card.items() if not isinstance(v, Mapping)]
    parts = [_kv_table(scalars)] if scalars else []
    for k, v in card.items():
        if not isinstance(v, Mapping):
            continue
        parts.append(f"<h4>{html.escape(_human(k).capitalize())}</h4>")
        if v and all(isinstance(x, Mapping) for x in v.values()):
            parts.append(_matrix_table(v))
        else:
            flat = [(f"{kk}", vv) if not isinstance(vv, Mapping) else (kk, ", ".join(f"{a} {b}" for a, b in vv.items()))
                    for kk, vv in v.items()]
            parts.append(_kv_table(flat))
    return f"<div class='srlab-card'>{''.join(parts)}</div>"
