"""``train.tfgraph``: our ESPCN/FSRCNN exported to ``.pb`` must run in real OpenCV exactly as in torch.

No mocks: every check loads the file with ``cv2.dnn`` / ``cv2.dnn_superres``, because OpenCV's TF
importer (layout conversion, DepthToSpace, the spelled-out PReLU) is precisely what could go wrong.
The stock OpenCV model files, when present, pin both our graph layout and our torch semantics.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import skimage.data
import torch
from torch import nn

from srcore.models import ESPCN, FSRCNN
from srcore.models.luma import luma_upscale
from srcore.pb2onnx import dnn_superres_file, onnx_for_pb, opencv_reads_pb
from train.tfgraph import export_pb, load_pb_weights, read_graph, torch_state_from_pb

STOCK = Path(__file__).resolve().parents[1].parent / "shared" / "models" / "opencv"
needs_stock = pytest.mark.skipif(not STOCK.is_dir(), reason=f"stock OpenCV models not found at {STOCK}")

#: Output tolerance in 8-bit levels: OpenCV quantises Y/Cr/Cb to uint8 before YCrCb->BGR, luma_upscale does not.
TOL = 2


@pytest.fixture(scope="module")
def rgb() -> np.ndarray:
    """A real photo crop, 48 rows x 64 columns: non-square so any H/W or NHWC/NCHW mix-up changes the result."""
    return np.ascontiguousarray(skimage.data.astronaut()[100:148, 200:264])


def _luma(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)[..., 0].astype(np.float32) / 255.0


def _calibrate(model: nn.Module, y: np.ndarray) -> None:
    """Rescale the last conv so the network's output on ``y`` spans mid-range values.

    Freshly initialised nets output a near-constant (FSRCNN's upconv starts at std 1e-3), which
    would let a wrong pixel order or padding pass unnoticed; a spread-out output cannot.
    """
    last = model.conv3 if isinstance(model, ESPCN) else model.upconv
    captured: list[torch.Tensor] = []
    handle = last.register_forward_hook(lambda _m, _i, out: captured.append(out))
    with torch.no_grad():
        model(torch.from_numpy(y)[None, None])
        handle.remove()
        pre = captured[0]
        gain = 0.3 / pre.std()
        last.weight.mul_(gain)
        target = 0.5 - pre.mean() * gain  # tanh(0.5 +- 0.3) or 0.5 +- 0.3 after the scalar bias
        if isinstance(model, ESPCN):
            model.conv3.bias.mul_(gain).add_(target)
        else:
            model.out_bias.fill_(float(target))


def _make_model(arch: str, scale: int, last_kernel: int, y: np.ndarray) -> nn.Module:
    torch.manual_seed(1000 * scale + last_kernel)
    if arch == "espcn":
        model: nn.Module = ESPCN(scale=scale)
    else:
        model = FSRCNN(scale=scale, last_kernel=last_kernel)
        with torch.no_grad():
            for mod in model.features:
                if isinstance(mod, nn.PReLU):
                    mod.weight.uniform_(0.0, 0.5)
            for conv in [m for m in model.features if isinstance(m, nn.Conv2d)]:
                conv.bias.uniform_(-0.1, 0.1)
            nn.init.normal_(model.upconv.weight, std=0.1)
    _calibrate(model.eval(), y)
    return model


def _opencv_upsample(pb: Path, algo: str, scale: int, rgb: np.ndarray) -> np.ndarray:
    sr = cv2.dnn_superres.DnnSuperResImpl_create()
    sr.readModel(str(dnn_superres_file(pb)))  # OpenCV 5.1+: the .pb's ONNX twin
    sr.setModel(algo, scale)
    return np.ascontiguousarray(sr.upsample(np.ascontiguousarray(rgb[..., ::-1]))[..., ::-1])


def _opencv_net(pb: Path, y: np.ndarray) -> np.ndarray:
    """The bare network through ``cv2.dnn``: OpenCV's TF importer takes and returns NCHW blobs.

    OpenCV 5's built-in DepthToSpace layer rejects TF's ``block_size`` attribute; creating a
    ``DnnSuperResImpl`` registers dnn_superres' own DepthToSpace layer (process-wide), which works.
    """
    cv2.dnn_superres.DnnSuperResImpl_create()
    if not opencv_reads_pb():  # OpenCV 5.1+ has no TF importer: its ONNX twin (NHWC in, NCHW out, as the .pb)
        net = cv2.dnn.readNetFromONNX(str(onnx_for_pb(pb)))
        net.setInput(np.ascontiguousarray(y[None, :, :, None]))
        return net.forward()[0, 0]
    net = cv2.dnn.readNetFromTensorflow(str(pb))
    net.setInput(y[None, None])
    return net.forward()[0, 0]


def _torch_net(model: nn.Module, y: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(y)[None, None])[0, 0].numpy()


def _assert_matches_opencv(model: nn.Module, pb: Path, algo: str, rgb: np.ndarray) -> None:
    """The bare network to float precision, then ``upsample`` against ``luma_upscale`` to ``TOL`` levels.

    The end-to-end comparison uses the grey version of the crop (same texture, neutral chroma):
    ``luma_upscale`` deviates from OpenCV on coloured pixels (see ``test_luma_upscale_rgb_matches_opencv``),
    and that must not hide or fake an export problem, which is all about the Y channel.
    """
    scale = model.scale
    y = _luma(rgb)
    ours = _torch_net(model, y)
    assert ours.shape == (48 * scale, 64 * scale)
    assert ours.std() > 0.05, "test model output is near-constant; the comparison would prove little"
    np.testing.assert_allclose(_opencv_net(pb, y), ours, atol=1e-4, rtol=0)

    grey = np.repeat(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    cv_rgb = _opencv_upsample(pb, algo, scale, grey)
    torch_rgb = luma_upscale(model, grey, scale)
    assert cv_rgb.shape == torch_rgb.shape == (48 * scale, 64 * scale, 3)
    assert np.abs(cv_rgb.astype(int) - torch_rgb).max() <= TOL


CASES = [("espcn", s, 0) for s in (2, 3, 4)] + [("fsrcnn", s, k) for s in (2, 3, 4) for k in (1, 3)]


@pytest.mark.parametrize(("arch", "scale", "last_kernel"), CASES, ids=[f"{a}-x{s}-k{k}" for a, s, k in CASES])
def test_exported_pb_runs_in_opencv_like_torch(
    arch: str, scale: int, last_kernel: int, rgb: np.ndarray, tmp_path: Path
) -> None:
    """Every scale and final-kernel size we train must survive export: a silent mismatch would ship bad .pb files."""
    model = _make_model(arch, scale, last_kernel, _luma(rgb))
    pb = export_pb(model, tmp_path / "model.pb")
    assert pb == tmp_path / "model.pb"
    assert [p.name for p in tmp_path.iterdir()] == ["model.pb"], "temporary file left behind"
    _assert_matches_opencv(model, pb, arch, rgb)


def test_export_rejects_other_archs(tmp_path: Path) -> None:
    """EDSR & co. have no stock dnn_superres layout; exporting them must fail loudly and write nothing."""
    with pytest.raises(ValueError, match="ESPCN and FSRCNN"):
        export_pb(nn.Conv2d(1, 1, 3), tmp_path / "x.pb")
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("model", [ESPCN(scale=8), FSRCNN(scale=5)], ids=["espcn-x8", "fsrcnn-x5"])
def test_export_rejects_scales_opencv_cannot_run(model: nn.Module, tmp_path: Path) -> None:
    """dnn_superres' DepthToSpace only infers block sizes 2-4, so such a .pb would fail inside OpenCV later."""
    with pytest.raises(ValueError, match="scales"):
        export_pb(model, tmp_path / "x.pb")
    assert not any(tmp_path.iterdir())


def _layout(path: Path) -> list[tuple[str, str, list[str]]]:
    return [(n.op, n.name, list(n.input)) for n in read_graph(path).node]


STOCK_MODELS = {
    "ESPCN_x4.pb": ("espcn", lambda: ESPCN(scale=4)),
    "ESPCN_x2.pb": ("espcn", lambda: ESPCN(scale=2)),
    "FSRCNN_x4.pb": ("fsrcnn", lambda: FSRCNN(scale=4, d=56, s=12, m=4, last_kernel=1)),
    "FSRCNN-small_x3.pb": ("fsrcnn", lambda: FSRCNN(scale=3, d=32, s=5, m=1, last_kernel=1)),
}


LAYOUT_CASES = [("ESPCN_x4.pb", 0), ("FSRCNN_x4.pb", 1), ("FSRCNN_x4.pb", 3), ("FSRCNN-small_x3.pb", 3)]


@needs_stock
@pytest.mark.parametrize(("stock", "last_kernel"), LAYOUT_CASES, ids=[f"{s}-k{k}" for s, k in LAYOUT_CASES])
def test_graph_layout_matches_stock(stock: str, last_kernel: int, tmp_path: Path) -> None:
    """Same nodes, ops, inputs, order and non-Const attributes as the stock file (only weights differ).

    FSRCNN with ``last_kernel=3`` must keep the stock layout too: only ``f8``'s shape changes.
    """
    arch, make = STOCK_MODELS[stock]
    model = make()
    if arch == "fsrcnn":
        model = FSRCNN(**{**model.config, "last_kernel": last_kernel})
    pb = export_pb(model, tmp_path / stock)
    assert _layout(pb) == _layout(STOCK / stock)
    for ours, theirs in zip(read_graph(pb).node, read_graph(STOCK / stock).node, strict=True):
        if ours.op != "Const":
            assert dict(ours.attr) == dict(theirs.attr), ours.name


@needs_stock
@pytest.mark.parametrize("stock", list(STOCK_MODELS))
def test_stock_weights_in_torch_match_opencv(stock: str, rgb: np.ndarray, tmp_path: Path) -> None:
    """OpenCV's published weights run through our torch definitions give OpenCV's output.

    This is what shows the torch models (padding, pixel_shuffle order, PReLU, tanh, bias placement)
    compute what OpenCV computes; re-exporting them must reproduce the stock weights bit for bit.
    """
    arch, make = STOCK_MODELS[stock]
    model = make().eval()
    model.load_state_dict(torch_state_from_pb(arch, STOCK / stock))
    _assert_matches_opencv(model, STOCK / stock, arch, rgb)

    exported = load_pb_weights(export_pb(model, tmp_path / stock))
    original = load_pb_weights(STOCK / stock)
    assert exported.keys() == original.keys()
    for name, value in original.items():
        np.testing.assert_array_equal(exported[name], value, err_msg=name)
        assert exported[name].dtype == value.dtype


@needs_stock
def test_luma_upscale_rgb_matches_opencv(rgb: np.ndarray) -> None:
    """Documents a known gap in ``luma_upscale`` on colour images; strict, so fixing luma.py flags this marker."""
    model = ESPCN(scale=4).eval()
    model.load_state_dict(torch_state_from_pb("espcn", STOCK / "ESPCN_x4.pb"))
    cv_rgb = _opencv_upsample(STOCK / "ESPCN_x4.pb", "espcn", 4, rgb).astype(int)
    assert np.abs(cv_rgb - luma_upscale(model, rgb, 4)).max() <= TOL
