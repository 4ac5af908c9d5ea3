"""Models tab: a card per method - what it is, what it was trained on, how well it does, and whether it runs here.

Training facts and measured Set5/Set14 numbers come from the model cards shipped with our
weights (``method.info()["cards"]``); the tab renders whatever keys a card has, so new card
fields appear without UI changes. "Refresh" re-reads availability (after a download, say).
"""

from __future__ import annotations

import html

import gradio as gr

from app import render
from app.messages import public_text, user_errors
from srcore.methods.base import Upscaler
from srcore.registry import all_methods

FAMILY = {"interpolation": "classical interpolation", "opencv-dnn": "CNN run by OpenCV's dnn module", "torch": "PyTorch network"}


def _how_to_get(m: Upscaler, ok: bool) -> str:
    from srcore.weights import ZOO

    if ok:
        return "Ready on this server."
    if m.id in ZOO:
        return f"Download its published weights: `python -m srcore download {m.id}` (SHA-256 checked), then restart or press Refresh."
    if m.family == "interpolation":
        return "Built in."
    return "Our own weights: trained with `train/` and shipped in `assets/` with a model card; see the reason above."


def method_card(m: Upscaler) -> str:
    """Markdown for one method."""
    avail = m.availability()
    ready = m.available_scales() if avail else ()
    info = m.info()
    status = (f"<span class='srlab-ok'>available</span> at {', '.join(f'×{s}' for s in ready)}" if avail
              else f"<span class='srlab-no'>not available</span>: {public_text(avail.reason)}")
    lines = [
        f"### {html.escape(m.label)} — `{m.id}`",
        f"*{FAMILY.get(m.family, m.family)}* · scales {m.scales_text}",
        "",
        info.get("description") or m.description or "",
        "",
        f"**Availability:** {status}",
        "",
        f"**How to get it:** {_how_to_get(m, bool(avail))}",
    ]
    if m.options:
        lines += ["", "**Options:** " + "; ".join(f"`{o.name}` {o.minimum:g}–{o.maximum:g} (default {o.default:g}): {o.help}" for o in m.options)]
    cards = info.get("cards") or {}
    if cards:
        for scale, card in sorted(cards.items(), key=lambda kv: int(kv[0])):
            lines += ["", f"<details><summary>Model card ×{scale}: parameters, training data, iterations, Set5/Set14 numbers</summary>",
                      "", render.card_markdown(card), "", "</details>"]
    elif m.family != "interpolation":
        from srcore.weights import ZOO

        lines += ["", "*Published weights, not trained here: see the authors' paper for training details.*" if m.id in ZOO
                  else "*No model card yet: these weights have not been shipped.*"]
    return "\n".join(lines)


def summary_table() -> str:
    """One line per method, to see at a glance what runs here before reading the cards."""
    rows = []
    for m in all_methods():
        avail = m.availability()
        ready = ", ".join(f"×{s}" for s in m.available_scales()) if avail else "—"
        rows.append(f"| `{m.id}` | {m.label} | {FAMILY.get(m.family, m.family)} | {m.scales_text} | {ready} |")
    return "| id | method | kind | scales | ready here |\n|---|---|---|---|---|\n" + "\n".join(rows)


def all_cards() -> str:
    return summary_table() + "\n\n---\n\n" + "\n\n---\n\n".join(method_card(m) for m in all_methods())


def build() -> None:
    gr.Markdown("Every method SR Lab knows. Metrics on the cards are measured with the benchmark convention "
                "(BT.601 Y, `scale` px shaved) by `python -m srcore bench`.")
    refresh = gr.Button("Refresh availability", size="sm")
    cards = gr.Markdown(all_cards(), elem_id="model-cards")
    refresh.click(user_errors(all_cards), None, [cards], api_visibility="private")
