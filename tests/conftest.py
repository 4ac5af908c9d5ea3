"""Shared test fixtures: where ../shared lives, and skips with a reason when it is absent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
OPENCV_MODELS = SHARED / "models" / "opencv"
BENCHMARK = SHARED / "data" / "benchmark"
TRAIN_DATA = SHARED / "data" / "train"

needs_opencv_models = pytest.mark.skipif(
    not (OPENCV_MODELS / "ESPCN_x4.pb").is_file(), reason=f"stock OpenCV model files not found in {OPENCV_MODELS}"
)
needs_benchmark = pytest.mark.skipif(not (BENCHMARK / "Set5" / "x4" / "HR").is_dir(), reason=f"benchmark data not found in {BENCHMARK}")


@pytest.fixture
def opencv_models_dir(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point srcore's model lookup at ../shared/models/opencv for one test."""
    if not OPENCV_MODELS.is_dir():
        pytest.skip(f"stock OpenCV model files not found in {OPENCV_MODELS}")
    from srcore.paths import set_models_dir
    from srcore.registry import reset

    set_models_dir(OPENCV_MODELS)
    reset()
    yield OPENCV_MODELS
    set_models_dir(None)
    reset()


@pytest.fixture
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty user cache and no SRCORE_MODELS, so lookups see only what the test puts there."""
    from srcore.paths import set_models_dir
    from srcore.registry import reset

    cache = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.delenv("SRCORE_MODELS", raising=False)
    set_models_dir(None)
    reset()
    yield cache / "srcore"
    reset()


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()
