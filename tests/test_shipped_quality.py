"""The weights we ship still meet the quality bars they were trained for (issues 3 and 4).

Measured like ``python -m srcore bench``: the MATLAB-made LR files of Set5/Set14, PSNR-Y on
BT.601 Y with ``scale`` px shaved, and LPIPS labelled with its variant. A re-export, a changed
pre/post-processing step or a broken tiling path shows up here as a number, not as a crash.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from conftest import BENCHMARK, needs_benchmark, require_shipped

from srcore.bench import load_dataset
from srcore.lpips import get_lpips
from srcore.metrics import psnr_y
from srcore.registry import get_method

pytestmark = [needs_benchmark, pytest.mark.slow]


@cache
def _outputs(method_id: str, dataset: str, scale: int, strength: float | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """(output, HR) for every image of ``dataset``, computed once per test session."""
    method = get_method(method_id)
    opts = {} if strength is None else {"strength": strength}
    return [(method.upscale(item.lr, scale, **opts), item.hr) for item in load_dataset(BENCHMARK / dataset / f"x{scale}", scale)]


@cache
def _scores(method_id: str, dataset: str, scale: int, strength: float | None = None, lpips: bool = False) -> dict[str, float]:
    """Mean PSNR-Y and, with ``lpips``, ST-LPIPS-alex and ST-LPIPS-vgg (or the lpips-package variants when cached)."""
    rows = []
    for out, hr in _outputs(method_id, dataset, scale, strength):
        item_hr = hr
        row = {"psnr_y": psnr_y(out, item_hr, scale)}
        if lpips:
            row |= {"lpips_alex": get_lpips("alex")(out, item_hr), "lpips_vgg": get_lpips("vgg")(out, item_hr)}
        rows.append(row)
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


@pytest.mark.parametrize(("method_id", "scale", "set5", "set14"), [
    ("espcn", 4, 29.8, 27.0),
    ("fsrcnn", 4, 29.8, 27.0),
    ("edsr", 4, 31.0, 27.8),
    ("edsr", 2, 37.0, 32.7),  # no bar in the issue: a floor a little under what we shipped (37.41 / 33.02)
])
def test_psnr_bars(method_id: str, scale: int, set5: float, set14: float) -> None:
    require_shipped(method_id, scale)
    assert _scores(method_id, "Set5", scale)["psnr_y"] >= set5
    assert _scores(method_id, "Set14", scale)["psnr_y"] >= set14


def test_srgan_perception_bar() -> None:
    """Issue 4: better on *both* LPIPS networks than the PSNR model, at a bounded PSNR cost."""
    require_shipped("srgan", 4)
    require_shipped("edsr", 4)
    gan, ref = _scores("srgan", "Set14", 4, 1.0, lpips=True), _scores("edsr", "Set14", 4, lpips=True)
    assert gan["psnr_y"] >= 24.5
    assert gan["lpips_alex"] <= 0.30 and gan["lpips_alex"] <= 0.85 * ref["lpips_alex"], (gan, ref)
    assert gan["lpips_vgg"] <= 0.90 * ref["lpips_vgg"], (gan, ref)


def _phase_spread(y: np.ndarray, period: int = 4) -> float:
    """Std of the mean luma over the period x period pixel phases.

    Why: x4 pixel-shuffle upsampling fails as a checkerboard, a pattern that repeats every 2 or 4
    output pixels. Averaged over a whole image, natural content gives nearly equal means at all 16
    phases (HR: 0.1-0.6 grey levels here); a checkerboard adds its amplitude on top.
    """
    h, w = (y.shape[0] // period) * period, (y.shape[1] // period) * period
    phases = y[:h, :w].astype(np.float64).reshape(h // period, period, w // period, period).mean(axis=(0, 2))
    return float(phases.std())


#: Our GANs made for clean (or lightly JPEG'd) LR; each gets the artefact checks below at strength 1, its
#: textured end. ``real-gan`` is judged on degraded photos instead (tests/test_shipped_real.py). ``unet-gan`` passed
#: them only once trained with the lattice and detail guards (train/README: two recipes without them did not).
GANS = ("srgan", "unet-gan")


@pytest.mark.parametrize("method_id", GANS)
def test_gan_has_no_checkerboard_or_colour_shift(method_id: str) -> None:
    """The artefacts GAN training is known for, measured against HR on every Set14 image."""
    import cv2

    require_shipped(method_id, 4)
    for out, hr in _outputs(method_id, "Set14", 4, 1.0):
        a = cv2.cvtColor(out, cv2.COLOR_RGB2YCrCb).astype(np.float64)
        b = cv2.cvtColor(hr, cv2.COLOR_RGB2YCrCb).astype(np.float64)
        assert _phase_spread(a[..., 0]) <= _phase_spread(b[..., 0]) + 2.0  # grey levels of 255
        for ch in (1, 2):  # a tint shows as a mean chroma offset
            assert abs(float(np.mean(a[..., ch] - b[..., ch]))) <= 2.5


def _chroma_highpass(rgb: np.ndarray) -> float:
    """Mean |chroma - its Gaussian blur (sigma 1.5)| over Cr and Cb, in grey levels: colour *speckle*."""
    import cv2

    c = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)[..., 1:].astype(np.float32)
    return float(np.abs(c - cv2.GaussianBlur(c, (0, 0), 1.5)).mean())


@pytest.mark.parametrize("method_id", GANS)
def test_gan_paints_no_colour_speckle(method_id: str) -> None:
    """GAN texture belongs in luma: chroma detail no busier than the HR's.

    srgan's first shipped candidate failed this (Set14 chroma high-pass 2.7 vs HR 1.7), which is why
    training has a chroma L1 term.
    """
    require_shipped(method_id, 4)
    pairs = _outputs(method_id, "Set14", 4, 1.0)
    assert np.mean([_chroma_highpass(o) for o, _ in pairs]) <= np.mean([_chroma_highpass(h) for _, h in pairs])


@pytest.mark.parametrize("method_id", GANS)
def test_gan_network_paints_little_colour_on_grey_photos(method_id: str) -> None:
    """The generator's *own* output on Set14's two grayscale images, before ``keep_grey`` strips its chroma.

    Why the raw network: ``upscale`` returns a grey image for a grey input whatever the network
    painted (``keep_grey``), so checking that output tests nothing. Measured on the network: the
    first candidate painted 2.7-3.8 grey levels of chroma speckle here, the shipped one 1.45 / 1.10
    (EDSR 0.43); the bar, a little above, catches a retrained generator that regresses.
    """
    from srcore.methods.torch_sr import run_network

    require_shipped(method_id, 4)
    method = get_method(method_id)
    network = method.torch_network(4, strength=1.0)
    grey = [item for item in load_dataset(BENCHMARK / "Set14" / "x4", 4) if _chroma_highpass(item.hr) < 0.05]
    assert len(grey) == 2, "Set14 has two grayscale images"
    for item in grey:
        raw = run_network(network, item.lr, 4, 0, 0, 1.0, method.device, method.half)
        assert _chroma_highpass(raw) <= 1.6, item.name


@pytest.mark.parametrize("method_id", GANS)
def test_gan_paints_no_hatching_at_its_default_strength(method_id: str) -> None:
    """Issue 21: no grating-like fine detail beyond :data:`srcore.hatching.CEILING` (Set14 x4 mean, default strength).

    Measured (docs/hatching_check.json, clean Set14): ``srgan`` at its default 0.75 0.017, at 1 0.040;
    Real-ESRGAN x4plus 0.014, the ground truth 0.042; a hatching network (issue 21's ``real-gan@1``) 0.155-0.195
    on the degraded sets it was made for.
    """
    from srcore.hatching import CEILING, hatching_index

    require_shipped(method_id, 4)
    assert np.mean([hatching_index(o) for o, _ in _outputs(method_id, "Set14", 4)]) <= CEILING


@pytest.mark.parametrize("method_id", GANS)
def test_gan_strength_zero_is_the_psnr_generator(method_id: str) -> None:
    """α = 0 is the PSNR-trained generator it started from (shipped as ``edsr`` / ``unet`` too): same pixels."""
    from srcore.artefacts import psnr_counterpart

    require_shipped(method_id, 4)
    lr = load_dataset(BENCHMARK / "Set5" / "x4", 4, limit=1)[0].lr
    a = get_method(method_id).upscale(lr, 4, strength=0.0)
    b = get_method(psnr_counterpart(method_id)).upscale(lr, 4)
    assert np.array_equal(a, b)


@pytest.mark.parametrize("method_id", GANS)
def test_gan_repeats_no_4px_pattern(method_id: str) -> None:
    """No x4 pixel-shuffle grid: Set14 mean of :func:`srcore.periodic.periodic_peak_ratio` within :data:`PERIODIC_BAR`."""
    require_shipped(method_id, 4)
    assert _periodic(method_id, 1.0) <= PERIODIC_BAR * _periodic_hr(), (_periodic(method_id, 1.0), _periodic_hr())


#: An output may repeat every 4 px at most this many times as strongly as the ground truth does (Set14 means of
#: srcore.periodic.periodic_peak_ratio; measured: HR 1.14, bicubic 1.09, unet 3.7, srgan@1 4.7, and the first
#: unet-perceptual, whose 4-px grid is visible in every crop, 92).
PERIODIC_BAR = 8.0


def _periodic(method_id: str, strength: float | None = None) -> float:
    from srcore.periodic import periodic_peak_ratio

    return float(np.mean([periodic_peak_ratio(o) for o, _ in _outputs(method_id, "Set14", 4, strength)]))


@cache
def _periodic_hr() -> float:
    from srcore.periodic import periodic_peak_ratio

    return float(np.mean([periodic_peak_ratio(item.hr) for item in load_dataset(BENCHMARK / "Set14" / "x4", 4)]))


def test_unet_perceptual_between_unet_and_the_gans() -> None:
    """Issue 25: on the perception-distortion plane between ``unet`` and ``srgan``, with no grid and no colour shift.

    Set14 x4: ST-LPIPS-alex <= 0.85 x unet's, PSNR-Y >= unet's - 1.5 dB, 4-px repetition within PERIODIC_BAR of the
    ground truth's, and no mean chroma offset (the first unet-perceptual shifted colours and painted a 4-px grid).
    """
    import cv2

    require_shipped("unet-perceptual", 4)
    require_shipped("unet", 4)
    per, ref = _scores("unet-perceptual", "Set14", 4, lpips=True), _scores("unet", "Set14", 4, lpips=True)
    assert per["lpips_alex"] <= 0.85 * ref["lpips_alex"], (per, ref)
    assert per["psnr_y"] >= ref["psnr_y"] - 1.5, (per, ref)
    assert _periodic("unet-perceptual") <= PERIODIC_BAR * _periodic_hr()
    for out, hr in _outputs("unet-perceptual", "Set14", 4):
        a = cv2.cvtColor(out, cv2.COLOR_RGB2YCrCb).astype(np.float64)
        b = cv2.cvtColor(hr, cv2.COLOR_RGB2YCrCb).astype(np.float64)
        for ch in (1, 2):
            assert abs(float(np.mean(a[..., ch] - b[..., ch]))) <= 2.5


def test_seed002_methods_beat_bicubic() -> None:
    """Issue 25: every listed encoder-decoder method beats bicubic on Set5 x4 - PSNR-Y for the per-pixel ones,
    ST-LPIPS-alex (with no 4-px grid) for the perceptual/GAN ones."""
    from srcore.registry import all_methods

    listed = [m.id for m in all_methods() if m.id in ("autoencoder", "unet", "unet-perceptual", "unet-gan")]  # seed 002's four
    assert {"unet", "unet-perceptual"} <= set(listed)
    bic = _scores("bicubic", "Set5", 4, lpips=True)
    for method_id in listed:
        require_shipped(method_id, 4)
        got = _scores(method_id, "Set5", 4, lpips=True)
        if method_id in ("unet-perceptual", "unet-gan"):
            assert got["lpips_alex"] < bic["lpips_alex"], (method_id, got, bic)
            assert _periodic(method_id) <= PERIODIC_BAR * _periodic_hr(), method_id
        else:
            assert got["psnr_y"] >= bic["psnr_y"] + 0.3, (method_id, got, bic)
