"""TTA (srcore/tta.py): the x8 self-ensemble is the mean of 8 real runs, tile-aware, in range, on CLI, app and API."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import skimage.data

from srcore import tta
from srcore.cli import main
from srcore.registry import get_method


@pytest.fixture(scope="module")
def lr() -> np.ndarray:
    return np.ascontiguousarray(skimage.data.astronaut()[100:130, 180:220])  # 40x30: not square, so rotations change the shape


def test_transforms_invert_on_non_square(lr: np.ndarray) -> None:
    seen = set()
    for k in range(tta.PASSES):
        t = tta._forward(lr, k)
        seen.add(t.tobytes())
        assert np.array_equal(tta._inverse(t, k), lr)
    assert len(seen) == 8  # eight different views of the picture


def test_ensemble_is_the_mean_of_the_eight_passes(lr: np.ndarray) -> None:
    net = get_method("espcn")
    got = net.upscale(lr, 4, tta=True)
    passes = [tta._inverse(net.upscale(np.ascontiguousarray(tta._forward(lr, k)), 4), k).astype(np.float32) for k in range(8)]
    want = np.clip(np.rint(np.mean(passes, axis=0)), 0, 255).astype(np.uint8)
    assert got.dtype == np.uint8 and got.shape == (120, 160, 3)
    assert np.array_equal(got, want)
    assert not np.array_equal(got, net.upscale(lr, 4))  # a real network is not flip-equivariant: TTA changes it
    with tta.use_tta(True):  # the CLI/app route: set for a block of calls
        assert np.array_equal(net.upscale(lr, 4), got)
        assert not np.array_equal(net.upscale(lr, 4, tta=False), got)  # an explicit choice wins


def test_tta_is_tile_aware(lr: np.ndarray) -> None:
    """TTA wraps the whole tiled run, so tiled and untiled ensembles are the same picture."""
    net = get_method("espcn")  # receptive margin 8: 16-px tiles of a 40x30 input are really tiled
    assert np.array_equal(net.upscale(lr, 4, tile=16, tta=True), net.upscale(lr, 4, tile=0, tta=True))


def test_interpolation_ignores_tta(lr: np.ndarray) -> None:
    calls = []
    bicubic = get_method("bicubic")
    run = bicubic._run
    bicubic._run = lambda *a, **k: (calls.append(1), run(*a, **k))[1]  # type: ignore[method-assign]
    try:
        out = bicubic.upscale(lr, 4, tta=True)
    finally:
        del bicubic._run
    assert len(calls) == 1 and np.array_equal(out, bicubic.upscale(lr, 4))


def test_each_with_tta_scopes_each_step() -> None:
    def gen():
        for _ in range(2):
            yield tta.in_effect()

    it = tta.each_with_tta(True, gen())
    assert next(it) is True and tta.in_effect() is False  # not leaked into the consumer between steps
    assert list(it) == [True]


def test_cli_tta(tmp_path: Path, lr: np.ndarray, capsys: pytest.CaptureFixture[str]) -> None:
    from srcore.imageio import load_image, save_image

    src = tmp_path / "lr.png"
    save_image(src, lr)
    assert main(["upscale", str(src), "-m", "espcn", "-s", "4", "-o", str(tmp_path / "o.png"), "--tta"]) == 0
    assert np.array_equal(load_image(tmp_path / "o.png").rgb, get_method("espcn").upscale(lr, 4, tta=True))
    assert "TTA on" in capsys.readouterr().err
    # --tta with --ray: tests/test_ray.py (same bytes as here, on a local cluster)


def test_app_run_with_tta(tmp_path: Path) -> None:
    from app.compare_tab import CompareTab
    from app.config import AppConfig
    from srcore.imageio import save_image

    photo = tmp_path / "p.png"
    save_image(photo, np.ascontiguousarray(skimage.data.chelsea()[100:164, 150:214]))
    tab = CompareTab(AppConfig())
    up, _, _, _ = tab.on_upload({"path": str(photo), "orig_name": photo.name}, 4, "upscale", None)
    last = list(tab.run(up, 4, ["bicubic", "espcn"], [], "upscale", "bicubic", 50, 0, "", None, 32, 4, False, None, True))[-1]
    session, status = last[0], last[1]
    labels = [r.label for r in session.results]
    assert labels[0] == "Bicubic" and labels[1].endswith("+TTA") and "TTA on" in status
    assert np.array_equal(session.results[1].output, get_method("espcn").upscale(session.prepared.lr, 4, tta=True))
