"""The scoring benchmarks (``benchmarks/score_profile.py``, ``benchmarks/cli_runs.py``) run end to end at CI size.

Figures are not asserted (they belong to the README and depend on the machine); what is: every
stage and case they promise is reported, with the CPU, and bad arguments get one line and exit 2.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import REPO


def _script(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=600)


def test_score_profile_small(tmp_path: Path) -> None:
    out = tmp_path / "p.json"
    proc = _script(["benchmarks/score_profile.py", "--sizes", "64", "--repeats", "1", "--json", str(out)])
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "CPU: " in proc.stdout
    res = json.loads(out.read_text())
    stages = {r["stage"] for r in res["rows"]}
    assert {"decode (upload PNG)", "metric: lpips (new reference)", "metric: lpips (next output)", "metric: niqe",
            "score: all (maps off)", "map: LPIPS (after score)", "PNG write (save_image)", "Gradio encode (numpy PNG)"} <= stages
    assert all(r["seconds"] >= 0 and r["size"] == 64 for r in res["rows"])
    assert set(res["startup_s"]) == {"srcore.scoring", "srcore.lpips"}
    bad = _script(["benchmarks/score_profile.py", "--sizes", "30"])
    assert bad.returncode == 2 and "error:" in bad.stderr


def test_cli_runs_small(tmp_path: Path) -> None:
    out = tmp_path / "c.json"
    proc = _script(["benchmarks/cli_runs.py", "--sizes", "32,128", "--rounds", "1", "--json", str(out)])
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    res = json.loads(out.read_text())["results"]["this"]
    assert set(res["median_s"]) == {"upscale_torch", "upscale_auto", "compare_nearest", "upscale_nearest"}
    assert res["auto_over_torch"] > 0 and res["first_auto_s"] > 0
    bad = _script(["benchmarks/cli_runs.py", "--baseline", str(tmp_path)])
    assert bad.returncode == 2 and "not an SR Lab checkout" in bad.stderr
