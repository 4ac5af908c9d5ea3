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


class FeatureNet(nn.Module):
    """Image in [-1, 1] (N, 3, H, W) -> the five unit-normalised feature maps: what the runtime graph computes.

    The distance head (squared difference, 1x1 linear layer) stays outside the graph, so the features
    of a reference image can be computed once and compared with every method's output.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.scaling_layer = model.scaling_layer
        self.net = model.net

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(_unit_channels(f) for f in self.net(self.scaling_layer(x)))


def lin_weights(model: nn.Module) -> list[np.ndarray]:
    """The five linear heads' weights as (C,) float32 arrays (both backends end each head in a 1x1 conv)."""
    return [lin.model[-1].weight.detach().float().cpu().numpy().reshape(-1).copy() for lin in model.lins]


def export_features(model: nn.Module, onnx_path: Path, opset: int = 17) -> None:
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
        net = FeatureNet(model.cpu().float()).eval()
        names = [f"f{k}" for k in range(5)]
        axes = {"x": {0: "n", 2: "h", 3: "w"}, **{n: {0: "n", 2: f"h{k}", 3: f"w{k}"} for k, n in enumerate(names)}}
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
            torch.onnx.export(net, (torch.rand(1, 3, 64, 64) * 2 - 1,), tmp_graph, dynamo=False, opset_version=opset,
                              input_names=["x"], output_names=names, dynamic_axes=axes)
        with open(tmp_heads, "wb") as f:
            np.savez(f, *lin_weights(model))
        os.replace(tmp_heads, heads)
        os.replace(tmp_graph, onnx_path)
    finally:
        for t in (tmp_graph, tmp_heads):
            Path(t).unlink(missing_ok=True)
