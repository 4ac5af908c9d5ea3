"""The reference models (Real-ESRGAN, Real-CUGAN) read from their wheels' ncnn files.

Held to the ``ncnn`` package's own CPU inference of the very same files on a real photo (within 2/255),
tiled against untiled, each wheel file against its pinned SHA-256. No ``../shared`` needed: the files are
installed by requirements.txt, so none of these skip -- a broken install or a changed file fails here.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import ncnn
import numpy as np
import pytest
import torch
from skimage import data

from srcore.errors import MethodError, ModelFileError
from srcore.methods.ncnn_zoo import NcnnZooMethod
from srcore.models.ncnn_graph import load_graph, parse_param
from srcore.ncnn_wheels import CUGAN_DIST, ESRGAN_DIST, SHA256, NcnnFile, models_folder
from srcore.registry import get_method

IDS = ("realesrgan-x4plus", "realesrgan-x4plus-anime", "realesr-animevideov3", "realcugan")


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A real photo, small: 52 x 44 px of the astronaut (area-downscaled, so real texture, not noise)."""
    return cv2.resize(data.astronaut(), (128, 128), interpolation=cv2.INTER_AREA)[30:74, 40:92].copy()


def _all_files() -> list[tuple[str, str]]:
    return [(dist, rel[: -len(".param")]) for dist, files in SHA256.items() for rel in files if rel.endswith(".param")]


def test_every_wheel_file_is_installed_and_matches_its_pin() -> None:
    for dist, stem in _all_files():
        NcnnFile(dist, stem).verify()  # raises on a missing or changed file


@pytest.mark.parametrize(("dist", "stem"), _all_files(), ids=lambda v: str(v))
def test_converted_graph_matches_ncnn_on_a_photo(dist: str, stem: str, photo: np.ndarray) -> None:
    f = NcnnFile(dist, stem)
    graph = load_graph(f.param.read_text(), f.bin.read_bytes(), stem).eval()
    pad = 20 if dist == CUGAN_DIST else 0  # Real-CUGAN's nets crop their borders: feed them room
    img = np.pad(photo, ((pad, pad), (pad, pad), (0, 0)), mode="reflect")
    x = np.ascontiguousarray(img.transpose(2, 0, 1), dtype=np.float32) / np.float32(255)
    with torch.inference_mode():
        ours = graph(torch.from_numpy(x)[None])[0].numpy()
    net = ncnn.Net()
    net.opt.use_vulkan_compute = False
    net.opt.num_threads = 1
    assert net.load_param(str(f.param)) == 0 and net.load_model(str(f.bin)) == 0
    ex = net.create_extractor()
    ex.input(graph.input, ncnn.Mat(x))
    ret, out = ex.extract(graph.output)
    assert ret == 0
    theirs = np.array(out)
    assert ours.shape == theirs.shape and ours.shape[1] > 0
    diff = np.abs(np.clip(ours, 0, 1) - np.clip(theirs, 0, 1)) * 255
    assert diff.max() <= 2.0, f"{stem}: max {diff.max():.2f}/255 from ncnn"


@pytest.mark.parametrize(("mid", "scale", "opts"), [
    ("realesrgan-x4plus", 4, {}), ("realesrgan-x4plus-anime", 4, {}), ("realesr-animevideov3", 3, {}),
    ("realcugan", 2, {}), ("realcugan", 3, {"pro": 1.0}), ("realcugan", 4, {"denoise": 3.0}),
])
def test_method_on_torch_equals_method_on_ncnn(mid: str, scale: int, opts: dict, photo: np.ndarray) -> None:
    """The whole method -- Real-CUGAN's reflect pre-padding and crop included -- on both engines."""
    m = get_method(mid)
    a = m.upscale(photo, scale, tile=0, backend="torch", **opts)
    b = m.upscale(photo, scale, tile=0, backend="ncnn", **opts)
    assert a.shape == (photo.shape[0] * scale, photo.shape[1] * scale, 3)
    assert np.abs(a.astype(int) - b).max() <= 2


@pytest.mark.parametrize(("mid", "scale", "opts", "backend"), [
    ("realcugan", 2, {}, "torch"), ("realcugan", 2, {"denoise": 2.0}, "ncnn"), ("realcugan", 3, {"pro": 1.0}, "torch"),
    ("realcugan", 4, {}, "ncnn"), ("realesr-animevideov3", 4, {}, "torch"), ("realesr-animevideov3", 2, {}, "ncnn"),
])
def test_tiled_equals_untiled(mid: str, scale: int, opts: dict, backend: str) -> None:
    """Seam-free tiles: Real-CUGAN's tiles carry its pre-padding of real context and the whole image's SE averages."""
    img = cv2.resize(data.astronaut(), (150, 150), interpolation=cv2.INTER_AREA)[10:82, 20:110].copy()  # 90 x 72
    m = get_method(mid)
    whole = m.upscale(img, scale, tile=0, backend=backend, **opts)
    tiled = m.upscale(img, scale, tile=32, backend=backend, **opts)
    d = np.abs(whole.astype(int) - tiled)
    assert d.max() <= 1 and (d > 0).mean() < 0.001, f"max {d.max()}, {(d > 0).mean():.4%} of values differ"


def test_realcugan_options_are_checked() -> None:
    m = get_method("realcugan")
    img = np.zeros((16, 16, 3), np.uint8)
    with pytest.raises(MethodError, match="pro models have no x4"):
        m.upscale(img, 4, pro=1.0)
    with pytest.raises(MethodError, match="denoise levels -1, 0, 3, not 1"):
        m.upscale(img, 3, denoise=1.0)
    with pytest.raises(MethodError, match="denoise must be one of"):
        m.upscale(img, 2, denoise=0.5)


def test_methods_are_listed_available() -> None:
    for mid in IDS:
        m = get_method(mid)
        assert m.availability(), f"{mid}: {m.availability().reason}"
        assert m.info()["reference_card"], f"{mid} has no card in assets/reference/"


def test_changed_or_missing_file_is_refused(tmp_path: Path) -> None:
    src = models_folder(CUGAN_DIST) / "models-se"
    for ext in ("param", "bin"):
        shutil.copy(src / f"up2x-no-denoise.{ext}", tmp_path / f"up2x-no-denoise.{ext}")
    good = NcnnFile(CUGAN_DIST, "up2x-no-denoise", root=tmp_path)
    with pytest.raises(ModelFileError, match="SHA-256"):  # the pin is keyed by the wheel's relative path
        good.verify()
    copy = NcnnFile(CUGAN_DIST, "models-se/up2x-no-denoise", root=tmp_path.parent / "wheel")
    (tmp_path.parent / "wheel" / "models-se").mkdir(parents=True)
    for ext in ("param", "bin"):
        shutil.copy(src / f"up2x-no-denoise.{ext}", tmp_path.parent / "wheel" / "models-se" / f"up2x-no-denoise.{ext}")
    copy.verify()
    raw = bytearray(copy.bin.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    copy.bin.write_bytes(bytes(raw))
    with pytest.raises(ModelFileError, match="does not match"):
        copy.verify()
    copy.param.unlink()
    assert "missing" in (copy.missing() or "")
    m = NcnnZooMethod(id="t", label="t", scales=(4,), dist=ESRGAN_DIST, stems={(4,): "no-such-model"})
    assert not m.availability(4) and "missing" in m.availability(4).reason


def test_reader_refuses_a_broken_param_and_a_mismatched_bin() -> None:
    with pytest.raises(ModelFileError, match="not an ncnn"):
        parse_param("hello\n1 1\n")
    f = NcnnFile(ESRGAN_DIST, "realesr-animevideov3-x4")
    with pytest.raises(ModelFileError, match="truncated|left over"):
        load_graph(f.param.read_text(), f.bin.read_bytes()[:-100])
    with pytest.raises(ModelFileError, match="not supported"):
        parse_param("7767517\n1 1\nFancyLayer x 0 1 y\n")


@pytest.mark.parametrize(("mid", "scale", "opts"), [
    ("realesrgan-x4plus", 4, {}), ("realesrgan-x4plus-anime", 4, {}),
    *[("realesr-animevideov3", s, {}) for s in (2, 3, 4)],
    *[("realcugan", s, {}) for s in (2, 3, 4)], *[("realcugan", s, {"pro": 1.0}) for s in (2, 3)],
])
def test_output_is_the_picture_upscaled(mid: str, scale: int, opts: dict) -> None:
    """Engines can agree and both be wrong (the x4 Real-CUGAN graph alone is a residual, nearly black):
    every model's output must be the photo -- close to bicubic of it, aligned, same brightness."""
    from srcore.metrics import psnr_y

    hr = cv2.resize(data.astronaut(), (144, 144), interpolation=cv2.INTER_AREA)
    lr = cv2.resize(hr, (144 // scale, 144 // scale), interpolation=cv2.INTER_AREA)
    bic = cv2.resize(lr, (lr.shape[1] * scale, lr.shape[0] * scale), interpolation=cv2.INTER_CUBIC)
    out = get_method(mid).upscale(lr, scale, backend="auto", **opts)  # the default path: an exported graph on OpenVINO
    assert abs(float(out.mean()) - float(bic.mean())) < 4
    here = psnr_y(out[8:-8, 8:-8], bic[8:-8, 8:-8])
    assert here > 18, f"{mid} x{scale}: {here:.1f} dB from bicubic"  # anime models flatten photo texture: ~20 dB
    for dy, dx in ((1, 0), (0, 1), (-1, 0), (0, -1)):  # aligned: any one-pixel shift fits worse
        assert psnr_y(np.roll(out, (dy, dx), (0, 1))[8:-8, 8:-8], bic[8:-8, 8:-8]) < here
