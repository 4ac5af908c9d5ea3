"""The app's handlers under concurrency (issue 23): what one session writes, heavy work under the limit, no leaks.

Real Gradio components and handlers (no server needed for these checks): a crop/zoom click writes no
file (the downloads were written once, when the run finished), the maps panel shares the ``heavy``
concurrency limit, the video plot uses no pyplot state, and a refused or failing benchmark leaves
no run folder behind.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import gradio as gr
import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure
from test_app_ui import _run, photo  # noqa: F401 - photo is a fixture

from app import workspace
from app.bench_tab import UPLOAD, BenchTab
from app.compare_tab import CompareTab
from app.config import AppConfig
from app.video_tab import metrics_plot
from srcore.errors import SRError


def test_crop_and_zoom_clicks_write_no_file(photo: Path) -> None:  # noqa: F811
    tab = CompareTab(AppConfig())
    last = _run(tab, photo, ["bicubic", "nearest"], "reference")[-1]
    session, files = last[0], last[11]
    before = {p.name: p.stat().st_mtime_ns for p in session.workdir.iterdir()}
    archive = next(f for f in files if f.endswith(".zip"))
    evt = gr.SelectData(None, {"index": [20, 30], "value": None, "selected": True})
    for out in (tab.on_locator_click(session, evt), tab.on_zoom(session, 48, 2), tab.on_zoom(session, 64, 3)):
        assert isinstance(out[3], type(gr.skip()))  # the downloads are left as the run wrote them
        assert "<img" in out[2]  # the crops themselves did move
    after = {p.name: p.stat().st_mtime_ns for p in session.workdir.iterdir()}
    assert after == before, "a click wrote or touched files in the session folder"
    assert not [n for n in after if n.startswith(".")], "temporary files left behind"
    with zipfile.ZipFile(archive) as z:
        assert z.testzip() is None


def test_every_heavy_handler_is_under_the_heavy_limit() -> None:
    """The compare run, the maps panel, the benchmark and the video run share one limit (the API's /compare too)."""
    from app import build_app

    demo = build_app(AppConfig(concurrency=1))
    heavy = {fn.name for fn in demo.fns.values() if fn.concurrency_id == "heavy"}
    assert {"run", "on_maps_open"} <= heavy, heavy
    assert sum(1 for fn in demo.fns.values() if fn.concurrency_id == "heavy") >= 5, heavy


def test_video_plot_keeps_no_pyplot_figure() -> None:
    report = {"mode": "reference", "warp_error_gt": 1.0,
              "methods": [{"method": "bicubic", "frames": [{"frame": i, "psnr_y": 30.0 + i, "temporal_error": 1.0,
                                                            "warp_error": 2.0} for i in range(3)]}]}
    open_before = plt.get_fignums()
    fig = metrics_plot(report)
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    assert plt.get_fignums() == open_before  # not registered with pyplot: freed with the object, safe in threads


def _run_folders() -> set[str]:
    return {p.name for p in workspace.root().iterdir() if p.name.startswith("bench-")}


def test_refused_benchmark_makes_no_run_folder() -> None:
    tab = BenchTab(AppConfig(use_shared_benchmarks=False))
    before = _run_folders()
    with pytest.raises(SRError, match="upload a zip"):
        list(tab.run(UPLOAD, None, 4, ["bicubic"], None, False, "lpips", None))
    with pytest.raises(SRError, match="choose at least one method"):
        list(tab.run(UPLOAD, b"PK", 4, [], None, False, "lpips", None))
    assert _run_folders() == before


def test_failing_benchmark_removes_its_run_folder(tmp_path: Path) -> None:
    """An error after the folder exists (a zip that is not one) removes it."""
    tab = BenchTab(AppConfig(use_shared_benchmarks=False))
    before = _run_folders()
    bad = tmp_path / "images.zip"
    bad.write_bytes(b"this is not a zip file")
    with pytest.raises(SRError):
        list(tab.run(UPLOAD, str(bad), 4, ["bicubic"], None, False, "lpips", None))
    assert _run_folders() == before
