"""ONNX export and the runtime backends (issue 13): real onnxruntime and OpenVINO, no mocks.

Every check is "the same uint8 output as torch, within 1/255": the runtimes run the very
network torch runs (exported once per loaded model), so anything more is a bug in the export,
the pre/post-processing, or the tiling. Inputs are small and odd-sized (dynamic H/W, windows
that do not divide the image) so the file stays within a few tens of seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from conftest import require_shipped

from srcore.backends import AUTO_ORDER, BACKENDS, available_backends, cpu_info, resolve, use_backend
from srcore.errors import MethodError
from srcore.registry import get_method
from srcore.tiling import tiled_apply

#: Both runtimes are requirements: a missing one fails ``test_runtimes_are_installed`` and every case
#: run on it, instead of leaving only torch-vs-torch comparisons green.
RUNTIMES = ["onnxruntime", "openvino"]


def test_runtimes_are_installed() -> None:
    assert set(RUNTIMES) <= set(available_backends()), f"requirements.txt installs both runtimes; here: {available_backends()}"


def _maxdiff(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.abs(a.astype(int) - b.astype(int)).max())


@pytest.fixture(scope="module")
def crop(astronaut_module: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(astronaut_module[120:151, 180:203])  # 31 x 23: odd, not the export's 64 x 64


@pytest.fixture(scope="module")
def astronaut_module() -> np.ndarray:
    from skimage import data

    return data.astronaut()


def _ort_upscale(path: Path, img: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = (img.astype(np.float32) / 255.0).transpose(2, 0, 1)[None]
    y = sess.run(None, {"lr": np.ascontiguousarray(x)})[0]
    return np.round(np.clip(y[0], 0, 1) * 255).astype(np.uint8).transpose(1, 2, 0)


@pytest.mark.parametrize(("mid", "strength"), [("edsr", None), ("srgan", 1.0)])
def test_export_matches_torch(tmp_path: Path, crop: np.ndarray, mid: str, strength: float | None) -> None:
    import onnx

    from srcore.export import export_onnx

    require_shipped(mid, 4)
    method = get_method(mid)
    out = tmp_path / f"{mid}.onnx"
    opts = {"strength": strength} if strength is not None else {}
    export_onnx(mid, 4, out, opts)
    model = onnx.load(str(out))
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 17
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["method_id"] == mid and meta["scale"] == "4" and "uint8 / 255" in meta["normalisation"]
    hashes = json.loads(meta["weights_sha256"])
    assert hashes and all(len(h) == 64 for h in hashes.values())
    if strength is not None:
        assert json.loads(meta["options"]) == {"strength": strength}
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert dims[2].dim_param and dims[3].dim_param  # dynamic H/W
    ref = method.upscale(crop, 4, tile=0, backend="torch-nchw", **opts)
    assert _maxdiff(_ort_upscale(out, crop), ref) <= 1


def test_export_spandrel_file_model(tmp_path: Path, crop: np.ndarray) -> None:
    from spandrel.architectures.Compact import Compact as SRVGGNetCompact

    from srcore.cli import main

    torch.manual_seed(0)
    path = tmp_path / "compact.pth"
    torch.save(SRVGGNetCompact(num_feat=16, num_conv=2, upscale=2).state_dict(), path)
    out = tmp_path / "compact.onnx"
    assert main(["export", f"file:{path}", "-s", "2", "--format", "onnx", "-o", str(out)]) == 0
    ref = get_method(f"file:{path}").upscale(crop, 2, tile=0)
    assert _maxdiff(_ort_upscale(out, crop), ref) <= 1


def test_export_refuses_what_it_cannot_do(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from srcore.cli import main

    assert main(["export", "bicubic", "-s", "4", "-o", str(tmp_path / "x.onnx")]) == 2
    assert main(["export", "edsr", "-s", "3", "-o", str(tmp_path / "x.onnx")]) == 2
    assert main(["export", "edsr", "-s", "4", "--opset", "13", "-o", str(tmp_path / "x.onnx")]) == 2
    assert main(["export", "edsr", "-s", "4", "-o", str(tmp_path)]) == 2  # a folder, not a file
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 4 and all(line.startswith("error: ") for line in err)
    assert list(tmp_path.iterdir()) == []  # nothing (half-)written


_REFS: dict[str, np.ndarray] = {}  # torch-nchw outputs, shared by the parametrised cases (the crop is fixed)


@pytest.mark.parametrize("backend", ["torch", *RUNTIMES])
@pytest.mark.parametrize("mid", ["edsr", "srgan"])
def test_backend_output_equals_torch(crop: np.ndarray, mid: str, backend: str) -> None:
    """Against ``torch-nchw`` (the torch path before issue 13): channels_last torch and the runtimes."""
    require_shipped(mid, 4)
    method = get_method(mid)
    if mid not in _REFS:
        _REFS[mid] = method.upscale(crop, 4, tile=0, backend="torch-nchw")
    ref = _REFS[mid]
    assert _maxdiff(method.upscale(crop, 4, tile=0, backend=backend), ref) <= 1
    if backend != "torch":  # torch tiles as before; the runtimes get fixed windows that slide inwards at the borders
        assert _maxdiff(method.upscale(crop, 4, tile=12, backend=backend), ref) <= 1


def test_auto_picks_an_installed_runtime_and_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    assert resolve("auto") in BACKENDS and resolve(None) == "torch" and resolve("torch-nchw") == "torch-nchw"
    assert resolve("auto") == next(b for b in AUTO_ORDER[cpu_info().kind] if b in available_backends())
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in ("openvino", "onnxruntime") else real(name, *a))
    assert resolve("auto") == "torch"  # no runtime installed: torch, silently
    with pytest.raises(MethodError, match="needs the openvino package"):
        resolve("openvino")
    with pytest.raises(MethodError, match="unknown backend"):
        resolve("tensorrt")


def test_backend_reaches_compare_and_cli(tmp_path: Path, crop: np.ndarray) -> None:
    from srcore.cli import main
    from srcore.compare import compare
    from srcore.imageio import load_image, save_image

    backend = "onnxruntime"
    res = compare(crop, 4, ["bicubic", "edsr"], "upscale", lpips=False, tile=0, backend=backend)
    ref = compare(crop, 4, ["edsr"], "upscale", lpips=False, tile=0, backend="torch")
    assert all(r.ok for r in res.results) and _maxdiff(res.results[1].output, ref.results[0].output) <= 1
    src, dst = tmp_path / "in.png", tmp_path / "out.png"
    save_image(src, crop)
    assert main(["upscale", str(src), "-m", "edsr", "-s", "4", "-o", str(dst), "--backend", "auto", "--tile", "0"]) == 0
    assert _maxdiff(load_image(dst).rgb, ref.results[0].output) <= 1
    with use_backend("torch") as name:
        assert name == "torch"


@pytest.mark.parametrize(("h", "w", "tile"), [(37, 50, 16), (20, 9, 8), (64, 64, 64)])
def test_fixed_windows_equal_untiled(h: int, w: int, tile: int) -> None:
    """A 5x5 box filter with a 2-px margin: fixed (sliding) windows give the untiled result, all one shape."""
    img = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    shapes: set[tuple[int, ...]] = set()

    def box(patch: np.ndarray) -> np.ndarray:
        shapes.add(patch.shape)
        p = np.pad(patch.astype(np.int32), ((2, 2), (2, 2), (0, 0)))
        s = sum(p[dy : dy + patch.shape[0], dx : dx + patch.shape[1]] for dy in range(5) for dx in range(5))
        return (s // 25).astype(np.uint8).repeat(2, 0).repeat(2, 1)

    ref = box(img)
    shapes.clear()
    assert np.array_equal(tiled_apply(box, img, 2, tile, 2, fixed_window=True), ref)
    assert len(shapes) == 1
