"""The app under several concurrent users (``benchmarks/load.py``), at CI size: 3 clients x 2 comparisons.

The full-size target (8 clients x 5) is run by hand, see benchmarks/README.md. Here: every
comparison succeeds, no user ever gets another user's numbers, and neither server memory nor
its temp folders keep growing from one round to the next. The isolation check itself is tested
without a server first, so a check that could never fail cannot pass this file.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "load.py"


def _load_module() -> ModuleType:
    from benchmarks import load  # benchmarks/ is importable (the repo root is on the test path)

    return load


@pytest.fixture(scope="module")
def load() -> ModuleType:
    return _load_module()


def _report(psnr: float, methods: tuple[str, ...] = ("bicubic", "lanczos"), error: str | None = None) -> dict[str, Any]:
    return {"results": [{"method": m, "psnr_y": psnr if m == "bicubic" else 30.0, "output_size": "512x512",
                         "error": error if m != "bicubic" else None} for m in methods]}


def test_isolation_check_catches_another_users_answer(load: ModuleType) -> None:
    methods = ("bicubic", "lanczos")
    assert load.check_report(_report(27.5), methods, 27.5, {26.1: "crop001.png"}) == (None, True)
    error, isolated = load.check_report(_report(26.1), methods, 27.5, {26.1: "crop001.png"})
    assert isolated is False and "crop001.png" in error
    # Another method failing is a failure, but the isolation verdict still comes from the bicubic row.
    error, isolated = load.check_report(_report(27.5, error="boom"), methods, 27.5, {})
    assert isolated is True and "lanczos: boom" in error
    error, _ = load.check_report(_report(27.5, methods=("bicubic",)), methods, 27.5, {})
    assert "no result row for lanczos" in error
    error, isolated = load.check_report({"results": []}, methods, 27.5, {})
    assert isolated is None and "no result row for bicubic, lanczos" in error


def test_each_client_gets_a_distinct_image(load: ModuleType) -> None:
    crops = [load.make_crop(i) for i in range(8)]
    assert all(c.shape == (512, 512, 3) for c in crops)
    assert len({c.tobytes() for c in crops}) == len(crops)


@pytest.mark.slow
def test_three_clients_two_rounds(tmp_path: Path) -> None:
    out = tmp_path / "load.json"
    cmd = [sys.executable, str(SCRIPT), "--clients", "3", "--rounds", "2", "--timeout", "300", "--json", str(out)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    res = json.loads(out.read_text())

    assert res["ok"] and res["succeeded"] == res["total"] == 6 and not res["errors"]
    assert res["isolation"] == {"checked": 6, "mismatches": 0, "distinct_images": 3}
    assert res["latency_s"]["max"] is not None

    rss = res["rss_mb"]["after_round"]
    assert len(rss) == 2
    assert rss[-1] < 1.5 * rss[0] + 200, f"server RSS grew across rounds: {rss} MB"

    tf = res["temp_files"]
    first, last = tf["gradio_after_round"][0], tf["gradio_after_round"][-1]
    # Data files (uploads, outputs): the same 3 images again add nothing (Gradio stores uploads by content hash).
    assert last["files"] - last["empty"] == first["files"] - first["empty"], tf
    assert last["bytes"] <= first["bytes"] + 1024 * 1024, tf
    # Gradio 6's gr.File(type="filepath") leaves an empty tmp* file per call; the API takes bytes to avoid it.
    assert last["empty"] == first["empty"], tf
    assert [s["files"] for s in tf["scratch_after_round"]] == [tf["scratch_idle"]["files"]] * 2, tf
