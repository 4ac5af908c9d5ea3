"""Export the torch methods' networks to ONNX or ncnn (``python -m srcore export``).

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

from srcore.atomic import atomic_path, commit, partial_name
from srcore.engine import method_options
from srcore.errors import MethodError, SRError
from srcore.models.ncnn_writer import INPUT, OUTPUT, NcnnWriteError, to_ncnn
from srcore.registry import get_method
from srcore.torch2onnx import OPSET, export_target, onnx_bytes
from srcore.weights_io import sha256_file

NORMALISATION = ("input: float32 NCHW RGB = uint8 / 255 (range 0..1); output: float32 NCHW RGB, "
                 "uint8 = round(clamp(y, 0, 1) * 255); no mean/std (the network subtracts its own mean)")


def _network(method_id: str, scale: int, out: Path, options: dict[str, Any] | None) -> tuple[Any, Any, dict[str, Any]]:
    """(method, its torch network at ``scale`` with ``options`` baked in, the options) -- or one clear error."""
    if out.is_dir():
        raise SRError(f"{out}: is a folder; give the file to write")
    method = get_method(method_id)
    if method.family != "torch" or not hasattr(method, "torch_network"):
        raise MethodError(f"{method.id} is not a network method that can be exported (export: the torch methods and file: models)")
    avail = method.availability(scale)
    if not avail:
        raise MethodError(avail.reason)
    opts = method_options(method, options)
    for o in method.options:
        opts.setdefault(o.name, o.default)
    return method, method.torch_network(scale, **opts), opts


def _weights_sha256(method: Any, scale: int) -> str:
    return json.dumps({p.name: sha256_file(p) for p in method.weight_files(scale)})


def export_onnx(method_id: str, scale: int, out: Path, options: dict[str, Any] | None = None, opset: int = OPSET) -> dict[str, str]:
    """Write method ``method_id`` at ``scale`` to ``out`` as ONNX; return the metadata written."""
    if opset < 17:
        raise SRError(f"--opset {opset}: use 17 or newer")
    method, module, opts = _network(method_id, scale, out, options)
    model = onnx.load_from_string(onnx_bytes(module, opset))
    meta = {
        "method_id": method.id,
        "scale": str(scale),
        "weights_sha256": _weights_sha256(method, scale),
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


def export_ncnn(method_id: str, scale: int, out: Path, options: dict[str, Any] | None = None) -> dict[str, str]:
    """Write method ``method_id`` at ``scale`` as an ncnn model: ``out`` (``.param``) and the ``.bin`` beside it.

    The files :mod:`srcore.models.ncnn_writer` makes for ``--backend ncnn``, so what users export is what that
    backend runs: input blob ``data``, output ``output``, the same normalisation as the ONNX file, any size.
    ncnn files have no metadata slot, so the metadata is returned (and printed by the CLI) instead.
    """
    if out.suffix != ".param":
        raise SRError(f"{out}: an ncnn model is a .param file (its weights go to the .bin beside it)")
    method, module, opts = _network(method_id, scale, out, options)
    try:
        text, data = to_ncnn(export_target(module))
    except NcnnWriteError as exc:
        raise MethodError(f"{method.id}: {exc}; export it as ONNX instead") from None
    bin_path = out.with_suffix(".bin")
    if bin_path.is_dir():
        raise SRError(f"{bin_path}: is a folder; the .bin of {out.name} goes there")
    _write_pair(out, text, bin_path, data)
    return {"method_id": method.id, "scale": str(scale), "weights_sha256": _weights_sha256(method, scale),
            "options": json.dumps(opts), "input": INPUT, "output": OUTPUT, "normalisation": NORMALISATION}


def _write_pair(param: Path, text: str, bin_path: Path, data: bytes) -> None:
    """Both files or, on an error, no new one: both written under temporary names first, then the .bin
    committed, then the .param; if the .param cannot be committed, the .bin this call committed goes too."""
    param.parent.mkdir(parents=True, exist_ok=True)
    tmp_param, tmp_bin = partial_name(param), partial_name(bin_path)
    committed: list[Path] = []
    try:
        tmp_bin.write_bytes(data)
        tmp_param.write_text(text)
        committed.append(commit(tmp_bin, bin_path))
        committed.append(commit(tmp_param, param))
    except OSError as exc:
        if committed == [bin_path]:
            bin_path.unlink(missing_ok=True)
        raise SRError(f"{param}: cannot write the ncnn files ({exc.strerror or exc})") from None
    finally:
        tmp_param.unlink(missing_ok=True)
        tmp_bin.unlink(missing_ok=True)
