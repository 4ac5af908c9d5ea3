"""The comparison viewer in the page: srcore's ``<srlab-viewer>`` (srcore/html_report.py) as a ``gr.HTML``.

Why a wrapper and not a second viewer: the Compare tab and the exported HTML file must behave the
same (keys, zoom, difference, blind test), so the script and its data format live in srcore and
this module only (a) loads the script once per page through ``gr.HTML(js_on_load=...)`` - it
defines the custom element, so every later value that contains one comes alive by itself - and
(b) serves the pictures as files from Gradio's cache instead of inlining them: 15 outputs of
4000 px as data URIs would be hundreds of MB in one message, as files the browser fetches and
decodes each once.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gradio as gr

from srcore.html_report import ViewerImage, assets, metric_entries, viewer_data, viewer_element

EMPTY = "<div class='srlab-note'>The viewer appears here when a comparison is done.</div>"


def component(**kwargs: Any) -> gr.HTML:
    """The viewer's ``gr.HTML``; its ``js_on_load`` defines ``<srlab-viewer>`` for the whole page."""
    js, _ = assets()
    return gr.HTML(EMPTY, js_on_load=js, **kwargs)


def served_url(block: gr.HTML, path: Path) -> str:
    """A URL (relative to the page, so a mounted root path works) for ``path`` copied into Gradio's cache."""
    cached = block.move_resource_to_block_cache(str(path))
    return f"gradio_api/file={cached}"


def view_html(block: gr.HTML, report: Mapping[str, Any], files: Mapping[str, Path], labels: Mapping[str, str],
              size: tuple[int, int], kinds: Mapping[str, str], query: str = "") -> str:
    """The viewer for a finished comparison.

    ``files``: display key -> PNG on disk (``HR``, ``LR`` and each result's method id), in display order;
    ``labels``/``kinds``: per key; ``report``: the comparison JSON (its rows give each method's metrics);
    ``query``: the page URL's query for a shared link (``CompareTab.share_query``), written with the view's hash.
    """
    rows = {r["method"]: r for r in report.get("results", [])}
    mode = report.get("mode", "reference")
    images = [ViewerImage(k, labels.get(k, k), served_url(block, p), kinds.get(k, "method"),
                          metric_entries(rows[k], mode) if k in rows else []) for k, p in files.items()]
    _, css = assets()
    data = viewer_data(images, size[0], size[1], note="metrics: " + ("PSNR/SSIM on BT.601 Y, scale px shaved" if mode == "reference"
                                                                     else "no ground truth: NIQE, Hatch and LR-PSNR only"),
                       query=query)
    return f"<style>{css}</style>{viewer_element(data, '62vh')}"
