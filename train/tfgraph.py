"""Export ESPCN/FSRCNN to the TensorFlow frozen ``.pb`` layout that OpenCV ``dnn_superres`` loads.

``cv2.dnn_superres.DnnSuperResImpl`` only reads TensorFlow GraphDefs for ``espcn``/``fsrcnn``, and its
TF importer understands a narrow set of op patterns. The safest way to be read correctly is to write
exactly the graphs the stock ``ESPCN_x*.pb`` / ``FSRCNN_x*.pb`` files contain (same node names, ops,
attributes and even node order), only with our weights. The GraphDef is assembled from the protobuf
messages vendored in ``tensorboard`` so exporting needs no TensorFlow install.

Layouts (NHWC throughout, as in the stock files):

* ESPCN: ``IteratorGetNext`` -> (Conv2D ``convK`` -> Add ``bK`` -> Relu) x2 -> Conv2D -> Add ->
  DepthToSpace -> Tanh ``NHWC_output`` -> Transpose ``NCHW_output``.
* FSRCNN: (Conv2D -> Add -> PReLU as ``Relu(x) + alpha * (x - Abs(x)) * 0.5``) per feature layer ->
  Conv2D without bias -> DepthToSpace -> BiasAdd ``NHWC_output`` (scalar ``bN``) -> Transpose.

``load_pb_weights`` / ``torch_state_from_pb`` go the other way; the tests use them to run the stock
files through our torch definitions and check that both agree with OpenCV.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from tensorboard.compat.proto import (
    attr_value_pb2,
    graph_pb2,
    node_def_pb2,
    tensor_pb2,
    tensor_shape_pb2,
    types_pb2,
)
from torch import nn

from srcore.atomic import atomic_write
from srcore.models.espcn import ESPCN
from srcore.models.fsrcnn import FSRCNN

#: Name of the input placeholder in the stock graphs (a leftover of their tf.data pipelines).
INPUT_NAME = "IteratorGetNext"
#: OpenCV runs the graph up to its last node; the stock files end with this NHWC->NCHW transpose.
OUTPUT_NAME = "NCHW_output"

#: dnn_superres' own DepthToSpace layer infers the block size from the channel count and only knows
#: 4/9/16 channels (one image channel); any other scale would run with a wrong shape and fail in OpenCV.
OPENCV_SCALES = (2, 3, 4)

_NP_TO_TF = {np.dtype(np.float32): types_pb2.DT_FLOAT, np.dtype(np.int32): types_pb2.DT_INT32}
_TF_TO_NP = {v: k for k, v in _NP_TO_TF.items()}


# --------------------------------------------------------------------------- protobuf helpers


def _tensor_proto(array: np.ndarray) -> tensor_pb2.TensorProto:
    """Encode ``array`` the way TF's freezer does: one-element float tensors in ``float_val``, else raw bytes.

    Mirroring this matters little to OpenCV (it reads both), but keeps our files byte-for-byte
    comparable in structure with the stock ones.
    """
    dtype = np.dtype(array.dtype)
    proto = tensor_pb2.TensorProto(dtype=_NP_TO_TF[dtype])
    proto.tensor_shape.CopyFrom(
        tensor_shape_pb2.TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=s) for s in array.shape])
    )
    if dtype == np.float32 and array.size == 1:
        proto.float_val.append(float(array.reshape(-1)[0]))
    else:
        proto.tensor_content = np.ascontiguousarray(array, dtype=dtype.newbyteorder("<")).tobytes()
    return proto


def _decode_tensor(proto: tensor_pb2.TensorProto) -> np.ndarray:
    """Inverse of ``_tensor_proto`` for the float/int32 Consts of the stock graphs (TF's value-repeat rule included)."""
    dtype = _TF_TO_NP.get(proto.dtype)
    if dtype is None:
        raise ValueError(f"unsupported tensor dtype {types_pb2.DataType.Name(proto.dtype)}")
    shape = tuple(d.size for d in proto.tensor_shape.dim)
    if proto.tensor_content:
        return np.frombuffer(proto.tensor_content, dtype=dtype.newbyteorder("<")).astype(dtype).reshape(shape)
    values = np.asarray(proto.float_val if dtype == np.float32 else proto.int_val, dtype=dtype)
    count = math.prod(shape)
    if values.size == count:
        return values.reshape(shape)
    if values.size == 0:
        return np.zeros(shape, dtype)
    # TF stores a tensor whose trailing values repeat with the repeats elided.
    return np.concatenate([values, np.full(count - values.size, values[-1], dtype)]).reshape(shape)


def _type_attr(dtype: int = types_pb2.DT_FLOAT) -> attr_value_pb2.AttrValue:
    return attr_value_pb2.AttrValue(type=dtype)


def _ints_attr(values: Sequence[int]) -> attr_value_pb2.AttrValue:
    return attr_value_pb2.AttrValue(list=attr_value_pb2.AttrValue.ListValue(i=list(values)))


def _node(op: str, name: str, inputs: Sequence[str] = (), **attrs: attr_value_pb2.AttrValue) -> node_def_pb2.NodeDef:
    node = node_def_pb2.NodeDef(op=op, name=name, input=list(inputs))
    for key, value in attrs.items():
        node.attr[key].CopyFrom(value)
    return node


def _const(name: str, array: np.ndarray) -> node_def_pb2.NodeDef:
    tensor = _tensor_proto(array)
    return _node("Const", name, dtype=_type_attr(tensor.dtype), value=attr_value_pb2.AttrValue(tensor=tensor))


class _GraphBuilder:
    """Collects Consts and compute nodes separately, naming ops like TF's default name scope (``add``, ``add_1``).

    The stock files list every Const first (in the freezer's order) and the compute nodes after them
    in topological order; keeping the two lists apart lets us reproduce that.
    """

    def __init__(self) -> None:
        self.consts: dict[str, node_def_pb2.NodeDef] = {}
        self.ops: list[node_def_pb2.NodeDef] = []
        self._counts: defaultdict[str, int] = defaultdict(int)

    def unique(self, base: str) -> str:
        count = self._counts[base]
        self._counts[base] += 1
        return base if count == 0 else f"{base}_{count}"

    def const(self, name: str, array: np.ndarray) -> str:
        self.consts[name] = _const(name, array)
        return name

    def op(self, op: str, inputs: Sequence[str], name: str | None = None, **attrs: attr_value_pb2.AttrValue) -> str:
        name = name or self.unique(op.lower() if op in ("Add", "Sub", "Mul") else op)
        self.ops.append(_node(op, name, inputs, T=_type_attr(), **attrs))
        return name

    def conv(self, x: str, name: str, filt: str) -> str:
        """Conv2D exactly as the stock files declare it (NHWC, SAME, unit strides/dilations)."""
        return self.op(
            "Conv2D",
            [x, filt],
            name=name,
            data_format=attr_value_pb2.AttrValue(s=b"NHWC"),
            padding=attr_value_pb2.AttrValue(s=b"SAME"),
            strides=_ints_attr([1, 1, 1, 1]),
            dilations=_ints_attr([1, 1, 1, 1]),
            use_cudnn_on_gpu=attr_value_pb2.AttrValue(b=True),
        )

    def head(self, x: str, scale: int) -> str:
        return self.op(
            "DepthToSpace",
            [x],
            name="DepthToSpace",
            block_size=attr_value_pb2.AttrValue(i=scale),
            data_format=attr_value_pb2.AttrValue(s=b"NHWC"),
        )

    def finish(self, nhwc_output: str, const_order: Sequence[str]) -> graph_pb2.GraphDef:
        """Append the NHWC->NCHW transpose OpenCV expects and return Consts (in ``const_order``) + ops."""
        assert nhwc_output == "NHWC_output"
        self.const("NCHW_output/perm", np.array([0, 3, 1, 2], np.int32))
        self.op("Transpose", [nhwc_output, "NCHW_output/perm"], name=OUTPUT_NAME, Tperm=_type_attr(types_pb2.DT_INT32))
        order = ["NCHW_output/perm", *const_order]
        assert sorted(order) == sorted(self.consts), "const_order must list every Const exactly once"
        graph = graph_pb2.GraphDef()
        graph.node.extend([self.consts[n] for n in order])
        graph.node.append(_node("Placeholder", INPUT_NAME, dtype=_type_attr()))
        graph.node.extend(self.ops)
        return graph


# --------------------------------------------------------------------------- torch -> GraphDef


def _hwio(conv: nn.Conv2d) -> np.ndarray:
    """Torch OIHW conv weight as TF's HWIO, after checking the conv means the same as TF's ``SAME`` padding."""
    kh, kw = conv.kernel_size
    if (
        kh % 2 == 0
        or kw % 2 == 0
        or tuple(conv.padding) != (kh // 2, kw // 2)
        or tuple(conv.stride) != (1, 1)
        or tuple(conv.dilation) != (1, 1)
        or conv.groups != 1
        or conv.padding_mode != "zeros"
    ):
        raise ValueError(f"only odd, unit-stride, zero-'same'-padded convs map onto TF Conv2D/SAME, got {conv}")
    return _np(conv.weight).transpose(2, 3, 1, 0)


def _np(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().to("cpu", torch.float32).numpy())


def _espcn_graph(model: ESPCN) -> graph_pb2.GraphDef:
    g = _GraphBuilder()
    x = INPUT_NAME
    convs = [model.conv1, model.conv2, model.conv3]
    for i, conv in enumerate(convs, start=1):
        x = g.conv(x, f"conv{i}", g.const(f"f{i}", _hwio(conv)))
        x = g.op("Add", [x, g.const(f"b{i}", _np(conv.bias))])
        if i < len(convs):
            x = g.op("Relu", [x])
    x = g.head(x, model.scale)
    x = g.op("Tanh", [x], name="NHWC_output")
    return g.finish(x, ["b3", "b2", "b1", "f3", "f2", "f1"])


def _fsrcnn_graph(model: FSRCNN) -> graph_pb2.GraphDef:
    g = _GraphBuilder()
    x = INPUT_NAME
    layers = list(model.features)
    pairs = list(zip(layers[0::2], layers[1::2], strict=True))
    for i, (conv, prelu) in enumerate(pairs, start=1):
        if not (isinstance(conv, nn.Conv2d) and isinstance(prelu, nn.PReLU) and conv.bias is not None):
            raise ValueError(f"FSRCNN.features must alternate biased Conv2d and PReLU, got {conv} / {prelu}")
        x = g.conv(x, f"conv{i}", g.const(f"f{i}", _hwio(conv)))
        x = g.op("Add", [x, g.const(f"b{i}", _np(conv.bias))])
        # PReLU spelled as in the stock graphs: Relu(x) + alpha * (x - |x|) * 0.5.
        alpha = np.ascontiguousarray(np.broadcast_to(_np(prelu.weight), (conv.out_channels,)))
        neg = g.op("Sub", [x, g.op("Abs", [x])])
        neg = g.op("Mul", [g.const(f"alpha{i}", alpha), neg])
        half = g.unique("mul")
        g.const(f"{half}/y", np.array(0.5, np.float32))
        neg = g.op("Mul", [neg, f"{half}/y"], name=half)
        x = g.op("Add", [g.op("Relu", [x]), neg])
    last = len(pairs) + 1
    x = g.conv(x, f"conv{last}", g.const(f"f{last}", _hwio(model.upconv)))
    x = g.head(x, model.scale)
    bias = g.const(f"b{last}", _np(model.out_bias).reshape(1))
    x = g.op("BiasAdd", [x, bias], name="NHWC_output", data_format=attr_value_pb2.AttrValue(s=b"NHWC"))

    # The freezer's order in the stock files: PReLU constants from the last layer down, then the
    # 3x3 mapping layers' b/f from the last down, then the remaining b's and f's, last layer first.
    order: list[str] = []
    for i in range(last - 1, 0, -1):
        order += [f"mul_{2 * i - 1}/y", f"alpha{i}"]
    for i in range(last - 2, 2, -1):
        order += [f"b{i}", f"f{i}"]
    rest = [last, last - 1, 2, 1]
    order += [f"b{i}" for i in rest] + [f"f{i}" for i in rest]
    return g.finish(x, order)


def _unwrap(model: nn.Module) -> nn.Module:
    """Strip DDP (``.module``) and ``torch.compile`` (``._orig_mod``) wrappers so callers can pass what they train."""
    while True:
        for attr in ("_orig_mod", "module"):
            inner = getattr(model, attr, None)
            if isinstance(inner, nn.Module):
                model = inner
                break
        else:
            return model


def build_graph(model: nn.Module) -> graph_pb2.GraphDef:
    """Build the frozen GraphDef for an ESPCN/FSRCNN instance (layout in the module docstring)."""
    model = _unwrap(model)
    if isinstance(model, ESPCN | FSRCNN) and model.scale not in OPENCV_SCALES:
        raise ValueError(f"OpenCV dnn_superres runs DepthToSpace only for scales {OPENCV_SCALES}, got x{model.scale}")
    if isinstance(model, ESPCN):
        return _espcn_graph(model)
    if isinstance(model, FSRCNN):
        return _fsrcnn_graph(model)
    raise ValueError(f"only ESPCN and FSRCNN can be exported to OpenCV .pb, got {type(model).__name__}")


def export_pb(model: torch.nn.Module, path: Path | str) -> Path:
    """Write ``model`` as a frozen TF ``.pb`` for ``cv2.dnn_superres`` (``setModel("espcn"|"fsrcnn", scale)``).

    The file is written to a temporary sibling, fsync'ed and renamed, so a crash never leaves a
    truncated ``.pb`` that OpenCV would fail to parse later. Raises ``ValueError`` for other archs.
    """
    data = build_graph(model).SerializeToString()
    return atomic_write(path, data)


# --------------------------------------------------------------------------- GraphDef -> torch


def read_graph(path: Path | str) -> graph_pb2.GraphDef:
    """Parse a frozen ``.pb``; uses tensorboard's copy of the GraphDef proto so no TensorFlow is needed."""
    graph = graph_pb2.GraphDef()
    graph.ParseFromString(Path(path).read_bytes())
    return graph


def load_pb_weights(path: Path | str) -> dict[str, np.ndarray]:
    """Every Const of a frozen ``.pb`` by node name (``f1``, ``b1``, ``alpha1`` ...), HWIO filters as stored."""
    return {n.name: _decode_tensor(n.attr["value"].tensor) for n in read_graph(path).node if n.op == "Const"}


def _oihw(hwio: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(hwio.transpose(3, 2, 0, 1)))


def torch_state_from_pb(arch: str, path: Path | str) -> dict[str, torch.Tensor]:
    """Map a stock (or our exported) ESPCN/FSRCNN ``.pb`` onto our modules' ``state_dict`` keys.

    Lets us run OpenCV's published weights through the torch definitions, which is how the tests
    prove those definitions compute what OpenCV computes (and gives a pretrained starting point).
    """
    w = load_pb_weights(path)
    state: dict[str, torch.Tensor] = {}
    if arch == "espcn":
        for i in (1, 2, 3):
            state[f"conv{i}.weight"] = _oihw(w[f"f{i}"])
            state[f"conv{i}.bias"] = torch.from_numpy(w[f"b{i}"].copy())
        return state
    if arch == "fsrcnn":
        last = max(int(k[1:]) for k in w if k[0] == "f" and k[1:].isdigit())
        for i in range(1, last):
            state[f"features.{2 * (i - 1)}.weight"] = _oihw(w[f"f{i}"])
            state[f"features.{2 * (i - 1)}.bias"] = torch.from_numpy(w[f"b{i}"].copy())
            state[f"features.{2 * (i - 1) + 1}.weight"] = torch.from_numpy(w[f"alpha{i}"].copy())
        state["upconv.weight"] = _oihw(w[f"f{last}"])
        state["out_bias"] = torch.from_numpy(w[f"b{last}"].reshape(1).copy())
        return state
    raise ValueError(f"only 'espcn' and 'fsrcnn' .pb files can be mapped, got {arch!r}")


__all__ = [
    "INPUT_NAME",
    "OPENCV_SCALES",
    "OUTPUT_NAME",
    "build_graph",
    "export_pb",
    "load_pb_weights",
    "read_graph",
    "torch_state_from_pb",
]
