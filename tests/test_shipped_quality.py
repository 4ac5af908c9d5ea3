"""The weights we ship still meet the quality bars they were trained for (issues 3 and 4).

Measured like ``python -m srcore bench``: the MATLAB-made LR files of Set5/Set14, PSNR-Y on
BT.601 Y with ``scale`` px shaved, and LPIPS labelled with its variant. A re-export, a changed
pre/post-processing step or a broken tiling path shows up here as a number, not as a crash.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from conftest import BENCHMARK, needs_benchmark

from srcore.bench import load_dataset
from srcore.lpips import get_lpips
from srcore.metrics import psnr_y
from srcore.registry import get_method

pytestmark = [needs_benchmark, pytest.mark.slow]


def _shipped(method_id: str, scale: int) -> None:
    avail = get_method(method_id).availability(scale)
    if not avail:
        pytest.skip(f"{method_id} x{scale} not shipped: {avail.reason}")


@cache
def _scores(method_id: str, dataset: str, scale: int, strength: float | None = None, lpips: bool = False) -> dict[str, float]:
    """Mean PSNR-Y and, with ``lpips``, ST-LPIPS-alex and ST-LPIPS-vgg (or the lpips-package variants when cached)."""
    method = get_method(method_id)
    opts = {} if strength is None else {"strength": strength}
    rows = []
    for item in load_dataset(BENCHMARK / dataset / f"x{scale}", scale):
        out = method.upscale(item.lr, scale, **opts)
        row = {"psnr_y": psnr_y(out, item.hr, scale)}
        if lpips:
            row |= {"lpips_alex": get_lpips("alex")(out, item.hr), "lpips_vgg": get_lpips("vgg")(out, item.hr)}
        rows.append(row)
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


@pytest.mark.parametrize(("method_id", "scale", "set5", "set14"), [
    ("espcn", 4, 29.8, 27.0),
    ("fsrcnn", 4, 29.8, 27.0),
    ("edsr", 4, 31.0, 27.8),
    ("edsr", 2, 37.0, 32.7),  # no bar in the issue: a floor a little under what we shipped (37.41 / 33.02)
])
def test_psnr_bars(method_id: str, scale: int, set5: float, set14: float) -> None:
    _shipped(method_id, scale)
    assert _scores(method_id, "Set5", scale)["psnr_y"] >= set5
    assert _scores(method_id, "Set14", scale)["psnr_y"] >= set14


def test_srgan_perception_bar() -> None:
    """Issue 4: better on *both* LPIPS networks than the PSNR model, at a bounded PSNR cost."""
    _shipped("srgan", 4)
    _shipped("edsr", 4)
    gan, ref = _scores("srgan", "Set14", 4, 1.0, lpips=True), _scores("edsr", "Set14", 4, lpips=True)
    assert gan["psnr_y"] >= 24.5
    assert gan["lpips_alex"] <= 0.30 and gan["lpips_alex"] <= 0.85 * ref["lpips_alex"], (gan, ref)
    assert gan["lpips_vgg"] <= 0.90 * ref["lpips_vgg"], (gan, ref)


def test_srgan_strength_zero_is_the_psnr_generator() -> None:
    """α = 0 is our PSNR-trained generator (shipped as ``edsr`` too): same pixels, same score."""
    _shipped("srgan", 4)
    lr = load_dataset(BENCHMARK / "Set5" / "x4", 4, limit=1)[0].lr
    a = get_method("srgan").upscale(lr, 4, strength=0.0)
    b = get_method("edsr").upscale(lr, 4)
    assert np.array_equal(a, b)
