"""The app's handlers without a server: streaming, crops, downloads, benchmark uploads, cards, messages.

These call the same functions the Gradio events call (a ``gr.Progress`` outside a request is a
no-op), so they are quick and need only the always-available interpolation methods.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
import pandas as pd
import pytest
import skimage.data

from app import render
from app.bench_tab import BenchTab, extract_zip, resolve_folder
from app.compare_tab import CompareSession, CompareTab, normalize_mode, parse_scale
from app.config import AppConfig, parse_args
from app.messages import public_text, user_errors
from app.methods import checkbox_choices, unavailable_html
from app.models_tab import all_cards
from srcore.errors import SRError
from srcore.imageio import save_image


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ui") / "cat.png"
    save_image(path, np.ascontiguousarray(skimage.data.chelsea()[100:196, 150:270]))  # 120x96
    return path


def _run(tab: CompareTab, photo: Path, methods: list[str], mode: str, scale: int = 4) -> list[tuple[Any, ...]]:
    return list(tab.run(str(photo), scale, methods, mode, None, {}, 32, 4, None))


def test_run_streams_one_update_per_method(photo: Path) -> None:
    tab = CompareTab(AppConfig())
    updates = _run(tab, photo, ["bicubic", "bilinear", "nearest"], "reference")
    assert len(updates) == 3  # results arrive as each method finishes
    session, status, table, locator, crops, side_a, side_b, slider, errors, files = updates[-1]
    assert isinstance(session, CompareSession) and "Done: 3/3" in status
    df = table.data
    assert list(df["id"]) == ["bicubic", "bilinear", "nearest"]
    assert df["PSNR-Y (dB) ↑"].notna().all() and "Error" not in df  # no failures: no error column
    assert [c for _, c in crops] == ["HR (ground truth)", "LR input (nearest ×4)", "Bicubic", "Bilinear", "Nearest neighbour"]
    assert all(c.shape == (32 * 4, 32 * 4, 3) for c, _ in crops)
    assert len(errors) >= 3 and all(e.dtype == np.uint8 and e.shape == (96, 120, 3) for e, _ in errors)
    assert side_a["value"] == "LR input (nearest ×4)" and side_b["value"] in side_b["choices"]
    assert isinstance(updates[0][-1], type(gr.skip()))  # downloads only once everything is done
    names = {Path(f).name for f in files}
    assert names == {"cat_srlab_x4.zip", "cat_bicubic_x4.png", "cat_bilinear_x4.png", "cat_nearest_x4.png"}
    with zipfile.ZipFile(next(f for f in files if f.endswith(".zip"))) as z:
        assert {"cat_HR.png", "cat_LR.png", "cat_crops.png", "cat_metrics.json", "cat_bicubic_x4.png"} <= set(z.namelist())


def test_crop_follows_clicks_without_recomputing(photo: Path) -> None:
    tab = CompareTab(AppConfig())
    session = _run(tab, photo, ["bicubic"], "reference")[-1][0]
    output = session.results[0].output
    evt = gr.SelectData(None, {"index": [10, 90], "value": None, "selected": True})
    session2, _, crops, _ = tab.on_locator_click(session, evt)
    assert session2.results[0].output is output  # the same array: nothing was upscaled again
    assert session2.box() == (0, 64, 32, 96)  # clamped inside the 120x96 output
    hr_crop = dict((c, img) for img, c in crops)["HR (ground truth)"]
    assert np.array_equal(hr_crop[::4, ::4], session.prepared.hr[64:96, 0:32])
    _, _, crops, _ = tab.on_zoom(session, 48, 2)
    assert crops[0][0].shape == (96, 96, 3)


def test_upscale_mode_in_ui(photo: Path) -> None:
    tab = CompareTab(AppConfig())
    session, status, table, *_rest, errors, files = _run(tab, photo, ["bicubic"], "Upscale as is", scale=2)[-1]
    assert session.mode == "upscale" and "upscale mode" in status
    assert "PSNR-Y (dB) ↑" not in table.data and errors == []
    assert session.out_size == (240, 192)
    # The locator is the input itself: a click at input (x, y) is output (2x, 2y).
    tab.on_locator_click(session, gr.SelectData(None, {"index": [30, 40], "value": None, "selected": True}))
    assert session.center == (60.0, 80.0)


def test_user_errors_become_toasts(photo: Path, tmp_path: Path) -> None:
    tab = CompareTab(AppConfig(max_pixels=5000))
    run = user_errors(tab.run)
    with pytest.raises(gr.Error, match="above the limit"):
        list(run(str(photo), 4, ["bicubic"], "reference", None, {}, 32, 4, None))
    with pytest.raises(gr.Error, match="MP outputs, above this server's limit"):
        list(user_errors(CompareTab(AppConfig(max_pixels=20_000)).run)(str(photo), 4, ["bicubic"], "upscale", None, {}, 32, 4, None))
    with pytest.raises(gr.Error, match="upload an image"):
        list(run(None, 4, ["bicubic"], "reference", None, {}, 32, 4, None))
    with pytest.raises(gr.Error, match="choose at least one method"):
        list(run(str(photo), 4, [], "reference", None, {}, 32, 4, None))


def test_parsing_helpers() -> None:
    assert normalize_mode("Treat as ground truth") == "reference" and normalize_mode(" UPSCALE ") == "upscale"
    assert parse_scale(4.0) == 4
    for bad in ("x4", 1, 2.5, 99):
        with pytest.raises(SRError):
            parse_scale(bad)


def test_scale_change_lists_unavailable_with_reason() -> None:
    ids3 = [i for _, i in checkbox_choices(3)]
    assert "bicubic" in ids3 and "srgan" not in ids3
    html = unavailable_html(3)
    assert "srgan" in html and "does not support x3" in html


def test_public_text_hides_server_paths() -> None:
    from srcore.paths import ASSETS_DIR, model_dirs

    text = f"not shipped in {ASSETS_DIR} nor found in {model_dirs()[-1]}"
    cleaned = public_text(text)
    assert str(ASSETS_DIR) not in cleaned and str(model_dirs()[-1]) not in cleaned
    assert "assets/" in cleaned


def test_cards_render_every_method_and_card_fields() -> None:
    from srcore.registry import all_methods

    md = all_cards()
    for m in all_methods():
        assert f"`{m.id}`" in md
    card = render.card_markdown({"arch": "EDSR", "params": 1370000, "train": {"data": "291", "iterations": 300000},
                                 "set5": {"psnr_y": 31.5}, "sha256": "ab" * 32})
    assert "| train · iterations | 300,000 |" in card and "| set5 · psnr y | 31.50 |" in card and "abababababab…" in card


def test_config_flags_override_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SRLAB_MAX_PIXELS", "1234")
    monkeypatch.setenv("SRLAB_DATA_DIRS", str(tmp_path))
    cfg = parse_args(["--port", "9999", "--data-dir", "/x", "--allow-file-models", "--models-dir", str(tmp_path)])
    assert (cfg.port, cfg.max_pixels, cfg.allow_file_models, cfg.models_dir) == (9999, 1234, True, tmp_path)
    assert cfg.data_dirs == [tmp_path, Path("/x")]


def _dataset_zip(path: Path, evil: bool = False) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name in ("astronaut", "coffee"):
            img = getattr(skimage.data, name)()[:96, :128]
            p = path.parent / f"{name}.png"
            save_image(p, np.ascontiguousarray(img))
            z.write(p, f"mydata/{name}.png")
        z.writestr("mydata/readme.txt", "not an image")
        if evil:
            z.write(path.parent / "coffee.png", "../../escape.png")
            z.write(path.parent / "coffee.png", "/abs/escape2.png")
    return path


def test_bench_on_uploaded_zip(tmp_path: Path) -> None:
    tab = BenchTab(AppConfig(use_shared_benchmarks=False))
    run_dir, summary, table, pd_fig, speed_fig, csv = tab.run("Upload a zip of images", str(_dataset_zip(tmp_path / "d.zip")),
                                                            2, ["bicubic", "bilinear", "no-such"], 0, False, None)
    assert "2 images" in summary and "skipped **no-such**" in summary
    df = pd.read_csv(csv)
    assert list(df["method"]) == ["bicubic", "bilinear"] and (df["psnr_y"] > 20).all() and df["lpips"].isna().all()
    assert list(table.data["id"]) == ["bicubic", "bilinear"]
    assert pd_fig.axes and speed_fig.axes
    assert Path(run_dir).is_dir()


def test_zip_member_names_cannot_escape(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    extract_zip(str(_dataset_zip(tmp_path / "evil.zip", evil=True)), dest, 10**7)
    assert sorted(p.name for p in dest.iterdir()) == ["astronaut.png", "coffee.png", "escape.png", "escape2.png"]  # flattened, no txt
    assert not (tmp_path / "escape.png").exists() and not Path("/abs/escape2.png").exists()
    with pytest.raises(SRError, match="not a zip file"):
        extract_zip(str(tmp_path / "astronaut.png"), dest, 10**7)
    with zipfile.ZipFile(tmp_path / "fake.zip", "w") as z:
        z.writestr("x.png", "not an image")
    with pytest.raises(SRError, match="x.png: not an image file"):
        extract_zip(str(tmp_path / "fake.zip"), tmp_path / "out2", 10**7)


def test_dataset_folder_per_scale(tmp_path: Path) -> None:
    (tmp_path / "x2" / "HR").mkdir(parents=True)
    (tmp_path / "x2" / "LR").mkdir()
    assert resolve_folder(tmp_path, 2) == (tmp_path / "x2", None)
    folder, note = resolve_folder(tmp_path, 3)
    assert folder == tmp_path / "x2" / "HR" and "no ×3 pairs" in (note or "")


def test_option_sliders_follow_the_method_selection() -> None:
    from app.methods import method_options

    tab = CompareTab(AppConfig())
    opts = method_options()
    assert ("srgan", "strength") in [(mid, o.name) for mid, o in opts]

    def visible(selected: list[str]) -> dict[str, bool]:
        updates = tab.on_methods(selected)
        updates = [updates] if isinstance(updates, dict) else list(updates)  # a single output is not wrapped
        return dict(zip([mid for mid, _ in opts], [u["visible"] for u in updates], strict=True))

    shown, hidden = visible(["bicubic", "srgan"]), visible(["bicubic"])
    assert shown["srgan"] is True and hidden["srgan"] is False
    assert tab.on_option({}, *[0.25 for _ in opts])["srgan"] == {"strength": 0.25}
