"""LPIPS features on a compiled runtime (OpenVINO or onnxruntime, fp32), the graph cached on disk.

Why: the shift-tolerant AlexNet runs its first layers at stride 1 - about 160 GFLOP per Mpx and
image - and torch eager reaches a fraction of the CPU's peak on it, so scoring a 1 Mpx output cost
more than most networks that made it (issue 22). The same fp32 graph in OpenVINO runs several times
faster with the same numbers (within 1e-6 here, 1e-3 promised).

What is compiled is only the feature extractor (:class:`srcore.lpips_nets.FeatureNet`: scaling
layer, backbone, unit-normalised channels); the distance head (squared difference, 1x1 linear
layer, per layer) is a matrix-vector product in numpy (:func:`head_maps`). So a reference image's
features are computed once and compared with every method's output.

The graph is exported once per machine, not per process: ``<user cache>/srcore/lpips/`` holds the
ONNX file and its heads (``.npz``), keyed by the weight files (name, size, mtime) and
:data:`GRAPH_VERSION`; OpenVINO's compiled blobs go in ``lpips/openvino/`` (its ``CACHE_DIR``), so a
one-off CLI run neither imports torch for LPIPS nor recompiles. H and W are dynamic: one compiled
model serves every image size (OpenVINO keeps a plan per shape it has seen).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import platform
import sys
import threading
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from srcore.paths import cache_dir

#: Bump when :class:`srcore.lpips_nets.FeatureNet` or the export changes: old cached graphs are then ignored.
GRAPH_VERSION = 2
#: What ``runtime=`` / ``$SRCORE_LPIPS_RUNTIME`` accept; ``auto`` = OpenVINO, else onnxruntime, else torch.
RUNTIMES = ("auto", "torch", "openvino", "onnxruntime")
ENV = "SRCORE_LPIPS_RUNTIME"


def resolve_runtime(runtime: str | None) -> str:
    """The concrete runtime for ``runtime`` (``None`` = ``$SRCORE_LPIPS_RUNTIME`` or ``auto``).

    ``auto`` picks a compiled runtime on x86-64 only, where ``benchmarks/score_profile.py`` measured
    it (and the network backends' ``auto`` prefers OpenVINO too); elsewhere torch.
    """
    name = (runtime or os.environ.get(ENV) or "auto").strip().lower()
    if name not in RUNTIMES:
        raise ValueError(f"unknown LPIPS runtime {name!r}; choose one of {', '.join(RUNTIMES)}")
    if name == "auto":
        if platform.machine().lower() not in ("x86_64", "amd64"):
            return "torch"
        return next((r for r in ("openvino", "onnxruntime") if importlib.util.find_spec(r) is not None), "torch")
    if name != "torch" and importlib.util.find_spec(name) is None:
        raise ValueError(f"LPIPS runtime {name} needs the {name} package (pip install {name}); or use auto")
    return name


def fused_parity(backend: str, net: str, shape: tuple[int, ...]) -> tuple[bool, bool] | None:
    """``(H even, W even)`` for ST-AlexNet, whose graph fuses its first layer per parity
    (:class:`srcore.lpips_nets._FusedFirstLayer`); None for the networks with one graph for every size."""
    return (shape[0] % 2 == 0, shape[1] % 2 == 0) if (backend, net) == ("st", "alex") else None


def graph_path(backend: str, net: str, weight_files: list[Path], parity: tuple[bool, bool] | None = None) -> Path:
    """Where the ONNX graph of this LPIPS network (for this parity) lives in the user cache (it may not exist yet)."""
    stats = []
    for p in weight_files:
        st = p.stat()
        stats.append([p.name, st.st_size, st.st_mtime_ns])
    key = hashlib.sha256(json.dumps([GRAPH_VERSION, backend, net, stats]).encode()).hexdigest()[:16]
    tag = "" if parity is None else f"-{'e' if parity[0] else 'o'}{'e' if parity[1] else 'o'}"
    return cache_dir() / "lpips" / f"{backend}-{net}-g{GRAPH_VERSION}-{key}{tag}.onnx"


def _threads() -> int:
    """Torch's thread count when torch is loaded (a user's ``set_num_threads`` applies), else the usable cores."""
    torch = sys.modules.get("torch")
    if torch is not None:
        return max(1, torch.get_num_threads())
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def head_maps(feats0: list[np.ndarray], feats1: list[np.ndarray], heads: list[np.ndarray]) -> list[np.ndarray]:
    """Per-layer (h, w) float32 distance maps: ``lin((f0 - f1)^2)``, as ``lpips.LPIPS.forward`` before its mean."""
    maps = []
    for a, b, w in zip(feats0, feats1, heads, strict=True):
        c, h, wd = a.shape
        out = np.empty((h, wd), dtype=np.float32)
        # in bands of rows (~1 M values): small temporaries stay in cache and out of the allocator's way
        # (a whole-layer difference is ~17 MB at 512², and a server scoring many images fragments on those)
        rows = max(1, (1 << 20) // max(1, c * wd))
        for r in range(0, h, rows):
            d = np.subtract(a[:, r : r + rows], b[:, r : r + rows], dtype=np.float32)
            np.multiply(d, d, out=d)
            out[r : r + rows] = (w @ d.reshape(c, -1)).reshape(-1, wd)
        maps.append(out)
    return maps


class FeatureRunner:
    """A compiled feature extractor: RGB uint8 H x W x 3 -> five (C, h, w) float32 feature maps.

    One per metric, shared by threads: calls are serialised (one infer request; on a small CPU two
    concurrent LPIPS passes would only fight for the same cores).
    """

    def __init__(self, onnx_path: Path, runtime: str) -> None:
        self.runtime = runtime
        with np.load(onnx_path.with_suffix(".npz")) as z:
            self.heads = [z[f"arr_{k}"].astype(np.float32) for k in range(5)]
        self._lock = threading.Lock()
        self._run: Callable[[np.ndarray], list[np.ndarray]]
        self._maps: Callable[[np.ndarray, list[np.ndarray]], list[np.ndarray]] = (
            lambda x, ref_feats: head_maps(self._run(x), ref_feats, self.heads))
        if runtime == "openvino":
            import openvino as ov

            core = ov.Core()
            blobs = onnx_path.parent / "openvino"
            blobs.mkdir(parents=True, exist_ok=True)
            core.set_property({"CACHE_DIR": str(blobs)})
            # f32 explicitly: on AMX/BF16 CPUs OpenVINO would otherwise silently run in bf16.
            config = {"INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": _threads()}
            compiled = core.compile_model(str(onnx_path), "CPU", config)
            req = compiled.create_infer_request()
            outs = list(compiled.outputs)

            def run_ov(x: np.ndarray) -> list[np.ndarray]:
                res = req.infer([x])
                return [res[o][0] for o in outs]  # views into the request's buffers: valid until the next call

            self._run = run_ov
            dist = core.compile_model(_distance_model(core.read_model(str(onnx_path)), self.heads), "CPU", config)
            dist_req = dist.create_infer_request()
            dist_outs = list(dist.outputs)

            def maps_ov(x: np.ndarray, ref_feats: list[np.ndarray]) -> list[np.ndarray]:
                res = dist_req.infer([x, *(f[None] for f in ref_feats)], share_inputs=True)
                return [np.array(res[o][0, 0], copy=True) for o in dist_outs]

            self._maps = maps_ov
        elif runtime == "onnxruntime":
            import onnxruntime as ort

            so = ort.SessionOptions()
            so.intra_op_num_threads = _threads()
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            sess = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
            self._run = lambda x: [o[0] for o in sess.run(None, {"x": x})]
        else:
            raise ValueError(f"no LPIPS feature runner for {runtime!r}")

    @staticmethod
    def _input(img: np.ndarray) -> np.ndarray:
        # uint8 -> [-1, 1], as lpips.im2tensor (and the torch path: x / 127.5 - 1 in float32)
        x = np.ascontiguousarray(img.transpose(2, 0, 1)[None], dtype=np.float32)
        x /= np.float32(127.5)
        x -= np.float32(1.0)
        return x

    def features(self, img: np.ndarray) -> list[np.ndarray]:
        """The five feature maps of ``img`` (copies: safe to keep, e.g. a reference's)."""
        x = self._input(img)
        with self._lock:
            return [np.array(f, copy=True) for f in self._run(x)]

    def maps_against(self, img: np.ndarray, ref_feats: list[np.ndarray]) -> list[np.ndarray]:
        """Per-layer distance maps of ``img`` against features already computed (one pass, no copies)."""
        x = self._input(img)
        with self._lock:
            return self._maps(x, ref_feats)


def _distance_model(features: object, heads: list[np.ndarray]) -> object:
    """The OpenVINO feature model extended by the distance head: (image, five reference feature maps) -> five maps.

    Why: in numpy the head (difference, square, 1x1 weighting of up to 64 x 512 x 512 values at 1 Mpx)
    cost as much as the network itself, on one core and through memory; inside the graph it is fused
    with the last layer of each slice and runs on every core, and the output image's features never leave
    the runtime. The arithmetic is :func:`head_maps`' (fp32; only the summation order of the 1x1 differs).
    """
    import openvino as ov
    import openvino.opset13 as ops

    params = list(features.get_parameters())  # type: ignore[attr-defined]
    results = []
    for k, (res, w) in enumerate(zip(features.get_results(), heads, strict=True)):  # type: ignore[attr-defined]
        out = res.input_value(0)  # the feature map itself: the old Result nodes are not part of the new model
        ref = ops.parameter(ov.PartialShape([1, len(w), -1, -1]), ov.Type.f32, name=f"r{k}")
        params.append(ref)
        d = ops.subtract(out, ref)
        weight = ops.constant(w.reshape(1, -1, 1, 1).astype(np.float32))
        results.append(ops.result(ops.convolution(ops.multiply(d, d), weight, [1, 1], [0, 0], [0, 0], [1, 1])))
    return ov.Model(results, params, "lpips_distance")


def ensure_graph(onnx_path: Path, build_model: Callable[[], object], parity: tuple[bool, bool] | None = None) -> None:
    """Export the feature graph to ``onnx_path`` unless it is cached there already (imports torch only then)."""
    if onnx_path.is_file() and onnx_path.with_suffix(".npz").is_file():
        return
    from srcore.lpips_nets import export_features

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_features(build_model(), onnx_path, parity=parity)  # type: ignore[arg-type]
