"""The one interface every upscaling method implements.

Shaped after spandrel's model descriptors: an object that knows its id, label, scales and
whether it can run here (and if not, *why* - shown verbatim in the CLI and UI), and maps an
RGB ``uint8`` H x W x 3 array to a (H*s) x (W*s) x 3 one. Alpha, file formats and metrics
are handled around it, so a method is only the upscaling itself.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from srcore import tta as ensemble
from srcore.backends import use_backend
from srcore.errors import MethodError, ModelFileError


@dataclass(frozen=True)
class Availability:
    ok: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.ok


AVAILABLE = Availability(True)

#: How a method runs; the app groups and labels methods by it, the ONNX/backend work keys on it.
Family = Literal["interpolation", "opencv-dnn", "torch"]


@dataclass(frozen=True)
class Option:
    """A user-facing knob of a method (e.g. SRGAN's ``strength``)."""

    name: str
    default: float
    minimum: float
    maximum: float
    help: str


@dataclass
class Upscaler(ABC):
    """Base class. Subclasses are dataclasses complete at construction (every field given to the
    constructor, nothing patched in afterwards), implement :meth:`_run`, and - when they need
    files - say per scale what is missing with :meth:`missing` (and :meth:`blocker`)."""

    id: str
    label: str
    scales: tuple[int, ...]
    family: Family = "interpolation"
    description: str = ""
    options: tuple[Option, ...] = field(default_factory=tuple)
    #: Overlap (in input pixels) that makes tiled output equal untiled output; 0 = not tileable/needed.
    receptive_margin: int = 0

    def __post_init__(self) -> None:  # noqa: B027 - optional hook, not abstract
        """Hook for subclasses (network caches, locks); the dataclass __init__ calls it."""

    # -- availability: one implementation, two hooks ------------------------------------------

    def blocker(self) -> str | None:
        """Why the method cannot run at any scale on this machine (e.g. an OpenCV without the
        ``.pb`` importer), or None. Checked before any file is looked for."""
        return None

    def missing(self, scale: int) -> str | None:
        """Why ``scale`` cannot run here (its weight file is absent or fails its check), or None.

        The one hook a method with weight files overrides; :meth:`availability` and
        :meth:`available_scales` are built on it so every method answers the same way. A
        :class:`ModelFileError` raised here (a tampered file) becomes the reason.
        """
        return None

    def unavailable_reason(self, scale: int | None, reasons: list[str]) -> str:
        """The reason shown when no asked scale can run (``scale`` None = any scale was asked).

        ``reasons`` holds :meth:`missing`'s answer per asked scale, in order.
        """
        return reasons[0] if len(reasons) == 1 else f"no model file for any scale ({reasons[-1]})"

    def _missing(self, scale: int) -> str | None:
        try:
            return self.missing(scale)
        except ModelFileError as exc:
            return str(exc)

    def available_scales(self) -> tuple[int, ...]:
        """Scales that can actually run here (model files present and verified)."""
        if self.blocker():
            return ()
        return tuple(s for s in self.scales if self._missing(s) is None)

    def availability(self, scale: int | None = None) -> Availability:
        """Whether the method can run here (at ``scale``, if given; else at any scale), and why not."""
        if scale is not None and scale not in self.scales:
            return Availability(False, f"{self.id} does not support x{scale} (supports {self.scales_text})")
        blocker = self.blocker()
        if blocker:
            return Availability(False, blocker)
        reasons = []
        for s in (scale,) if scale is not None else self.scales:
            why = self._missing(s)
            if why is None:
                return AVAILABLE
            reasons.append(why)
        return Availability(False, self.unavailable_reason(scale, reasons))

    @property
    def scales_text(self) -> str:
        return ", ".join(f"x{s}" for s in self.scales)

    def info(self) -> dict[str, Any]:
        """Facts for the model cards / Models tab; subclasses add training details."""
        return {"id": self.id, "label": self.label, "family": self.family, "scales": list(self.scales), "description": self.description}

    def check(self, image: np.ndarray, scale: int) -> None:
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise MethodError(f"{self.id}: expected an RGB uint8 H x W x 3 array")
        if image.shape[0] < 2 or image.shape[1] < 2:
            raise MethodError(f"{self.id}: the image ({image.shape[1]}x{image.shape[0]}) is smaller than 2x2 pixels")
        avail = self.availability(scale)
        if not avail:
            raise MethodError(avail.reason)

    def upscale(self, image: np.ndarray, scale: int, *, tile: int | None = None, backend: str | None = None, tta: bool | None = None,
                **options: Any) -> np.ndarray:
        """Upscale ``image`` (RGB uint8) by the integer ``scale``.

        ``tile``: input tile side for network methods (``None`` = pick from free memory, 0 = off).
        ``backend``: where torch networks run (:data:`srcore.backends.BACKENDS`; None = the one in effect:
        the enclosing :func:`srcore.backends.use_backend`, else ``$SRCORE_BACKEND``, else torch);
        methods without a torch network ignore it.
        ``tta``: the x8 flip/rotate self-ensemble around the whole (tiled) run, network methods only
        (:mod:`srcore.tta`; None = the choice of the enclosing :func:`srcore.tta.use_tta`, off by default).
        ``options``: method options such as ``strength``; unknown ones are rejected.
        """
        self.check(image, scale)
        known = {o.name for o in self.options}
        unknown = set(options) - known
        if unknown:
            raise MethodError(f"{self.id}: unknown option(s) {', '.join(sorted(unknown))}")
        def run(x: np.ndarray) -> np.ndarray:
            return self._run(np.ascontiguousarray(x), scale, tile=tile, **options)

        with use_backend(backend):
            out = ensemble.self_ensemble(run, image) if ensemble.in_effect(tta) and self.family != "interpolation" else run(image)
        expected = (image.shape[0] * scale, image.shape[1] * scale, 3)
        if out.shape != expected:
            raise RuntimeError(f"{self.id} returned {out.shape}, expected {expected}")
        return keep_grey(image, out)

    @abstractmethod
    def _run(self, image: np.ndarray, scale: int, *, tile: int | None, **options: Any) -> np.ndarray: ...


def is_grey(image: np.ndarray) -> bool:
    """True when every pixel has R == G == B (a grayscale photo loaded as RGB)."""
    return bool(np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 1], image[..., 2]))


def keep_grey(image: np.ndarray, out: np.ndarray) -> np.ndarray:
    """A grey input gives a grey output: ``out`` reduced to its BT.601 luma when ``image`` is grey.

    Why: RGB-trained networks (GAN ones most) can tint or speckle a black-and-white photo with
    colour it never had; a grey picture has no colour to recover, so any chroma is an artefact.
    Outputs that are already grey (interpolation, Y-channel networks) pass through unchanged.
    """
    if not is_grey(image) or is_grey(out):
        return out
    luma = out.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.repeat(np.clip(np.rint(luma), 0, 255).astype(np.uint8)[..., None], 3, axis=2)
