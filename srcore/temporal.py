"""Temporal metrics of a restored clip against its ground truth: flicker, temporal error, warp error.

Why its own module: these are quality metrics (like :mod:`srcore.metrics`), judged against the
ground truth's own motion (DIS optical flow, forward-backward occlusion mask); the video pipeline
only feeds them one frame at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from srcore.color import rgb_to_y_bt601

#: Definitions shown next to the temporal numbers (JSON, README, UI).
TEMPORAL_NOTES = {
    "flicker": "mean |Y_t - Y_t-1| of the output minus that of the ground truth (BT.601 Y levels); "
    "> 0: more frame-to-frame change than the truth (flicker, crawling texture), < 0: temporally smoother than the truth",
    "temporal_error": "mean |(out_t - out_t-1) - (gt_t - gt_t-1)| on Y: how differently from the truth the output changes; 0 = identical",
    "warp_error": "mean |Y(out_t) - Y(warp(out_t-1))| over non-occluded pixels, with DIS optical flow from the ground-truth frames "
    "(forward-backward consistency mask); compare with warp_error_gt, the same for the ground truth itself",
}


def _flow(dis: Any, to_frame: np.ndarray, from_frame: np.ndarray) -> np.ndarray:
    return dis.calc(to_frame, from_frame, None)


def _warp(img: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``img`` sampled at ``x + flow(x)``: brings the previous frame onto the current one."""
    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(img, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


@dataclass
class FlowPair:
    """Optical flow from ground-truth frame t to t-1, and where it can be trusted (not occluded, inside)."""

    flow: np.ndarray
    valid: np.ndarray


class TemporalMeter:
    """Temporal consistency of outputs against the ground truth's own motion; keeps only frame t-1.

    Flow comes from the *ground truth* (DIS, medium preset) so every method is judged against the
    same true motion; occlusions are masked with the forward-backward check of Ruder et al. (2016).
    """

    def __init__(self) -> None:
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        self._prev_gt: np.ndarray | None = None
        self._prev_out: dict[str, np.ndarray] = {}
        self.pair: FlowPair | None = None
        self._gt_dy: np.ndarray | None = None
        self.gt_warp_error: float | None = None

    @staticmethod
    def luma(rgb: np.ndarray) -> np.ndarray:
        return rgb_to_y_bt601(rgb).astype(np.float32)

    def next_ground_truth(self, gt: np.ndarray) -> None:
        """Advance to a new ground-truth frame: compute the flow to the previous one."""
        y = self.luma(gt)
        self.pair, self._gt_dy, self.gt_warp_error = None, None, None
        if self._prev_gt is not None and self._prev_gt.shape == y.shape:
            a, b = np.clip(y, 0, 255).astype(np.uint8), np.clip(self._prev_gt, 0, 255).astype(np.uint8)
            fw = _flow(self._dis, a, b)  # t -> t-1
            bw = _flow(self._dis, b, a)  # t-1 -> t
            bw_at = _warp(bw, fw)
            sq = np.sum((fw + bw_at) ** 2, axis=2)
            valid = sq < 0.01 * (np.sum(fw**2, axis=2) + np.sum(bw_at**2, axis=2)) + 0.5
            h, w = y.shape
            gx, gy = np.meshgrid(np.arange(w), np.arange(h))
            tx, ty = gx + fw[..., 0], gy + fw[..., 1]
            valid &= (tx >= 0) & (tx <= w - 1) & (ty >= 0) & (ty <= h - 1)
            self.pair = FlowPair(fw, valid)
            self._gt_dy = y - self._prev_gt
            self.gt_warp_error = self._masked_mean(np.abs(y - _warp(self._prev_gt, fw)), valid)
        self._prev_gt = y

    @staticmethod
    def _masked_mean(x: np.ndarray, mask: np.ndarray) -> float | None:
        return float(x[mask].mean()) if mask.any() else None

    def output(self, method_id: str, out: np.ndarray) -> dict[str, float | None]:
        """Temporal metrics of ``method_id``'s frame t (None for the first frame)."""
        y = self.luma(out)
        prev = self._prev_out.get(method_id)
        self._prev_out[method_id] = y
        if prev is None or self.pair is None or self._gt_dy is None or prev.shape != y.shape:
            return {"flicker": None, "temporal_error": None, "warp_error": None}
        dy = y - prev
        return {
            "flicker": float(np.abs(dy).mean() - np.abs(self._gt_dy).mean()),
            "temporal_error": float(np.abs(dy - self._gt_dy).mean()),
            "warp_error": self._masked_mean(np.abs(y - _warp(prev, self.pair.flow)), self.pair.valid),
        }
