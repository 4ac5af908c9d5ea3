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
from conftest import require_shipped

from app import render
from app.bench_tab import BenchTab, extract_zip, resolve_folder
from app.compare_tab import CompareSession, CompareTab
from app.config import AppConfig, parse_args
from app.inputs import jpeg_quality, normalize_mode, parse_scale, parse_spec, safe_name
from app.messages import public_text
from app.methods import checkbox_choices, default_methods, expand_strengths, unavailable_html
from app.models_tab import all_cards
from app.runner import report_json
from srcore.errors import SRError
from srcore.imageio import save_image


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ui") / "cat.png"
    save_image(path, np.ascontiguousarray(skimage.data.chelsea()[100:196, 150:270]))  # 120x96
    return path


def _upload(tab: CompareTab, photo: Path, mode: str = "reference", scale: int = 4) -> dict[str, Any]:
    state, _, msg, _ = tab.on_upload({"path": str(photo), "orig_name": photo.name}, scale, mode, None)
    assert state is not None, msg
    return state


def _run(tab: CompareTab, photo: Path, methods: list[str], mode: str, scale: int = 4, strengths: list[str] | None = None,
         maps: bool = False) -> list[tuple[Any, ...]]:
    up = _upload(tab, photo, mode, scale)
    return list(tab.run(up, scale, methods, strengths or [], mode, "bicubic", 50, 0, "", None, 32, 4, maps, None))


def test_run_streams_one_update_per_method(photo: Path) -> None:
    tab = CompareTab(AppConfig())
    updates = _run(tab, photo, ["bicubic", "bilinear", "nearest"], "reference", maps=True)
    assert len(updates) == 4  # the prepared input first, then one update as each method finishes
    session, status, stale, table, locator, crops, side_a, side_b, slider, panel, maps, files, _, view = updates[-1]
    assert isinstance(session, CompareSession) and "Done: 3/3" in status and stale == ""
    assert "Running: 0/3" in updates[0][1] and "Running: 1/3" in updates[1][1]  # one count, no competing bar
    for mid in ("bicubic", "bilinear", "nearest"):
        assert f"<code>{mid}</code>" in table
    assert "PSNR-Y (dB) ↑" in table and "NIQE ↓" in table and "LR-PSNR (dB) ↑" in table and "GMSD ↓" in table
    assert "Error</th>" not in table  # no failures: no error column
    # Crops at their true zoom: 32-px crops drawn 128 px wide, every caption whole.
    assert crops.count("<figure") == 5 and crops.count("width='128'") == 5
    for caption in ("Ground truth", "LR input", "Bicubic", "Bilinear", "Nearest neighbour"):
        assert f"{caption}<br>" in crops
    # The maps panel was open, so the last update carries |ΔY| (and LPIPS) maps naming their method.
    assert panel["visible"] is True and "|ΔY| · Bicubic" in maps and "|ΔY| against the ground truth" in maps
    assert "Colour shift (ΔE00) against the ground truth" in maps and maps.count("<figcaption>ΔE00 · ") == 3
    assert side_a["value"] == "LR input (nearest ×4)" and side_b["value"] in side_b["choices"]
    assert isinstance(updates[1][11], type(gr.skip()))  # downloads only once everything is done
    names = {Path(f).name for f in files}
    assert names == {"cat_srlab_x4.zip", "cat_bicubic_x4.png", "cat_bilinear_x4.png", "cat_nearest_x4.png"}
    page = Path(tab.on_export(session))  # the Export button: one self-contained file, every PNG inside
    text = page.read_text()
    assert page.name == "cat_srlab_x4.html" and text.count("data:image/png;base64,") == 5 and "customElements.define" in text
    with pytest.raises(SRError):
        tab.on_export(None)
    # The viewer: one element, every picture served as a file (HR, LR, 3 methods), metrics in its data.
    assert view.count("<srlab-viewer") == 1 and view.count("gradio_api/file=") == 5 and "PSNR-Y ↑" in view
    assert isinstance(updates[1][13], type(gr.skip()))
    with zipfile.ZipFile(next(f for f in files if f.endswith(".zip"))) as z:
        assert {"cat_HR.png", "cat_LR.png", "cat_crops.png", "cat_metrics.json", "cat_bicubic_x4.png"} <= set(z.namelist())


def test_crop_follows_clicks_without_recomputing(photo: Path) -> None:
    tab = CompareTab(AppConfig())
    session = _run(tab, photo, ["bicubic"], "reference")[-1][0]
    output = session.results[0].output
    evt = gr.SelectData(None, {"index": [10, 90], "value": None, "selected": True})
    session2, _, crops, _ = tab.on_locator_click(session, evt)
    assert session2.results[0].output is output  # the same array: nothing was upscaled again
    x, y = 10 * session.locator_scale, 90 * session.locator_scale
    assert session2.center == (x, y) and session2.box()[2] - session2.box()[0] == 32
    hr_crop = session2.crops()[0][0]
    x0, y0, x1, y1 = session2.box()
    assert np.array_equal(hr_crop, session.prepared.hr[y0:y1, x0:x1])
    _, _, crops, _ = tab.on_zoom(session, 48, 2)
    assert "width='96'" in crops


def test_upscale_mode_in_ui(photo: Path) -> None:
    tab = CompareTab(AppConfig())
    session, status, _, table, *_rest, panel, maps, files, _, _ = _run(tab, photo, ["bicubic"], "Upscale as is", scale=2)[-1]
    assert session.mode == "upscale" and "upscale as is" in status
    assert "PSNR-Y (dB) ↑" not in table and "NIQE ↓" in table and "LR-PSNR (dB) ↑" in table
    assert panel["visible"] is False  # no ground truth and no GAN method: no empty maps section
    assert session.out_size == (240, 192)
    # The locator is the input itself, drawn larger: a click maps back through its scale.
    tab.on_locator_click(session, gr.SelectData(None, {"index": [30, 40], "value": None, "selected": True}))
    assert session.center == pytest.approx((30 * session.locator_scale, 40 * session.locator_scale))


def test_bad_input_is_one_status_line(photo: Path, tmp_path: Path) -> None:
    """Errors never raise into Gradio (that paints every output with an Error badge): one line in the status, the rest untouched."""
    bogus = tmp_path / "notes.png"
    bogus.write_text("not an image")
    tab = CompareTab(AppConfig(max_pixels=5000))
    state, image, msg, _ = tab.on_upload({"path": str(bogus), "orig_name": "notes.png"}, 4, "reference", None)
    assert state is None and image is None and "notes.png: not an image file" in msg and "upload a PNG" in msg
    state, _, msg, _ = tab.on_upload({"path": str(photo), "orig_name": "cat.png"}, 4, "reference", None)
    assert state is None and "cat.png: 120x96 is larger than this server accepts" in msg and "at most 79x63" in msg
    out = list(CompareTab(AppConfig()).run(None, 4, ["bicubic"], [], "reference", "bicubic", 50, 0, "", None, 32, 4, False, None))
    assert len(out) == 1 and "upload an image" in out[0][1]
    assert all(isinstance(v, type(gr.skip())) for i, v in enumerate(out[0]) if i != 1)
    up = _upload(CompareTab(AppConfig()), photo)
    (fail,) = list(CompareTab(AppConfig()).run(up, 4, [], [], "reference", "bicubic", 50, 0, "", None, 32, 4, False, None))
    assert "choose at least one method" in fail[1]
    tab = CompareTab(AppConfig(max_pixels=20_000))
    (fail,) = list(tab.run(up, 4, ["bicubic"], [], "upscale", "bicubic", 50, 0, "", None, 32, 4, False, None))
    assert "MP outputs, above this server's limit" in fail[1] and "at most" in fail[1]


def test_strengths_run_side_by_side(photo: Path) -> None:
    from srcore.registry import get_method

    require_shipped("srgan", 4)
    assert expand_strengths(["bicubic", "srgan"], ["0", "1"]) == ["bicubic", "srgan@0", "srgan@1"]
    default = get_method("srgan").options[0].default  # "its default": the method's own α, whatever it is
    assert expand_strengths(["srgan"], ["default"]) == expand_strengths(["srgan"], []) == [f"srgan@{default:g}"]
    assert parse_spec("srgan@0.50").options == {"strength": 0.5} and parse_spec("srgan@0.5").spec == "srgan@0.5"
    with pytest.raises(SRError, match="between 0 and 1"):
        parse_spec("srgan@2")
    with pytest.raises(SRError, match="no strength setting"):
        parse_spec("edsr@0.5")
    tab = CompareTab(AppConfig())
    session = _run(tab, photo, ["srgan"], "reference", strengths=["0", "1"])[-1][0]
    ids = [r.method_id for r in session.results]
    labels = [r.label for r in session.results]
    assert ids == ["srgan@0", "srgan@1"] and labels == ["SRGAN (ours) α=0", "SRGAN (ours) α=1"]
    a, b = (r.metrics["psnr_y"] for r in session.results)
    assert a > b  # α = 0 is the PSNR network
    maps = tab.maps_view(session)
    assert "Artefact map · SRGAN (ours) α=1 vs edsr" in maps


def test_jpeg_upload_gets_a_quality_note(tmp_path: Path) -> None:
    import cv2

    path = tmp_path / "cat.jpg"
    cat = skimage.data.chelsea()[:120, :160]
    cv2.imwrite(str(path), cv2.cvtColor(cat, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 60])
    assert jpeg_quality(str(path)) == 60
    state, _, msg, _ = CompareTab(AppConfig()).on_upload({"path": str(path), "orig_name": "cat.jpg"}, 4, "upscale", None)
    assert state["jpeg_quality"] == 60 and "JPEG, quality ≈ 60" in msg and "`real-edsr` and `real-gan`" in msg


def test_stale_and_defaults() -> None:
    tab = CompareTab(AppConfig())
    assert tab.on_stale(None) == "" and "press <b>Compare</b>" in tab.on_stale(object())  # type: ignore[arg-type]
    assert default_methods(4)[:1] == ["bicubic"] and 1 <= len(default_methods(4)) <= 5
    assert set(default_methods(4)) <= {"bicubic", "edsr", "srgan", "real-gan", "realesrgan-x4plus"}
    assert "realesrgan-x4plus" in default_methods(4)  # the reference for photos is in a first comparison
    assert safe_name("my photo (1).v2") == "my_photo_1_.v2"


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


def test_report_sizes(photo: Path) -> None:
    tab = CompareTab(AppConfig())
    session = _run(tab, photo, ["bicubic"], "reference")[-1][0]
    report = report_json(session.comparison(), "cat.png", session.input_size)
    assert report["input_size"] == "120x96" and report["lr_size"] == "30x24"


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
        assert f"<code>{m.id}</code>" in md
    assert "Set14 PSNR-Y (dB) ↑" in md and "s / image ↓" in md
    card = render.card_markdown({"arch": "EDSR", "params": 1370000, "training": {"data_description": "291", "iterations": 300000},
                                 "metrics": {"Set5": {"psnr_y": 31.5}}, "sha256": "ab" * 32})
    assert "<th>iterations</th><td>300,000</td>" in card and "<th>Set5</th><td>31.50</td>" in card and "abababababab…" in card


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
    steps = list(tab.run("Upload a zip of images", str(_dataset_zip(tmp_path / "d.zip")), 2, ["bicubic", "bilinear", "no-such"], 0,
                         False, "niqe", None))
    assert len(steps) == 3  # one update per method, streamed
    run_dir, summary, table, pd_fig, speed_fig, csv, rows = steps[-1]
    assert "2 images" in summary and "skipped **no-such**" in summary
    assert steps[0][5] is None and "<code>bicubic</code>" in steps[0][2]  # first row before the CSV exists
    df = pd.read_csv(csv)
    assert list(df["method"]) == ["bicubic", "bilinear"] and (df["psnr_y"] > 20).all() and df["lpips"].isna().all()
    assert "niqe" in df and "lr_psnr" in df
    assert "<code>bilinear</code>" in table and "NIQE ↓" in table
    assert pd_fig.axes and "NIQE" in pd_fig.axes[0].get_xlabel() and speed_fig.axes
    assert "LPIPS" in tab.on_axis(rows, "lpips", "d.zip", 2).axes[0].get_xlabel()
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


def test_colour_shift_maps_in_upscale_mode_read_against_bicubic(photo: Path) -> None:
    """No ground truth: ΔE00 is taken against bicubic (run for the maps if it is not in the comparison)."""
    tab = CompareTab(AppConfig())
    last = _run(tab, photo, ["nearest", "bilinear"], "Upscale as is", scale=2)[-1]
    session, panel = last[0], last[9]
    assert panel["visible"] is True and "ΔE00 against bicubic" in panel["label"]
    maps = tab.maps_view(session)
    assert "against bicubic (no ground truth in upscale mode)" in maps
    assert "ΔE00 · Nearest neighbour" in maps and "ΔE00 · Bilinear" in maps and "bicubic" in session.extra_outputs


def test_mode_follows_the_upload_and_misleading_best_is_not_crowned(photo: Path, tmp_path: Path) -> None:
    """Issue 24 point 7: a small or JPEG upload opens in upscale mode with the reason; LR-PSNR on a JPEG is not ranked."""
    from app.compare_tab import upscale_reason
    from app.render import metrics_html

    assert "shrunk to 56×37" in upscale_reason(225, 150, 75, 4) and "JPEG" in upscale_reason(225, 150, 75, 4)
    assert "small" in upscale_reason(120, 96, None, 4) and upscale_reason(512, 512, None, 4) is None
    tab = CompareTab(AppConfig())
    state, _, msg, _ = tab.on_upload({"path": str(photo), "orig_name": photo.name}, 4, "reference", None)
    assert state["mode"] == "upscale" and "Mode set to **Upscale as is**" in msg and "Treat as ground truth" in msg
    assert tab.on_upload_mode(state, "reference")["value"] == "upscale"
    state, _, msg, _ = tab.on_upload({"path": str(photo), "orig_name": photo.name}, 4, "upscale", None)
    assert state["mode"] == "upscale" and "Mode set" not in msg  # already there: nothing to say
    rows = [{"method": m, "label": m, "niqe": n, "lr_psnr": p, "seconds": 0.1, "output_size": "8x8", "error": None}
            for m, n, p in (("a", 5.0, 57.3), ("b", 4.0, 40.0))]
    crowned = metrics_html(rows, "upscale")
    plain = metrics_html(rows, "upscale", unranked={"lr_psnr": "the input is a JPEG"})
    assert "'num best'>57.30<" in crowned and "'num best'>57.30<" not in plain  # LR-PSNR not crowned ...
    assert "'num best'>4.00<" in plain  # ... NIQE still is
    assert "LR-PSNR not ranked: the input is a JPEG" in plain
