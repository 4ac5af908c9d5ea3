"""What a video run reports: per-frame rows and means per method, as JSON (a contract) and CSV.

Why its own module: the JSON keys and the CSV columns are read by the CLI, the app and the README's
video table; keeping them apart from the pipeline keeps that contract in one short file.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from srcore.degrade import Degradation
from srcore.metrics import CONVENTION
from srcore.temporal import TEMPORAL_NOTES
from srcore.video_io import VideoInfo

#: Per-frame image metrics (srcore.scoring keys); NIQE is left out: seconds per frame, for a no-reference number.
FRAME_METRICS = ("psnr_y", "ssim_y", "lpips")
FRAME_KEYS = ("frame", "time", "psnr_y", "ssim_y", "lpips", "flicker", "temporal_error", "warp_error", "seconds")


@dataclass
class MethodTrack:
    """One method's output clip and per-frame numbers."""

    method_id: str
    label: str
    output: Path
    options: dict[str, Any]
    frames: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Means over frames (temporal ones over frame pairs); None where nothing was measured."""
        out: dict[str, Any] = {}
        for k in ("psnr_y", "ssim_y", "lpips", "flicker", "temporal_error", "warp_error", "seconds"):
            vals = [f[k] for f in self.frames if f.get(k) is not None and math.isfinite(f[k])]
            out[k] = float(np.mean(vals)) if vals else None
        return out


@dataclass
class VideoReport:
    input: VideoInfo
    mode: str
    scale: int
    degradation: Degradation | None
    lpips_variant: str | None
    tracks: list[MethodTrack]
    frames: int
    gt_warp_error: float | None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        ref = self.mode == "reference"
        return {
            "input": self.input.to_json(),
            "mode": self.mode,
            "scale": self.scale,
            "frames": self.frames,
            "degradation": self.degradation.label if ref and self.degradation else None,
            "metric_convention": CONVENTION if ref else None,
            "lpips_variant": self.lpips_variant,
            "temporal_definitions": TEMPORAL_NOTES if ref else None,
            "warp_error_gt": self.gt_warp_error,
            "notes": self.notes,
            "methods": [
                {"method": t.method_id, "label": t.label, "output": str(t.output), "options": t.options,
                 "summary": t.summary(), "frames": t.frames}
                for t in self.tracks
            ],
        }

    def csv_text(self) -> str:
        """Per-frame rows of every method (the CSV download and ``--csv``)."""
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["method", *FRAME_KEYS])
        for t in self.tracks:
            for f in t.frames:
                w.writerow([t.method_id, *("" if f.get(k) is None else f[k] for k in FRAME_KEYS)])
        return buf.getvalue()

    def summary_rows(self) -> list[dict[str, Any]]:
        return [{"method": t.method_id, **t.summary()} for t in self.tracks]
