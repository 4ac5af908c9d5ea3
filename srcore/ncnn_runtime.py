"""The ``ncnn`` engine on the CPU: one loaded ``.param`` + ``.bin`` pair, callable like a torch module.

Two kinds of files run here: the published models inside the Real-ESRGAN / Real-CUGAN wheels
(:mod:`srcore.ncnn_wheels`, checked by SHA-256 before loading) and our own networks written by
:mod:`srcore.models.ncnn_writer`, so ``--backend ncnn`` compares both on one engine.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from srcore.errors import ModelFileError


class NcnnNet:
    """One loaded ncnn network on the CPU (Vulkan off); callable on NCHW float32 arrays like a torch module.

    ``gaps``: values to put into the named global-pooling blobs instead of computing them, and
    ``record``: a list that receives them -- the same contract as :class:`srcore.models.ncnn_graph.NcnnGraph`.
    """

    def __init__(self, param: Path, bin_path: Path, input_blob: str, output_blob: str, gap_blobs: list[str], threads: int,
                 name: str = "") -> None:
        import ncnn  # lazy: only this backend needs it

        self._ncnn = ncnn
        self.net = ncnn.Net()
        self.net.opt.use_vulkan_compute = False
        self.net.opt.num_threads = threads
        if self.net.load_param(str(param)) != 0 or self.net.load_model(str(bin_path)) != 0:
            raise ModelFileError(f"ncnn could not load {name or param.stem}")
        self.input_blob, self.output_blob, self.gap_blobs = input_blob, output_blob, gap_blobs
        self._lock = threading.Lock()

    def __call__(self, x: np.ndarray, gaps: list[np.ndarray] | None = None, record: list[np.ndarray] | None = None) -> np.ndarray:
        """``x``: N x 3 x H x W float32 -> N x 3 x H' x W' float32 (one image at a time: ncnn has no batch axis)."""
        if x.shape[0] != 1:
            return np.concatenate([self(x[i : i + 1], gaps, record) for i in range(x.shape[0])])
        ncnn = self._ncnn
        keep = [np.ascontiguousarray(x[0], dtype=np.float32)]  # an ncnn.Mat does not own the array behind it
        with self._lock:
            ex = self.net.create_extractor()
            # a copy ncnn owns: a graph whose first layer works in place (a scalar multiply) crashes on borrowed memory
            ex.input(self.input_blob, ncnn.Mat(keep[0]).clone())
            if gaps is not None:
                for name, g in zip(self.gap_blobs, gaps, strict=True):
                    keep.append(np.ascontiguousarray(np.asarray(g, dtype=np.float32).reshape(-1)))
                    ex.input(name, ncnn.Mat(keep[-1]))
            elif record is not None:
                for name in self.gap_blobs:
                    ret, g = ex.extract(name)
                    if ret != 0:
                        raise RuntimeError(f"ncnn failed to compute {name}")
                    record.append(np.array(g, copy=True).reshape(1, -1))
            ret, out = ex.extract(self.output_blob)
            if ret != 0:
                raise RuntimeError(f"ncnn inference failed (code {ret})")
            return np.array(out, copy=True)[None]
