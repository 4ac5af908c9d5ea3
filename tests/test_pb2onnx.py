"""The dnn_superres graphs as ONNX (``srcore.pb2onnx``), and every OpenCV row on *this* OpenCV.

OpenCV 5.1 removed the TensorFlow importer; its ``dnn_superres`` reads ONNX, so the ``dnn-*``,
``espcn`` and ``fsrcnn`` rows run from translated graphs there. What is checked:

* every graph we ship and every stock zoo graph translates, and the ONNX network computes what
  OpenCV's own TF import of the ``.pb`` computes (OpenCV <= 5.0, where that import exists);
* on whatever OpenCV is installed (CI installs the newest), each available row's output equals an
  independent reference - the ONNX twin run by onnxruntime inside dnn_superres' documented Y/CrCb
  pre/post-processing - within 2/255 (rounding, see below). On 5.0 that proves the translation, on 5.1+ the 5.1 path.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort  # a requirement: missing, these tests fail instead of skipping
import pytest

from srcore.pb2onnx import onnx_for_pb, opencv_reads_pb, pb_to_onnx

REPO = Path(__file__).resolve().parents[1]
ZOO = REPO.parent / "shared" / "models" / "opencv"
OURS = sorted((REPO / "assets").glob("*.pb"))
STOCK = sorted(ZOO.glob("*.pb")) if ZOO.is_dir() else []


def _ort(model: bytes | Path, y_nhwc: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(model if isinstance(model, bytes) else str(model), providers=["CPUExecutionProvider"])
    return sess.run(None, {"input": y_nhwc})[0]


@pytest.mark.skipif(not opencv_reads_pb(), reason=f"OpenCV {cv2.__version__} has no TF importer to compare against")
@pytest.mark.parametrize("pb", OURS + STOCK, ids=lambda p: p.stem)
def test_translation_computes_what_opencv_tf_import_computes(pb: Path) -> None:
    y = np.random.default_rng(0).random((1, 1, 19, 13), dtype=np.float32)
    cv2.dnn_superres.DnnSuperResImpl_create()  # registers dnn_superres' DepthToSpace for the TF importer
    net = cv2.dnn.readNetFromTensorflow(str(pb))
    net.setInput(y)
    ref = net.forward()
    out = _ort(pb_to_onnx(pb.read_bytes()), np.ascontiguousarray(y.transpose(0, 2, 3, 1)))
    assert out.shape == ref.shape and np.abs(out - ref).max() < 1e-4


def test_translation_refuses_unknown_ops() -> None:
    from tensorboard.compat.proto import graph_pb2, node_def_pb2

    g = graph_pb2.GraphDef()
    g.node.extend([node_def_pb2.NodeDef(op="Placeholder", name="IteratorGetNext"),
                   node_def_pb2.NodeDef(op="Sigmoid", name="NCHW_output", input=["IteratorGetNext"])])
    with pytest.raises(ValueError, match="op Sigmoid is not supported"):
        pb_to_onnx(g.SerializeToString())
    with pytest.raises(ValueError, match="no node"):
        pb_to_onnx(g.SerializeToString(), output="missing")


def _reference(pb: Path, bgr: np.ndarray, scale: int) -> np.ndarray:
    """dnn_superres' Y-channel path (preprocess_YCrCb / reconstruct_YCrCb) around the ONNX twin, in numpy."""
    ycc = cv2.cvtColor(bgr, cv2.COLOR_BGR2YCrCb).astype(np.float32) / 255.0
    y = _ort(onnx_for_pb(pb), np.ascontiguousarray(ycc[None, :, :, :1]))[0, 0]
    cr, cb = (cv2.resize(ycc[..., c], None, fx=scale, fy=scale) for c in (1, 2))
    merged = np.clip(np.rint(np.dstack([y, cr, cb]) * 255.0), 0, 255).astype(np.uint8)
    return cv2.cvtColor(merged, cv2.COLOR_YCrCb2BGR)


@pytest.mark.parametrize("mid", ["espcn", "fsrcnn", "dnn-espcn", "dnn-fsrcnn", "dnn-fsrcnn-small", "dnn-lapsrn"])
def test_every_opencv_row_runs_on_this_opencv(mid: str, opencv_models_dir: Path, astronaut: np.ndarray) -> None:
    from srcore.registry import get_method

    m = get_method(mid)
    scales = m.available_scales()
    assert scales, m.availability().reason  # shipped (espcn, fsrcnn) or in ../shared (the fixture skips without it)
    rgb = np.ascontiguousarray(astronaut[200:229, 180:201])
    for s in scales:
        out = m.upscale(rgb, s, tile=0)
        ref = _reference(m.model_path(s), np.ascontiguousarray(rgb[..., ::-1]), s)[..., ::-1]
        diff = np.abs(out.astype(int) - ref.astype(int))
        # A float Y one ulp either side of a .5 rounds to a different 8-bit Y, and the 8-bit YCrCb->BGR
        # conversion can add one more step: 2/255 at a few pixels; a wrong layout or weight is far off.
        assert diff.max() <= 2 and diff.mean() < 0.05, f"{mid} x{s} on OpenCV {cv2.__version__}: max {diff.max()}, mean {diff.mean():.3f}"
