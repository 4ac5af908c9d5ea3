"""ΔE00 (srcore/deltae.py) against scikit-image's reference implementation, and Sharma et al.'s published pairs."""

from __future__ import annotations

import numpy as np
import pytest
import skimage.data
from skimage.color import deltaE_ciede2000, rgb2lab

from srcore.deltae import delta_e00, delta_e_map, rgb_to_lab

#: Sharma, Wu & Dalal (2005), Table 1: (Lab 1, Lab 2, ΔE00), pairs 1, 7, 13, 17, 25, 34 (hue wrap, grey, large ΔE).
SHARMA = [((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
          ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
          ((50.0, 2.4900, -0.0010), (50.0, -2.4900, 0.0011), 7.2195),
          ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
          ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
          ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082)]


def test_lab_matches_skimage() -> None:
    img = skimage.data.astronaut()[::4, ::4]
    assert np.abs(rgb_to_lab(img) - rgb2lab(img)).max() < 1e-4


def test_sharma_pairs() -> None:
    a = np.array([p[0] for p in SHARMA])
    b = np.array([p[1] for p in SHARMA])
    assert delta_e00(a, b) == pytest.approx([p[2] for p in SHARMA], abs=1e-4)


def test_map_matches_skimage_on_real_images() -> None:
    ref = skimage.data.chelsea()[:120, :160]
    rng = np.random.default_rng(0)
    tinted = np.clip(ref.astype(int) + [12, -6, 3] + rng.integers(-8, 9, ref.shape), 0, 255).astype(np.uint8)
    got = delta_e_map(tinted, ref)
    want = deltaE_ciede2000(rgb2lab(ref), rgb2lab(tinted))
    assert got.shape == ref.shape[:2] and got.dtype == np.float32
    assert np.abs(got - want).max() < 1e-3 and got.mean() > 2
    assert delta_e_map(ref, ref).max() == 0
    with pytest.raises(ValueError):
        delta_e_map(ref, ref[:10])
