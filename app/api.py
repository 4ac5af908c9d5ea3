"""The scriptable endpoint ``/compare``: (image file, scale, method ids, mode) -> metrics.

Deliberately separate from the UI's streaming run: one plain call, no session state, no
files written, and a JSON output that is exactly ``srcore.compare.Comparison.to_json()``
(plus the same table the UI shows), so ``gradio_client`` scripts get the CLI's numbers::

    from gradio_client import Client, handle_file
    client = Client("http://127.0.0.1:7860/")
    report, table = client.predict(handle_file("photo.png"), 4, ["bicubic", "dnn-espcn"], "reference", api_name="/compare")
"""

from __future__ import annotations

from typing import Any

import gradio as gr
from pandas.io.formats.style import Styler

from app import render
from app.compare_tab import check_output_size, load_input, normalize_mode, parse_methods, parse_scale
from app.config import AppConfig
from app.messages import public_text, user_errors
from srcore.compare import compare
from srcore.paths import model_dirs
from srcore.registry import method_ids


class CompareAPI:
    def __init__(self, cfg: AppConfig) -> None:
        self.cfg = cfg

    def compare(self, image: bytes | str | None, scale: float, methods: list[str] | str | None, mode: str | None) -> tuple[dict[str, Any], Styler]:
        """Compare methods on one image.

        image: the image file. scale: 2, 3 or 4. methods: method ids (see the Models tab), e.g. ["bicubic", "dnn-espcn"].
        mode: "reference" (treat the input as ground truth: degrade, restore, score) or "upscale" (as is, no metrics).
        Returns the comparison report (Comparison.to_json: mode, scale, lpips_variant, notes, results[method, psnr_y,
        ssim_y, lpips, lpips_variant, seconds, output_size, error]) and the same numbers as a table.
        Methods that cannot run (unknown id, unsupported scale, missing model) get a row whose "error" says why.
        """
        ids = parse_methods(methods)
        s, m = parse_scale(scale), normalize_mode(mode)
        img = load_input(image, self.cfg.max_pixels)
        check_output_size(img, s, m, self.cfg.max_pixels)
        res = compare(img, s, ids, m, allow_files=self.cfg.allow_file_models, allowed_dirs=model_dirs())
        report = res.to_json()
        report["notes"] = [public_text(n) for n in report["notes"]]
        for row in report["results"]:
            if row["error"]:
                row["error"] = public_text(row["error"])
        return report, render.metrics_table(report["results"], m)

    def build(self) -> None:
        """Hidden components + button: the endpoint's typed inputs/outputs, invisible in the page."""
        with gr.Column(visible=False):
            # binary, not filepath: Gradio 6 leaves an empty temp file behind per filepath-type call
            image = gr.File(label="image", type="binary")
            scale = gr.Number(label="scale", value=4, precision=0)
            methods = gr.Dropdown(label="methods", choices=method_ids(), multiselect=True, allow_custom_value=True)
            mode = gr.Textbox(label="mode", value="reference")
            button = gr.Button("compare")
            report = gr.JSON(label="report")
            table = gr.Dataframe(label="metrics", interactive=False)
        button.click(user_errors(self.compare), [image, scale, methods, mode], [report, table], api_name="compare",
                     concurrency_limit=self.cfg.concurrency, concurrency_id="heavy")
