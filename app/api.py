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
from gradio_client import handle_file
from pandas.io.formats.style import Styler

from app import render
from app.config import AppConfig
from app.inputs import (
    check_output_size,
    check_outscale_size,
    check_reference_size,
    degradation_spec,
    load_input,
    normalize_mode,
    parse_backend,
    parse_methods,
    parse_outscale,
    parse_scale,
)
from app.messages import user_errors
from app.methods import tta_label
from app.runner import lpips_for, report_json, run_specs
from srcore.compare import Comparison, prepare
from srcore.registry import method_ids
from srcore.tta import each_with_tta

#: The example the "Use via API" page shows: a real picture and real method ids, so copying it works.
EXAMPLE_IMAGE = "https://raw.githubusercontent.com/gradio-app/gradio/main/test/test_files/bus.png"
EXAMPLE_METHODS = ["bicubic", "edsr"]


def _api_example(component: gr.components.Component, value: Any) -> None:
    """Set the example the API page shows for ``component`` (Gradio's stock ones are a PDF and ``[]``, which /compare refuses).

    An instance attribute rather than a subclass: Gradio writes a ``.pyi`` stub next to any module
    that subclasses a component.
    """
    component.example_inputs = lambda: value  # type: ignore[method-assign]


class CompareAPI:
    def __init__(self, cfg: AppConfig) -> None:
        self.cfg = cfg

    def compare(self, image: bytes | str | None, scale: float, methods: list[str] | str | None, mode: str | None,
                degradation: str | None = "bicubic", jpeg_quality: float | None = 50, seed: float | None = 0,
                backend: str | None = "", tta: bool | None = False, outscale: float | None = None) -> tuple[dict[str, Any], Styler]:
        """Compare methods on one image.

        image: the image file. scale: 2, 3 or 4. methods: method ids (see the Models tab), e.g. ["bicubic", "edsr"];
        "srgan@0.5" runs srgan at strength 0.5 (several strengths may be listed).
        mode: "reference" (treat the input as ground truth: degrade, restore, score) or "upscale" (as is; no-reference
        metrics only). degradation (reference mode): "bicubic" (default), "jpeg" (with jpeg_quality) or "realistic"
        (with seed). backend: where torch networks run ("torch", "onnxruntime", "openvino", "auto"; "" = server default).
        tta: true = every network method runs as the x8 flip/rotate self-ensemble (about 8x the time; labels say "+TTA").
        outscale: an output scale other than the network's (e.g. 3.5: run at `scale`, then resize; reference mode makes
        the LR 1/outscale of the image and scores at it); the report keeps "scale" and adds "outscale".
        Returns the comparison report (Comparison.to_json: mode, scale, input_size (the upload), lr_size (what the
        methods got), degradation, lpips_variant, notes, results[method, psnr_y, ssim_y, lpips, gmsd, niqe, lr_psnr,
        lpips_variant, seconds, output_size, error, reasons]) and the same numbers as a table.
        Methods that cannot run (unknown id, unsupported scale, missing model) get a row whose "error" says why.
        """
        ids = parse_methods(methods)
        s, m = parse_scale(scale), normalize_mode(mode)
        img = load_input(image, self.cfg.max_pixels)
        check_reference_size(img, s, m)
        check_output_size(img, s, m, self.cfg.max_pixels)
        spec = degradation_spec(m, degradation, jpeg_quality, seed)
        prep = prepare(img, s, m, spec, parse_outscale(outscale))
        check_outscale_size(prep.out_size, self.cfg.max_pixels)
        lpips_fn, variant = lpips_for(prep)
        results = list(each_with_tta(bool(tta), run_specs(prep, ids, lpips_fn, self.cfg.allow_file_models, parse_backend(backend))))
        for r in results:
            r.label = tta_label(r.method_id, r.label, bool(tta))
        h, w = img.rgb.shape[:2]
        report = report_json(Comparison(prep, results, variant), img.name, f"{w}x{h}")
        report["tta"] = bool(tta)
        return report, render.metrics_table(report["results"], m)

    def build(self) -> None:
        """Hidden components + button: the endpoint's typed inputs/outputs, invisible in the page."""
        with gr.Column(visible=False):
            # binary, not filepath: Gradio 6 leaves an empty temp file behind per filepath-type call
            image = gr.File(label="image", type="binary")
            scale = gr.Number(label="scale", value=4, precision=0)
            methods = gr.Dropdown(label="methods", choices=method_ids(), value=EXAMPLE_METHODS, multiselect=True, allow_custom_value=True)
            mode = gr.Textbox(label="mode", value="reference")
            degradation = gr.Textbox(label="degradation", value="bicubic")
            quality = gr.Number(label="jpeg_quality", value=50, precision=0)
            seed = gr.Number(label="seed", value=0, precision=0)
            backend = gr.Textbox(label="backend", value="")
            tta = gr.Checkbox(label="tta", value=False)
            outscale = gr.Number(label="outscale", value=None)
            button = gr.Button("compare")
            _api_example(image, handle_file(EXAMPLE_IMAGE))
            _api_example(methods, EXAMPLE_METHODS)
            report = gr.JSON(label="report")
            table = gr.Dataframe(label="metrics", interactive=False)
        button.click(user_errors(self.compare), [image, scale, methods, mode, degradation, quality, seed, backend, tta, outscale], [report, table], api_name="compare",
                     concurrency_limit=self.cfg.concurrency, concurrency_id="heavy")
