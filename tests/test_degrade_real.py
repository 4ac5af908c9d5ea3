"""The jpeg and realistic degradations: seeded, recorded, really JPEG, and usable for training."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

from srcore.blockiness import grid_ratio
from srcore.degrade import DEGRADATIONS, Degradation, degrade, degrade_image, jpeg_roundtrip, usm_sharpen
from srcore.metrics import psnr_y


@pytest.fixture(scope="module")
def hr() -> np.ndarray:
    return data.astronaut()[:250, :202]  # odd sizes: cropped to a multiple of the scale


@pytest.mark.parametrize("kind", DEGRADATIONS)
def test_deterministic_for_a_seed(hr: np.ndarray, kind: str) -> None:
    a = degrade_image(hr, 4, Degradation(kind, seed=3))
    b = degrade_image(hr, 4, Degradation(kind, seed=3))
    assert np.array_equal(a.lr, b.lr) and a.params == b.params
    assert a.hr.shape == (248, 200, 3) and a.lr.shape == (62, 50, 3) and a.lr.dtype == np.uint8
    assert a.params["kind"] == kind


def test_realistic_differs_across_seeds_and_images(hr: np.ndarray) -> None:
    runs = [degrade_image(hr, 4, Degradation("realistic", seed=s)) for s in range(4)]
    assert len({str(r.params) for r in runs}) == 4
    assert all(np.abs(runs[0].lr.astype(int) - r.lr).mean() > 1 for r in runs[1:])
    other_image = degrade_image(hr, 4, Degradation("realistic", seed=0), index=1)
    assert other_image.params != runs[0].params


def test_realistic_records_what_it_drew_within_documented_ranges(hr: np.ndarray) -> None:
    for seed in range(30):
        p = degrade_image(hr, 2, Degradation("realistic", seed=seed)).params
        for stage, (lo, hi) in (("stage1", (0.15, 1.5)), ("stage2", (0.3, 1.2))):
            assert lo <= p[stage]["resize"]["factor"] <= hi
            assert 30 <= p[stage]["jpeg_quality"] <= 95
            noise = p[stage]["noise"]
            assert noise["type"] in {"gaussian", "poisson"}
            if noise["type"] == "gaussian":
                assert 1 <= noise["sigma"] <= 30
        assert p["stage1"]["blur"]["size"] in range(7, 22, 2)
        assert 30 <= p["final"]["jpeg_quality"] <= 95


def test_jpeg_is_the_jpeg_decode_of_bicubic(hr: np.ndarray, tmp_path: Path) -> None:
    _, clean = degrade(hr, 4)
    d = degrade_image(hr, 4, Degradation("jpeg", jpeg_quality=40))
    assert d.params["jpeg_quality"] == 40
    # an independent decoder (Pillow) of a file written by OpenCV at the same quality gives the same pixels
    path = tmp_path / "lr.jpg"
    cv2.imwrite(str(path), clean[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 40])
    from PIL import Image

    with Image.open(path) as im:
        assert im.format == "JPEG"
        pil = np.asarray(im.convert("RGB")).astype(int)
    assert np.abs(pil - d.lr).max() <= 2  # libjpeg IDCT/upsampling rounding differs by at most a level or two
    assert not np.array_equal(d.lr, clean)
    assert 24 < psnr_y(d.lr, clean, shave=0) < 45
    # lower quality -> more blocking (8-px grid of the LR)
    q10 = jpeg_roundtrip(clean, 10)
    assert grid_ratio(q10, 8) > grid_ratio(clean, 8) + 0.2


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown degradation"):
        Degradation("gaussian")
    with pytest.raises(ValueError, match="between 1 and 100"):
        Degradation("jpeg", jpeg_quality=0)


def test_usm_sharpens_edges_only() -> None:
    img = np.zeros((64, 64, 3), np.float32)
    img[:, 32:] = 0.5
    out = usm_sharpen(img)
    assert out[:, 33].mean() > 0.5 and out[:, 30].mean() <= 1e-6  # overshoot on the bright side, clipped at 0
    assert np.allclose(out[:, 50:], 0.5, atol=0.02)  # flat areas are left alone


def test_grid_ratio_sees_a_block_grid() -> None:
    rng = np.random.default_rng(0)
    smooth = cv2.GaussianBlur(rng.random((128, 128)).astype(np.float32), (0, 0), 3) * 255
    assert abs(grid_ratio(smooth, 32) - 1) < 0.1
    blocky = smooth.copy()
    blocky[:, 32::32] += 20
    assert grid_ratio(blocky, 32) > 1.5


def test_training_sampler_makes_fresh_realistic_patches(tmp_path: Path) -> None:
    from train.data import PatchSampler

    cv2.imwrite(str(tmp_path / "a.png"), data.astronaut()[..., ::-1])
    s = PatchSampler([tmp_path], 4, 48, luma=False, seed=1, degrade_kind="realistic", clean_share=0.2, jpeg_share=0.3)
    lr, hr = s.batch(6)
    assert lr.shape == (6, 3, 12, 12) and hr.shape == (6, 3, 48, 48)
    assert 0 <= float(lr.min()) and float(lr.max()) <= 1
    again = PatchSampler([tmp_path], 4, 48, luma=False, seed=1, degrade_kind="realistic", clean_share=0.2, jpeg_share=0.3)
    lr2, _ = again.batch(6)
    assert np.array_equal(lr.numpy(), lr2.numpy())  # same seed, same patches and degradations
    with pytest.raises(SystemExit, match="add up to at most 1"):
        PatchSampler([tmp_path], 4, 48, luma=False, seed=1, degrade_kind="realistic", clean_share=0.7, jpeg_share=0.5)


def test_photo_sheet_script(tmp_path: Path) -> None:
    """benchmarks/photo_sheet.py: example JPEGs, then one row per photo with the block-grid ratio in each label."""
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    script = str(repo / "benchmarks" / "photo_sheet.py")
    subprocess.run([sys.executable, script, "--examples", str(tmp_path)], check=True, cwd=repo)
    photo = tmp_path / "chelsea_q60.jpg"
    from PIL import Image

    with Image.open(photo) as im:
        assert im.format == "JPEG" and im.size == (225, 150)
    out = tmp_path / "sheet.png"
    record = tmp_path / "sheet.json"
    run = subprocess.run([sys.executable, script, "-s", "2", "-m", "bicubic,nearest", "--photo", f"{photo}:60,40",
                          "--size", "16", "--out", str(out), "--json", str(record)], check=True, cwd=repo, capture_output=True, text=True)
    assert "bicubic: grid ratio" in run.stderr and out.is_file()
    import json

    from srcore.blockiness import grid_ratio
    from srcore.imageio import load_image

    doc = json.loads(record.read_text())
    entry = doc["photos"]["chelsea_q60.jpg"]
    assert doc["scale"] == 2 and "lower is better" in doc["convention"] and doc["cpu"]
    assert set(entry["methods"]) == {"bicubic", "nearest"} and entry["size"] == [225, 150]
    assert entry["input_grid_ratio"] == grid_ratio(load_image(photo).rgb, 8)
    nearest = entry["methods"]["nearest"]["grid_ratio"]
    assert f"nearest: grid ratio {nearest:.3f}" in run.stderr and entry["methods"]["bicubic"]["seconds"] >= 0
    with Image.open(out) as im:
        assert im.size[0] > 3 * 16 * 2  # input + two methods, each 16 px x2
    bad = subprocess.run([sys.executable, script, "-m", "bicubic", "--photo", str(photo), "--out", str(out)],
                         cwd=repo, capture_output=True, text=True)
    assert bad.returncode != 0 and "expected PATH:X,Y (crop centre in input pixels)" in bad.stderr
