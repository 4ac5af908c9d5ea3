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
    assert set(data) == {"scale", "lpips_variant", "images", "degradation", "cpu", "results", "tta"} and data["tta"] is False
    assert "cores usable" in data["cpu"]  # timings say which machine they are from
    assert data["degradation"] == {"kind": "given", "source": "LR/ files used as given"}
    assert data["scale"] == 4 and data["images"] == 5
    assert data["lpips_variant"] in {"LPIPS-alex", "ST-LPIPS-alex"}
    assert set(data["results"]) == {"bicubic", "dnn-espcn"}
    for r in data["results"].values():
        assert set(r) == {"psnr_y", "ssim_y", "lpips", "gmsd", "niqe", "lr_psnr", "hatching", "seconds_per_image", "reasons"}
        assert r["reasons"] == {} and all(r[k] is not None for k in ("gmsd", "niqe", "lr_psnr"))
    assert data["results"]["bicubic"]["psnr_y"] == pytest.approx(28.63, abs=0.03)
    assert data["results"]["dnn-espcn"]["psnr_y"] == pytest.approx(28.38, abs=0.03)
    assert data["results"]["bicubic"]["ssim_y"] == pytest.approx(0.8138, abs=0.001)
    if data["lpips_variant"] == "ST-LPIPS-alex":
        assert data["results"]["bicubic"]["lpips"] == pytest.approx(0.324, abs=0.002)
    assert "skipped no-such-method" in proc.stderr
    assert "PSNR-Y" in proc.stdout and data["lpips_variant"] in proc.stdout
    assert "NIQE ↓" in proc.stdout and "LR-PSNR ↑" in proc.stdout and "GMSD ↓" in proc.stdout


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
    assert res.results["bicubic"]["reasons"]["lpips"].startswith("LPIPS switched off")
    assert res.degradation == {"kind": "bicubic", "scale": 4}


def test_bench_degrade_hr_folder_records_params(tmp_path) -> None:
    """--degrade realistic on HR images: seeded (same seed, same numbers), every image's draw recorded."""
    from skimage import data as skdata

    from srcore.bench import run_bench
    from srcore.degrade import Degradation
    from srcore.imageio import save_image

    save_image(tmp_path / "a.png", skdata.astronaut()[:128, :128])
    save_image(tmp_path / "b.png", skdata.coffee()[:96, :128])
    runs = [run_bench(tmp_path, 4, ["bicubic"], lpips=False, degradation=Degradation("realistic", seed=s)) for s in (1, 1, 2)]
    assert runs[0].results["bicubic"]["psnr_y"] == runs[1].results["bicubic"]["psnr_y"]
    assert runs[0].results["bicubic"]["psnr_y"] != runs[2].results["bicubic"]["psnr_y"]
    rec = runs[0].degradation
    assert rec["kind"] == "realistic" and set(rec["per_image"]) == {"a", "b"}
    assert rec["per_image"]["a"]["seed"] == 1 and "stage1" in rec["per_image"]["a"]


def test_bench_small_images_give_null_with_reason_not_keyerror(tmp_path) -> None:
    """A zip of thumbnails: LPIPS and NIQE cannot score 16 px outputs - null + reason, the rest stands."""
    from skimage import data as skdata

    from srcore.bench import run_bench
    from srcore.imageio import save_image

    save_image(tmp_path / "a.png", skdata.astronaut()[:16, :16])
    save_image(tmp_path / "b.png", skdata.coffee()[:16, :16])
    res = run_bench(tmp_path, 4, ["bicubic"])
    r = res.results["bicubic"]
    assert r["psnr_y"] is not None and r["lr_psnr"] is not None and r["gmsd"] is not None
    if res.lpips_variant is not None:
        assert r["lpips"] is None and "at least" in r["reasons"]["lpips"]
    assert r["niqe"] is None and "96x96" in r["reasons"]["niqe"]
    assert json.dumps(res.to_json())  # serialisable: nulls, not missing keys


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
    malformed = subprocess.run([*cmd[:6], "--crop", "img_001:200", "-m", "bicubic", "--out", str(out)], cwd=REPO, capture_output=True, text=True)
    assert malformed.returncode != 0 and "expected NAME:X,Y (crop centre in HR pixels)" in malformed.stderr
