"""Export the torch methods' networks to ONNX (``python -m srcore export``).

Why ONNX: it is the one format every deployment runtime reads (onnxruntime on servers, phones
and browsers, OpenVINO, TensorRT, OpenCV 5's DNN module, and the TFLite/CoreML converters), and
torch writes it without extra packages. The bytes are :func:`srcore.torch2onnx.onnx_bytes`, the same
the runtime backends (:mod:`srcore.backends`) compile, so what users export is exactly what the app runs.

The file has dynamic height/width (any input size; the network is fully convolutional) and
carries its metadata as ONNX ``metadata_props``: scale, method id, weight SHA-256(s), strength,
and the input/output normalisation.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import onnx

from srcore.atomic import atomic_path
from srcore.engine import method_options
from srcore.errors import MethodError, SRError
from srcore.registry import get_method
from srcore.torch2onnx import OPSET, onnx_bytes
from srcore.weights_io import sha256_file

NORMALISATION = ("input: float32 NCHW RGB = uint8 / 255 (range 0..1); output: float32 NCHW RGB, "
                 "uint8 = round(clamp(y, 0, 1) * 255); no mean/std (the network subtracts its own mean)")


def export_onnx(method_id: str, scale: int, out: Path, options: dict[str, Any] | None = None, opset: int = OPSET) -> dict[str, str]:
    """Write method ``method_id`` at ``scale`` to ``out`` as ONNX; return the metadata written."""
    if opset < 17:
        raise SRError(f"--opset {opset}: use 17 or newer")
    if out.is_dir():
        raise SRError(f"{out}: is a folder; give the .onnx file to write")
    method = get_method(method_id)
    if method.family != "torch" or not hasattr(method, "torch_network"):
        raise MethodError(f"{method.id} is not a network method that can be exported (export: the torch methods and file: models)")
    avail = method.availability(scale)
    if not avail:
        raise MethodError(avail.reason)
    opts = method_options(method, options)
    for o in method.options:
        opts.setdefault(o.name, o.default)
    module = method.torch_network(scale, **opts)
    model = onnx.load_from_string(onnx_bytes(module, opset))
    files = method.weight_files(scale)
    meta = {
        "method_id": method.id,
        "scale": str(scale),
        "weights_sha256": json.dumps({p.name: sha256_file(p) for p in files}),
        "normalisation": NORMALISATION,
        "options": json.dumps(opts),
        "producer": "SR Lab (python -m srcore export)",
        "opset": str(opset),
    }
    onnx.helper.set_model_props(model, meta)
    model.doc_string = f"{method.label} x{scale}"
    try:  # a failed or interrupted export leaves nothing half-written
        with atomic_path(out) as tmp:
            onnx.save(model, str(tmp))
    except OSError as exc:
        raise SRError(f"{out}: cannot write the ONNX file ({exc.strerror or exc})") from None
    return meta
