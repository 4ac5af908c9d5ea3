"""Shared test fixtures: where ../shared lives (skips with a reason when absent), and a real app server.

Keep heavy imports inside fixtures: collecting other tests must not pay for Gradio.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
OPENCV_MODELS = SHARED / "models" / "opencv"
BENCHMARK = SHARED / "data" / "benchmark"
TRAIN_DATA = SHARED / "data" / "train"
SHARED_MODELS = OPENCV_MODELS

needs_opencv_models = pytest.mark.skipif(
    not (OPENCV_MODELS / "ESPCN_x4.pb").is_file(), reason=f"stock OpenCV model files not found in {OPENCV_MODELS}"
)
needs_benchmark = pytest.mark.skipif(not (BENCHMARK / "Set5" / "x4" / "HR").is_dir(), reason=f"benchmark data not found in {BENCHMARK}")


def require_shipped(method_id: str, scale: int = 4) -> None:
    """FAIL (never skip) when a method whose weights ship in ``assets/`` cannot run.

    Why not skip: a shipped file that is missing or fails its card's SHA-256 makes the method
    unavailable, and a skip would leave the quality suite green over a broken re-export. Only
    ../shared data being absent is a reason to skip (``needs_benchmark``).
    """
    from srcore.registry import get_method

    avail = get_method(method_id).availability(scale)
    if not avail:
        pytest.fail(f"{method_id} x{scale} ships in assets/ but cannot run: {avail.reason}", pytrace=False)


@pytest.fixture
def opencv_models_dir(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point srcore's model lookup at ../shared/models/opencv for one test."""
    if not OPENCV_MODELS.is_dir():
        pytest.skip(f"stock OpenCV model files not found in {OPENCV_MODELS}")
    from srcore.paths import use_models_dir

    use_models_dir(OPENCV_MODELS)
    yield OPENCV_MODELS
    use_models_dir(None)


@pytest.fixture
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty user cache and no SRCORE_MODELS, so lookups see only what the test puts there."""
    from srcore.paths import use_models_dir

    cache = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.delenv("SRCORE_MODELS", raising=False)
    use_models_dir(None)
    yield cache / "srcore"


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def srlab_server() -> Iterator[dict[str, Any]]:
    """A real SR Lab server (in-process, like ``python app.py --models-dir ../shared/models/opencv``) on a free port.

    Yields ``{"url", "config", "shared"}``; ``shared`` tells whether the stock OpenCV models were found.
    Module-scoped, and srcore's model folder is reset afterwards so other test modules see defaults.
    """
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from app import AppConfig, build_app, launch
    from srcore.paths import use_models_dir

    shared = SHARED_MODELS.is_dir()
    cfg = AppConfig(models_dir=SHARED_MODELS if shared else None)
    demo = build_app(cfg)
    _, url, _ = launch(demo, cfg, prevent_thread_lock=True, server_name="127.0.0.1", server_port=free_port(), quiet=True)
    try:
        yield {"url": url, "config": cfg, "shared": shared}
    finally:
        demo.close()
        use_models_dir(None)


@pytest.fixture(scope="module")
def client(srlab_server: dict[str, Any]) -> Any:
    """A ``gradio_client`` connected to the module's real server (the API and video tests share it)."""
    from gradio_client import Client

    return Client(srlab_server["url"], verbose=False)
