"""Degradation and metrics reproduce the field's reference figures."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import BENCHMARK, needs_benchmark

from srcore.degrade import crop_to_multiple, degrade, imresize
from srcore.imageio import load_image
from srcore.metrics import error_map_y, psnr_rgb, psnr_y, ssim_y


@needs_benchmark
@pytest.mark.parametrize("dataset", ["Set5", "Set14"])
def test_degradation_matches_matlab(dataset: str) -> None:
    """Our LR of every HR image is within 45 dB PSNR of the MATLAB-made LR file."""
    hr_dir = BENCHMARK / dataset / "x4" / "HR"
    for hr_path in sorted(hr_dir.iterdir()):
        hr = load_image(hr_path).rgb
        matlab_lr = load_image(BENCHMARK / dataset / "x4" / "LR" / hr_path.name).rgb
        _, ours = degrade(hr, 4)
        assert ours.shape == matlab_lr.shape
        assert psnr_rgb(ours, matlab_lr) >= 45.0, hr_path.name


def test_degrade_crops_to_multiple_and_shrinks() -> None:
    img = np.random.default_rng(0).integers(0, 256, (101, 67, 3), dtype=np.uint8)
    hr, lr = degrade(img, 4)
    assert hr.shape == (100, 64, 3) and lr.shape == (25, 16, 3)
    assert crop_to_multiple(img, 3).shape == (99, 66, 3)


def test_imresize_constant_image_stays_constant() -> None:
    img = np.full((40, 40, 3), 77, np.uint8)
    assert (imresize(img, 0.25) == 77).all()
    flt = imresize(img.astype(np.float32) / 255, 0.5)
    assert flt.dtype == np.float32 and np.allclose(flt, 77 / 255, atol=1e-6)


def test_psnr_ssim_conventions() -> None:
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    assert psnr_y(a, a) == float("inf")
    assert ssim_y(a, a) == pytest.approx(1.0)
    b = a.copy()
    b[:4] = 0  # damage only the border: shaving it away must hide it
    assert psnr_y(b, a, shave=4) == float("inf")
    assert psnr_y(b, a, shave=0) < 30
    # Y is studio-swing: pure white/black differ by 219 levels, not 255
    white, black = np.full((8, 8, 3), 255, np.uint8), np.zeros((8, 8, 3), np.uint8)
    assert error_map_y(white, black).max() == pytest.approx(219.0, abs=1e-6)
    with pytest.raises(ValueError):
        psnr_y(a, a[:10])


def test_ssim_tiny_images_do_not_crash() -> None:
    a = np.random.default_rng(2).integers(0, 256, (5, 5, 3), dtype=np.uint8)
    assert np.isfinite(ssim_y(a, a))
