"""srcore.periodic: a 4-px grid shows as spectral peaks on the period's lattice; a photo does not."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from srcore.periodic import periodic_peak_ratio


def _with_grid(image: np.ndarray, amplitude: float, modulated: bool) -> np.ndarray:
    """``image`` plus a fixed 4x4-phase pattern, optionally scaled by local edge strength (as a network paints it)."""
    rng = np.random.default_rng(0)
    tile = rng.normal(0, 1, (4, 4))
    h, w = image.shape[:2]
    pattern = np.tile(tile, (h // 4 + 1, w // 4 + 1))[:h, :w]
    if modulated:
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float64)
        edges = np.hypot(cv2.Sobel(grey, cv2.CV_64F, 1, 0), cv2.Sobel(grey, cv2.CV_64F, 0, 1))
        pattern = pattern * edges / edges.mean()
    return np.clip(image + amplitude * pattern[..., None], 0, 255).astype(np.uint8)


def test_photo_has_no_lattice_peaks_and_a_grid_has(astronaut: np.ndarray) -> None:
    clean = periodic_peak_ratio(astronaut)
    assert 0.5 < clean < 2.0, clean
    # three grey levels of fixed pattern, and the same strength following the edges: both stand out
    assert periodic_peak_ratio(_with_grid(astronaut, 3.0, modulated=False)) > 10 * clean
    assert periodic_peak_ratio(_with_grid(astronaut, 3.0, modulated=True)) > 5 * clean


def test_other_periods_and_scaling_leave_it_alone(astronaut: np.ndarray) -> None:
    """A 4-px measure must not fire on a plain resize of the photo (bicubic x4 of a smaller copy)."""
    small = cv2.resize(astronaut, (128, 128), interpolation=cv2.INTER_AREA)
    up = cv2.resize(small, (512, 512), interpolation=cv2.INTER_CUBIC)
    assert periodic_peak_ratio(up) < 2.5


def test_too_small_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="too small"):
        periodic_peak_ratio(np.zeros((40, 40, 3), np.uint8))
