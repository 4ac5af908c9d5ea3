"""The viewer's HTML builder (srcore/html_report.py) without a browser: data, labels, escaping, the CLI's --html."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np
import pytest

from srcore.cli import main
from srcore.html_report import ViewerImage, metric_entries, viewer_data, viewer_element, write_document


def _data(text: str) -> dict:
    m = re.search(r'data-viewer="([^"]*)"', text)
    assert m, "no viewer element"
    return json.loads(html.unescape(m.group(1)))


def test_metric_entries_say_unit_and_direction() -> None:
    row = {"method": "edsr", "psnr_y": 31.1854, "ssim_y": 0.88, "lpips": None, "lpips_variant": None, "gmsd": 0.05, "niqe": 6.2,
           "lr_psnr": 50.0, "seconds": 1.5, "error": None}
    got = dict(metric_entries(row, "reference"))
    assert got["PSNR-Y ↑"] == "31.19 dB" and got["SSIM-Y ↑"] == "0.8800" and got["NIQE ↓"] == "6.20" and "LPIPS ↓" not in got
    assert set(dict(metric_entries(row, "upscale"))) == {"NIQE ↓", "LR-PSNR ↑", "time"}  # no ground truth: no PSNR-Y


def test_viewer_data_defaults_and_escaping() -> None:
    imgs = [ViewerImage("HR", "Ground truth", "data:,", "reference"), ViewerImage("LR", "LR", "data:,", "input"),
            ViewerImage("x", "</script><b>evil'\"", "data:,", "method")]
    data = viewer_data(imgs, 40, 30)
    assert (data["a"], data["b"], data["reference"]) == ("HR", "x", "HR")  # the first method against the ground truth
    text = viewer_element(data)
    assert "<b>" not in text and "</script>" not in text
    assert _data(text)["images"][2]["label"] == "</script><b>evil'\""
    with pytest.raises(ValueError):
        viewer_data([], 1, 1)


def test_write_document_refuses_a_folder_and_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError):
        write_document(tmp_path, "x")
    assert write_document(tmp_path / "a" / "b.html", "héllo") == len("héllo".encode())
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["b.html"]


def test_cli_html_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from srcore.imageio import save_image

    photo = tmp_path / "p.png"
    save_image(photo, (np.arange(48 * 40 * 3) % 251).astype(np.uint8).reshape(40, 48, 3))
    assert main(["compare", str(photo), "-s", "2", "-m", "bicubic,nearest", "--no-lpips", "--html", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
    out = tmp_path / "v.html"
    assert main(["compare", str(photo), "-s", "2", "-m", "bicubic,nearest,nope", "--no-lpips", "--html", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out} (" in printed and "MB, 2 outputs embedded" in printed
    text = out.read_text()
    data = _data(text)
    assert [im["key"] for im in data["images"]] == ["HR", "LR", "bicubic", "nearest"]  # the failed method is in the table only
    assert (data["width"], data["height"]) == (48, 40) and data["autofocus"] is True
    assert "customElements.define('srlab-viewer'" in text and "PSNR-Y dB ↑" in text and "BT.601" in text
    assert "<code>nope</code>" in text
