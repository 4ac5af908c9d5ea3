"""How visible a JPEG block grid is: the block-edge / other-edge luma step ratio.

JPEG codes 8x8 blocks independently, so a compressed picture has larger luma steps across
block boundaries than inside blocks; an SR method that treats those steps as detail magnifies
them into an ``8 * scale`` pixel grid. The ratio of the mean |dY| across grid lines to the mean
|dY| between other neighbours is ~1 for a clean picture and grows with visible blocking, whatever
the picture's own contrast (both terms scale with it).
"""

from __future__ import annotations

import numpy as np

from srcore.color import rgb_to_y_bt601

__all__ = ["grid_ratio"]


def grid_ratio(image: np.ndarray, period: int = 8, offset: int = 0) -> float:
    """Mean |dY| across the lines of a ``period``-px grid starting at ``offset`` / mean |dY| elsewhere.

    ``image``: RGB uint8 (or a 2-D luma array). For a JPEG upscaled by ``s``, use ``period=8*s``.
    A step "across a grid line" is between pixel ``k*period + offset - 1`` and ``k*period + offset``.
    """
    y = rgb_to_y_bt601(image) if image.ndim == 3 else image.astype(np.float64)
    if min(y.shape) <= period:
        raise ValueError(f"image of {y.shape[1]}x{y.shape[0]} is too small for a {period}-px grid")
    dx = np.abs(np.diff(y, axis=1))  # dx[:, j] is the step between columns j and j+1
    dy = np.abs(np.diff(y, axis=0))
    on_x = (np.arange(dx.shape[1]) + 1 - offset) % period == 0
    on_y = (np.arange(dy.shape[0]) + 1 - offset) % period == 0
    across = np.concatenate([dx[:, on_x].ravel(), dy[on_y, :].ravel()])
    other = np.concatenate([dx[:, ~on_x].ravel(), dy[~on_y, :].ravel()])
    return float(across.mean() / max(other.mean(), 1e-9))
