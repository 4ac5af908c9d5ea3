"""Pure presentation: metric tables, heatmaps, the crop locator, plots and model cards.

No Gradio here and no computation of results - only turning srcore's numbers and arrays into
things people read. Kept free of UI state so it is trivially testable.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import cv2
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from pandas.io.formats.style import Styler
from PIL import Image, ImageDraw

#: |ΔY| maps are drawn on one fixed scale so colours mean the same for every method and image.
ERROR_VMAX = 32.0
BEST_CSS = "background-color: #bbf7d0; color: #14532d; font-weight: 700"
LOCATOR_MAX_SIDE = 1024

COL_METHOD, COL_ID = "Method", "id"
COL_PSNR, COL_SSIM, COL_SECONDS, COL_SIZE, COL_ERROR = "PSNR-Y (dB) ↑", "SSIM-Y ↑", "Seconds ↓", "Output size", "Error"


def lpips_header(variant: str | None) -> str:
    """LPIPS column title naming the variant (LPIPS-alex vs ST-LPIPS-alex are not comparable)."""
    return f"{variant or 'LPIPS'} ↓"


def _highlight(styler: Styler, df: pd.DataFrame, higher: list[str], lower: list[str]) -> Styler:
    """Mark the best value of each metric column (only where there is something to compare)."""
    for cols, fn in ((higher, styler.highlight_max), (lower, styler.highlight_min)):
        for col in cols:
            if col in df and pd.to_numeric(df[col], errors="coerce").notna().sum() >= 2:
                fn(subset=[col], props=BEST_CSS)
    return styler


def metrics_table(rows: list[dict[str, Any]], mode: str) -> Styler:
    """The comparison table from ``MethodResult.row`` dicts; best PSNR/SSIM/LPIPS/seconds highlighted.

    Upscale mode has no ground truth, so the full-reference columns are left out rather than shown empty.
    """
    variant = next((r.get("lpips_variant") for r in rows if r.get("lpips_variant")), None)
    lp = lpips_header(variant)
    records = []
    for r in rows:
        rec: dict[str, Any] = {COL_METHOD: r["label"], COL_ID: r["method"]}
        if mode == "reference":
            rec[COL_PSNR] = r.get("psnr_y")
            rec[COL_SSIM] = r.get("ssim_y")
            rec[lp] = r.get("lpips")
        rec[COL_SECONDS] = r.get("seconds") if r.get("error") is None else None
        rec[COL_SIZE] = r.get("output_size") or ""
        rec[COL_ERROR] = r.get("error") or ""
        records.append(rec)
    cols = [COL_METHOD, COL_ID, *([COL_PSNR, COL_SSIM, lp] if mode == "reference" else []), COL_SECONDS, COL_SIZE]
    if any(r.get("error") for r in rows):
        cols.append(COL_ERROR)  # only when something failed: an empty column just squeezes the others
    df = pd.DataFrame(records, columns=list(dict.fromkeys([*cols, COL_ERROR])))[cols]
    for c in (COL_PSNR, COL_SSIM, lp, COL_SECONDS):
        if c in df:
            df[c] = pd.to_numeric(df[c], errors="coerce")
    styler = df.style.format({COL_PSNR: "{:.2f}", COL_SSIM: "{:.4f}", lp: "{:.4f}", COL_SECONDS: "{:.4f}"}, na_rep="—")
    return _highlight(styler, df, [COL_PSNR, COL_SSIM], [lp, COL_SECONDS] if mode == "reference" else [COL_SECONDS])


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


def locator_image(image: np.ndarray, box: tuple[int, int, int, int], factor: float) -> tuple[np.ndarray, float]:
    """The image to click on, shrunk to <= LOCATOR_MAX_SIDE, with the crop box drawn.

    ``box`` is in output pixels and ``factor`` = output pixels per pixel of ``image``.
    Returns the picture and the output pixels per *displayed* pixel, to map clicks back.
    """
    h, w = image.shape[:2]
    shrink = min(1.0, LOCATOR_MAX_SIDE / max(h, w))
    shown = image if shrink == 1.0 else cv2.resize(image, (max(1, round(w * shrink)), max(1, round(h * shrink))), interpolation=cv2.INTER_AREA)
    per_shown = factor / shrink
    pil = Image.fromarray(np.ascontiguousarray(shown))
    draw = ImageDraw.Draw(pil)
    x0, y0, x1, y1 = (v / per_shown for v in box)
    lw = max(2, round(max(pil.size) / 256))
    draw.rectangle([x0 - lw, y0 - lw, x1 + lw - 1, y1 + lw - 1], outline=(0, 0, 0), width=lw)
    draw.rectangle([x0, y0, x1 - 1, y1 - 1], outline=(255, 230, 0), width=lw)
    return np.asarray(pil), per_shown


# ---------------------------------------------------------------------------------------- benchmark


def bench_frame(results: Mapping[str, Mapping[str, float | None]], labels: Mapping[str, str], variant: str | None) -> pd.DataFrame:
    """Benchmark means, one row per method (plain numbers: also the CSV)."""
    rows = [
        {
            "method": mid,
            "label": labels.get(mid, mid),
            "psnr_y": r.get("psnr_y"),
            "ssim_y": r.get("ssim_y"),
            "lpips": r.get("lpips"),
            "lpips_variant": variant if r.get("lpips") is not None else None,
            "seconds_per_image": r.get("seconds_per_image"),
        }
        for mid, r in results.items()
    ]
    return pd.DataFrame(rows, columns=["method", "label", "psnr_y", "ssim_y", "lpips", "lpips_variant", "seconds_per_image"])


def bench_table(df: pd.DataFrame, variant: str | None) -> Styler:
    """The benchmark frame for display: titled columns, best values highlighted."""
    lp = lpips_header(variant)
    shown = df.drop(columns=["lpips_variant"]).rename(
        columns={"method": COL_ID, "label": COL_METHOD, "psnr_y": COL_PSNR, "ssim_y": COL_SSIM, "lpips": lp, "seconds_per_image": "s / image ↓"}
    )[[COL_METHOD, COL_ID, COL_PSNR, COL_SSIM, lp, "s / image ↓"]]
    for c in (COL_PSNR, COL_SSIM, lp, "s / image ↓"):
        shown[c] = pd.to_numeric(shown[c], errors="coerce")
    styler = shown.style.format({COL_PSNR: "{:.2f}", COL_SSIM: "{:.4f}", lp: "{:.4f}", "s / image ↓": "{:.4f}"}, na_rep="—")
    return _highlight(styler, shown, [COL_PSNR, COL_SSIM], [lp, "s / image ↓"])


def _scatter(ax: Any, xs: list[float], ys: list[float], names: list[str]) -> None:
    ax.scatter(xs, ys, s=60, c=[f"C{i % 10}" for i in range(len(xs))], zorder=3)
    ax.margins(x=0.25, y=0.15)  # room for the method names next to the points
    for x, y, n in zip(xs, ys, names, strict=False):
        ax.annotate(n, (x, y), textcoords="offset points", xytext=(6, 4), fontsize=9)
    ax.grid(True, alpha=0.3)


def perception_distortion_plot(df: pd.DataFrame, variant: str | None, title: str) -> Figure:
    """PSNR (distortion, up is better) against LPIPS (perception, left is better), one point per method."""
    fig = Figure(figsize=(6, 4.2), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    ok = df.dropna(subset=["psnr_y", "lpips"])
    if ok.empty:
        ax.text(0.5, 0.5, "LPIPS not computed: no perception axis", ha="center", va="center", transform=ax.transAxes)
    else:
        _scatter(ax, ok["lpips"].tolist(), ok["psnr_y"].tolist(), ok["method"].tolist())
    ax.set_xlabel(f"{variant or 'LPIPS'} (lower = perceptually closer) →")
    ax.set_ylabel("PSNR-Y (dB, higher = less distortion)")
    ax.set_title(f"Perception–distortion · {title}", fontsize=10)
    return fig


def speed_quality_plot(df: pd.DataFrame, title: str) -> Figure:
    """PSNR against seconds per image (log scale): what each dB costs."""
    fig = Figure(figsize=(6, 4.2), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    ok = df.dropna(subset=["psnr_y", "seconds_per_image"])
    if ok.empty:
        ax.text(0.5, 0.5, "no results", ha="center", va="center", transform=ax.transAxes)
    else:
        secs = [max(s, 1e-4) for s in ok["seconds_per_image"]]
        _scatter(ax, secs, ok["psnr_y"].tolist(), ok["method"].tolist())
        ax.set_xscale("log")
    ax.set_xlabel("seconds per image (log scale, this server)")
    ax.set_ylabel("PSNR-Y (dB)")
    ax.set_title(f"Speed–quality · {title}", fontsize=10)
    return fig


# ---------------------------------------------------------------------------------------- model cards


def _flatten(d: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.extend(_flatten(v, f"{key} · "))
        else:
            out.append((key, v))
    return out


def _fmt_value(key: str, v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) < 10 else f"{v:,.2f}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    if isinstance(v, (list, tuple)):
        return ", ".join(str(x) for x in v)
    text = str(v)
    if "sha256" in key.lower() and len(text) > 16:
        return f"`{text[:12]}…`"
    return text.replace("|", "\\|").replace("\n", " ")


def card_markdown(card: Mapping[str, Any]) -> str:
    """A model card (assets/<name>.json) as a two-column table; any keys, nested ones flattened."""
    rows = [f"| {k.replace('_', ' ')} | {_fmt_value(k, v)} |" for k, v in _flatten(card)]
    return "| | |\n|---|---|\n" + "\n".join(rows)
