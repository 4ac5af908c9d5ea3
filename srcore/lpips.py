"""LPIPS (Zhang et al. 2018) with an offline fallback, every value labelled with the variant that made it.

Two ways to get the metric, never mixed up in a report:

``LPIPS-alex`` / ``LPIPS-vgg``
    The ``lpips`` PyPI package, version 0.1 - the number SR papers report. Its backbone is torchvision's
    ImageNet AlexNet/VGG16, which torchvision downloads into the torch hub cache
    (``torch.hub.get_dir()/checkpoints``). The linear heads ship inside the package.

``ST-LPIPS-alex`` / ``ST-LPIPS-vgg``
    Shift-tolerant LPIPS (Ghildyal & Liu, ECCV 2022): an anti-aliased backbone (stride-1 convs followed by
    BlurPool-style binomial downsampling) trained together with its own linear heads. Its weights (backbone
    *and* heads) ship inside the ``stlpips-pytorch`` wheel, so it works with no download at all. That package's
    code imports IPython and torchsummary, so we only borrow its weight files and run them in the small network
    definitions below, which reproduce its ``variant='shift_tolerant'`` networks layer for layer (the state
    dicts load with ``strict=True``). Its scores are *not* comparable with plain LPIPS numbers - hence the label.

Both backbones go through the same distance code (:meth:`LPIPSMetric._layer_maps`), which mirrors
``lpips.LPIPS.forward``: inputs in [-1, 1], the package's scaling layer, unit-normalised channels, squared
difference, 1x1 linear head, spatial mean, sum over the five layers.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import io
import threading
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

NETS = ("alex", "vgg")
BACKENDS = ("auto", "lpips", "st")

#: File names torchvision's IMAGENET1K_V1 weights get in the hub cache (what ``lpips`` loads).
_TV_WEIGHT_FILES = {"alex": "alexnet-owt-7be5be79.pth", "vgg": "vgg16-397923af.pth"}
#: The shift-tolerant checkpoints inside the stlpips-pytorch wheel.
_ST_WEIGHT_FILES = {"alex": "weights/vST0.0/alex_shift_tolerant.pth", "vgg": "weights/vST0.0/vgg_shift_tolerant.pth"}


#: Smallest image side each network accepts (found by trial): below it a pooling or reflect pad runs out of pixels.
_MIN_SIDE = {("lpips", "alex"): 31, ("lpips", "vgg"): 16, ("st", "alex"): 21, ("st", "vgg"): 18}


class LPIPSUnavailableError(RuntimeError):
    """Neither the ``lpips`` package path nor the shift-tolerant fallback can be set up."""


# --------------------------------------------------------------------------------------------------------------
# Shift-tolerant networks (reimplementation of stlpips_pytorch's variant='shift_tolerant', filter size 3)
# --------------------------------------------------------------------------------------------------------------


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


def _st_weights_path(net: str) -> Path | None:
    """Locate the ST checkpoint without importing stlpips_pytorch (its modules import IPython)."""
    spec = importlib.util.find_spec("stlpips_pytorch")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / _ST_WEIGHT_FILES[net]
    return path if path.is_file() else None


def _build_st(net: str) -> nn.Module:
    path = _st_weights_path(net)
    if path is None:
        raise LPIPSUnavailableError(
            f"no LPIPS available for net={net!r}: torchvision's ImageNet weights are not in the torch hub cache "
            f"({_tv_weights_path(net)}) and the shift-tolerant fallback weights were not found - install "
            "'stlpips-pytorch' (pip install stlpips-pytorch) or put the torchvision checkpoint in the cache."
        )
    model = _STLPIPS(net)
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)  # strict: a silently half-loaded metric would be worse than none
    return model


# --------------------------------------------------------------------------------------------------------------
# The lpips package path
# --------------------------------------------------------------------------------------------------------------


def _tv_weights_path(net: str) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / _TV_WEIGHT_FILES[net]


def _lpips_package_available() -> bool:
    return importlib.util.find_spec("lpips") is not None


def _build_lpips(net: str, pnet_rand: bool) -> nn.Module:
    """``lpips.LPIPS(net, version='0.1')``, quietly.

    With ``pnet_rand=True`` the package builds torchvision's net with ``pretrained=False``: no download, random
    backbone, the package's own linear heads (tests only). Otherwise torchvision loads the ImageNet weights from
    the hub cache, downloading them if they are missing - only reached when the caller asked for
    ``backend='lpips'`` explicitly; ``'auto'`` comes here only when the file is already cached.
    """
    if not _lpips_package_available():
        raise LPIPSUnavailableError("backend 'lpips' needs the 'lpips' package (pip install lpips)")
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
        try:
            return lpips.LPIPS(**kwargs)
        except Exception as exc:  # typically a failed download when offline
            raise LPIPSUnavailableError(
                f"could not set up lpips.LPIPS(net={net!r}): {exc}. torchvision's ImageNet weights are expected at "
                f"{_tv_weights_path(net)}; use backend='st' (or 'auto') for the offline shift-tolerant LPIPS."
            ) from exc


# --------------------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------------------


def _unit_channels(x: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    # lpips.normalize_tensor: unit L2 norm across channels at each position.
    return x / (torch.sqrt(torch.sum(x * x, dim=1, keepdim=True)) + eps)


class LPIPSMetric:
    """A loaded LPIPS network plus the label of what it is; lower is more similar, 0 for identical images.

    Instances from :func:`get_lpips` are shared between threads: nothing here mutates state after
    construction, so concurrent calls are safe. One from :func:`build_lpips` is its owner's alone,
    who may move its :attr:`network` (e.g. as a submodule of a training loss); :attr:`device`
    follows the network, so metric and network can never disagree.
    """

    def __init__(self, model: nn.Module, net: str, backend: str, device: torch.device) -> None:
        self.net = net
        self.backend = backend  # "lpips" | "st"
        self.variant = f"{'ST-' if backend == 'st' else ''}LPIPS-{net}"
        self.min_side = _MIN_SIDE[(backend, net)]
        # Frozen: as a training loss only the inputs should receive gradients.
        self._model = model.eval().requires_grad_(False).to(device)

    @property
    def network(self) -> nn.Module:
        """The frozen LPIPS network (backbone + linear heads): register it in a module that should move it."""
        return self._model

    @property
    def device(self) -> torch.device:
        """Where the network lives, and so where inputs are moved to."""
        return next(self._model.parameters()).device

    def __repr__(self) -> str:
        return f"LPIPSMetric(variant={self.variant!r}, device={str(self.device)!r})"

    # -- core -----------------------------------------------------------------------------------------------------

    def _layer_maps(self, in0: torch.Tensor, in1: torch.Tensor) -> list[torch.Tensor]:
        """Per-layer (N, 1, h_k, w_k) distance maps for inputs in [-1, 1] - lpips.LPIPS.forward, spatial part."""
        m = self._model
        feats0 = m.net(m.scaling_layer(in0))
        feats1 = m.net(m.scaling_layer(in1))
        return [lin((_unit_channels(a) - _unit_channels(b)) ** 2) for a, b, lin in zip(feats0, feats1, m.lins, strict=False)]

    def _check_size(self, h: int, w: int) -> None:
        # Fail with a message rather than a padding/pooling error from deep inside the network.
        if min(h, w) < self.min_side:
            raise ValueError(f"{self.variant} needs images at least {self.min_side} px on each side, got {w}x{h}")

    def _image_tensor(self, img: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(np.array(img, dtype=np.uint8, order="C", copy=True)).to(self.device)
        return t.permute(2, 0, 1)[None].float() / 127.5 - 1.0  # uint8 -> [-1, 1], as lpips.im2tensor

    def _pair(self, output: np.ndarray, reference: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        for name, a in (("output", output), ("reference", reference)):
            if a.ndim != 3 or a.shape[2] != 3 or a.dtype != np.uint8:
                raise ValueError(f"{name} must be an RGB uint8 HxWx3 array, got {a.dtype} {a.shape}")
        if output.shape != reference.shape:
            raise ValueError(
                f"images differ in size: {output.shape[1]}x{output.shape[0]} vs "
                f"{reference.shape[1]}x{reference.shape[0]}"
            )
        self._check_size(*output.shape[:2])
        return self._image_tensor(output), self._image_tensor(reference)

    # -- public ---------------------------------------------------------------------------------------------------

    def __call__(self, output: np.ndarray, reference: np.ndarray) -> float:
        """Distance between two RGB uint8 images of the same size, computed on the whole image."""
        with torch.inference_mode():
            maps = self._layer_maps(*self._pair(output, reference))
            return float(sum(mp.mean(dim=(2, 3)) for mp in maps).item())

    def spatial_map(self, output: np.ndarray, reference: np.ndarray) -> np.ndarray:
        """HxW float32 map of where the distance comes from (each layer's map bilinearly upsampled, summed).

        Its mean is close to, but not exactly, :meth:`__call__`'s value, as with lpips' own ``spatial=True``.
        """
        with torch.inference_mode():
            in0, in1 = self._pair(output, reference)
            size = in0.shape[2:]
            maps = self._layer_maps(in0, in1)
            total = sum(F.interpolate(mp, size=size, mode="bilinear", align_corners=False) for mp in maps)
            return total[0, 0].float().cpu().numpy().astype(np.float32)

    def distance_tensor(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Differentiable per-image distance, shape (N,), for NCHW float images in [0, 1] (a training loss).

        Inputs are moved to :attr:`device` and cast to float32; the result lives on :attr:`device`.
        """
        if x.shape != y.shape or x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected two NCHW RGB tensors of equal shape, got {tuple(x.shape)} and {tuple(y.shape)}")
        self._check_size(*x.shape[2:])
        in0 = x.to(self.device, torch.float32) * 2.0 - 1.0
        in1 = y.to(self.device, torch.float32) * 2.0 - 1.0
        return sum(mp.mean(dim=(2, 3)) for mp in self._layer_maps(in0, in1))[:, 0]


_CACHE: dict[tuple, LPIPSMetric] = {}
_LOCK = threading.Lock()


def _resolve_device(device: str | torch.device | None) -> torch.device:
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", torch.cuda.current_device())  # one cache entry for "cuda" and "cuda:0"
    return dev


def _resolve_backend(net: str, backend: str, pnet_rand: bool) -> str:
    """Check the arguments and turn ``backend="auto"`` into ``"lpips"`` or ``"st"`` (see :func:`get_lpips`)."""
    if net not in NETS:
        raise ValueError(f"unknown LPIPS net {net!r}; choose one of {NETS}")
    if backend not in BACKENDS:
        raise ValueError(f"unknown LPIPS backend {backend!r}; choose one of {BACKENDS}")
    if pnet_rand and backend == "st":
        raise ValueError("pnet_rand applies to the 'lpips' package backend only")
    if backend == "auto":
        use_pkg = pnet_rand or (_lpips_package_available() and _tv_weights_path(net).is_file())
        backend = "lpips" if use_pkg else "st"
    return backend


def build_lpips(
    net: str = "alex", backend: str = "auto", device: str | torch.device | None = None, pnet_rand: bool = False
) -> LPIPSMetric:
    """A new LPIPS metric whose network belongs to the caller alone (arguments as :func:`get_lpips`).

    Why not :func:`get_lpips`: its instances are shared by every caller in the process, so moving
    one to another device (as a training loss does with ``.to(device)``) would move it under
    everyone else. Build your own here and move or register its :attr:`LPIPSMetric.network` freely.
    """
    backend = _resolve_backend(net, backend, pnet_rand)
    model = _build_lpips(net, pnet_rand) if backend == "lpips" else _build_st(net)
    return LPIPSMetric(model, net, backend, _resolve_device(device))


def get_lpips(
    net: str = "alex", backend: str = "auto", device: str | torch.device | None = None, pnet_rand: bool = False
) -> LPIPSMetric:
    """Shared, lazily loaded LPIPS metric; check ``.variant`` for what you got. Do not move it: for a
    network of your own (a training loss), use :func:`build_lpips`.

    ``backend``: ``"lpips"`` (the package, v0.1 - the paper number; needs torchvision's ImageNet weights, which
    it downloads if missing), ``"st"`` (shift-tolerant LPIPS from the stlpips-pytorch wheel, fully offline), or
    ``"auto"``: ``"lpips"`` when torchvision's weights for ``net`` are already in the torch hub cache, else
    ``"st"`` - auto never triggers a download. ``pnet_rand=True`` (tests) builds the package's model with a
    random backbone and no download. ``device`` defaults to CUDA when available.

    Raises ValueError for bad arguments and :class:`LPIPSUnavailableError` (a RuntimeError) when the requested
    network cannot be set up.
    """
    backend = _resolve_backend(net, backend, pnet_rand)
    dev = _resolve_device(device)
    key = (net, backend, str(dev), pnet_rand)
    with _LOCK:  # held while loading, so concurrent first calls load the network once
        metric = _CACHE.get(key)
        if metric is None:
            metric = _CACHE[key] = build_lpips(net, backend, dev, pnet_rand)
        return metric
