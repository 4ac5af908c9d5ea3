"""A torch SR network written as an ncnn model (``.param`` text + ``.bin`` bytes): the reverse of :mod:`ncnn_graph`.

Why: ``--backend ncnn`` runs Real-ESRGAN and Real-CUGAN on ncnn's own engine, the one their authors ship.
A speed comparison "on the same backend" means our networks must run on that engine too, not on torch
under it. The graph is read with ``torch.fx`` (so the network's own ``forward`` is the single source of
truth) and each node becomes the ncnn layer ncnn's converters would write for it, with their usual
folds: a convolution absorbs the (leaky) ReLU that alone consumes it, a sum of scaled tensors is one
``Eltwise`` with coefficients (RRDB's ``x + 0.2 * y``, the strength dial's ``(1 - a) * p + a * g``), and
a blob read by several layers goes through a ``Split`` (ncnn gives each blob one consumer).

What it covers: convolutions (any kernel, stride, dilation, zero padding, no groups), (leaky) ReLU,
PReLU, concatenation over channels, sums, products and quotients by constants, nearest / bilinear
resizing by a factor, pixel shuffle -- every layer of EDSR, RRDBNet and the dial's output blend. Anything
else raises :class:`NcnnWriteError` naming the node, and the backend then runs that network on torch.
Weights are written as plain fp32 (the ``0`` tag), so the file holds exactly the module's numbers.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import fx, nn

from srcore.errors import MethodError

INPUT, OUTPUT = "data", "output"


class NcnnWriteError(MethodError):
    """The network has a layer the ncnn writer cannot express."""


@dataclass
class _Layer:
    type: str
    name: str
    bottoms: list[str]
    tops: list[str]
    params: dict[int, Any] = field(default_factory=dict)
    arrays: list[tuple[np.ndarray, bool]] = field(default_factory=list)  # (data, flagged) in .bin order


@dataclass(frozen=True)
class _Scaled:
    """``coeff * blob`` not yet written: folded into the sum that consumes it, else written as a multiply."""

    blob: str
    coeff: float


class _LeafTracer(fx.Tracer):
    """Keeps every torch layer (and subclasses such as EDSR's ``MeanShift`` convolution) as one node."""

    LEAVES = (nn.Conv2d, nn.ConvTranspose2d, nn.ReLU, nn.LeakyReLU, nn.PReLU, nn.PixelShuffle, nn.Identity)

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return isinstance(m, self.LEAVES) or super().is_leaf_module(m, qualname)


def _fmt(v: Any) -> str:
    return f"{v:e}" if isinstance(v, float) else str(int(v))


def _param_line(layer: _Layer) -> str:
    kv = []
    for k, v in layer.params.items():
        if isinstance(v, (list, tuple)):
            kv.append(f"{-23300 - k}={len(v)}," + ",".join(_fmt(float(x)) for x in v))
        else:
            kv.append(f"{k}={_fmt(v)}")
    return " ".join([f"{layer.type:<24} {layer.name:<24} {len(layer.bottoms)} {len(layer.tops)}", *layer.bottoms, *layer.tops, *kv])


class _Writer:
    def __init__(self, module: nn.Module) -> None:
        self.module = module
        try:
            self.graph = _LeafTracer().trace(module)
        except Exception as exc:  # data-dependent control flow, unsupported Python
            raise NcnnWriteError(f"cannot trace {type(module).__name__} for ncnn ({type(exc).__name__}: "
                                 f"{' '.join(str(exc).split())[:100]})") from None
        self.layers: list[_Layer] = [_Layer("Input", "input", [], [INPUT], {0: 0, 1: 0, 2: 3})]
        self.values: dict[fx.Node, Any] = {}
        self._n = 0

    # -- helpers ------------------------------------------------------------------------------

    def _add(self, type_: str, bottoms: list[str], params: dict[int, Any] | None = None,
             arrays: list[tuple[np.ndarray, bool]] | None = None) -> str:
        self._n += 1
        top = f"b{self._n}"
        layer = _Layer(type_, f"{type_.lower()}_{self._n}", bottoms, [top], params or {}, arrays or [])
        self.layers.append(layer)
        return top

    def _blob(self, v: Any, node: fx.Node) -> str:
        """A written blob for value ``v`` (a pending scale becomes a multiply layer)."""
        if isinstance(v, str):
            return v
        if isinstance(v, _Scaled):
            return v.blob if v.coeff == 1.0 else self._add("BinaryOp", [v.blob], {0: 2, 1: 1, 2: float(v.coeff)})
        raise NcnnWriteError(f"{node.name}: expected a feature map, got a constant {type(v).__name__}")

    def _arg(self, a: Any) -> Any:
        if isinstance(a, fx.Node):
            return self.values[a]
        if isinstance(a, (list, tuple)):
            return type(a)(self._arg(x) for x in a)
        return a

    @staticmethod
    def _const(v: Any) -> float | None:
        """``v`` as a Python number when it is a constant (a number or a one-element tensor), else None."""
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return float(v)
        if isinstance(v, torch.Tensor) and v.numel() == 1:
            return float(v.detach().reshape(()).item())
        return None

    @staticmethod
    def _no_aliasing(node: fx.Node, inplace: bool) -> None:
        """Refuse an in-place op whose input is read elsewhere: torch would change that reader's value too."""
        arg = node.args[0] if node.args else None
        if inplace and isinstance(arg, fx.Node) and len(arg.users) > 1:
            raise NcnnWriteError(f"{node.name}: an in-place operation on a value read elsewhere is not supported by the ncnn writer")

    def _activation(self, node: fx.Node, src: Any, slope: float, inplace: bool) -> str:
        """A (leaky) ReLU layer; :meth:`_fold_activations` later folds it into a convolution it alone reads."""
        self._no_aliasing(node, inplace)
        return self._add("ReLU", [self._blob(src, node)], {0: float(slope)} if slope else {})

    # -- the nodes ----------------------------------------------------------------------------

    def _module(self, node: fx.Node, m: nn.Module, x: Any) -> Any:
        if isinstance(m, nn.Identity):
            return x
        if isinstance(m, nn.Conv2d):
            return self._conv(node, m, self._blob(x, node))
        if isinstance(m, nn.ConvTranspose2d):
            return self._deconv(node, m, self._blob(x, node))
        if isinstance(m, nn.LeakyReLU):
            return self._activation(node, x, float(m.negative_slope), m.inplace)
        if isinstance(m, nn.ReLU):
            return self._activation(node, x, 0.0, m.inplace)
        if isinstance(m, nn.PReLU):
            w = m.weight.detach().float().numpy().reshape(-1)
            return self._add("PReLU", [self._blob(x, node)], {0: w.size}, [(w, False)])
        if isinstance(m, nn.PixelShuffle):
            return self._add("PixelShuffle", [self._blob(x, node)], {0: int(m.upscale_factor)})
        raise NcnnWriteError(f"{node.target}: {type(m).__name__} layers are not supported by the ncnn writer")

    @staticmethod
    def _pair(v: Any) -> tuple[int, int]:
        return (int(v[0]), int(v[1])) if isinstance(v, (tuple, list)) else (int(v), int(v))

    def _geometry(self, m: nn.Conv2d | nn.ConvTranspose2d) -> dict[int, Any]:
        if m.groups != 1:
            raise NcnnWriteError(f"{type(m).__name__} with groups={m.groups} is not supported by the ncnn writer")
        if isinstance(m.padding, str) or m.padding_mode != "zeros":
            raise NcnnWriteError(f"{type(m).__name__} with padding {m.padding!r} / {m.padding_mode} is not supported")
        (kh, kw), (sh, sw), (dh, dw), (ph, pw) = (self._pair(v) for v in (m.kernel_size, m.stride, m.dilation, m.padding))
        p = {0: m.out_channels, 1: kw, 11: kh, 2: dw, 12: dh, 3: sw, 13: sh, 4: pw, 14: ph, 5: int(m.bias is not None)}
        return p

    def _conv(self, node: fx.Node, m: nn.Conv2d, x: str) -> str:
        w = m.weight.detach().float().numpy()  # (out, in, kh, kw): ncnn's order too
        p = self._geometry(m)
        p[6] = w.size
        arrays = [(w.reshape(-1), True)]
        if m.bias is not None:
            arrays.append((m.bias.detach().float().numpy(), False))
        return self._add("Convolution", [x], p, arrays)

    def _deconv(self, node: fx.Node, m: nn.ConvTranspose2d, x: str) -> str:
        if any(self._pair(m.output_padding)):
            raise NcnnWriteError(f"{node.target}: ConvTranspose2d with output_padding is not supported by the ncnn writer")
        w = m.weight.detach().float().numpy().transpose(1, 0, 2, 3)  # torch: (in, out, ...); ncnn: (out, in, ...)
        p = self._geometry(m)
        p[6] = w.size
        arrays = [(np.ascontiguousarray(w).reshape(-1), True)]
        if m.bias is not None:
            arrays.append((m.bias.detach().float().numpy(), False))
        return self._add("Deconvolution", [x], p, arrays)

    def _sum(self, node: fx.Node, a: Any, b: Any, sign: float) -> Any:
        ca, cb = self._const(a), self._const(b)
        if ca is not None and cb is not None:
            return ca + sign * cb
        if cb is not None:  # tensor +- constant
            return self._add("BinaryOp", [self._blob(a, node)], {0: 0, 1: 1, 2: sign * cb})
        if ca is not None:
            if sign < 0:
                raise NcnnWriteError(f"{node.name}: constant minus a feature map is not supported by the ncnn writer")
            return self._add("BinaryOp", [self._blob(b, node)], {0: 0, 1: 1, 2: ca})
        terms = [v if isinstance(v, _Scaled) else _Scaled(self._blob(v, node), 1.0) for v in (a, b)]
        coeffs = [terms[0].coeff, sign * terms[1].coeff]
        params: dict[int, Any] = {0: 1}
        if coeffs != [1.0, 1.0]:
            params[1] = coeffs
        return self._add("Eltwise", [terms[0].blob, terms[1].blob], params)

    def _product(self, node: fx.Node, a: Any, b: Any, divide: bool) -> Any:
        ca, cb = self._const(a), self._const(b)
        if ca is not None and cb is not None:
            return ca / cb if divide else ca * cb
        if cb is not None:
            c = 1.0 / cb if divide else cb
            return _Scaled(a.blob, a.coeff * c) if isinstance(a, _Scaled) else _Scaled(self._blob(a, node), c)
        if ca is not None and not divide:
            return _Scaled(b.blob, b.coeff * ca) if isinstance(b, _Scaled) else _Scaled(self._blob(b, node), ca)
        op = 3 if divide else 2
        if ca is not None:
            raise NcnnWriteError(f"{node.name}: a constant divided by a feature map is not supported by the ncnn writer")
        return self._add("BinaryOp", [self._blob(a, node), self._blob(b, node)], {0: op})

    def _function(self, node: fx.Node) -> Any:
        f, args, kwargs = node.target, self._arg(node.args), self._arg(node.kwargs)
        self._no_aliasing(node, f in (operator.iadd, operator.isub, operator.imul, operator.itruediv))
        if f in (operator.add, torch.add, operator.iadd):
            return self._sum(node, args[0], args[1], 1.0)
        if f in (operator.sub, torch.sub, operator.isub):
            return self._sum(node, args[0], args[1], -1.0)
        if f in (operator.mul, torch.mul, operator.imul):
            return self._product(node, args[0], args[1], False)
        if f in (operator.truediv, torch.div, operator.itruediv):
            return self._product(node, args[0], args[1], True)
        if f in (torch.cat, torch.concat):
            dim = args[1] if len(args) > 1 else kwargs.get("dim", 0)
            if dim not in (1, -3):
                raise NcnnWriteError(f"{node.name}: concatenation along dim {dim} is not supported (channels only)")
            return self._add("Concat", [self._blob(v, node) for v in args[0]], {0: 0})
        if f is F.leaky_relu:
            slope = args[1] if len(args) > 1 else kwargs.get("negative_slope", 0.01)
            return self._activation(node, args[0], float(slope), bool(args[2] if len(args) > 2 else kwargs.get("inplace")))
        if f in (F.relu, torch.relu):
            return self._activation(node, args[0], 0.0, bool(args[1] if len(args) > 1 else kwargs.get("inplace")))
        if f is F.pixel_shuffle:
            return self._add("PixelShuffle", [self._blob(args[0], node)], {0: int(args[1])})
        if f is F.interpolate:
            return self._interp(node, args, kwargs)
        raise NcnnWriteError(f"{node.name}: {getattr(f, '__name__', f)} is not supported by the ncnn writer")

    def _interp(self, node: fx.Node, args: Any, kwargs: dict[str, Any]) -> str:
        names = ("input", "size", "scale_factor", "mode", "align_corners")
        a = dict(zip(names, args, strict=False)) | kwargs
        mode, factor = a.get("mode", "nearest"), a.get("scale_factor")
        if a.get("size") is not None or factor is None:
            raise NcnnWriteError(f"{node.name}: resizing to a fixed size is not supported (by factor only)")
        if a.get("recompute_scale_factor") or a.get("antialias"):
            raise NcnnWriteError(f"{node.name}: resizing with recompute_scale_factor or antialias is not supported")
        kind = {"nearest": 1, "bilinear": 2}.get(mode)
        if kind is None or (kind == 2 and a.get("align_corners")):
            raise NcnnWriteError(f"{node.name}: {mode} resizing (align_corners={a.get('align_corners')}) is not supported")
        fh, fw = (float(factor[0]), float(factor[1])) if isinstance(factor, (tuple, list)) else (float(factor), float(factor))
        return self._add("Interp", [self._blob(a["input"], node)], {0: kind, 1: fh, 2: fw})

    def check_trace(self) -> None:
        """Refuse a trace that computes something else than the module: torch.fx records ``y += 1`` as a new
        value, so an in-place change seen through an alias is lost. One small forward of each tells."""
        x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
        try:
            want = self.module(x)
        except Exception:  # a network with its own size rules: nothing to compare at this size
            return
        got = fx.GraphModule(self.module, self.graph)(x)
        if not (isinstance(want, torch.Tensor) and torch.allclose(got, want, rtol=1e-4, atol=1e-5)):
            raise NcnnWriteError(f"{type(self.module).__name__}: its traced graph differs from the module "
                                 "(an in-place operation through an alias?), not supported by the ncnn writer")

    def run(self) -> list[_Layer]:
        placeholders = [n for n in self.graph.nodes if n.op == "placeholder"]
        if len(placeholders) != 1:
            raise NcnnWriteError(f"the ncnn writer needs a network of one input, {type(self.module).__name__} has {len(placeholders)}")
        out_blob = None
        for node in self.graph.nodes:
            if node.op == "placeholder":
                self.values[node] = INPUT
            elif node.op == "get_attr":
                obj: Any = self.module
                for part in str(node.target).split("."):
                    obj = getattr(obj, part)
                self.values[node] = obj
            elif node.op == "call_module":
                self.values[node] = self._module(node, self.module.get_submodule(str(node.target)), self._arg(node.args[0]))
            elif node.op == "call_function":
                self.values[node] = self._function(node)
            elif node.op == "call_method" and node.target in ("add", "sub", "mul", "div"):
                a, b, op = self._arg(node.args[0]), self._arg(node.args[1]), str(node.target)
                self.values[node] = (self._sum(node, a, b, 1.0 if op == "add" else -1.0) if op in ("add", "sub")
                                     else self._product(node, a, b, op == "div"))
            elif node.op == "output":
                out_blob = self._blob(self._arg(node.args[0]), node)
            else:
                raise NcnnWriteError(f"{node.name}: {node.op} {node.target} is not supported by the ncnn writer")
        assert out_blob is not None
        if out_blob == INPUT:
            raise NcnnWriteError(f"{type(self.module).__name__} returns its input unchanged; nothing to write")
        self._rename(out_blob, OUTPUT)
        return self._split(self._fold_activations(self.layers))

    def _rename(self, old: str, new: str) -> None:
        for layer in self.layers:
            layer.bottoms = [new if b == old else b for b in layer.bottoms]
            layer.tops = [new if t == old else t for t in layer.tops]

    @staticmethod
    def _fold_activations(layers: list[_Layer]) -> list[_Layer]:
        """Fold each ReLU into the convolution before it when that convolution's output has no other reader.

        Done on the finished layer list, where readers are counted as ncnn will see them (an ``nn.Identity``
        or a view in between would hide a second reader from the fx graph's own user counts).
        """
        readers: dict[str, int] = {}
        for layer in layers:
            for b in layer.bottoms:
                readers[b] = readers.get(b, 0) + 1
        producer = {t: layer for layer in layers for t in layer.tops}
        out: list[_Layer] = []
        for layer in layers:
            conv = producer.get(layer.bottoms[0]) if layer.type == "ReLU" else None
            if (conv is not None and conv.type in ("Convolution", "Deconvolution") and 9 not in conv.params
                    and readers[layer.bottoms[0]] == 1):
                slope = float(layer.params.get(0, 0.0))
                conv.params[9] = 2 if slope else 1
                if slope:
                    conv.params[10] = [slope]
                conv.tops = [layer.tops[0]]  # the convolution now writes what the ReLU wrote
                producer[layer.tops[0]] = conv
                continue
            out.append(layer)
        return out

    @staticmethod
    def _split(layers: list[_Layer]) -> list[_Layer]:
        """Give every blob one consumer: a blob read n > 1 times goes through a Split with n outputs."""
        readers: dict[str, int] = {}
        for layer in layers:
            for b in layer.bottoms:
                readers[b] = readers.get(b, 0) + 1
        out: list[_Layer] = []
        taken: dict[str, int] = {}
        for layer in layers:
            renamed = []
            for b in layer.bottoms:
                if readers[b] > 1:
                    i = taken.get(b, 0)
                    taken[b] = i + 1
                    renamed.append(f"{b}_split{i}")
                else:
                    renamed.append(b)
            layer.bottoms = renamed
            out.append(layer)
            for t in layer.tops:
                if readers.get(t, 0) > 1:
                    out.append(_Layer("Split", f"split_{t}", [t], [f"{t}_split{i}" for i in range(readers[t])]))
        return out


def to_ncnn(module: nn.Module) -> tuple[str, bytes]:
    """``(param_text, bin_bytes)`` of ``module`` (NCHW float32 RGB in, the same out), or :class:`NcnnWriteError`."""
    module = module.eval()
    try:
        with torch.no_grad():
            writer = _Writer(module)
            layers = writer.run()
            writer.check_trace()
    except NcnnWriteError:
        raise
    except Exception as exc:  # anything else the writer trips on is also "cannot write", in one line
        msg = " ".join(str(exc).split())[:120]
        raise NcnnWriteError(f"cannot write {type(module).__name__} for ncnn ({type(exc).__name__}: {msg})") from None
    blobs = {t for layer in layers for t in layer.tops}
    lines = ["7767517", f"{len(layers)} {len(blobs)}", *(_param_line(layer) for layer in layers)]
    chunks = []
    for layer in layers:
        for data, flagged in layer.arrays:
            if flagged:
                chunks.append(b"\0\0\0\0")  # tag 0: plain fp32 follows
            chunks.append(np.ascontiguousarray(data, dtype="<f4").tobytes())
    return "\n".join(lines) + "\n", b"".join(chunks)
