"""Test-time augmentation: the x8 flip/rotate self-ensemble (EDSR+, Lim et al. 2017, section 4.3).

The network runs on the 8 dihedral transforms of the input (4 rotations, each with and without a
mirror), each output is transformed back, and the 8 are averaged. A convolutional network is not
exactly rotation/flip-equivariant, so its errors partly cancel in the mean; the EDSR paper reports
+0.1-0.2 dB for 8x the time. Interpolation is exactly equivariant, so TTA would only cost time: it
applies to network methods (``Upscaler.family`` not ``interpolation``).

Where it sits: :meth:`srcore.methods.base.Upscaler.upscale` wraps the whole ``_run`` - tiling
included - so each transformed input is tiled exactly as a plain run would be (TTA is
tile-aware for free, and seams cannot differ between passes). The passes are each the method's
usual uint8 output; the mean is taken in float32 and rounded once, so the result stays in 0..255
and needs no second clipping rule. Like the backend, the choice is either passed per call
(``upscale(..., tta=True)``) or set for a whole block of calls with :func:`use_tta` (the CLI's
``--tta`` wraps its command in it; the app wraps each method's run).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import TypeVar

import numpy as np

#: 8 = the full dihedral group (EDSR's "x8 self-ensemble").
PASSES = 8
T = TypeVar("T")
_current: ContextVar[bool] = ContextVar("srcore_tta", default=False)


def in_effect(tta: bool | None = None) -> bool:
    """``tta`` when given, else the choice of the enclosing :func:`use_tta` (off by default)."""
    return _current.get() if tta is None else bool(tta)


@contextlib.contextmanager
def use_tta(tta: bool | None) -> Iterator[bool]:
    """Run the enclosed ``upscale`` calls with (True) or without (False) TTA; None keeps what is in effect."""
    if tta is None:
        yield _current.get()
        return
    token = _current.set(bool(tta))
    try:
        yield bool(tta)
    finally:
        _current.reset(token)


def _forward(image: np.ndarray, k: int) -> np.ndarray:
    """Transform ``k`` of 8: ``k % 4`` quarter turns, then a left-right mirror for ``k >= 4``."""
    out = np.rot90(image, k % 4, axes=(0, 1))
    return out[:, ::-1] if k >= 4 else out


def _inverse(image: np.ndarray, k: int) -> np.ndarray:
    out = image[:, ::-1] if k >= 4 else image
    return np.rot90(out, -(k % 4), axes=(0, 1))


def self_ensemble(run: Callable[[np.ndarray], np.ndarray], image: np.ndarray, passes: int = PASSES) -> np.ndarray:
    """Mean of ``run`` over the first ``passes`` dihedral transforms of ``image``, each transformed back; uint8.

    ``run`` maps an H x W x C uint8 array to an (sH) x (sW) x C uint8 one (any scale ``s``).
    """
    if not 1 <= passes <= PASSES:
        raise ValueError(f"passes must be 1..{PASSES}, got {passes}")
    acc: np.ndarray | None = None
    for k in range(passes):
        out = _inverse(run(np.ascontiguousarray(_forward(image, k))), k)
        if acc is None:
            acc = np.zeros(out.shape, np.float32)
        elif out.shape != acc.shape:
            raise RuntimeError(f"TTA pass {k} returned {out.shape}, pass 0 {acc.shape}")
        acc += out
    assert acc is not None
    return np.clip(np.rint(acc / passes), 0, 255).astype(np.uint8)


#: What a report says when TTA was on (CLI stderr, the app's status).
TTA_NOTE = f"TTA on: network methods ran on the {PASSES} flips/rotations of their input, outputs averaged (about {PASSES}x the time)"


def each_with_tta(tta: bool | None, items: Iterator[T]) -> Iterator[T]:
    """Step a generator with :func:`use_tta` in effect during each step only.

    Why: a ``with use_tta(...)`` around a ``for`` loop in a generator (the app's streaming handlers)
    would stay set across its ``yield`` - in whatever thread resumes it next. Entering it per ``next()``
    keeps the choice inside the work it is for.
    """
    it = iter(items)
    while True:
        with use_tta(tta):
            try:
                item = next(it)
            except StopIteration:
                return
        yield item
