"""The one engine under compare, bench, video and the app: resolve a method spec, run it, time it.

Why one place: "look the method up, check it can run at this scale, keep only the options it takes,
upscale, time it" and "LPIPS is optional" were written four times (``compare``, ``bench``, ``video``,
``app/runner``) and had started to differ. Scoring is :func:`srcore.scoring.score`; what each
pipeline streams (a row per method, a mean per method, a row per frame) stays in that pipeline.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from srcore.errors import SRError
from srcore.lpips import get_lpips
from srcore.methods.base import Upscaler
from srcore.registry import get_method
from srcore.specs import parse_spec

LPIPSFn = Callable[[np.ndarray, np.ndarray], float]


def method_options(method: Upscaler, options: dict[str, Any] | None) -> dict[str, Any]:
    """The subset of ``options`` that ``method`` takes.

    Why one place: the CLI's ``--strength`` and the UI's sliders apply to every chosen method, and
    only some methods have that knob; ``Upscaler.upscale`` rejects unknown options, so each caller
    (compare, bench, video, upscale, export) filters here instead of keeping its own copy of the rule.
    """
    known = {o.name for o in method.options}
    return {k: v for k, v in (options or {}).items() if k in known}


@dataclass(frozen=True)
class Ready:
    """A method that can run at the asked scale, with the options it will get."""

    #: what the result is called: the method id, or the ``id@α`` spec that chose its strength
    spec: str
    method: Upscaler
    options: dict[str, Any] = field(default_factory=dict)


class NotRunnable(SRError):
    """The method exists but cannot run at the asked scale here; says which (for a result row's id and label)."""

    def __init__(self, reason: str, name: str, method: Upscaler) -> None:
        super().__init__(reason)
        self.name, self.method = name, method


def resolve(
    spec: str,
    scale: int,
    options: dict[str, Any] | None = None,
    allow_files: bool = True,
    allowed_dirs: list[Path] | None = None,
) -> Ready:
    """``id`` or ``id@α`` -> a :class:`Ready` method; raises :class:`SRError` with the one-line reason it cannot run
    (:class:`NotRunnable` when the method exists but its scale or files are missing here).

    ``options`` (e.g. the CLI's ``--strength``) are filtered to what the method takes; an ``@α`` in the
    spec wins over them. ``allow_files``/``allowed_dirs`` gate ``file:`` models (the app restricts them).
    """
    parsed = parse_spec(spec)
    method = get_method(parsed.method_id, allow_files=allow_files, allowed_dirs=allowed_dirs)
    name = parsed.spec if parsed.options else method.id
    avail = method.availability(scale)
    if not avail:
        raise NotRunnable(avail.reason, name, method)
    return Ready(name, method, {**method_options(method, options), **parsed.options})


def run_timed(ready: Ready, lr: np.ndarray, scale: int, tile: int | None = None, backend: str | None = None) -> tuple[np.ndarray, float]:
    """``ready``'s upscaled ``lr`` and the wall seconds it took (the "seconds" every report shows)."""
    t0 = time.perf_counter()
    out = ready.method.upscale(lr, scale, tile=tile, backend=backend, **ready.options)
    return out, time.perf_counter() - t0


def optional_lpips(net: str = "alex") -> tuple[Any, str | None, str | None]:
    """``(metric, variant, None)``, or ``(None, None, why)`` when no LPIPS network can be set up here.

    LPIPS is optional everywhere: a missing network costs that one column (with the reason said),
    never the PSNR/SSIM/NIQE of a run.
    """
    try:
        metric = get_lpips(net)
    except Exception as exc:  # noqa: BLE001 - any failure to set LPIPS up (no package, no weights, no network) is reported
        return None, None, str(exc)
    return metric, metric.variant, None
