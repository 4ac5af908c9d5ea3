"""The LPIPS networks in torch: the shift-tolerant ones reimplemented, the ``lpips`` package's built quietly.

Why its own module: torch costs seconds to import, and :mod:`srcore.lpips` must import in
milliseconds (``import srcore``, the CLI's start-up) and score with a compiled runtime model that
needs no torch at all once its ONNX file is cached (:mod:`srcore.lpips_runtime`). Torch is imported
only when a network is actually built: for the torch path, a training loss, or the one-off export.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# Shift-tolerant networks (reimplementation of stlpips_pytorch's variant='shift_tolerant', filter size 3)


class _BlurDownsample(nn.Module):
    """Anti-aliased stride-2 subsampling: reflect pad 2, depthwise 3x3 binomial blur, keep every other pixel.

    Mirrors ``models_lpf.Downsample(filt_size=3, stride=2, pad_more=True)``; the padding of 2 (rather than 1)
    is what the ST models were trained with. The filter is a buffer so it loads from (and is checked against)
    the checkpoint.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        a = torch.tensor([1.0, 2.0, 1.0])
        filt = a[:, None] * a[None, :]
        self.register_buffer("filt", (filt / filt.sum())[None, None].repeat(channels, 1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), self.filt, stride=2, groups=x.shape[1])


def _st_alex_layers() -> list[nn.Module]:
    # Conv stride 4 -> stride 1 + blur-downsample, max-pools stride 2 -> stride 1 + blur-downsample.
    return [
        nn.Conv2d(3, 64, kernel_size=11, stride=1, padding=2),  # 0
        _BlurDownsample(64),
        nn.ReLU(inplace=True),  # 2 -> relu1
        nn.MaxPool2d(kernel_size=3, stride=1),
        _BlurDownsample(64),
        nn.Conv2d(64, 192, kernel_size=5, padding=2),  # 5
        nn.ReLU(inplace=True),  # 6 -> relu2
        nn.MaxPool2d(kernel_size=3, stride=1),
        _BlurDownsample(192),
        nn.Conv2d(192, 384, kernel_size=3, padding=1),  # 9
        nn.ReLU(inplace=True),  # 10 -> relu3
        nn.Conv2d(384, 256, kernel_size=3, padding=1),  # 11
        nn.ReLU(inplace=True),  # 12 -> relu4
        nn.Conv2d(256, 256, kernel_size=3, padding=1),  # 13
        nn.ReLU(inplace=True),  # 14 -> relu5
    ]


def _st_vgg_layers() -> list[nn.Module]:
    # VGG16 config "D"; each 2x2/2 max-pool becomes max-pool 2x2/1 + blur-downsample.
    layers: list[nn.Module] = []
    in_ch = 3
    for v in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512):
        if v == "M":
            layers += [nn.MaxPool2d(kernel_size=2, stride=1), _BlurDownsample(in_ch)]
        else:
            layers += [nn.Conv2d(in_ch, int(v), kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            in_ch = int(v)
    return layers


#: Where each net's five tapped activations end (exclusive indices into the layer list).
_ST_SLICES = {"alex": (3, 7, 11, 13, 15), "vgg": (4, 10, 18, 26, 34)}
_CHANNELS = {"alex": (64, 192, 384, 256, 256), "vgg": (64, 128, 256, 512, 512)}


class _STBackbone(nn.Module):
    """Five sequential slices; children keep their original indices so checkpoint keys match exactly."""

    def __init__(self, net: str) -> None:
        super().__init__()
        layers = _st_alex_layers() if net == "alex" else _st_vgg_layers()
        start = 0
        for k, end in enumerate(_ST_SLICES[net], 1):
            sl = nn.Sequential()
            for i in range(start, end):
                sl.add_module(str(i), layers[i])
            self.add_module(f"slice{k}", sl)
            start = end

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs = []
        for k in range(1, 6):
            x = getattr(self, f"slice{k}")(x)
            outs.append(x)
        return outs


class _ScalingLayer(nn.Module):
    """LPIPS v0.1 input normalisation: maps [-1, 1] to roughly ImageNet mean/std statistics."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("shift", torch.tensor([-0.030, -0.088, -0.188])[None, :, None, None])
        self.register_buffer("scale", torch.tensor([0.458, 0.448, 0.450])[None, :, None, None])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.shift) / self.scale


class _LinHead(nn.Module):
    """1x1 conv to one channel. Index 0 was a Dropout (training only), kept as Identity for the key names."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.model = nn.Sequential(nn.Identity(), nn.Conv2d(channels, 1, 1, stride=1, padding=0, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class _STLPIPS(nn.Module):
    """Holds the same attributes as ``lpips.LPIPS`` (scaling_layer, net, lins) so one distance code serves both."""

    def __init__(self, net: str) -> None:
        super().__init__()
        self.scaling_layer = _ScalingLayer()
        self.net = _STBackbone(net)
        for k, ch in enumerate(_CHANNELS[net]):
            self.add_module(f"lin{k}", _LinHead(ch))
        self.lins = [getattr(self, f"lin{k}") for k in range(5)]  # plain list: not registered twice


def build_lpips_package(net: str, pnet_rand: bool) -> nn.Module:
    """``lpips.LPIPS(net, version='0.1')``, quietly.

    With ``pnet_rand=True`` the package builds torchvision's net with ``pretrained=False``: no download, random
    backbone, the package's own linear heads (tests only). Otherwise torchvision loads the ImageNet weights from
    the hub cache, downloading them if they are missing - only reached when the caller asked for
    ``backend='lpips'`` explicitly; ``'auto'`` comes here only when the file is already cached.
    """
    import lpips

    kwargs: dict = {"net": net, "version": "0.1", "pnet_rand": pnet_rand}
    quiet = "verbose" in inspect.signature(lpips.LPIPS.__init__).parameters
    if quiet:
        kwargs["verbose"] = False
    with contextlib.ExitStack() as stack:
        if not quiet:  # old lpips releases print "Setting up [LPIPS]..." unconditionally
            stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
        # torchvision warns that lpips still uses the deprecated `pretrained=` argument: not our user's concern.
        stack.enter_context(warnings.catch_warnings())
        warnings.simplefilter("ignore", UserWarning)
        return lpips.LPIPS(**kwargs)  # a failed download raises: the caller words the error


def build_st(net: str, weights: Path) -> nn.Module:
    """The shift-tolerant LPIPS network for ``net`` with the stlpips-pytorch checkpoint at ``weights``."""
    model = _STLPIPS(net)
    state = torch.load(weights, map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)  # strict: a silently half-loaded metric would be worse than none
    return model


def _unit_channels(x: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    # lpips.normalize_tensor: unit L2 norm across channels at each position.
    return x / (torch.sqrt(torch.sum(x * x, dim=1, keepdim=True)) + eps)


class _FusedFirstLayer(nn.Module):
    """ST-AlexNet's stride-1 11x11 convolution and the blur-downsample after it, as one 13x13 stride-2 convolution.

    Why: that convolution is the most expensive layer of ST-LPIPS (it runs at full resolution), and
    three quarters of its outputs are only blurred away. Both steps are linear, so inside the image
    ``blur_ds(conv(x)) = conv(x, K * binomial, stride 2, zero pad 4)``: a third of the arithmetic. Only
    the first and last output row and column see the blur's *reflected* padding of the convolution's
    output; those are computed exactly as before, from thin strips. Which rows of the last strip the
    reflection mixes depends on the side's parity, hence one graph per parity of H and W (:func:`export_features`).
    """

    def __init__(self, conv: nn.Conv2d, blur: _BlurDownsample, h_even: bool, w_even: bool) -> None:
        super().__init__()
        self.conv, self.blur, self.h_even, self.w_even = conv, blur, h_even, w_even
        beta = blur.filt[:1].double()  # (1, 1, 3, 3), symmetric
        k = conv.weight.detach().double()
        k13 = F.conv2d(F.pad(k.reshape(-1, 1, *k.shape[2:]), (2, 2, 2, 2)), beta).reshape(k.shape[0], k.shape[1], 13, 13)
        self.register_buffer("k13", k13.float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = F.conv2d(x, self.k13, self.conv.bias, stride=2, padding=4)
        # exact border rows: conv on the first 11 / last 12 input rows (its zero padding as in the full image)
        # (the last 12 input rows give the last 4 conv rows; even side: its last output row blurs rows
        # n-2, n-1, n-2 = row 2 of the strip's own blur; odd: n-1, n-2, n-3 = row 1 of the last 3 rows' blur)
        top = self.blur(self.conv(x[:, :, :11])[:, :, :3])[:, :, :1]
        tail = self.conv(x[:, :, -12:])
        bottom = self.blur(tail[:, :, 2:])[:, :, 2:3] if self.h_even else self.blur(tail[:, :, 3:])[:, :, 1:2]
        z = torch.cat([top, z[:, :, 1:-1], bottom], dim=2)
        left = self.blur(self.conv(x[:, :, :, :11])[:, :, :, :3])[:, :, :, :1]
        tail = self.conv(x[:, :, :, -12:])
        right = self.blur(tail[:, :, :, 2:])[:, :, :, 2:3] if self.w_even else self.blur(tail[:, :, :, 3:])[:, :, :, 1:2]
        return torch.cat([left, z[:, :, :, 1:-1], right], dim=3)


def fusable(model: nn.Module) -> bool:
    """Whether ``model`` is the ST-AlexNet whose first layer :class:`_FusedFirstLayer` replaces in the graph."""
    net = getattr(model, "net", None)
    first = getattr(getattr(net, "slice1", None), "0", None)
    return isinstance(net, _STBackbone) and isinstance(first, nn.Conv2d) and first.kernel_size == (11, 11)


class FeatureNet(nn.Module):
    """Image in [-1, 1] (N, 3, H, W) -> the five unit-normalised feature maps: what the runtime graph computes.

    The distance head (squared difference, 1x1 linear layer) stays outside the graph, so the features
    of a reference image can be computed once and compared with every method's output. ``parity``
    ``(H even, W even)`` fuses ST-AlexNet's first layer (:class:`_FusedFirstLayer`) for images of that parity.
    """

    def __init__(self, model: nn.Module, parity: tuple[bool, bool] | None = None) -> None:
        super().__init__()
        self.scaling_layer = model.scaling_layer
        self.net = model.net
        self.fused = None
        if parity is not None and fusable(model):
            s1 = model.net.slice1
            self.fused = _FusedFirstLayer(getattr(s1, "0"), getattr(s1, "1"), *parity)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.scaling_layer(x)
        if self.fused is None:
            return tuple(_unit_channels(f) for f in self.net(x))
        feats = [F.relu(self.fused(x))]
        for k in range(2, 6):
            feats.append(getattr(self.net, f"slice{k}")(feats[-1]))
        return tuple(_unit_channels(f) for f in feats)


def lin_weights(model: nn.Module) -> list[np.ndarray]:
    """The five linear heads' weights as (C,) float32 arrays (both backends end each head in a 1x1 conv)."""
    return [lin.model[-1].weight.detach().float().cpu().numpy().reshape(-1).copy() for lin in model.lins]


def export_features(model: nn.Module, onnx_path: Path, opset: int = 17, parity: tuple[bool, bool] | None = None) -> None:
    """Write :class:`FeatureNet` of ``model`` as ONNX (dynamic N/H/W) and its heads as ``.npz`` beside it.

    Written to temporary names and renamed (heads first, graph last): a reader that finds the
    ``.onnx`` finds its heads, and concurrent writers or an interrupted export leave nothing half-written.
    """
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    heads = onnx_path.with_suffix(".npz")
    fd, tmp_graph = tempfile.mkstemp(dir=onnx_path.parent, prefix=".lpips-", suffix=".onnx")
    os.close(fd)
    fd, tmp_heads = tempfile.mkstemp(dir=onnx_path.parent, prefix=".lpips-", suffix=".npz")
    os.close(fd)
    try:
        net = FeatureNet(model.cpu().float(), parity).eval()
        side = (64 if not parity or parity[0] else 65, 64 if not parity or parity[1] else 65)
        names = [f"f{k}" for k in range(5)]
        axes = {"x": {0: "n", 2: "h", 3: "w"}, **{n: {0: "n", 2: f"h{k}", 3: f"w{k}"} for k, n in enumerate(names)}}
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
            torch.onnx.export(net, (torch.rand(1, 3, *side) * 2 - 1,), tmp_graph, dynamo=False, opset_version=opset,
                              input_names=["x"], output_names=names, dynamic_axes=axes)
        with open(tmp_heads, "wb") as f:
            np.savez(f, *lin_weights(model))
        os.replace(tmp_heads, heads)
        os.replace(tmp_graph, onnx_path)
    finally:
        for t in (tmp_graph, tmp_heads):
            Path(t).unlink(missing_ok=True)
