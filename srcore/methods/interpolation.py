"""Classic interpolation with OpenCV's ``cv2.resize`` - the baselines every SR method is judged by."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from srcore.methods.base import Upscaler

_FLAGS = {
    "nearest": (cv2.INTER_NEAREST, "Nearest neighbour"),
    "bilinear": (cv2.INTER_LINEAR, "Bilinear"),
    "bicubic": (cv2.INTER_CUBIC, "Bicubic"),
    "lanczos": (cv2.INTER_LANCZOS4, "Lanczos (8x8)"),
}


class Interpolation(Upscaler):
    """``cv2.resize`` with the flag named by the id; nothing to load, so always available."""

    def _run(self, image: np.ndarray, scale: int, *, tile: int | None, **options: Any) -> np.ndarray:
        flag = _FLAGS[self.id][0]
        h, w = image.shape[:2]
        return cv2.resize(image, (w * scale, h * scale), interpolation=flag)


def interpolation_methods() -> list[Upscaler]:
    return [
        Interpolation(
            id=key,
            label=label,
            scales=tuple(range(2, 9)),
            description=f"OpenCV cv2.resize with {label.lower()} interpolation; no learning involved.",
        )
        for key, (_, label) in _FLAGS.items()
    ]
