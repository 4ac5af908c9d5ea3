"""Issue 22's faster scoring: same numbers as the straightforward code, and the caches really are used.

Banded ``imresize`` equals the dense-matrix product bit for bit; SSIM equals skimage's; LPIPS on the
compiled runtimes equals the torch network; a scored pair's LPIPS map and a reused reference cost
no second pass; the on-disk graph caches (LPIPS, torch networks) spare the next process the export.
Speed itself is measured in ``benchmarks/score_profile.py`` and ``benchmarks/cli_runs.py``, not here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data
from conftest import REPO
from skimage.metrics import structural_similarity

from srcore.degrade import _cubic, imresize
from srcore.lpips import get_lpips
from srcore.metrics import _ssim_gaussian


def _dense_imresize(image: np.ndarray, scale: float) -> np.ndarray:
    """The textbook form (and this module's code before issue 22): dense weight matrices and einsum."""
    def matrix(in_len: int, out_len: int) -> np.ndarray:
        width = 4.0 / scale if scale < 1 else 4.0
        u = np.arange(1, out_len + 1) / scale + 0.5 * (1 - 1 / scale)
        idx = np.floor(u - width / 2)[:, None] + np.arange(int(np.ceil(width)) + 2)[None, :]
        w = scale * _cubic((u[:, None] - idx) * scale) if scale < 1 else _cubic(u[:, None] - idx)
        w /= w.sum(axis=1, keepdims=True)
        mirror = np.concatenate([np.arange(in_len), np.arange(in_len - 1, -1, -1)])
        m = np.zeros((out_len, in_len))
        np.add.at(m, (np.repeat(np.arange(out_len), idx.shape[1]), mirror[np.mod(idx - 1, 2 * in_len).astype(int)].ravel()), w.ravel())
        return m

    h, w = image.shape[:2]
    out = np.einsum("oh,hw...->ow...", matrix(h, int(np.ceil(h * scale))), image.astype(np.float64))
    out = np.einsum("pw,ow...->op...", matrix(w, int(np.ceil(w * scale))), out)
    return np.clip(np.floor(out + 0.5), 0, 255).astype(np.uint8) if image.dtype == np.uint8 else out


@pytest.mark.parametrize("shape,scale", [((257, 130, 3), 0.25), ((300, 211), 0.5), ((96, 97), 0.5), ((41, 23, 1), 1 / 3),
                                         ((33, 64, 3), 2.0), ((5, 7), 3.0), ((129, 1000), 0.25)])
def test_banded_imresize_equals_dense_product_bit_for_bit(shape: tuple[int, ...], scale: float) -> None:
    rng = np.random.default_rng(sum(shape))
    for img in (rng.random(shape), rng.integers(0, 256, shape, dtype=np.uint8)):
        got, want = imresize(img, scale), _dense_imresize(img, scale)
        assert got.shape == want.shape and np.array_equal(got, want.astype(got.dtype)), (shape, scale, img.dtype)


def test_ssim_equals_skimage() -> None:
    rng = np.random.default_rng(5)
    photo = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2GRAY).astype(np.float64)
    for a in (photo, rng.random((37, 53)) * 255, photo[:11, :300]):
        b = np.clip(a + rng.normal(0, 12, a.shape), 0, 255)
        want = structural_similarity(a, b, data_range=255.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
        assert abs(_ssim_gaussian(a, b, 255.0) - want) < 1e-10


def _pair(size: int = 160) -> tuple[np.ndarray, np.ndarray]:
    ref = cv2.resize(skimage.data.astronaut(), (size, size), interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(ref, (5, 5), 1.2), ref


@pytest.mark.parametrize("runtime", ["openvino", "onnxruntime"])
def test_lpips_runtime_equals_torch(runtime: str) -> None:
    out, ref = _pair()
    fast, slow = get_lpips("alex", "st", "cpu", runtime=runtime), get_lpips("alex", "st", "cpu", runtime="torch")
    assert fast.runtime == runtime and slow.runtime == "torch", fast.runtime_note
    assert abs(fast(out, ref) - slow(out, ref)) < 1e-5
    assert np.abs(fast.spatial_map(out, ref) - slow.spatial_map(out, ref)).max() < 1e-4
    assert fast(ref, ref) == pytest.approx(0.0, abs=1e-6)


class _CountingRun:
    """Wraps a runner's real inference to count the forward passes (the inference itself is unchanged).

    One counter can wrap both of a runner's passes: ``_run`` (features) and ``_maps`` (features + distance head).
    """

    def __init__(self) -> None:
        self.calls = 0

    def wrap(self, run):  # noqa: ANN001, ANN201
        def counted(*args):  # noqa: ANN002, ANN202
            self.calls += 1
            return run(*args)

        return counted


def test_lpips_map_and_reference_reuse_the_forward_passes() -> None:
    out, ref = _pair(144)
    metric = get_lpips("alex", "st", "cpu", runtime="openvino")
    metric(out[:32, :32], ref[:32, :32])  # compiled now (same parity of H and W as 144 x 144)
    runner = metric._compiled(out.shape[:2])
    assert runner is not None
    counter = _CountingRun()
    run, maps = runner._run, runner._maps
    runner._run, runner._maps = counter.wrap(run), counter.wrap(maps)
    try:
        score = metric(out, ref)
        assert counter.calls == 2  # the reference's features, then the output's
        assert metric.spatial_map(out, ref).shape == (144, 144) and counter.calls == 2  # the map: no further pass
        other = cv2.GaussianBlur(ref, (3, 3), 0.7)
        assert metric(other, ref) != score and counter.calls == 3  # a second method: its output only
    finally:
        runner._run, runner._maps = run, maps


def _python(code: str, cache: Path) -> str:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.strip()


def test_lpips_graph_cached_on_disk_and_import_is_torch_free(tmp_path: Path) -> None:
    code = ("import sys, numpy as np, skimage.data, cv2\n"
            "import srcore.lpips as L\n"
            "print('torch-at-import', 'torch' in sys.modules)\n"
            "ref = cv2.resize(skimage.data.astronaut(), (96, 96)); out = cv2.GaussianBlur(ref, (5, 5), 1.2)\n"
            "m = L.get_lpips('alex', 'st', runtime='openvino'); print('score', round(m(out, ref), 7), m.runtime)\n"
            "print('torch-after', 'torch' in sys.modules)\n")
    first = _python(code, tmp_path).splitlines()
    assert first[0] == "torch-at-import False"
    assert first[2] == "torch-after True"  # the first process exports the graph (torch builds it)
    graphs = list((tmp_path / "srcore" / "lpips").glob("st-alex-*.onnx"))
    assert len(graphs) == 1 and graphs[0].with_suffix(".npz").is_file()
    second = _python(code, tmp_path).splitlines()
    assert second[1] == first[1] and second[1].endswith("openvino")
    assert second[2] == "torch-after False"  # the next one scores from the cached graph, without torch


def test_torch_network_graph_cached_on_disk(tmp_path: Path) -> None:
    """``--backend openvino`` exports a network once per machine: the second process reads the file."""
    img = tmp_path / "in.png"
    cv2.imwrite(str(img), cv2.resize(skimage.data.astronaut(), (24, 24))[..., ::-1])
    cache = tmp_path / "cache"
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    outs = []
    for k in range(2):
        out = tmp_path / f"out{k}.png"
        proc = subprocess.run([sys.executable, "-m", "srcore", "upscale", str(img), "-m", "edsr", "-s", "4", "-o", str(out),
                               "--backend", "openvino"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        files = list((cache / "srcore" / "onnx").glob("torch-*.onnx"))
        assert len(files) == 1
        if k == 0:
            stamp = files[0].stat().st_mtime_ns
        else:
            assert files[0].stat().st_mtime_ns == stamp  # read, not written again
        outs.append(cv2.imread(str(out)))
    assert np.array_equal(outs[0], outs[1])


@pytest.mark.parametrize("h,w", [(21, 22), (64, 64), (65, 64), (64, 67), (97, 130)])
def test_fused_first_layer_equals_conv_then_blur(h: int, w: int) -> None:
    """ST-AlexNet's first layer in the graph (one 13x13 stride-2 conv, exact borders) gives the unfused features."""
    import torch

    from srcore.lpips import _build_st
    from srcore.lpips_nets import FeatureNet

    model = _build_st("alex").eval()
    x = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(h * w)) * 2 - 1
    with torch.no_grad():
        plain, fused = FeatureNet(model)(x), FeatureNet(model, (h % 2 == 0, w % 2 == 0))(x)
    for a, b in zip(plain, fused, strict=True):
        assert a.shape == b.shape and float((a - b).abs().max()) < 1e-5
