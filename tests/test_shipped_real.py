"""The real-world networks (issue 11) do what they are for: JPEG/noisy inputs without a magnified block grid.

Inputs are Set5/Set14 HR degraded by ``srcore.degrade`` exactly as ``bench --degrade`` does
(``jpeg`` at Q 50, ``realistic`` with seed 0, image ``i`` seeded with ``(0, i)``); clean inputs
are the MATLAB-made LR files. Every figure is a dataset mean.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from conftest import BENCHMARK, REPO, needs_benchmark, require_shipped
from test_shipped_quality import _chroma_highpass, _phase_spread

from srcore.blockiness import grid_ratio
from srcore.degrade import Degradation, degrade_image
from srcore.hatching import CEILING, hatching_index
from srcore.imageio import load_image
from srcore.lpips import get_lpips
from srcore.metrics import psnr_y
from srcore.registry import get_method

pytestmark = [needs_benchmark, pytest.mark.slow]

JPEG50 = Degradation("jpeg", jpeg_quality=50)
REALISTIC0 = Degradation("realistic", seed=0)


def _shipped(*ids: str) -> None:
    for method_id in ids:
        require_shipped(method_id, 4)


@cache
def _pairs(dataset: str, spec: Degradation) -> list[tuple[np.ndarray, np.ndarray]]:
    """(lr, hr) of every image of ``dataset``, degraded with ``spec``."""
    paths = sorted((BENCHMARK / dataset / "x4" / "HR").iterdir())
    out = []
    for i, path in enumerate(paths):
        d = degrade_image(load_image(path).rgb, 4, spec, index=i)
        out.append((d.lr, d.hr))
    return out


@cache
def _outputs(method_id: str, dataset: str, spec: Degradation, strength: float | None = None) -> list[np.ndarray]:
    m = get_method(method_id)
    opts = {} if strength is None else {"strength": strength}
    return [m.upscale(lr, 4, **opts) for lr, _ in _pairs(dataset, spec)]


@cache
def _mean(method_id: str, dataset: str, spec: Degradation, metric: str, strength: float | None = None) -> float:
    hrs = [hr for _, hr in _pairs(dataset, spec)]
    outs = _outputs(method_id, dataset, spec, strength)
    if metric == "psnr_y":
        vals = [psnr_y(o, h, 4) for o, h in zip(outs, hrs, strict=True)]
    elif metric == "lpips":
        vals = [get_lpips("alex")(o, h) for o, h in zip(outs, hrs, strict=True)]
    else:
        vals = [grid_ratio(o, 32) for o in outs]
    return float(np.mean(vals))


def test_real_edsr_beats_edsr_on_jpeg_without_a_block_grid() -> None:
    """Issue 11's bar: on Set14 at JPEG Q 50, better PSNR-Y than ``edsr`` and no more grid than ``bicubic``."""
    _shipped("real-edsr", "edsr")
    assert _mean("real-edsr", "Set14", JPEG50, "psnr_y") > _mean("edsr", "Set14", JPEG50, "psnr_y")
    assert _mean("real-edsr", "Set14", JPEG50, "grid") <= _mean("bicubic", "Set14", JPEG50, "grid")


def test_real_edsr_keeps_clean_inputs_well_above_bicubic() -> None:
    """On the clean MATLAB-made Set5 LR, at least 1 dB over bicubic (28.63 dB)."""
    from srcore.bench import load_dataset

    _shipped("real-edsr")
    items = load_dataset(BENCHMARK / "Set5" / "x4", 4)
    ours = np.mean([psnr_y(get_method("real-edsr").upscale(it.lr, 4), it.hr, 4) for it in items])
    bicubic = np.mean([psnr_y(get_method("bicubic").upscale(it.lr, 4), it.hr, 4) for it in items])
    assert ours >= bicubic + 1.0, (ours, bicubic)


@pytest.mark.parametrize("spec", [JPEG50, REALISTIC0], ids=["jpeg50", "realistic0"])
def test_real_methods_lead_on_degraded_inputs(spec: Degradation) -> None:
    """real-edsr has the best PSNR-Y, and real-gan (full strength) the best LPIPS among the shipped x4 methods that do
    not magnify the input's block grid (32-px grid ratio no higher than bicubic's): on JPEG Q 50 ``srgan`` buys its
    LPIPS with exactly that grid (ratio 1.97 vs bicubic's 1.31 on the README photo), the artefact real-gan exists to avoid."""
    _shipped("real-edsr", "real-gan")
    others = ["bicubic", "lanczos", "edsr", "srgan"]
    _shipped("edsr", "srgan")
    best_other_psnr = max(_mean(m, "Set14", spec, "psnr_y") for m in others)
    assert _mean("real-edsr", "Set14", spec, "psnr_y") > best_other_psnr
    # issue 21's bar: bicubic + 0.5 dB on both degraded sets (measured +0.557 on JPEG, +0.504 on realistic)
    assert _mean("real-edsr", "Set14", spec, "psnr_y") >= _mean("bicubic", "Set14", spec, "psnr_y") + 0.5
    grid_free = [m for m in [*others, "real-edsr"] if _mean(m, "Set14", spec, "grid") <= _mean("bicubic", "Set14", spec, "grid")]
    assert "bicubic" in grid_free
    best_other_lpips = min(_mean(m, "Set14", spec, "lpips") for m in grid_free)
    assert _mean("real-gan", "Set14", spec, "lpips", 1.0) < best_other_lpips
    if spec.kind == "jpeg":  # issue 11's bar; on realistic LR real-gan measures 1.056 against bicubic's 1.05 - issue 21's
        # bar asks <= there too, not reached yet (issue 21 stays open)
        assert _mean("real-gan", "Set14", spec, "grid", 1.0) <= _mean("bicubic", "Set14", spec, "grid")


@pytest.mark.parametrize("spec", [JPEG50, REALISTIC0], ids=["jpeg50", "realistic0"])
def test_real_gan_is_near_realesrgan_x4plus_on_degraded_inputs(spec: Degradation) -> None:
    """Issue 21's direction: real-gan at its default strength within 1.2x of Real-ESRGAN x4plus's ST-LPIPS on Set14
    (the issue's bar is 1.05x, not reached yet). x4plus's figure is read from its committed bench JSON rather than
    re-run here (8 s an image on two cores). Measured: 0.339 vs 0.290 (1.17x) on JPEG Q50, 0.409 vs 0.377 (1.08x) on
    realistic; the EDSR student before it, 0.354 (1.22x) / 0.476 (1.26x), fails this."""
    import json

    _shipped("real-gan")
    ref = json.loads((REPO / "docs" / f"bench_ref_Set14_x4_{spec.kind}.json").read_text())["results"]["realesrgan-x4plus"]
    assert _mean("real-gan", "Set14", spec, "lpips") <= 1.2 * ref["lpips"]


def test_real_gan_has_no_checkerboard_tint_or_colour_speckle() -> None:
    """The artefact checks ``srgan`` passes, on the inputs ``real-gan`` is made for."""
    import cv2

    _shipped("real-gan")
    pairs = _pairs("Set14", REALISTIC0)
    outs = _outputs("real-gan", "Set14", REALISTIC0, 1.0)  # the GAN end of the dial: its artefacts at their strongest
    for out, (_, hr) in zip(outs, pairs, strict=True):
        a = cv2.cvtColor(out, cv2.COLOR_RGB2YCrCb).astype(np.float64)
        b = cv2.cvtColor(hr, cv2.COLOR_RGB2YCrCb).astype(np.float64)
        assert _phase_spread(a[..., 0]) <= _phase_spread(b[..., 0]) + 2.0
        for ch in (1, 2):
            assert abs(float(np.mean(a[..., ch] - b[..., ch]))) <= 2.5
    assert np.mean([_chroma_highpass(o) for o in outs]) <= np.mean([_chroma_highpass(h) for _, h in pairs])


@pytest.mark.parametrize("spec", [JPEG50, REALISTIC0], ids=["jpeg50", "realistic0"])
def test_real_gan_paints_no_hatching_at_its_default_strength(spec: Degradation) -> None:
    """Issue 21: the Set14 mean hatching index at the default strength stays under :data:`srcore.hatching.CEILING`.

    Measured (docs/hatching_check.json, these sets): the issue-21 ``real-gan`` 0.039 / 0.053 at its default 0.5
    and 0.155 / 0.195 at 1 (the crop sheet's hatching); Real-ESRGAN x4plus 0.016 / 0.021; ground truth 0.042; today's
    RRDB student at its default 1: 0.011 / 0.016 (docs/bench_real_Set14_*.json).
    """
    _shipped("real-gan")
    assert np.mean([hatching_index(o) for o in _outputs("real-gan", "Set14", spec)]) <= CEILING


def test_real_gan_paints_no_hatching_on_the_readme_photos() -> None:
    """The crop sheet's two JPEG photos, whole, upscaled as they are at the default strength: each under the ceiling.

    Measured (docs/hatching_check.json): 0.047 (cat) / 0.031 (astronaut) at the default 0.5, 0.217 / 0.114 at 1;
    x4plus 0.040 / 0.010.
    """
    _shipped("real-gan")
    for name in ("chelsea_q60", "astronaut_noisy_q70"):
        out = get_method("real-gan").upscale(load_image(REPO / "docs" / "photos" / f"{name}.jpg").rgb, 4)
        assert hatching_index(out) <= CEILING, name


def test_real_gan_strength_zero_is_real_edsr() -> None:
    _shipped("real-gan", "real-edsr")
    lr = _pairs("Set5", JPEG50)[0][0]
    assert np.array_equal(get_method("real-gan").upscale(lr, 4, strength=0.0), get_method("real-edsr").upscale(lr, 4))
