"""benchmarks/gan_checkpoints.py: a checkpoint is judged through the method's own dial, on the tests' artefact checks."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import BENCHMARK, REPO, needs_benchmark


@needs_benchmark
def test_checkpoint_judge_blends_like_the_dial(tmp_path) -> None:
    """unet-gan's GAN weights at strength 0 score as unet itself; at 1 they differ; the JSON holds the checks' bars."""
    out = tmp_path / "ck.json"
    common = [sys.executable, "benchmarks/gan_checkpoints.py", "--counterpart", "assets/unet_x4.safetensors",
              "--data", str(BENCHMARK / "Set5" / "x4"), "--json", str(out)]
    for args in (["assets/unet_x4.safetensors"], ["assets/unet_gan_x4.safetensors", "--strength", "0", "--append"],
                 ["assets/unet_gan_x4.safetensors", "--append"]):
        proc = subprocess.run(common[:2] + args + common[2:], cwd=REPO, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    unet, gan0, gan1 = doc["rows"]
    assert {k: unet[k] for k in ("psnr_y", "lpips", "hatching", "lattice_peak")} == \
        {k: gan0[k] for k in ("psnr_y", "lpips", "hatching", "lattice_peak")}
    assert gan1["lpips"] < unet["lpips"] and gan1["psnr_y"] < unet["psnr_y"]
    assert doc["lattice_peak_bar"] == pytest.approx(8 * doc["lattice_peak_ground_truth"], abs=0.01)
    assert doc["hatching_ceiling"] == 0.06 and all("cores usable" in r["cpu"] for r in doc["rows"])
    assert {r["counterpart"] for r in doc["rows"]} == {"assets/unet_x4.safetensors"}


@needs_benchmark
def test_checkpoint_judge_degrades_like_bench(tmp_path) -> None:
    """``--degrade jpeg --degrade realistic``: one row per LR recipe, labelled, both harder than the clean LR files."""
    out = tmp_path / "ck.json"
    proc = subprocess.run([sys.executable, "benchmarks/gan_checkpoints.py", "assets/unet_x4.safetensors", "--counterpart",
                           "assets/unet_x4.safetensors", "--data", str(BENCHMARK / "Set5" / "x4"), "--degrade", "jpeg",
                           "--degrade", "realistic", "--json", str(out)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(out.read_text())["rows"]
    assert [r["lr"] for r in rows] == ["jpeg Q50", "realistic seed 0"]
    assert all(r["psnr_y"] < 29.0 and r["niqe"] > 0 and r["grid_32px"] > 0 for r in rows)  # clean Set5: 30.24 dB


def test_checkpoint_judge_says_what_is_missing(tmp_path) -> None:
    proc = subprocess.run([sys.executable, "benchmarks/gan_checkpoints.py", str(tmp_path / "nope.pt"), "--counterpart",
                           "assets/unet_x4.safetensors", "--data", str(tmp_path)], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode != 0 and "not found" in proc.stderr and "Traceback" not in proc.stderr
