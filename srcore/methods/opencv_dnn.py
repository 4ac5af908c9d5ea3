"""OpenCV ``dnn_superres`` methods: the stock model zoo (``dnn-*``) and our own exported ``.pb`` files.

The networks are TensorFlow frozen graphs run by OpenCV's DNN module; OpenCV 5.1+, which dropped
the TF importer, gets their ONNX translations instead (:mod:`srcore.pb2onnx`). Each (method, scale)
network is read once and reused; OpenCV's ``DnnSuperResImpl`` is not safe to share between
threads, so calls on one network are serialised with a lock.
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from srcore.errors import MethodError, ModelFileError
from srcore.methods.base import Family, Upscaler
from srcore.paths import ASSETS_DIR
from srcore.pb2onnx import dnn_superres_file, opencv_reads_pb
from srcore.tiling import auto_tile, tiled_apply
from srcore.weights import load_card, locate_verified, missing_reason, shipped_file

PB_UNSUPPORTED = (
    f"OpenCV {cv2.__version__} has no TensorFlow importer (5.1 removed it), and converting the .pb graphs to the "
    "ONNX its dnn_superres reads needs the onnx and tensorboard packages: pip install onnx tensorboard"
)


def opencv_can_run() -> bool:
    """OpenCV <= 5.0 reads the ``.pb`` graphs; 5.1+ reads their ONNX twins (:mod:`srcore.pb2onnx`), if onnx is here."""
    return opencv_reads_pb() or all(importlib.util.find_spec(m) is not None for m in ("onnx", "tensorboard"))


@dataclass
class OpenCVDnn(Upscaler):
    """A dnn_superres network family; subclasses say where its ``.pb`` for a scale lives."""

    family: Family = "opencv-dnn"
    #: dnn_superres's name for the architecture (``setModel``): espcn, fsrcnn, lapsrn or edsr
    algo: str = field(default="espcn", kw_only=True)
    #: working-set estimate per input pixel, sizes the automatic tile
    bytes_per_pixel: float = field(default=4 * 64 * 4.0, kw_only=True)

    def __post_init__(self) -> None:
        self._nets: dict[int, tuple[Any, threading.Lock]] = {}
        self._load_lock = threading.Lock()

    def model_path(self, scale: int) -> Path | None:  # pragma: no cover - abstract
        """The verified ``.pb`` for ``scale``, or None when absent (ModelFileError when tampered)."""
        raise NotImplementedError

    def missing_text(self, scale: int) -> str:  # pragma: no cover - abstract
        """What to tell the user when the file for ``scale`` is absent (and how to get it)."""
        raise NotImplementedError

    def blocker(self) -> str | None:
        return None if opencv_can_run() else PB_UNSUPPORTED

    def missing(self, scale: int) -> str | None:
        return None if self.model_path(scale) is not None else self.missing_text(scale)

    def _net(self, scale: int) -> tuple[Any, threading.Lock]:
        with self._load_lock:
            if scale not in self._nets:
                path = self.model_path(scale)
                if path is None:
                    raise MethodError(self.missing_text(scale))
                if not opencv_can_run():
                    raise MethodError(PB_UNSUPPORTED)
                sr = cv2.dnn_superres.DnnSuperResImpl_create()
                try:
                    sr.readModel(str(dnn_superres_file(path)))  # the .pb, or on OpenCV 5.1+ its ONNX twin
                except (cv2.error, ValueError) as exc:
                    raise ModelFileError(f"{path.name}: OpenCV cannot read it as a dnn_superres model ({str(exc).strip().splitlines()[-1][:160]})") from None
                sr.setModel(self.algo, scale)
                self._nets[scale] = (sr, threading.Lock())
            return self._nets[scale]

    def _run(self, image: np.ndarray, scale: int, *, tile: int | None, **options: Any) -> np.ndarray:
        sr, lock = self._net(scale)

        def run(patch: np.ndarray) -> np.ndarray:
            with lock:
                out = sr.upsample(np.ascontiguousarray(patch[..., ::-1]))
            return np.ascontiguousarray(out[..., ::-1])

        side = auto_tile(self.bytes_per_pixel) if tile is None else tile
        return tiled_apply(run, image, scale, side, self.receptive_margin)


@dataclass
class StockDnn(OpenCVDnn):
    """A stock OpenCV model-zoo network, found in the model directories (``--models-dir``, cache)."""

    #: zoo file stem: ``<stem>_x<scale>.pb``
    stem: str = field(default="ESPCN", kw_only=True)

    def model_path(self, scale: int) -> Path | None:
        return locate_verified(f"{self.stem}_x{scale}.pb")

    def missing_text(self, scale: int) -> str:
        return missing_reason(f"{self.stem}_x{scale}.pb", self.id)


@dataclass
class ShippedDnn(OpenCVDnn):
    """Our own ESPCN/FSRCNN, trained here and exported to ``.pb`` in ``assets/``."""

    def model_path(self, scale: int) -> Path | None:
        found = shipped_file(f"{self.id}_x{scale}")
        return found[0] if found else None

    def missing_text(self, scale: int) -> str:
        return f"our {self.id} x{scale} weights are not shipped in {ASSETS_DIR} (train with `python -m train.sr --arch {self.id} --scale {scale}` and export)"

    def info(self) -> dict[str, Any]:
        d = super().info()
        d["cards"] = {s: c for s in self.scales if (c := load_card(f"{self.id}_x{s}"))}
        return d


def opencv_methods() -> list[Upscaler]:
    ours: list[Upscaler] = [
        ShippedDnn(
            id=id_,
            label=label,
            scales=(2, 3, 4),
            description=f"Our {algo.upper()} trained here, exported to a TensorFlow graph and run by cv2.dnn_superres "
                        "(training data and measured numbers: its model card).",
            receptive_margin=margin,
            algo=algo,
        )
        for id_, label, algo, margin in (("espcn", "ESPCN (ours, OpenCV)", "espcn", 8), ("fsrcnn", "FSRCNN (ours, OpenCV)", "fsrcnn", 12))
    ]
    stock = [
        ("dnn-espcn", "ESPCN (OpenCV zoo)", "ESPCN", "espcn", (2, 3, 4), 8, 4 * 100.0,
         "Stock ESPCN (Shi et al. 2016) from OpenCV's dnn_superres zoo (TF-ESPCN)."),
        ("dnn-fsrcnn", "FSRCNN (OpenCV zoo)", "FSRCNN", "fsrcnn", (2, 3, 4), 12, 4 * 150.0,
         "Stock FSRCNN (Dong et al. 2016) from OpenCV's dnn_superres zoo."),
        ("dnn-fsrcnn-small", "FSRCNN-small (OpenCV zoo)", "FSRCNN-small", "fsrcnn", (2, 3, 4), 8, 4 * 80.0,
         "Stock FSRCNN-small from OpenCV's dnn_superres zoo: faster, a little worse."),
        ("dnn-lapsrn", "LapSRN (OpenCV zoo)", "LapSRN", "lapsrn", (2, 4, 8), 24, 4 * 64 * 8.0,
         "Stock LapSRN (Lai et al. 2017) from OpenCV's dnn_superres zoo: Laplacian pyramid, progressive upsampling."),
        ("dnn-edsr", "EDSR (OpenCV zoo)", "EDSR", "edsr", (2, 3, 4), 40, 4 * 256 * 12.0,
         "Stock EDSR (Lim et al. 2017) TensorFlow port from OpenCV's dnn_superres zoo (38 MB per scale)."),
    ]
    return [
        *(StockDnn(id=id_, label=label, scales=scales, description=desc, receptive_margin=margin, stem=stem, algo=algo, bytes_per_pixel=bpp)
          for id_, label, stem, algo, scales, margin, bpp, desc in stock),
        *ours,
    ]
