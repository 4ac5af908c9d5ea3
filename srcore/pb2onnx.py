"""Convert the ``dnn_superres`` TensorFlow graphs (stock zoo and ours) to ONNX, for OpenCV >= 5.1.

Why: OpenCV 5.1 removed the TensorFlow importer; its ``dnn_superres.readModel`` now reads ONNX
only. The graphs are small and use a handful of ops, so a direct GraphDef -> ONNX translation
(no TensorFlow, no tf2onnx: the GraphDef proto comes from tensorboard, which we already need)
keeps every ``dnn-*``/``espcn``/``fsrcnn`` row working there with the very same weights.

The layout contract was measured on OpenCV 5.1.0 (``python -m srcore methods`` README section):
for the Y-channel algorithms (espcn, fsrcnn, lapsrn) ``upsample`` feeds the luma plane as an
**NHWC** ``[1, H, W, 1]`` tensor and needs an **NCHW** ``[1, 1, sH, sW]`` result (an NCHW input or an
NHWC output ends in ``cv::merge``'s size assertion). That is exactly the stock graphs' own
signature (``IteratorGetNext`` NHWC in, ``NCHW_output`` out), so the translation keeps it:
internally tensors are NCHW, the input gets one Transpose, and the graph's final NHWC->NCHW
Transpose becomes the identity.

Supported ops: Placeholder, Const, Conv2D (NHWC, SAME/VALID), Add/AddV2, BiasAdd, Sub, Mul,
Relu, Abs, Tanh, DepthToSpace (NHWC; = ONNX DCR on NCHW), Transpose [0,3,1,2] (identity), Identity.
Anything else raises ``ValueError`` naming the op, never a silently wrong model.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np

from srcore.atomic import atomic_write
from srcore.paths import cache_dir

OPSET = 17
INPUT = "IteratorGetNext"
OUTPUT = "NCHW_output"


def _decode(tensor: object) -> np.ndarray:
    from tensorboard.compat.proto import types_pb2  # lazy: only OpenCV 5.1+ converts .pb graphs; tensorboard is slow to import

    dtype = {types_pb2.DT_FLOAT: np.float32, types_pb2.DT_INT32: np.int32}[tensor.dtype]  # type: ignore[attr-defined]
    shape = [d.size for d in tensor.tensor_shape.dim]  # type: ignore[attr-defined]
    if tensor.tensor_content:  # type: ignore[attr-defined]
        arr = np.frombuffer(tensor.tensor_content, dtype=dtype).copy()  # type: ignore[attr-defined]
    else:
        vals = tensor.float_val if dtype == np.float32 else tensor.int_val  # type: ignore[attr-defined]
        arr = np.array(vals, dtype=dtype)
        n = int(np.prod(shape)) if shape else 1
        arr = np.full(n, arr[0] if arr.size else 0, dtype=dtype) if arr.size != n else arr
    return arr.reshape(shape)


def _same_pads(k: tuple[int, int]) -> list[int]:
    """TF 'SAME' at stride 1: total k-1, the odd pixel at the bottom/right."""
    (kh, kw) = k
    return [(kh - 1) // 2, (kw - 1) // 2, kh - 1 - (kh - 1) // 2, kw - 1 - (kw - 1) // 2]


def pb_to_onnx(pb: bytes, output: str = OUTPUT) -> bytes:
    """Translate a frozen dnn_superres GraphDef (bytes) into an ONNX model (bytes) ending at ``output``."""
    import onnx  # lazy, like tensorboard: only needed on an OpenCV without the TF importer
    from onnx import TensorProto, helper, numpy_helper
    from tensorboard.compat.proto import graph_pb2

    graph = graph_pb2.GraphDef()
    graph.ParseFromString(pb)
    nodes = {n.name: n for n in graph.node}
    if output not in nodes:
        raise ValueError(f"the graph has no node {output!r}")

    def src(name: str) -> str:
        return name.split(":")[0].lstrip("^")

    needed: set[str] = set()
    stack = [output]
    while stack:
        name = stack.pop()
        if name not in needed:
            needed.add(name)
            stack.extend(src(i) for i in nodes[name].input)

    consts = {n.name: _decode(n.attr["value"].tensor) for n in graph.node if n.op == "Const" and n.name in needed}
    inits: list[onnx.TensorProto] = []
    out_nodes: list[onnx.NodeProto] = []
    in_channels = 1

    def const_input(name: str, arr: np.ndarray) -> str:
        """A Const as an NCHW-broadcastable initializer: scalars stay, (C,) -> (1,C,1,1), NHWC 4-D -> NCHW."""
        a = arr.astype(np.float32)
        if a.ndim == 1 and a.size > 1:
            a = a.reshape(1, -1, 1, 1)
        elif a.ndim == 1:
            a = a.reshape(())
        elif a.ndim == 4:
            a = a.transpose(0, 3, 1, 2)
        key = f"{name}__nchw"
        if all(i.name != key for i in inits):
            inits.append(numpy_helper.from_array(np.ascontiguousarray(a), key))
        return key

    def operand(name: str) -> str:
        n = src(name)
        return const_input(n, consts[n]) if n in consts else n

    for n in graph.node:
        if n.name not in needed or n.op == "Const":
            continue
        ins = [src(i) for i in n.input]
        if n.op == "Placeholder":
            out_nodes.append(helper.make_node("Transpose", ["input"], [n.name], perm=[0, 3, 1, 2]))
        elif n.op == "Conv2D":
            fmt = n.attr["data_format"].s or b"NHWC"
            strides = list(n.attr["strides"].list.i) or [1, 1, 1, 1]
            dil = list(n.attr["dilations"].list.i) or [1, 1, 1, 1]
            if fmt != b"NHWC" or dil != [1, 1, 1, 1]:
                raise ValueError(f"{n.name}: only NHWC, undilated Conv2D is supported")
            w = consts[ins[1]]  # HWIO
            if ins[0] == INPUT or nodes[ins[0]].op == "Placeholder":
                in_channels = int(w.shape[2])
            key = f"{ins[1]}__oihw"
            inits.append(numpy_helper.from_array(np.ascontiguousarray(w.transpose(3, 2, 0, 1).astype(np.float32)), key))
            pad = n.attr["padding"].s
            if pad == b"SAME" and strides[1:3] != [1, 1]:
                raise ValueError(f"{n.name}: SAME padding with stride {strides[1:3]} is not supported")
            pads = _same_pads((w.shape[0], w.shape[1])) if pad == b"SAME" else [0, 0, 0, 0]
            out_nodes.append(helper.make_node("Conv", [ins[0], key], [n.name], pads=pads, strides=strides[1:3],
                                              kernel_shape=[int(w.shape[0]), int(w.shape[1])]))
        elif n.op in ("Add", "AddV2", "BiasAdd", "Sub", "Mul"):
            onnx_op = {"AddV2": "Add", "BiasAdd": "Add"}.get(n.op, n.op)
            out_nodes.append(helper.make_node(onnx_op, [operand(ins[0]), operand(ins[1])], [n.name]))
        elif n.op in ("Relu", "Abs", "Tanh", "Identity"):
            out_nodes.append(helper.make_node(n.op, [ins[0]], [n.name]))
        elif n.op == "DepthToSpace":
            if (n.attr["data_format"].s or b"NHWC") != b"NHWC":
                raise ValueError(f"{n.name}: only NHWC DepthToSpace is supported")
            out_nodes.append(helper.make_node("DepthToSpace", [ins[0]], [n.name], blocksize=int(n.attr["block_size"].i), mode="DCR"))
        elif n.op == "Transpose":
            perm = consts[ins[1]].tolist()
            if perm != [0, 3, 1, 2]:
                raise ValueError(f"{n.name}: only the final NHWC->NCHW Transpose is supported, got perm {perm}")
            out_nodes.append(helper.make_node("Identity", [ins[0]], [n.name]))  # tensors are NCHW already
        else:
            raise ValueError(f"{n.name}: TensorFlow op {n.op} is not supported by the converter")
    out_nodes.append(helper.make_node("Identity", [output], ["output"]))
    g = helper.make_graph(
        out_nodes, "dnn_superres",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, "height", "width", in_channels])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, in_channels, "out_height", "out_width"])],
        inits,
    )
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="srcore.pb2onnx")
    model.ir_version = 8  # readable by OpenCV 5.1 and older onnxruntime builds
    onnx.checker.check_model(model)
    return model.SerializeToString()


def onnx_for_pb(pb_path: Path) -> Path:
    """The ONNX twin of ``pb_path``, converted once into the user cache (keyed by the .pb's SHA-256)."""
    data = pb_path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()[:16]
    out = cache_dir() / "onnx" / f"{pb_path.stem}-{digest}.onnx"
    if not out.is_file():
        # a unique temporary name per writer (processes may convert the same graph at once), then an atomic rename
        atomic_write(out, pb_to_onnx(data))
    return out


def opencv_reads_pb() -> bool:
    """Whether this OpenCV still has the TensorFlow importer (5.0 and older; 5.1 removed it)."""
    return hasattr(cv2.dnn, "readNetFromTensorflow")


def dnn_superres_file(pb_path: Path) -> Path:
    """The file ``cv2.dnn_superres.readModel`` should get for ``pb_path`` on this OpenCV: the ``.pb``
    itself where the TF importer exists, else its ONNX twin (converted once, cached)."""
    return pb_path if opencv_reads_pb() else onnx_for_pb(pb_path)
