"""Page layout and server launch: the three tabs, the hidden API endpoint, queue and limits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from app import bench_tab, models_tab, workspace
from app.api import CompareAPI
from app.compare_tab import CompareTab
from app.config import AppConfig
from srcore.errors import SRError

EXAMPLES = ("astronaut", "chelsea", "coffee", "rocket")
#: System fonts only: the default theme pulls Google Fonts, which offline/air-gapped servers cannot reach.
THEME = gr.themes.Soft(font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
CSS = """
.srlab-unavailable { color: var(--body-text-color-subdued); font-size: 0.9em; }
.srlab-unavailable .srlab-off { opacity: 0.6; }
.srlab-unavailable li { margin-bottom: 0.4em; }
#crops img, #locator img { image-rendering: pixelated; }
.srlab-ok { color: #15803d; font-weight: 700; }
.srlab-no { color: #b91c1c; font-weight: 700; }
"""
INTRO = """# SR Lab
Compare super-resolution methods on your own image: synchronized zoomed crops, a before/after slider, metrics
and error maps. **Treat as ground truth** downscales your image, restores it with every method and scores the
result; **Upscale as is** just upscales (no reference, so no PSNR/SSIM/LPIPS)."""


def write_examples() -> Path | None:
    """The example inputs, rendered from images that ship with scikit-image (nothing committed or downloaded)."""
    try:
        import skimage.data

        from srcore.imageio import save_image

        d = workspace.root() / "examples"
        d.mkdir(exist_ok=True)
        for name in EXAMPLES:
            target = d / f"{name}.png"
            if not target.exists():
                save_image(target, getattr(skimage.data, name)())
        return d
    except Exception:  # examples are a convenience; the app works without them
        return None


def configure_core(cfg: AppConfig) -> None:
    """Point srcore at the operator's model folder (process-wide, like the CLI's --models-dir)."""
    if cfg.models_dir is not None:
        from srcore.paths import set_models_dir
        from srcore.registry import reset

        if not Path(cfg.models_dir).is_dir():
            raise SRError(f"--models-dir {cfg.models_dir}: no such folder")
        set_models_dir(cfg.models_dir)
        reset()


def build_app(cfg: AppConfig | None = None) -> gr.Blocks:
    """The whole app for ``cfg`` (defaults: environment variables, see AppConfig.from_env)."""
    cfg = cfg or AppConfig.from_env()
    configure_core(cfg)
    # Served files older than an hour are removed every 30 minutes (Gradio's cache of outputs/uploads).
    with gr.Blocks(title="SR Lab", delete_cache=(1800, 3600), analytics_enabled=False) as demo:
        gr.Markdown(INTRO)
        with gr.Tabs():
            with gr.Tab("Compare", id="compare"):
                CompareTab(cfg).build(write_examples())
            with gr.Tab("Benchmark", id="benchmark"):
                bench_tab.BenchTab(cfg).build()
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
