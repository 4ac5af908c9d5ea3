"""The scoring core: NIQE against MATLAB, GMSD against piq, LR-PSNR against MATLAB's own LR files,
null-with-reason for images a metric cannot score, degradations in compare, and the artefact map."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import BENCHMARK, REPO, needs_benchmark, require_shipped
from skimage import data as skdata

from srcore.artefacts import artefact_map, normalise_map, psnr_counterpart
from srcore.compare import compare
from srcore.degrade import Degradation, imresize
from srcore.imageio import load_image
from srcore.metrics import gmsd, lr_psnr
from srcore.niqe import NIQEUndefinedError, niqe
from srcore.scoring import METRICS, NO_GROUND_TRUTH, Scores, aggregate, score

#: BasicSR documents MATLAB R2021a's NIQE of its tests/data/baboon.png (Set14's baboon, crop_border 0).
MATLAB_NIQE_BABOON = 5.72957338


def _grain(img: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(img + rng.normal(0, sigma, img.shape), 0, 255).astype(np.uint8)


@needs_benchmark
def test_niqe_matches_matlab_on_baboon() -> None:
    baboon = load_image(BENCHMARK / "Set14" / "x4" / "HR" / "img_001.png").rgb
    assert baboon.shape == (480, 500, 3)  # Set14's baboon, the image BasicSR ships as baboon.png
    assert niqe(baboon, crop_border=0) == pytest.approx(MATLAB_NIQE_BABOON, abs=0.05)


def test_niqe_rises_with_grain_and_refuses_tiny_images() -> None:
    img = skdata.astronaut()
    assert niqe(_grain(img, 20)) > niqe(img) + 1
    with pytest.raises(NIQEUndefinedError, match="96x96"):
        niqe(img[:100, :100], crop_border=4)  # 92 px left after the border crop


def test_gmsd_matches_piq() -> None:
    import piq  # requirements-dev.txt: the reference implementation, installed for the tests
    import torch
    ref = skdata.astronaut()[:131, :97]  # odd sides exercise the pooling pad
    out = _grain(ref, 12)

    def t(a: np.ndarray):
        return torch.from_numpy(a.astype(np.float64) / 255.0).permute(2, 0, 1)[None]

    assert gmsd(out, ref) == pytest.approx(float(piq.gmsd(t(out), t(ref))), abs=1e-6)
    assert gmsd(ref, ref) == 0.0


def test_gmsd_rises_with_grain_where_lpips_can_be_fooled() -> None:
    """Nearest neighbour (blocky, high-frequency) beats bicubic on LPIPS on Set5; GMSD ranks it worse."""
    hr = skdata.astronaut()[:256, :256]
    lr = imresize(hr, 0.25)
    import cv2

    bicubic = cv2.resize(lr, (256, 256), interpolation=cv2.INTER_CUBIC)
    nearest = cv2.resize(lr, (256, 256), interpolation=cv2.INTER_NEAREST)
    assert gmsd(nearest, hr, 4) > gmsd(bicubic, hr, 4)
    assert gmsd(_grain(bicubic, 10), hr, 4) > gmsd(bicubic, hr, 4)


@needs_benchmark
def test_lr_psnr_against_matlab_made_lr_files() -> None:
    """HR downscaled by our MATLAB bicubic vs MATLAB's own LR files: the consistency check must read high."""
    for hr_path in sorted((BENCHMARK / "Set5" / "x4" / "HR").iterdir()):
        hr = load_image(hr_path).rgb
        lr = load_image(BENCHMARK / "Set5" / "x4" / "LR" / hr_path.name).rgb
        hr = hr[: lr.shape[0] * 4, : lr.shape[1] * 4]
        assert lr_psnr(hr, lr, 4) > 49.0


def test_lr_psnr_penalises_invented_content() -> None:
    hr = skdata.astronaut()[:128, :128]
    lr = imresize(hr, 0.25)
    assert lr_psnr(hr, lr, 4) == float("inf") or lr_psnr(hr, lr, 4) > 50
    assert lr_psnr(_grain(hr, 25), lr, 4) < lr_psnr(hr, lr, 4) - 10
    with pytest.raises(ValueError, match="not x4"):
        lr_psnr(hr[:120], lr, 4)


def test_score_gives_null_and_reason_for_tiny_images() -> None:
    """The fix from issue 12: a too-small image gets lpips/niqe = None with the reason, never a missing key."""
    from srcore.lpips import get_lpips

    hr = skdata.astronaut()[:16, :16]
    lr = imresize(hr, 0.25)
    out = imresize(lr, 4.0)
    s = score(out, 4, hr=hr, lr=lr, lpips_fns={"lpips": get_lpips("alex")})
    assert set(s.values) == set(METRICS)
    assert s["lpips"] is None and "at least" in s.reasons["lpips"]
    assert s["niqe"] is None and "96x96" in s.reasons["niqe"]
    assert s["psnr_y"] is not None and s["lr_psnr"] is not None and s["gmsd"] is not None
    assert s["ssim_y"] is not None  # 8x8 after the shave: a smaller SSIM window, not an error
    up = score(out, 4, lr=lr)  # upscale mode: no ground truth
    assert up["psnr_y"] is None and up.reasons["psnr_y"] == NO_GROUND_TRUTH and up["lr_psnr"] is not None


def test_aggregate_means_and_reasons() -> None:
    a = Scores({"psnr_y": 30.0, "niqe": 5.0}, {})
    b = Scores({"psnr_y": 32.0, "niqe": None}, {"niqe": "too small"})
    c = Scores({"psnr_y": 34.0, "niqe": None}, {"niqe": "too small"})
    m = aggregate([a, b, c])
    assert m["psnr_y"] == pytest.approx(32.0) and "psnr_y" not in m.reasons
    assert m["niqe"] == 5.0 and m.reasons["niqe"].startswith("mean over 1 of 3 images")
    none = aggregate([b, c])
    assert none["niqe"] is None and "all 2 images" in none.reasons["niqe"]


def test_compare_degradation_is_recorded_and_seeded() -> None:
    img = skdata.astronaut()[:128, :128]
    base = compare(img, 4, ["bicubic"], lpips=False)
    assert base.prepared.degradation == {"kind": "bicubic", "scale": 4}
    jpeg = compare(img, 4, ["bicubic"], lpips=False, degradation=Degradation("jpeg", jpeg_quality=20))
    assert jpeg.to_json()["degradation"] == {"kind": "jpeg", "scale": 4, "jpeg_quality": 20}
    assert not np.array_equal(jpeg.prepared.lr, base.prepared.lr)
    r1, r2, r3 = (compare(img, 4, ["bicubic"], lpips=False, degradation=Degradation("realistic", seed=s)) for s in (5, 5, 6))
    assert np.array_equal(r1.prepared.lr, r2.prepared.lr) and not np.array_equal(r1.prepared.lr, r3.prepared.lr)
    assert r1.to_json()["degradation"]["seed"] == 5 and "stage1" in r1.to_json()["degradation"]
    row = r1.table()[0]
    assert {"niqe", "lr_psnr", "gmsd", "reasons"} <= set(row) and row["niqe"] is not None


def test_upscale_mode_shows_niqe_and_lr_psnr() -> None:
    img = skdata.astronaut()[:100, :120]
    row = compare(img, 2, ["bicubic"], mode="upscale").table()[0]
    assert row["psnr_y"] is None and row["niqe"] is not None and row["lr_psnr"] > 35
    assert json.dumps(row)


def test_cli_degrade_flags_and_tables(tmp_path) -> None:
    from srcore.imageio import save_image

    src = tmp_path / "a.png"
    save_image(src, skdata.astronaut()[:128, :128])
    run = [sys.executable, "-m", "srcore", "compare", str(src), "-s", "4", "-m", "bicubic", "--no-lpips"]
    ok = subprocess.run([*run, "--degrade", "jpeg", "--jpeg-quality", "30", "--json", str(tmp_path / "c.json")],
                        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr
    assert "NIQE ↓" in ok.stdout and "LR-PSNR ↑" in ok.stdout and "GMSD ↓" in ok.stdout
    assert json.loads((tmp_path / "c.json").read_text())["degradation"]["jpeg_quality"] == 30
    up = subprocess.run([*run, "--mode", "upscale"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert up.returncode == 0 and "NIQE ↓" in up.stdout and "PSNR-Y" not in up.stdout
    for bad in (["--mode", "upscale", "--degrade", "jpeg"], ["--seed", "3"], ["--degrade", "jpeg", "--jpeg-quality", "0"]):
        proc = subprocess.run([*run, *bad], cwd=REPO, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_artefact_map_lights_up_grain_not_agreement() -> None:
    assert psnr_counterpart("srgan") == "edsr" and psnr_counterpart("real-gan") == "real-edsr"
    assert psnr_counterpart("bicubic") is None
    smooth = skdata.astronaut()[:128, :128]
    grainy = smooth.copy()
    grainy[:, 64:] = _grain(smooth[:, 64:], 15)  # grain on the right half only
    amap = artefact_map(grainy, smooth)
    assert amap.shape == (128, 128) and amap.dtype == np.float32
    assert amap[:, 72:].mean() > 20 * max(amap[:, :56].mean(), 1e-6)
    assert not artefact_map(smooth, smooth).any()
    shown = normalise_map(amap)
    assert shown.min() >= 0 and shown.max() == 1.0
    with pytest.raises(ValueError, match="differ in size"):
        artefact_map(grainy[:100], smooth)


def test_strength_rule_lets_lpips_choose_only_among_admissible() -> None:
    """benchmarks/srgan_strength.py: the lowest-LPIPS strength that NIQE, GMSD, LR-PSNR and the hatching check all accept."""
    from benchmarks import srgan_strength as mod
    from srcore.hatching import CEILING

    ref = {"niqe": 6.0, "gmsd": 0.080, "lr_psnr": 50.0, "lpips": 0.24, "hatching": 0.004}
    cands = {
        0.5: {"niqe": 5.5, "gmsd": 0.085, "lr_psnr": 47.0, "lpips": 0.19, "hatching": 0.03},
        0.75: {"niqe": 5.0, "gmsd": 0.091, "lr_psnr": 45.0, "lpips": 0.15, "hatching": 0.05},
        1.0: {"niqe": 4.0, "gmsd": 0.100, "lr_psnr": 41.0, "lpips": 0.12, "hatching": 0.05},  # best LPIPS, but grain: GMSD 25 % worse
    }
    best, refused = mod.choose(cands, ref, niqe_margin=0.0, gmsd_margin=0.15, lr_psnr_floor=40.0)
    assert best == 0.75 and list(refused) == [1.0] and "GMSD" in refused[1.0][0]
    best, refused = mod.choose(cands, ref, niqe_margin=0.0, gmsd_margin=0.15, lr_psnr_floor=46.0)
    assert best == 0.5 and set(refused) == {0.75, 1.0}
    # a strength that hatches is refused even when every other judge accepts it
    cands[0.75]["hatching"] = CEILING + 0.01
    best, refused = mod.choose(cands, ref, niqe_margin=0.0, gmsd_margin=0.15, lr_psnr_floor=40.0)
    assert best == 0.5 and refused[0.75] == [f"hatching {CEILING + 0.01:.3f} > {CEILING}"]


#: The committed sweeps of ``benchmarks/srgan_strength.py`` whose ``chosen`` is each GAN method's default.
STRENGTH_SWEEPS = {"srgan": "srgan_strength_Set14_x4.json", "real-gan": "srgan_strength_real_gan_Set14_jpeg50.json",
                   "unet-perceptual": "srgan_strength_unet_perceptual_Set14_x4.json", "unet-gan": "srgan_strength_unet_gan_Set14_x4.json"}


@pytest.mark.parametrize("method_id", sorted(STRENGTH_SWEEPS))
def test_default_strength_is_the_swept_one(method_id: str) -> None:
    """Each GAN method's default is what its committed sweep chose (benchmarks/srgan_strength.py), not a literal."""
    from srcore.methods import srgan as srgan_module
    from srcore.registry import get_method

    sweep = json.loads((REPO / "docs" / STRENGTH_SWEEPS[method_id]).read_text())
    assert sweep.get("method", "srgan") == method_id
    constant = {"srgan": srgan_module.SRGAN_DEFAULT_STRENGTH, "real-gan": srgan_module.REAL_GAN_DEFAULT_STRENGTH,
                "unet-perceptual": srgan_module.UNET_PERCEPTUAL_DEFAULT_STRENGTH, "unet-gan": srgan_module.UNET_GAN_DEFAULT_STRENGTH}[method_id]
    assert get_method(method_id).options[0].default == constant == sweep["chosen"]


def test_defaults_said_in_cli_help_and_readme_are_the_constants() -> None:
    """What users read about the default strengths (``--strength`` help, README) is what the code does."""
    from srcore.cli import build_parser
    from srcore.methods.srgan import (
        REAL_GAN_DEFAULT_STRENGTH,
        SRGAN_DEFAULT_STRENGTH,
        UNET_GAN_DEFAULT_STRENGTH,
        UNET_PERCEPTUAL_DEFAULT_STRENGTH,
    )

    said = (f"srgan {SRGAN_DEFAULT_STRENGTH:g}, real-gan {REAL_GAN_DEFAULT_STRENGTH:g}, "
            f"unet-perceptual {UNET_PERCEPTUAL_DEFAULT_STRENGTH:g}, unet-gan {UNET_GAN_DEFAULT_STRENGTH:g}")
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices
    for command in ("upscale", "export"):
        (strength,) = [a for a in sub[command]._actions if a.dest == "strength"]
        assert said in strength.help, (command, strength.help)
    readme = (REPO / "README.md").read_text()
    assert f"the default is {REAL_GAN_DEFAULT_STRENGTH:g}" in readme and "1 (default) the GAN" not in readme
    assert f"default strength α = {SRGAN_DEFAULT_STRENGTH:g}" in readme


def test_srgan_default_strength_is_the_one_used() -> None:
    """``upscale`` without a strength runs the default, and the default is not the GAN end."""
    from srcore.methods.srgan import SRGAN_DEFAULT_STRENGTH
    from srcore.registry import get_method

    require_shipped("srgan", 4)
    srgan = get_method("srgan")
    lr = skdata.astronaut()[:24, :24]
    assert np.array_equal(srgan.upscale(lr, 4), srgan.upscale(lr, 4, strength=SRGAN_DEFAULT_STRENGTH))
    assert not np.array_equal(srgan.upscale(lr, 4), srgan.upscale(lr, 4, strength=1.0))
