"""`python -m srcore bench` reproduces independently measured figures (and writes the JSON contract)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import BENCHMARK, OPENCV_MODELS, REPO, needs_benchmark, needs_opencv_models


@needs_benchmark
@needs_opencv_models
def test_bench_set5_reproduces_reference_figures(tmp_path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "srcore", "bench", "--data", str(BENCHMARK / "Set5" / "x4"), "-s", "4",
         "-m", "bicubic,dnn-espcn,no-such-method", "--json", str(out), "--models-dir", str(OPENCV_MODELS)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert set(data) == {"scale", "lpips_variant", "images", "results"}
    assert data["scale"] == 4 and data["images"] == 5
    assert data["lpips_variant"] in {"LPIPS-alex", "ST-LPIPS-alex"}
    assert set(data["results"]) == {"bicubic", "dnn-espcn"}
    for r in data["results"].values():
        assert set(r) == {"psnr_y", "ssim_y", "lpips", "seconds_per_image"}
    assert data["results"]["bicubic"]["psnr_y"] == pytest.approx(28.63, abs=0.03)
    assert data["results"]["dnn-espcn"]["psnr_y"] == pytest.approx(28.38, abs=0.03)
    assert data["results"]["bicubic"]["ssim_y"] == pytest.approx(0.8138, abs=0.001)
    if data["lpips_variant"] == "ST-LPIPS-alex":
        assert data["results"]["bicubic"]["lpips"] == pytest.approx(0.324, abs=0.002)
    assert "skipped no-such-method" in proc.stderr
    assert "PSNR-Y" in proc.stdout and data["lpips_variant"] in proc.stdout


def test_bench_plain_image_folder_degrades_itself(tmp_path) -> None:
    from skimage import data as skdata

    from srcore.bench import run_bench
    from srcore.imageio import save_image

    save_image(tmp_path / "a.png", skdata.astronaut()[:130, :98])
    save_image(tmp_path / "b.png", skdata.coffee()[:64, :64])
    res = run_bench(tmp_path, 4, ["bicubic", "nearest"], lpips=False)
    assert res.images == 2
    assert res.results["bicubic"]["psnr_y"] > res.results["nearest"]["psnr_y"]
    assert res.results["bicubic"]["lpips"] is None


@needs_benchmark
def test_bench_lpips_on_vgg_is_labelled(tmp_path) -> None:
    """--lpips-net vgg: the second judge for perceptual models, reported under its own variant name."""
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "srcore", "bench", "--data", str(BENCHMARK / "Set5" / "x4"), "-s", "4", "-m", "bicubic",
         "--limit", "2", "--lpips-net", "vgg", "--json", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert data["lpips_variant"] in {"LPIPS-vgg", "ST-LPIPS-vgg"}
    assert data["lpips_variant"] in proc.stdout
    assert 0.05 < data["results"]["bicubic"]["lpips"] < 0.8


@needs_benchmark
def test_crop_sheet_script(tmp_path) -> None:
    """benchmarks/crop_sheet.py: one row per crop, HR + one column per method, PSNR in each label."""
    from PIL import Image

    out = tmp_path / "sheet.png"
    cmd = [sys.executable, "benchmarks/crop_sheet.py", "--data", str(BENCHMARK / "Set5" / "x4"), "-s", "4",
           "--crop", "img_001:200,200", "--crop", "img_002:100,100", "-m", "bicubic,lanczos", "--size", "32", "--zoom", "2", "--out", str(out)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    w, h = Image.open(out).size
    tile, pad, label = 64, 6, 22
    assert (w, h) == (3 * (tile + pad) + pad, 2 * (tile + label + pad + pad))
    assert "img_001 lanczos: PSNR-Y" in proc.stderr
    bad = subprocess.run([*cmd[:6], "--crop", "nosuch:1,1", "-m", "bicubic", "--out", str(out)], cwd=REPO, capture_output=True, text=True)
    assert bad.returncode != 0 and "not in" in bad.stderr and "img_001" in bad.stderr
