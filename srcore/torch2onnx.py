"""ONNX bytes of a loaded torch network: what the runtime backends compile and ``export`` writes.

Why its own module: it is the runtime layer's input (:mod:`srcore.backends` compiles these bytes
for onnxruntime/OpenVINO), so it must not depend on the method registry. ``export`` (the command,
:mod:`srcore.export`) sits above the registry and reuses these same bytes, so what users export
is exactly what the app runs. The twin of :mod:`srcore.pb2onnx` (TensorFlow ``.pb`` -> ONNX).
"""

from __future__ import annotations

import io
import threading
import warnings
import weakref
from typing import Any

import torch

OPSET = 17


def export_target(module: Any) -> Any:
    """The bare network: spandrel wrappers are unwrapped (``run_network`` pads to size multiples itself)."""
    desc = getattr(module, "desc", None)
    return desc.model if desc is not None else module


_cache: weakref.WeakKeyDictionary[Any, dict[int, bytes]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def onnx_bytes(module: Any, opset: int = OPSET) -> bytes:
    """Serialise a torch SR module (NCHW [0,1] -> NCHW [0,1]) to ONNX with dynamic H/W.

    Cached per loaded module: exporting EDSR takes seconds, and the backends and ``export``
    would otherwise each pay it for the same network.
    """
    with _lock:
        per = _cache.setdefault(module, {})
        if opset not in per:
            per[opset] = _export(module, opset)
        return per[opset]


def _export(module: Any, opset: int) -> bytes:
    net = export_target(module)
    dummy = torch.rand(1, 3, 64, 64)
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        # dynamo=False: the TorchScript exporter handles every conv/pixel-shuffle net and needs no onnxscript.
        torch.onnx.export(net, (dummy,), buf, dynamo=False, opset_version=opset, input_names=["lr"], output_names=["sr"],
                          dynamic_axes={"lr": {0: "batch", 2: "height", 3: "width"},
                                        "sr": {0: "batch", 2: "out_height", 3: "out_width"}})
    return buf.getvalue()
