"""The upscaler interface, the registry, OpenCV dnn methods, tiling and downloads."""

from __future__ import annotations

import hashlib
from typing import get_args

import numpy as np
import pytest
from conftest import require_shipped

from srcore.errors import MethodError, ModelFileError
from srcore.methods.base import Family
from srcore.registry import all_methods, get_method

CONTRACT_IDS = {
    "nearest", "bilinear", "bicubic", "lanczos",
    "dnn-espcn", "dnn-fsrcnn", "dnn-fsrcnn-small", "dnn-lapsrn", "dnn-edsr",
    "espcn", "fsrcnn", "edsr", "edsr-official", "srgan",
}


def test_registry_has_contract_ids() -> None:
    ids = [m.id for m in all_methods()]
    assert CONTRACT_IDS <= set(ids)
    for m in all_methods():
        assert m.label and m.scales and m.description
        assert m.family in get_args(Family)


def test_registry_refuses_duplicate_ids() -> None:
    """Two methods with one id would leave only the last reachable: the registry must say so instead."""
    from srcore.methods.interpolation import Interpolation
    from srcore.registry import index_methods

    a = Interpolation(id="bicubic", label="Bicubic", scales=(2,), description="x")
    b = Interpolation(id="bicubic", label="Bicubic again", scales=(2,), description="y")
    assert index_methods([a]) == {"bicubic": a}
    with pytest.raises(ValueError, match="two methods share the id 'bicubic'"):
        index_methods([a, b])


def test_weight_file_hashed_once_per_file_state(tmp_path) -> None:
    """Verification reads a file once per (path, size, mtime, inode); any rewrite is read and checked again.

    Why: availability is asked on every page load and upscale, and re-hashing large checkpoints
    each time cost seconds. The unchanged-stamp case is shown by swapping the bytes in place and
    restoring the mtime: the remembered digest answers without reading the file.
    """
    import os

    from srcore.weights import WeightFile

    path = tmp_path / "w.bin"
    path.write_bytes(b"good weights" * 1000)
    spec = WeightFile("w.bin", sha256=hashlib.sha256(path.read_bytes()).hexdigest())
    spec.verify(path)
    st = path.stat()
    with open(path, "r+b") as f:  # same inode, same size
        f.write(b"X")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    spec.verify(path)  # not re-read: the file state (size, mtime, inode) is the one verified
    tampered = tmp_path / "tampered.bin"
    tampered.write_bytes(path.read_bytes())
    os.replace(tampered, path)  # a new file (inode, mtime) under the same name is hashed again
    with pytest.raises(ModelFileError, match="does not match"):
        spec.verify(path)


@pytest.mark.parametrize("method_id", ["nearest", "bilinear", "bicubic", "lanczos"])
@pytest.mark.parametrize("scale", [2, 3, 8])
def test_interpolation_shapes(method_id: str, scale: int, astronaut: np.ndarray) -> None:
    img = astronaut[:37, :23]
    out = get_method(method_id).upscale(img, scale)
    assert out.shape == (37 * scale, 23 * scale, 3) and out.dtype == np.uint8


def test_unknown_method_and_bad_scale() -> None:
    with pytest.raises(MethodError, match="unknown method"):
        get_method("no-such")
    with pytest.raises(MethodError, match="does not support x9"):
        get_method("bicubic").upscale(np.zeros((4, 4, 3), np.uint8), 9)
    with pytest.raises(MethodError, match="smaller than 2x2"):
        get_method("bicubic").upscale(np.zeros((1, 1, 3), np.uint8), 2)
    with pytest.raises(MethodError, match="RGB uint8"):
        get_method("bicubic").upscale(np.zeros((4, 4), np.uint8), 2)


def test_missing_model_file_is_unavailable_with_reason(isolated_cache) -> None:
    m = get_method("dnn-espcn")
    avail = m.availability(3)
    assert not avail
    assert "ESPCN_x3.pb not found" in avail.reason and "python -m srcore download dnn-espcn" in avail.reason
    with pytest.raises(MethodError, match="ESPCN_x3.pb"):
        m.upscale(np.zeros((8, 8, 3), np.uint8), 3)
    assert not get_method("dnn-edsr").availability(4)
    assert "download edsr-official" in get_method("edsr-official").availability(4).reason


@pytest.mark.parametrize("method_id,scale", [("dnn-espcn", 3), ("dnn-fsrcnn", 4), ("dnn-fsrcnn-small", 2), ("dnn-lapsrn", 8)])
def test_stock_opencv_methods_run(opencv_models_dir, method_id: str, scale: int, astronaut: np.ndarray) -> None:
    img = astronaut[100:140, 200:250]
    m = get_method(method_id)
    assert m.availability(scale)
    out = m.upscale(img, scale)
    assert out.shape == (40 * scale, 50 * scale, 3)
    # a learned method should not be far from bicubic on a smooth photo (sanity: not garbage)
    bic = get_method("bicubic").upscale(img, scale).astype(float)
    assert np.abs(out.astype(float) - bic).mean() < 12
    assert m._net(scale) is m._net(scale)  # loaded once, reused


@pytest.mark.parametrize("method_id", ["dnn-espcn", "dnn-fsrcnn"])
def test_tiled_equals_untiled_opencv(opencv_models_dir, method_id: str, astronaut: np.ndarray) -> None:
    img = astronaut[50:150, 60:190]
    m = get_method(method_id)
    whole = m.upscale(img, 4, tile=0).astype(int)
    tiled = m.upscale(img, 4, tile=32).astype(int)
    assert np.abs(whole - tiled).max() <= 1


def test_stock_file_with_wrong_checksum_is_refused(tmp_path, isolated_cache) -> None:
    from srcore.paths import use_models_dir

    (tmp_path / "ESPCN_x4.pb").write_bytes(b"not the real graph")
    use_models_dir(tmp_path)
    try:
        avail = get_method("dnn-espcn").availability(4)
        assert not avail and "SHA-256" in avail.reason and "refusing" in avail.reason
    finally:
        use_models_dir(None)


def test_model_dir_cannot_be_escaped(tmp_path, monkeypatch) -> None:
    from srcore.paths import find_model_file, use_models_dir

    inner = tmp_path / "models"
    inner.mkdir()
    (tmp_path / "secret.pb").write_bytes(b"x")
    (inner / "link.pb").symlink_to(tmp_path / "secret.pb")
    use_models_dir(inner)
    try:
        assert find_model_file("../secret.pb") is None
        assert find_model_file("link.pb") is None  # symlink pointing outside
        assert find_model_file("/etc/passwd") is None
    finally:
        use_models_dir(None)


def test_download_verifies_then_renames(tmp_path) -> None:
    from srcore.weights import WeightFile, download_file

    src = tmp_path / "remote.bin"
    src.write_bytes(b"model bytes" * 100)
    good = hashlib.sha256(src.read_bytes()).hexdigest()
    dest = tmp_path / "cache"
    path = download_file(WeightFile("m.bin", src.as_uri(), good), dest, progress=False)
    assert path.read_bytes() == src.read_bytes()
    with pytest.raises(ModelFileError, match="does not match"):
        download_file(WeightFile("bad.bin", src.as_uri(), "0" * 64), dest, progress=False)
    assert not (dest / "bad.bin").exists()
    assert not list(dest.glob("*.part"))


def test_shipped_espcn_runs_through_opencv(astronaut) -> None:
    """Our own ESPCN ships as a .pb that cv2.dnn_superres runs offline, with a model card."""
    from srcore.weights import load_card

    card = load_card("espcn_x4")
    assert card is not None, "espcn_x4 ships in assets/; its card is missing"
    m = get_method("espcn")
    assert m.availability(4) and 4 in m.available_scales()
    assert card["arch"] == "espcn" and card["metrics"]["Set5"]["psnr_y"] >= 29.8
    out = m.upscale(astronaut[:30, :40], 4)
    assert out.shape == (120, 160, 3)


def test_tampered_shipped_weights_are_refused(tmp_path, monkeypatch) -> None:
    import json
    import shutil

    from srcore.paths import ASSETS_DIR

    card = json.loads((ASSETS_DIR / "espcn_x4.json").read_text())
    shutil.copy(ASSETS_DIR / "espcn_x4.json", tmp_path / "espcn_x4.json")
    data = bytearray((ASSETS_DIR / card["file"]).read_bytes())
    data[-10] ^= 0xFF
    (tmp_path / card["file"]).write_bytes(bytes(data))
    monkeypatch.setattr("srcore.weights.ASSETS_DIR", tmp_path)
    from srcore.methods.opencv_dnn import opencv_methods

    espcn = next(m for m in opencv_methods() if m.id == "espcn")
    avail = espcn.availability(4)
    assert not avail and "SHA-256 does not match" in avail.reason


@pytest.mark.parametrize("method_id", ["bicubic", "edsr", "srgan"])
def test_grey_input_gives_grey_output(method_id: str, astronaut: np.ndarray) -> None:
    """A black-and-white photo stays black-and-white; a colour one is left alone."""
    from srcore.methods.base import is_grey

    require_shipped(method_id, 4)
    m = get_method(method_id)
    grey = np.repeat(astronaut[:24, :32].mean(axis=2).astype(np.uint8)[..., None], 3, axis=2)
    out = m.upscale(grey, 4)
    assert is_grey(out)
    # the grey value is the network's own luma, not a flat or shifted image
    assert abs(float(out.mean()) - float(grey.mean())) < 3
    assert not is_grey(m.upscale(astronaut[:24, :32], 4))
