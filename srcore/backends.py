"""Inference backends for the torch methods: torch, onnxruntime, OpenVINO, and ``auto``.

Why: on a CPU the same network runs markedly faster in an inference runtime than in torch eager
(fused conv+ReLU, better blocking, no Python per layer). Every backend runs the *same* fp32
network, exported once per loaded model to ONNX (:func:`srcore.torch2onnx.onnx_bytes`), so outputs
equal torch's to well within 1/255. ``openvino-bf16`` is the opt-in exception: bfloat16 matmuls
(AMX/AVX512-BF16) are several times faster but drift up to a few /255, so ``auto`` never picks it.

The backend is chosen per call (``Upscaler.upscale(..., backend=...)``) and travels to
:func:`srcore.methods.torch_sr.run_network` in a context variable, so method classes need no
per-backend code; tiling, padding and rounding stay in one place (``run_network``).
"""

from __future__ import annotations

import atexit
import concurrent.futures
import contextlib
import copy
import hashlib
import importlib.util
import inspect
import io
import multiprocessing
import os
import platform
import re
import shutil
import sys
import tempfile
import threading
import warnings
import weakref
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from srcore.atomic import atomic_path
from srcore.errors import MethodError, ModelFileError
from srcore.models.ncnn_writer import INPUT, OUTPUT, NcnnWriteError, to_ncnn
from srcore.ncnn_runtime import NcnnNet
from srcore.paths import cache_dir
from srcore.torch2onnx import OPSET, export_target, onnx_bytes

#: What ``--backend`` accepts. ``torch`` runs channels_last on the CPU (NHWC convolutions: same
#: numbers, measured ~1.5-2x faster than NCHW here); ``torch-nchw`` is the pre-issue-13 torch path,
#: kept as the baseline speed ratios are measured against. ``openvino-bf16`` is opt-in (faster, not
#: within 1/255 of torch).
BACKENDS = ("auto", "torch", "onnxruntime", "openvino", "openvino-bf16", "torch-nchw", "ncnn")
#: Runtime module each backend needs (torch is always there).
_MODULES = {"onnxruntime": "onnxruntime", "openvino": "openvino", "openvino-bf16": "openvino", "ncnn": "ncnn"}
#: ``ncnn`` runs the ncnn model files themselves (the Real-ESRGAN / Real-CUGAN methods, see
#: :mod:`srcore.methods.ncnn_zoo`) and our networks written as ncnn files (:mod:`srcore.models.ncnn_writer`:
#: EDSR, RRDBNet, the strength dial's blend), so speed "on the same backend" means one engine; a network the
#: writer cannot express (a layer it does not know) runs on torch under it.

#: ``auto``'s preference by CPU kind, fastest first, from ``benchmarks/speed.py`` (see README):
#: on AVX-512 (Xeon, AMX/BF16) and on AVX2 (EPYC, issue 13) OpenVINO fp32 beat onnxruntime,
#: which beat torch eager. Unknown CPUs (ARM, no AVX2) keep torch: nothing measured there.
AUTO_ORDER: dict[str, tuple[str, ...]] = {
    "avx512": ("openvino", "onnxruntime", "torch"),
    "avx2": ("openvino", "onnxruntime", "torch"),
    "other": ("torch",),
}

#: (concrete backend, whether it was picked by ``auto``): auto falls back to torch where export fails.
#: Unset = the process default, ``$SRCORE_BACKEND`` (an operator's choice for a server) or torch.
_current: ContextVar[tuple[str, bool] | None] = ContextVar("srcore_backend", default=None)
ENV = "SRCORE_BACKEND"


# --------------------------------------------------------------------------- the CPU


@dataclass(frozen=True)
class CpuInfo:
    """What the speed figures need to be read: model, cores we may use, SIMD width, peak."""

    model: str
    cores: int
    simd_bits: int  # 512 (AVX-512), 256 (AVX2/FMA), 128 otherwise
    ghz: float
    bf16: bool

    @property
    def kind(self) -> str:
        return {512: "avx512", 256: "avx2"}.get(self.simd_bits, "other")

    @property
    def fp32_peak_gflops(self) -> float:
        """cores x fp32 lanes x 2 flops per FMA x 2 FMA units x clock (base clock: turbo varies)."""
        return self.cores * (self.simd_bits // 32) * 2 * 2 * self.ghz

    def describe(self) -> str:
        return (f"{self.model}, {self.cores} cores usable, {self.simd_bits}-bit SIMD{' + BF16' if self.bf16 else ''}, "
                f"{self.ghz:.2f} GHz, fp32 peak {self.fp32_peak_gflops:.0f} GFLOP/s")


@lru_cache(maxsize=1)
def cpu_info() -> CpuInfo:
    model, flags, mhz = platform.processor() or platform.machine(), set(), 0.0
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, val = line.partition(":")
                key, val = key.strip(), val.strip()
                if key == "model name":
                    model = val
                elif key == "flags" and not flags:
                    flags = set(val.split())
                elif key == "cpu MHz" and not mhz:
                    mhz = float(val)
    except OSError:
        pass
    m = re.search(r"@\s*([\d.]+)\s*GHz", model)  # nominal clock beats the momentary 'cpu MHz'
    ghz = float(m.group(1)) if m else (mhz / 1000 if mhz else 2.0)
    simd = 512 if "avx512f" in flags else 256 if {"avx2", "fma"} <= flags else 128
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return CpuInfo(model, cores, simd, ghz, "avx512_bf16" in flags or "amx_bf16" in flags)


# --------------------------------------------------------------------------- choosing


def installed(backend: str) -> bool:
    mod = _MODULES.get(backend)
    return mod is None or importlib.util.find_spec(mod) is not None


def resolve(backend: str | None) -> str:
    """The concrete backend for ``backend`` (``None``/``auto`` -> the fastest installed one here)."""
    name = (backend or "torch").strip().lower()
    if name not in BACKENDS:
        raise MethodError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if name == "auto":
        return next(b for b in AUTO_ORDER[cpu_info().kind] if installed(b))
    if not installed(name):
        raise MethodError(f"backend {name} needs the {_MODULES[name]} package (pip install {_MODULES[name]}); or use --backend auto")
    return name


def available_backends() -> list[str]:
    """Backends that can run here (for the CLI help and the app's setting)."""
    return [b for b in BACKENDS if installed(b)]


@contextlib.contextmanager
def use_backend(backend: str | None) -> Iterator[str]:
    """Run the enclosed network calls on ``backend`` (resolved); yields the concrete name.

    ``None`` keeps the backend already in effect (the CLI sets one for a whole command; a
    method's ``upscale(backend=None)`` inside it inherits it).
    """
    if backend is None:
        yield current()
        return
    name = resolve(backend)
    token = _current.set((name, (backend or "").strip().lower() == "auto"))
    try:
        yield name
    finally:
        _current.reset(token)


@lru_cache(maxsize=4)
def _env_default(value: str) -> tuple[str, bool]:
    try:
        return resolve(value), value.strip().lower() == "auto"
    except MethodError as exc:
        print(f"warning: ${ENV}: {exc}; using torch", file=sys.stderr)
        return "torch", False


def _effective() -> tuple[str, bool]:
    return _current.get() or _env_default(os.environ.get(ENV, "torch"))


def current() -> str:
    """The concrete backend network calls use right now."""
    return _effective()[0]


# --------------------------------------------------------------------------- runners

#: A compiled network: NCHW float32 RGB in [0, 1] -> NCHW float32 (the same contract as the torch module).
Runner = Callable[[np.ndarray], np.ndarray]

_runners: weakref.WeakKeyDictionary[Any, dict[str, Runner]] = weakref.WeakKeyDictionary()
_ncnn_refused: weakref.WeakSet[Any] = weakref.WeakSet()  # modules the ncnn writer cannot write: torch runs them
_lock = threading.Lock()


def _threads() -> int:
    return max(1, torch.get_num_threads())


def _ort_runner(model: bytes) -> Runner:
    import onnxruntime as ort  # lazy: an optional runtime, imported only when asked for

    so = ort.SessionOptions()
    so.intra_op_num_threads = _threads()  # same threads as torch: a fair comparison, no oversubscription
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # no busy-waiting after a run: ORT's idle threads otherwise spin on the cores for a while and slow whatever
    # runs next (measured: ncnn's real-gan 0.12 s -> 0.15 s right after an ORT call), so a comparison of methods
    # and backends would depend on their order; a conv net's run is long enough not to miss the spin
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return lambda x: sess.run(None, {name: x})[0]


def _ov_runner(model: bytes, precision: str, path: Path | None = None) -> Runner:
    import openvino as ov  # lazy: an optional runtime, imported only when asked for

    core = ov.Core()
    config = {"INFERENCE_PRECISION_HINT": precision, "PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": _threads()}
    # f32 explicitly: on AMX/BF16 CPUs OpenVINO would otherwise silently run in bf16.
    # Dynamic H/W: the CPU plugin caches a plan per input shape; tiling yields only a few shapes.
    if path is not None:  # from the cached file, with OpenVINO's own blob cache: no convert, no compile next time
        core.set_property({"CACHE_DIR": str(path.parent / "openvino")})
        compiled = core.compile_model(str(path), "CPU", config)
    else:
        compiled = core.compile_model(ov.convert_model(io.BytesIO(model)), "CPU", config)
    req = compiled.create_infer_request()
    lock = threading.Lock()  # one infer request: serialise callers (the app may run methods in threads)

    def run(x: np.ndarray) -> np.ndarray:
        with lock:
            return np.array(req.infer([x])[0], copy=True)

    return run


def _module_key(module: Any) -> str:
    """What a network's ONNX graph depends on: its class's source, every tensor, torch's version, the opset."""
    net = export_target(module)
    h = hashlib.sha256(f"{torch.__version__}|{OPSET}|{type(net).__module__}.{type(net).__qualname__}".encode())
    # our code: the definition of every module class in the network (a blend of two networks holds both) and this exporter's
    classes = sorted({type(m) for m in net.modules()}, key=lambda c: f"{c.__module__}.{c.__qualname__}")
    for cls in (*classes, _module_key):
        try:
            h.update(Path(inspect.getsourcefile(cls) or "").read_bytes())
        except (OSError, TypeError):
            h.update(b"?")
    h.update(Path(inspect.getsourcefile(onnx_bytes) or "").read_bytes())
    # a graph defined by data, not code (an ncnn .param read by srcore.models.ncnn_graph): that data too --
    # realesr-animevideov3 x2 and x3 share every weight and differ only in their last layer's factor
    h.update(str(getattr(net, "graph_signature", "")).encode())
    for name, t in net.state_dict().items():
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
        h.update(t.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:24]


def _onnx_cached(module: Any) -> tuple[bytes, Path | None]:
    """:func:`onnx_bytes` of ``module``, kept on disk (``<user cache>/srcore/onnx/``) across processes.

    Why: exporting EDSR costs seconds, and a one-off CLI run (``upscale -m edsr --backend auto``) paid
    it every time, so ``auto`` lost to plain torch on short runs (issue 22). Keyed by
    :func:`_module_key`, so new weights or changed code get a new file; written to a temporary name
    and renamed. Returns ``(bytes, path)``; path is None when the cache cannot be written (then bytes only).
    """
    try:
        key = _module_key(module)
    except Exception:  # an exotic module whose tensors cannot be hashed: export as before
        return onnx_bytes(module), None
    path = cache_dir() / "onnx" / f"torch-{key}.onnx"
    if path.is_file():
        return path.read_bytes(), path
    model = onnx_bytes(module)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".onnx-", suffix=".partial")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(model)
            os.replace(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)
    except OSError:
        return model, None
    return model, path


def _write_ncnn_apart(module: Any) -> tuple[str, bytes]:
    """:func:`to_ncnn` of ``module`` in a child process, or :class:`NcnnWriteError`.

    Why a child: torch.fx replaces ``nn.Module.__call__`` process-wide while it traces, so any torch module
    another thread runs meanwhile (a second request in the app) fails; the child has no other threads.
    Paid once per network and machine (the files are cached), a few seconds of start-up.
    """
    try:
        with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            return pool.submit(to_ncnn, module).result()
    except NcnnWriteError:
        raise
    except Exception as exc:  # the child could not start, died, or the module does not pickle: torch runs it
        raise NcnnWriteError(f"could not write the ncnn files in a child process ({type(exc).__name__})") from None


def _ncnn_cached(module: Any) -> tuple[Path, Path]:
    """``module`` written as ncnn ``.param`` / ``.bin`` files (``<user cache>/srcore/ncnn/``), written once per network.

    Keyed like the ONNX cache, plus the writer's own source; ncnn loads from paths, so where the cache cannot
    be written the files go to a private temporary folder for this process instead (removed at exit).
    """
    h = hashlib.sha256(_module_key(module).encode())
    h.update(Path(inspect.getsourcefile(to_ncnn) or "").read_bytes())
    stem = f"torch-{h.hexdigest()[:24]}"
    for folder in (cache_dir() / "ncnn", None):
        try:
            if folder is None:
                folder = Path(tempfile.mkdtemp(prefix="srcore-ncnn-"))
                atexit.register(shutil.rmtree, folder, True)
            param, bin_path = folder / f"{stem}.param", folder / f"{stem}.bin"
            if not (param.is_file() and bin_path.is_file()):
                text, data = _write_ncnn_apart(export_target(module))
                with atomic_path(bin_path) as tmp:
                    tmp.write_bytes(data)
                with atomic_path(param) as tmp:  # the .param last: its presence says the pair is complete
                    tmp.write_text(text)
            return param, bin_path
        except OSError:
            continue
    raise MethodError("cannot write the ncnn files of this network (no writable cache or temporary folder)")


def _ncnn_runner(module: Any) -> Runner:
    param, bin_path = _ncnn_cached(module)
    try:
        return NcnnNet(param, bin_path, INPUT, OUTPUT, [], _threads(), type(export_target(module)).__name__)
    except ModelFileError:  # a damaged cached pair: drop it, so the next run writes it afresh
        param.unlink(missing_ok=True)
        bin_path.unlink(missing_ok=True)
        raise


def runner(module: Any, backend: str) -> Runner:
    """The compiled ``backend`` runner of a torch module (exported and compiled once, then cached)."""
    with _lock:
        per = _runners.setdefault(module, {})
        if backend == "ncnn" and backend not in per:
            per[backend] = _ncnn_runner(module)
        if backend not in per:
            model, path = _onnx_cached(module)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if backend == "onnxruntime":
                    per[backend] = _ort_runner(model)
                elif backend in ("openvino", "openvino-bf16"):
                    per[backend] = _ov_runner(model, "bf16" if backend.endswith("bf16") else "f32", path)
                else:
                    raise MethodError(f"no runner for backend {backend}")
        return per[backend]


def _channels_last(module: Any) -> Callable[[Any], Any]:
    """``module`` with NHWC (channels_last) weights and inputs: oneDNN's fast CPU convolution layout.

    A copy, cached per module, so the NCHW original (export, ``torch-nchw``) stays as it was.
    """
    with _lock:
        per = _runners.setdefault(module, {})
        if "torch" not in per:
            net = copy.deepcopy(module).to(memory_format=torch.channels_last)
            per["torch"] = lambda x: net(x.contiguous(memory_format=torch.channels_last)).contiguous()
        return per["torch"]


def forward_for(forward: Callable[[Any], Any], device: Any, half: bool) -> Callable[[Any], Any]:
    """``forward`` itself on the torch backend (and on GPUs), else its runtime twin on CPU tensors.

    Modules that cannot be exported (exotic spandrel architectures) fall back to torch under
    ``auto`` and fail with one clear line when a runtime was asked for by name.
    """
    backend, auto = _effective()
    if backend == "ncnn" and not isinstance(forward, torch.nn.Module):
        backend = "torch"
    if backend == "torch-nchw" or half or getattr(device, "type", "cpu") != "cpu":
        return forward
    if backend == "torch":
        return _channels_last(forward) if isinstance(forward, torch.nn.Module) else forward

    if backend == "ncnn" and forward in _ncnn_refused:
        return _channels_last(forward)
    try:
        run = runner(forward, backend)
    except MethodError as exc:
        if isinstance(exc, NcnnWriteError):  # a layer the ncnn writer does not know: torch runs it (see BACKENDS)
            _ncnn_refused.add(forward)  # remembered: the next image does not hash and trace the network again
            return _channels_last(forward)
        raise
    except Exception as exc:  # export or compile failed
        if auto:
            return forward
        raise MethodError(f"this network cannot run on {backend} ({type(exc).__name__}: {str(exc)[:120]}); use --backend torch") from None

    def fwd(x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(run(np.ascontiguousarray(x.detach().float().cpu().numpy())))

    return fwd
