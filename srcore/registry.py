"""The list of all methods. Adding a method = one module defining it + one line here.

Method objects are created once and shared (they cache their loaded networks), so the CLI,
the benchmark and every UI request reuse the same loaded models.
"""

from __future__ import annotations

import threading
from pathlib import Path

from srcore.errors import MethodError
from srcore.methods.base import Upscaler
from srcore.methods.interpolation import interpolation_methods
from srcore.methods.ncnn_zoo import ncnn_zoo_methods
from srcore.methods.opencv_dnn import opencv_methods
from srcore.methods.srgan import srgan_methods
from srcore.methods.torch_sr import file_method, torch_methods
from srcore.paths import model_dirs

_lock = threading.Lock()
_methods: dict[str, Upscaler] | None = None
_files: dict[str, Upscaler] = {}
#: The model folders the cached methods were built for: when :func:`model_dirs` changes
#: (``--models-dir``, ``$SRCORE_MODELS``, ``$XDG_CACHE_HOME``) the methods are rebuilt, so
#: :mod:`srcore.paths` needs to notify nobody.
_built_for: tuple[Path, ...] | None = None


def _build() -> dict[str, Upscaler]:
    methods: list[Upscaler] = [
        *interpolation_methods(),  # nearest, bilinear, bicubic, lanczos
        *opencv_methods(),  # dnn-espcn, dnn-fsrcnn, dnn-fsrcnn-small, dnn-lapsrn, dnn-edsr, espcn, fsrcnn
        *torch_methods(),  # edsr, real-edsr, edsr-official
        *srgan_methods(),  # srgan, real-gan
        *ncnn_zoo_methods(),  # realesrgan-x4plus, realesrgan-x4plus-anime, realesr-animevideov3, realcugan
    ]
    return index_methods(methods)


def index_methods(methods: list[Upscaler]) -> dict[str, Upscaler]:
    """Methods by id, refusing a repeated id: a dict would silently keep the last one and hide the other."""
    index: dict[str, Upscaler] = {}
    for m in methods:
        if m.id in index:
            raise ValueError(f"two methods share the id {m.id!r} ({type(index[m.id]).__name__} and {type(m).__name__}); ids must be unique")
        index[m.id] = m
    return index


def _check_models_dirs() -> None:
    """Forget loaded methods when the model folders changed since they were built (caller holds ``_lock``)."""
    global _methods, _built_for
    dirs = tuple(model_dirs())
    if dirs != _built_for:
        _methods, _built_for = None, dirs
        _files.clear()


def all_methods() -> list[Upscaler]:
    global _methods
    with _lock:
        _check_models_dirs()
        if _methods is None:
            _methods = _build()
        return list(_methods.values())


def method_ids() -> list[str]:
    return [m.id for m in all_methods()]


def get_method(method_id: str, allow_files: bool = True, allowed_dirs: list[Path] | None = None) -> Upscaler:
    """Look up a method by id; ``file:<path>`` builds (once) a spandrel-loaded user model."""
    method_id = method_id.strip()
    if method_id.startswith("file:"):
        if not allow_files:
            raise MethodError("file: models are disabled on this server (the operator can enable them)")
        with _lock:
            _check_models_dirs()
            if method_id not in _files:
                _files[method_id] = file_method(method_id, allowed_dirs)
            return _files[method_id]
    for m in all_methods():
        if m.id == method_id:
            return m
    raise MethodError(f"unknown method {method_id!r}; known: {', '.join(method_ids())}, or file:<path>")

