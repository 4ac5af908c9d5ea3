"""The speed and app-latency benchmarks (``benchmarks/speed.py``, ``benchmarks/app_latency.py``) at CI size.

Figures are not asserted (they belong to the README and depend on the machine); what is: the
scripts run end to end, report what they promise (CPU, seconds, MP/s, GFLOP/s against the peak,
ratios to torch) and every backend's output stays within 1/255 of torch's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_speed_script_small(tmp_path: Path) -> None:
    out = tmp_path / "speed.json"
    cmd = [sys.executable, "benchmarks/speed.py", "--sizes", "24", "-m", "bicubic,edsr", "--backends", "torch,auto",
           "--repeats", "1", "--json", str(out)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "CPU: " in proc.stdout and "torch threads" in proc.stdout
    res = json.loads(out.read_text())
    assert res["fp32_peak_gflops"] > 0 and res["cores"] >= 1
    rows = {(r["method"], r["backend"]): r for r in res["rows"]}
    assert set(rows) == {("bicubic", "torch"), ("edsr", "torch-nchw"), ("edsr", "torch"), ("edsr", "auto")}
    for r in rows.values():
        assert r["seconds"] > 0 and r["out_mp_per_s"] > 0 and r["max_diff_vs_torch"] <= 1
    assert rows[("edsr", "auto")]["gflops"] > 0 and rows[("edsr", "torch-nchw")]["ratio_vs_torch"] == 1.0
    bad = subprocess.run([sys.executable, "benchmarks/speed.py", "--backends", "tensorrt"], cwd=REPO, capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.strip().startswith("error: unknown backend")


@pytest.mark.slow
def test_app_latency_script_small(tmp_path: Path) -> None:
    out = tmp_path / "latency.json"
    cmd = [sys.executable, "benchmarks/app_latency.py", "-m", "bicubic,edsr", "--sizes", "24,48", "--backends", "torch,auto",
           "--runs", "1", "--json", str(out)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    rows = json.loads(out.read_text())["rows"]
    assert {(r["method"], r["mode"], r["backend"]) for r in rows} == {
        ("bicubic", c, "-") for c in ("upscale", "reference")} | {("edsr", c, b) for c in ("upscale", "reference") for b in ("torch", "auto")}
    assert all(r["seconds"] > 0 and r["error"] is None for r in rows)
