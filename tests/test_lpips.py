"""LPIPS on real weights: the shift-tolerant fallback shipped in stlpips-pytorch, and the lpips package path
with a random backbone (no download). Crops are small so the file runs in seconds on a CPU."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from srcore.lpips import LPIPSMetric, LPIPSUnavailableError, get_lpips

SET5_HR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "benchmark" / "Set5" / "x4" / "HR"


def _noise_image(h: int = 96, w: int = 128, seed: int = 0) -> np.ndarray:
    # Smooth-ish random texture: blur of noise, so blurring it further changes it measurably.
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    return cv2.GaussianBlur(img, (0, 0), 1.0)


def _center_crop(img: np.ndarray, size: int = 128) -> np.ndarray:
    h, w = img.shape[:2]
    top, left = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return img[top : top + size, left : left + size]


@pytest.fixture(scope="module")
def st_alex() -> LPIPSMetric:
    return get_lpips("alex", backend="st", device="cpu")


def test_st_alex_identical_is_zero(st_alex: LPIPSMetric) -> None:
    assert st_alex.variant == "ST-LPIPS-alex"
    assert st_alex.net == "alex"
    assert st_alex.device == torch.device("cpu")
    img = _noise_image()
    assert abs(st_alex(img, img)) < 1e-6
    assert st_alex(img, cv2.GaussianBlur(img, (0, 0), 2.0)) > 0


def test_st_alex_grows_with_blur_on_set5(st_alex: LPIPSMetric) -> None:
    if not SET5_HR.is_dir():
        pytest.skip(f"Set5 HR images not found at {SET5_HR}")
    paths = sorted(SET5_HR.glob("*.png"))
    if not paths:
        pytest.skip(f"no PNG files in {SET5_HR}")
    sigmas = (0.5, 1.0, 2.0)
    scores = []  # one row per image, one column per sigma
    for p in paths:
        hr = _center_crop(cv2.cvtColor(cv2.imread(str(p), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB))
        scores.append([st_alex(cv2.GaussianBlur(hr, (0, 0), s), hr) for s in sigmas])
    mean = np.mean(scores, axis=0)
    assert np.all(np.isfinite(scores))
    assert mean[0] > 0
    assert mean[0] < mean[1] < mean[2], f"mean ST-LPIPS per sigma {sigmas}: {mean}"
    for p, row in zip(paths, scores, strict=False):
        assert row[0] < row[1] < row[2], f"{p.name}: ST-LPIPS per sigma {sigmas}: {row}"


def test_lpips_package_random_backbone(capfd: pytest.CaptureFixture[str]) -> None:
    metric = get_lpips("alex", backend="lpips", device="cpu", pnet_rand=True)
    out, _ = capfd.readouterr()
    assert "Setting up" not in out  # construction is quiet
    assert metric.variant == "LPIPS-alex"
    assert metric.backend == "lpips"
    a, b = _noise_image(seed=1), _noise_image(seed=2)
    d = metric(a, b)
    assert isinstance(d, float) and np.isfinite(d) and d > 0
    assert abs(metric(a, a)) < 1e-6


def test_st_vgg() -> None:
    metric = get_lpips("vgg", backend="st", device="cpu")
    assert metric.variant == "ST-LPIPS-vgg"
    assert metric.net == "vgg"
    img = _noise_image(64, 64)
    assert abs(metric(img, img)) < 1e-6
    assert metric(cv2.GaussianBlur(img, (0, 0), 2.0), img) > 0


def test_spatial_map_shape(st_alex: LPIPSMetric) -> None:
    a, b = _noise_image(70, 90, seed=3), _noise_image(70, 90, seed=4)
    m = st_alex.spatial_map(a, b)
    assert m.shape == (70, 90)
    assert m.dtype == np.float32
    assert np.all(np.isfinite(m)) and m.mean() > 0
    assert np.abs(st_alex.spatial_map(a, a)).max() < 1e-6


def test_distance_tensor_is_differentiable(st_alex: LPIPSMetric) -> None:
    torch.manual_seed(0)
    x = torch.rand(2, 3, 48, 48, requires_grad=True)
    y = torch.rand(2, 3, 48, 48)
    d = st_alex.distance_tensor(x, y)
    assert d.shape == (2,)
    d.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    # Same numbers as the inference path on the same (quantised) images.
    a = (y[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    b = (x[0].detach().permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    ta = torch.from_numpy(a).permute(2, 0, 1)[None].float() / 255
    tb = torch.from_numpy(b).permute(2, 0, 1)[None].float() / 255
    assert st_alex.distance_tensor(tb, ta).item() == pytest.approx(st_alex(b, a), rel=1e-5)


def test_auto_backend_and_caching(st_alex: LPIPSMetric) -> None:
    tv_cached = (Path(torch.hub.get_dir()) / "checkpoints" / "alexnet-owt-7be5be79.pth").is_file()
    auto = get_lpips("alex", device="cpu")
    assert auto.variant == ("LPIPS-alex" if tv_cached else "ST-LPIPS-alex")
    assert get_lpips("alex", backend="st", device="cpu") is st_alex
    got: list[LPIPSMetric] = []
    threads = [threading.Thread(target=lambda: got.append(get_lpips("alex", "st", "cpu"))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(m is st_alex for m in got)


def test_bad_input_raises_clear_errors(st_alex: LPIPSMetric) -> None:
    with pytest.raises(ValueError, match="net"):
        get_lpips("resnet")
    with pytest.raises(ValueError, match="backend"):
        get_lpips("alex", backend="torchmetrics")
    with pytest.raises(ValueError):
        get_lpips("alex", backend="st", pnet_rand=True)
    assert issubclass(LPIPSUnavailableError, RuntimeError)
    with pytest.raises(ValueError, match="size"):
        st_alex(_noise_image(64, 64), _noise_image(64, 80))
    with pytest.raises(ValueError, match="at least"):
        st_alex(_noise_image(10, 64), _noise_image(10, 64))
    with pytest.raises(ValueError, match="uint8"):
        img = _noise_image(64, 64)
        st_alex(img.astype(np.float32), img)
