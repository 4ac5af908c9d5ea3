"""The app's scripted API against a real server: ``gradio_client`` uploads a file and calls ``/compare``.

The numbers must be srcore's: the same input through ``srcore.compare.compare`` in this process
gives the same PSNR/SSIM (1e-6) and LPIPS (1e-5). Error paths must come back as one clear line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import skimage.data

from srcore.imageio import save_image

pytestmark = [
    pytest.mark.slow,
    # Gradio 6.31 itself trips pandas 3 deprecation warnings while queueing DataFrames; not ours to fix.
    pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning"),
]


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real photo crop, 200x160 (non-square, and a multiple of 4 so reference mode needs no crop)."""
    path = tmp_path_factory.mktemp("api") / "astronaut.png"
    save_image(path, np.ascontiguousarray(skimage.data.astronaut()[60:220, 140:340]))
    return path


def _call(client: Any, path: Path, scale: Any, methods: Any, mode: str) -> tuple[dict[str, Any], dict[str, Any]]:
    from gradio_client import handle_file

    report, table = client.predict(handle_file(str(path)), scale, methods, mode, api_name="/compare")
    return report, table


def test_compare_matches_srcore(client: Any, photo: Path, srlab_server: dict[str, Any]) -> None:
    if not srlab_server["shared"]:
        pytest.skip("stock OpenCV models (../shared/models/opencv) not present: dnn-espcn/dnn-fsrcnn cannot run")
    from srcore.compare import compare
    from srcore.imageio import load_image
    from srcore.registry import get_method

    ids = ["bicubic", "dnn-espcn", "dnn-fsrcnn"] + (["edsr"] if get_method("edsr").availability(4) else [])
    report, table = _call(client, photo, 4, ids, "reference")
    expected = compare(load_image(photo), 4, ids, "reference")

    assert report["mode"] == "reference" and report["scale"] == 4
    assert report["input_size"] == "200x160" and report["lr_size"] == "50x40"  # the upload, and what the methods got
    assert report["lpips_variant"] == expected.lpips_variant
    got = {r["method"]: r for r in report["results"]}
    assert list(got) == ids
    for want in expected.table():
        row = got[want["method"]]
        assert row["error"] is None, row["error"]
        assert row["output_size"] == want["output_size"] == "200x160"  # reference mode restores the input size
        assert row["psnr_y"] == pytest.approx(want["psnr_y"], abs=1e-6)
        assert row["ssim_y"] == pytest.approx(want["ssim_y"], abs=1e-6)
        assert row["lpips"] == pytest.approx(want["lpips"], abs=1e-5)
        assert row["lpips_variant"] == expected.lpips_variant
    # The table output carries the same numbers, the LPIPS column named after its variant.
    assert f"{expected.lpips_variant} ↓" in table["headers"]
    psnr_col = table["headers"].index("PSNR-Y (dB) ↑")
    assert [r[psnr_col] for r in table["data"]] == pytest.approx([got[i]["psnr_y"] for i in ids], abs=1e-6)


@pytest.mark.parametrize("mode", ["upscale", "Upscale as is"])
def test_upscale_mode_has_no_reference_metrics(client: Any, photo: Path, mode: str) -> None:
    report, table = _call(client, photo, 2, ["bicubic"], mode)
    assert report["mode"] == "upscale"
    (row,) = report["results"]
    assert row["error"] is None
    assert row["psnr_y"] is None and row["ssim_y"] is None and row["lpips"] is None
    assert row["output_size"] == "400x320"  # the input itself, upscaled x2
    assert "PSNR-Y (dB) ↑" not in table["headers"]


def test_unknown_method_gets_a_row_error(client: Any, photo: Path) -> None:
    report, _ = _call(client, photo, 2, ["bicubic", "no-such-method"], "reference")
    rows = {r["method"]: r for r in report["results"]}
    assert rows["bicubic"]["error"] is None and rows["bicubic"]["psnr_y"] > 20
    assert "unknown method 'no-such-method'" in rows["no-such-method"]["error"]
    assert rows["no-such-method"]["psnr_y"] is None


def test_unsupported_scale_gets_a_row_error(client: Any, photo: Path, srlab_server: dict[str, Any]) -> None:
    if not srlab_server["shared"]:
        pytest.skip("stock OpenCV models not present")
    report, _ = _call(client, photo, 3, ["dnn-lapsrn"], "reference")  # LapSRN has x2, x4, x8 only
    assert "does not support x3" in report["results"][0]["error"]


def test_non_image_upload_is_a_clear_error(client: Any, tmp_path: Path) -> None:
    from gradio_client.exceptions import AppError

    bogus = tmp_path / "notes.png"
    bogus.write_text("this is not an image\n")
    # the API takes the upload as bytes (see app/api.py), so the message names it "upload"
    with pytest.raises(AppError, match="upload: not an image file"):
        _call(client, bogus, 4, ["bicubic"], "reference")


def test_too_many_pixels_is_a_clear_error(client: Any, tmp_path: Path, srlab_server: dict[str, Any]) -> None:
    from gradio_client.exceptions import AppError

    limit = srlab_server["config"].max_pixels
    side = int(limit**0.5) + 2
    big = tmp_path / "big.png"
    save_image(big, np.zeros((side, side, 3), np.uint8))  # a few kB on disk, refused from the header
    with pytest.raises(AppError, match=f"upload: {side}x{side} is larger than this server accepts .* resize it to at most 2048x2048"):
        _call(client, big, 4, ["bicubic"], "reference")


def test_bad_mode_and_no_methods_are_clear_errors(client: Any, photo: Path) -> None:
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="unknown mode"):
        _call(client, photo, 4, ["bicubic"], "sideways")
    with pytest.raises(AppError, match="choose at least one method"):
        _call(client, photo, 4, [], "reference")


def test_only_compare_is_documented(client: Any) -> None:
    named = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert "/compare" in named
    assert "/compare_ui" not in named and "/bench" not in named and "/check_upload" not in named
    # The API page's example must run as copied: an image (not Gradio's sample PDF) and real method ids (not []).
    params = {p["parameter_name"]: p for p in named["/compare"]["parameters"]}
    assert ".png" in str(params["image"]["example_input"]) and params["methods"]["parameter_default"] == ["bicubic", "edsr"]


def test_strengths_and_degradation_via_api(client: Any, photo: Path) -> None:
    report, _ = _call_extra(client, photo, ["bicubic", "srgan@0", "srgan@1"], "jpeg", 40)
    rows = {r["method"]: r for r in report["results"]}
    assert report["degradation"]["kind"] == "jpeg" and report["degradation"]["jpeg_quality"] == 40
    assert rows["srgan@0"]["label"].endswith("α=0") and rows["srgan@1"]["label"].endswith("α=1")
    assert rows["srgan@0"]["psnr_y"] > rows["srgan@1"]["psnr_y"]  # α = 0 is the PSNR network
    assert {"niqe", "lr_psnr", "gmsd"} <= set(rows["bicubic"])


def _call_extra(client: Any, path: Path, methods: list[str], degradation: str, quality: int) -> tuple[dict[str, Any], Any]:
    from gradio_client import handle_file

    return client.predict(handle_file(str(path)), 4, methods, "reference", degradation, quality, 0, api_name="/compare")


def test_compare_with_tta(client: Any, photo: Path) -> None:
    """``tta=True`` on /compare: network methods are the x8 self-ensemble (labelled), interpolation as without."""
    from gradio_client import handle_file

    from srcore.compare import compare
    from srcore.imageio import load_image
    from srcore.tta import use_tta

    report, _ = client.predict(handle_file(str(photo)), 4, ["bicubic", "espcn"], "reference", "bicubic", 50, 0, "", True,
                               api_name="/compare")
    with use_tta(True):
        expected = compare(load_image(photo), 4, ["bicubic", "espcn"], "reference", lpips=False)
    rows = {r["method"]: r for r in report["results"]}
    assert report["tta"] is True and rows["espcn"]["label"].endswith("+TTA") and not rows["bicubic"]["label"].endswith("+TTA")
    for r in expected.results:
        assert rows[r.method_id]["psnr_y"] == pytest.approx(r.metrics["psnr_y"], abs=1e-6)
    plain, _ = client.predict(handle_file(str(photo)), 4, ["espcn"], "reference", api_name="/compare")
    assert plain["tta"] is False and plain["results"][0]["psnr_y"] != pytest.approx(rows["espcn"]["psnr_y"], abs=1e-6)


def test_compare_at_an_output_scale(client: Any, photo: Path) -> None:
    """``outscale`` on /compare: the network's x4, resized; reference mode scores at 3.5 with the LR made for it."""
    from gradio_client import handle_file

    report, _ = client.predict(handle_file(str(photo)), 4, ["bicubic"], "reference", "bicubic", 50, 0, "", False, 3.5,
                               api_name="/compare")
    assert report["scale"] == 4 and report["outscale"] == 3.5
    assert report["lr_size"] == "56x44" and report["results"][0]["output_size"] == "196x154"  # cropped to multiples of 7
