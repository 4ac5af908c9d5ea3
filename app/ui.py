"""Page layout and server launch: the three tabs, the hidden API endpoint, queue and limits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from app import bench_tab, models_tab, workspace
from app.api import CompareAPI
from app.compare_tab import CompareTab
from app.config import AppConfig
from app.video_tab import VideoTab
from srcore.heap import limit_arenas
from srcore.paths import use_models_dir

EXAMPLES = ("astronaut", "chelsea", "coffee", "rocket")
#: System fonts only: the default theme pulls Google Fonts, which offline/air-gapped servers cannot reach.
THEME = gr.themes.Soft(font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
CSS = """
.srlab-unavailable { color: var(--body-text-color-subdued); font-size: 0.9em; }
.srlab-unavailable .srlab-off { opacity: 0.6; }
.srlab-unavailable li { margin-bottom: 0.4em; }
.srlab-ok { color: #15803d; font-weight: 700; }
.srlab-no { color: #b91c1c; font-weight: 700; }
/* crops and maps: pictures at their true size, whole captions, rows that wrap; a row wider than the page scrolls */
.srlab-grid { display: flex; flex-wrap: wrap; gap: 10px; align-items: flex-start; overflow-x: auto; padding-bottom: 4px; }
.srlab-fig { margin: 0; flex: 0 0 auto; }
.srlab-fig img { display: block; max-width: none; image-rendering: pixelated; border: 1px solid var(--border-color-primary); }
.srlab-fig figcaption { font-size: 0.85em; line-height: 1.25; margin-top: 3px; overflow-wrap: anywhere; white-space: normal; }
.srlab-fig figcaption small { color: var(--body-text-color-subdued); }
#locator img { image-rendering: auto; cursor: crosshair; }
.srlab-maprow { margin-bottom: 10px; }
.srlab-maplabel { font-weight: 600; margin-bottom: 4px; }
/* tables: headers wrap, nothing clipped; a table wider than its box scrolls inside it */
.srlab-table-wrap { overflow-x: auto; max-width: 100%; }
.srlab-table { border-collapse: collapse; font-size: 0.9em; width: auto; }
.srlab-table th, .srlab-table td { border: 1px solid var(--border-color-primary); padding: 4px 8px; text-align: left; }
.srlab-table th { white-space: normal; vertical-align: bottom; background: var(--background-fill-secondary); }
.srlab-table td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.srlab-table td code { white-space: nowrap; }
.srlab-table td.best { background-color: #bbf7d0; color: #14532d; font-weight: 700; }
.srlab-note { font-size: 0.85em; color: var(--body-text-color-subdued); margin-top: 4px; }
.srlab-error { color: #b91c1c; font-weight: 600; border-left: 3px solid #b91c1c; padding: 4px 8px; background: #fef2f2; }
.srlab-stale { color: #92400e; background: #fffbeb; border-left: 3px solid #d97706; padding: 6px 10px; }
#status progress { width: 100%; }
/* a compact method list, so Compare stays on the first screen with every method listed */
#methods .wrap, #strengths .wrap { gap: 4px 6px; }
#methods label, #strengths label { padding: 2px 8px; font-size: 0.88em; }
#input-image .image-container img { object-fit: contain; }
.srlab-kv th { text-align: left; white-space: nowrap; padding-right: 1.5em; vertical-align: top; font-weight: 600; min-width: 10em; }
.srlab-kv td { overflow-wrap: anywhere; }
.srlab-cmd { white-space: pre-wrap; overflow-wrap: anywhere; font-size: 0.85em; }
.srlab-card h4 { margin: 0.8em 0 0.3em; }
"""
INTRO = """## SR Lab · compare super-resolution methods on your own image
**Treat as ground truth** downscales your image, restores it and scores each method; **Upscale as is** upscales it (no-reference metrics only)."""


def write_examples() -> Path | None:
    """The example inputs, rendered from images that ship with scikit-image (nothing committed or downloaded)."""
    try:
        import cv2
        import skimage.data

        from srcore.imageio import save_image

        d = workspace.root() / "examples"
        d.mkdir(exist_ok=True)
        for name in EXAMPLES:
            target = d / f"{name}.png"
            if not target.exists():
                save_image(target, getattr(skimage.data, name)())
        jpeg = d / "chelsea_q60.jpg"  # a web-style JPEG: what the real-photo methods are for
        if not jpeg.exists():
            cat = skimage.data.chelsea()
            small = cv2.resize(cat, (cat.shape[1] // 2, cat.shape[0] // 2), interpolation=cv2.INTER_AREA)
            cv2.imwrite(str(jpeg), cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 60])
        return d
    except Exception:  # examples are a convenience; the app works without them
        return None


def configure_core(cfg: AppConfig) -> None:
    """Process-wide set-up: srcore's model folder (the CLI's --models-dir) and a server's malloc arenas (srcore.heap)."""
    if cfg.models_dir is not None:
        use_models_dir(cfg.models_dir)
    limit_arenas()  # before Gradio's worker threads exist: their freed memory then does not ratchet RSS up


def build_app(cfg: AppConfig | None = None) -> gr.Blocks:
    """The whole app for ``cfg`` (defaults: environment variables, see AppConfig.from_env)."""
    cfg = cfg or AppConfig.from_env()
    configure_core(cfg)
    # Served files older than an hour are removed every 30 minutes (Gradio's cache of outputs/uploads).
    with gr.Blocks(title="SR Lab", delete_cache=(1800, 3600), analytics_enabled=False, fill_width=True) as demo:
        gr.Markdown(INTRO)
        with gr.Tabs():
            with gr.Tab("Compare", id="compare"):
                CompareTab(cfg).build(write_examples())
            with gr.Tab("Benchmark", id="benchmark"):
                bench_tab.BenchTab(cfg).build()
            with gr.Tab("Video", id="video"):
                VideoTab(cfg).build()
            with gr.Tab("Models", id="models"):
                models_tab.build()
        CompareAPI(cfg).build()
    demo.queue(default_concurrency_limit=4)
    demo.srlab_config = cfg  # type: ignore[attr-defined]
    return demo


def launch_kwargs(cfg: AppConfig) -> dict[str, Any]:
    """Everything ``demo.launch`` needs for ``cfg``; no extra ``allowed_paths``: only Gradio's own cache is served."""
    kw: dict[str, Any] = {
        "share": cfg.share,
        "max_file_size": cfg.max_file_size,
        "theme": THEME,
        "css": CSS,
        "ssr_mode": False,
        "footer_links": ["api", "gradio"],
    }
    if cfg.host:
        kw["server_name"] = cfg.host
    if cfg.port:
        kw["server_port"] = cfg.port
    return kw


def launch(demo: gr.Blocks, cfg: AppConfig | None = None, **overrides: Any) -> Any:
    """Start the server with the app's limits and theme; ``overrides`` go straight to ``demo.launch``."""
    cfg = cfg or getattr(demo, "srlab_config", None) or AppConfig.from_env()
    return demo.launch(**{**launch_kwargs(cfg), **overrides})
