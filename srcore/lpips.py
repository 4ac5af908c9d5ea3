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

Scoring (:meth:`LPIPSMetric.__call__`, :meth:`LPIPSMetric.spatial_map`) runs the same network on a compiled
runtime when one is installed (:mod:`srcore.lpips_runtime`: OpenVINO/onnxruntime fp32, the graph cached on disk,
same numbers within 1e-6 here), computes a reference image's features once for all the outputs compared with it,
and keeps the last pairs' per-layer maps so the LPIPS map of a scored pair costs no second pass. Torch is
imported only when a torch network is needed (training, the torch runtime, the one-off export), so importing
this module is cheap.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from srcore import lpips_runtime

if TYPE_CHECKING:
    import torch
    from torch import nn

NETS = ("alex", "vgg")
BACKENDS = ("auto", "lpips", "st")
RUNTIMES = lpips_runtime.RUNTIMES

#: File names torchvision's IMAGENET1K_V1 weights get in the hub cache (what ``lpips`` loads).
_TV_WEIGHT_FILES = {"alex": "alexnet-owt-7be5be79.pth", "vgg": "vgg16-397923af.pth"}
#: The shift-tolerant checkpoints inside the stlpips-pytorch wheel.
_ST_WEIGHT_FILES = {"alex": "weights/vST0.0/alex_shift_tolerant.pth", "vgg": "weights/vST0.0/vgg_shift_tolerant.pth"}


#: Smallest image side each network accepts (found by trial): below it a pooling or reflect pad runs out of pixels.
_MIN_SIDE = {("lpips", "alex"): 31, ("lpips", "vgg"): 16, ("st", "alex"): 21, ("st", "vgg"): 18}
#: Reference features kept per metric (bytes): a 1024x1024 reference's ST-alex features are ~180 MB.
_REF_CACHE_BYTES = 1 << 30
#: Scored pairs whose per-layer maps are kept for :meth:`LPIPSMetric.spatial_map` (each ~1.5 MB per Mpx).
_MAP_CACHE_PAIRS = 16


class LPIPSUnavailableError(RuntimeError):
    """Neither the ``lpips`` package path nor the shift-tolerant fallback can be set up."""


# --------------------------------------------------------------------------------------------------------------
# Where the weights are (no torch import needed)
# --------------------------------------------------------------------------------------------------------------


def _st_weights_path(net: str) -> Path | None:
    """Locate the ST checkpoint without importing stlpips_pytorch (its modules import IPython)."""
    spec = importlib.util.find_spec("stlpips_pytorch")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / _ST_WEIGHT_FILES[net]
    return path if path.is_file() else None


def _torch_hub_dir() -> Path:
    """``torch.hub.get_dir()`` without importing torch: ``$TORCH_HOME/hub``, else ``$XDG_CACHE_HOME/torch/hub``."""
    torch_mod = sys.modules.get("torch")
    if torch_mod is not None:
        return Path(torch_mod.hub.get_dir())
    home = os.environ.get("TORCH_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "torch")
    return Path(os.path.expanduser(home)) / "hub"


def _tv_weights_path(net: str) -> Path:
    return _torch_hub_dir() / "checkpoints" / _TV_WEIGHT_FILES[net]


def _lpips_package_available() -> bool:
    return importlib.util.find_spec("lpips") is not None


def _lpips_lin_path(net: str) -> Path | None:
    """The ``lpips`` package's linear heads for ``net`` (part of its cached graph's key)."""
    spec = importlib.util.find_spec("lpips")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "weights" / "v0.1" / f"{net}.pth"
    return path if path.is_file() else None


def _build_st(net: str) -> nn.Module:
    path = _st_weights_path(net)
    if path is None:
        raise LPIPSUnavailableError(
            f"no LPIPS available for net={net!r}: torchvision's ImageNet weights are not in the torch hub cache "
            f"({_tv_weights_path(net)}) and the shift-tolerant fallback weights were not found - install "
            "'stlpips-pytorch' (pip install stlpips-pytorch) or put the torchvision checkpoint in the cache."
        )
    from srcore.lpips_nets import build_st

    return build_st(net, path)


def _build_lpips(net: str, pnet_rand: bool) -> nn.Module:
    """``lpips.LPIPS(net, version='0.1')``, quietly (see :func:`srcore.lpips_nets.build_lpips_package`)."""
    if not _lpips_package_available():
        raise LPIPSUnavailableError("backend 'lpips' needs the 'lpips' package (pip install lpips)")
    from srcore.lpips_nets import build_lpips_package

    try:
        return build_lpips_package(net, pnet_rand)
    except Exception as exc:  # typically a failed download when offline
        raise LPIPSUnavailableError(
            f"could not set up lpips.LPIPS(net={net!r}): {exc}. torchvision's ImageNet weights are expected at "
            f"{_tv_weights_path(net)}; use backend='st' (or 'auto') for the offline shift-tolerant LPIPS."
        ) from exc


def _weight_files(net: str, backend: str) -> list[Path] | None:
    """The files a network is made of (the key of its cached graph), or None when one is missing."""
    if backend == "st":
        st = _st_weights_path(net)
        return [st] if st else None
    lin, tv = _lpips_lin_path(net), _tv_weights_path(net)
    return [tv, lin] if lin and tv.is_file() else None


# --------------------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------------------


def _digest(img: np.ndarray) -> bytes:
    """A content key for an image (the caches below must not mistake a same-sized other image for it)."""
    h = hashlib.blake2b(np.ascontiguousarray(img).data, digest_size=16)
    h.update(repr((img.shape, img.dtype.str)).encode())
    return h.digest()


class LPIPSMetric:
    """A loaded LPIPS network plus the label of what it is; lower is more similar, 0 for identical images.

    Instances from :func:`get_lpips` are shared between threads (their caches are locked), so
    concurrent calls are safe. One from :func:`build_lpips` is its owner's alone, who may move its
    :attr:`network` (e.g. as a submodule of a training loss); :attr:`device` follows the network, so
    metric and network can never disagree. ``runtime`` says what scores numpy images: ``torch``, or a
    compiled ``openvino``/``onnxruntime`` graph of the same network (falls back to torch if that fails).
    """

    def __init__(self, model: nn.Module | None, net: str, backend: str, device: Any, *, runtime: str = "torch",
                 build: Callable[[], nn.Module] | None = None) -> None:
        self.net = net
        self.backend = backend  # "lpips" | "st"
        self.variant = f"{'ST-' if backend == 'st' else ''}LPIPS-{net}"
        self.min_side = _MIN_SIDE[(backend, net)]
        self.runtime = runtime
        self.runtime_note: str | None = None  # why a compiled runtime was not used, when it was asked for
        self._device = str(device)
        self._build = build
        self._model: nn.Module | None = None
        self._runners: dict[tuple[bool, bool] | None, lpips_runtime.FeatureRunner] = {}
        self._lock = threading.Lock()
        self._ref_feats: OrderedDict[bytes, list[np.ndarray]] = OrderedDict()
        self._maps: OrderedDict[tuple[bytes, bytes], list[np.ndarray]] = OrderedDict()
        if model is not None:
            self._adopt(model)

    def _adopt(self, model: nn.Module) -> None:
        # Frozen: as a training loss only the inputs should receive gradients.
        self._model = model.eval().requires_grad_(False).to(self._device)

    @property
    def network(self) -> nn.Module:
        """The frozen LPIPS network (backbone + linear heads): register it in a module that should move it."""
        with self._lock:
            if self._model is None:
                assert self._build is not None
                self._adopt(self._build())
            assert self._model is not None
            return self._model

    @property
    def device(self) -> torch.device:
        """Where the network lives, and so where inputs are moved to."""
        import torch

        if self._model is not None:
            return next(self._model.parameters()).device
        return torch.device(self._device)

    def __repr__(self) -> str:
        return f"LPIPSMetric(variant={self.variant!r}, device={self._device!r}, runtime={self.runtime!r})"

    # -- core -----------------------------------------------------------------------------------------------------

    def _layer_maps(self, in0: torch.Tensor, in1: torch.Tensor) -> list[torch.Tensor]:
        """Per-layer (N, 1, h_k, w_k) distance maps for inputs in [-1, 1] - lpips.LPIPS.forward, spatial part."""
        from srcore.lpips_nets import _unit_channels

        m = self.network
        feats0 = m.net(m.scaling_layer(in0))
        feats1 = m.net(m.scaling_layer(in1))
        return [lin((_unit_channels(a) - _unit_channels(b)) ** 2) for a, b, lin in zip(feats0, feats1, m.lins, strict=False)]

    def _check_size(self, h: int, w: int) -> None:
        # Fail with a message rather than a padding/pooling error from deep inside the network.
        if min(h, w) < self.min_side:
            raise ValueError(f"{self.variant} needs images at least {self.min_side} px on each side, got {w}x{h}")

    def _check_pair(self, output: np.ndarray, reference: np.ndarray) -> None:
        for name, a in (("output", output), ("reference", reference)):
            if a.ndim != 3 or a.shape[2] != 3 or a.dtype != np.uint8:
                raise ValueError(f"{name} must be an RGB uint8 HxWx3 array, got {a.dtype} {a.shape}")
        if output.shape != reference.shape:
            raise ValueError(
                f"images differ in size: {output.shape[1]}x{output.shape[0]} vs "
                f"{reference.shape[1]}x{reference.shape[0]}"
            )
        self._check_size(*output.shape[:2])

    def _image_tensor(self, img: np.ndarray) -> torch.Tensor:
        import torch

        t = torch.from_numpy(np.array(img, dtype=np.uint8, order="C", copy=True)).to(self.device)
        return t.permute(2, 0, 1)[None].float() / 127.5 - 1.0  # uint8 -> [-1, 1], as lpips.im2tensor

    def _compiled(self, shape: tuple[int, ...]) -> lpips_runtime.FeatureRunner | None:
        """The compiled feature runner for images of ``shape`` (exported/compiled on first use), or None on torch."""
        if self.runtime == "torch":
            return None
        parity = lpips_runtime.fused_parity(self.backend, self.net, shape)
        with self._lock:
            if parity not in self._runners and self.runtime != "torch":
                try:
                    files = _weight_files(self.net, self.backend)
                    if files is None:
                        raise FileNotFoundError("weight files not found")
                    path = lpips_runtime.graph_path(self.backend, self.net, files, parity)
                    lpips_runtime.ensure_graph(path, self._build or (lambda: self._model), parity)
                    self._runners[parity] = lpips_runtime.FeatureRunner(path, self.runtime)
                except Exception as exc:  # a runtime that cannot take the graph: the torch network still scores
                    self.runtime_note = f"{self.runtime} unavailable for LPIPS ({type(exc).__name__}: {str(exc)[:120]}); torch used"
                    self.runtime = "torch"
            return self._runners.get(parity)

    def _maps_torch(self, output: np.ndarray, reference: np.ndarray) -> list[np.ndarray]:
        import torch

        with torch.inference_mode():
            maps = self._layer_maps(self._image_tensor(output), self._image_tensor(reference))
            return [mp[0, 0].float().cpu().numpy() for mp in maps]

    def _pair_maps(self, output: np.ndarray, reference: np.ndarray) -> list[np.ndarray]:
        """Per-layer (h_k, w_k) float32 distance maps, from the cache when this pair was scored already."""
        self._check_pair(output, reference)
        ref_key = _digest(reference)
        key = (_digest(output), ref_key)
        with self._lock:
            if key in self._maps:
                self._maps.move_to_end(key)
                return self._maps[key]
        runner = self._compiled(output.shape[:2])
        if runner is None:
            maps = self._maps_torch(output, reference)
        else:
            with self._lock:
                feats = self._ref_feats.get(ref_key)
                if feats is not None:
                    self._ref_feats.move_to_end(ref_key)
            if feats is None:
                feats = runner.features(reference)
                self._keep_reference(ref_key, feats)
            maps = runner.maps_against(output, feats)
        with self._lock:
            self._maps[key] = maps
            while len(self._maps) > _MAP_CACHE_PAIRS:
                self._maps.popitem(last=False)
        return maps

    def _keep_reference(self, key: bytes, feats: list[np.ndarray]) -> None:
        size = sum(f.nbytes for f in feats)
        if size > _REF_CACHE_BYTES:
            return
        with self._lock:
            self._ref_feats[key] = feats
            while sum(f.nbytes for fs in self._ref_feats.values() for f in fs) > _REF_CACHE_BYTES:
                self._ref_feats.popitem(last=False)

    # -- public ---------------------------------------------------------------------------------------------------

    def __call__(self, output: np.ndarray, reference: np.ndarray) -> float:
        """Distance between two RGB uint8 images of the same size, computed on the whole image."""
        return float(sum(np.float32(mp.mean(dtype=np.float32)) for mp in self._pair_maps(output, reference)))

    def spatial_map(self, output: np.ndarray, reference: np.ndarray) -> np.ndarray:
        """HxW float32 map of where the distance comes from (each layer's map bilinearly upsampled, summed).

        Its mean is close to, but not exactly, :meth:`__call__`'s value, as with lpips' own ``spatial=True``.
        The same forward pass as the score: a pair scored a moment ago is not run again. OpenCV's bilinear
        resize with half-pixel centres is torch's ``interpolate(mode="bilinear", align_corners=False)``.
        """
        h, w = output.shape[:2]
        total = np.zeros((h, w), dtype=np.float32)
        for mp in self._pair_maps(output, reference):
            total += cv2.resize(np.ascontiguousarray(mp, dtype=np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
        return total

    def distance_tensor(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Differentiable per-image distance, shape (N,), for NCHW float images in [0, 1] (a training loss).

        Inputs are moved to :attr:`device` and cast to float32; the result lives on :attr:`device`.
        """
        import torch

        if x.shape != y.shape or x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected two NCHW RGB tensors of equal shape, got {tuple(x.shape)} and {tuple(y.shape)}")
        self._check_size(*x.shape[2:])
        in0 = x.to(self.device, torch.float32) * 2.0 - 1.0
        in1 = y.to(self.device, torch.float32) * 2.0 - 1.0
        return sum(mp.mean(dim=(2, 3)) for mp in self._layer_maps(in0, in1))[:, 0]


_CACHE: dict[tuple, LPIPSMetric] = {}
_LOCK = threading.Lock()


def _resolve_device(device: Any) -> str:
    """``"cpu"`` / ``"cuda:N"``. Without a device asked for, CUDA when there is one - and without an NVIDIA
    driver there is none, which is known without importing torch."""
    if str(device) == "cpu" or (device is None and "torch" not in sys.modules and not os.path.exists("/dev/nvidiactl")):
        return "cpu"
    import torch

    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", torch.cuda.current_device())  # one cache entry for "cuda" and "cuda:0"
    return str(dev)


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
    return LPIPSMetric(model, net, backend, _resolve_device(device), build=lambda: model)


def get_lpips(
    net: str = "alex", backend: str = "auto", device: str | torch.device | None = None, pnet_rand: bool = False,
    runtime: str | None = None,
) -> LPIPSMetric:
    """Shared, lazily loaded LPIPS metric; check ``.variant`` for what you got. Do not move it: for a
    network of your own (a training loss), use :func:`build_lpips`.

    ``backend``: ``"lpips"`` (the package, v0.1 - the paper number; needs torchvision's ImageNet weights, which
    it downloads if missing), ``"st"`` (shift-tolerant LPIPS from the stlpips-pytorch wheel, fully offline), or
    ``"auto"``: ``"lpips"`` when torchvision's weights for ``net`` are already in the torch hub cache, else
    ``"st"`` - auto never triggers a download. ``pnet_rand=True`` (tests) builds the package's model with a
    random backbone and no download. ``device`` defaults to CUDA when available.
    ``runtime`` (CPU only): what scores images - ``"auto"`` (default, or ``$SRCORE_LPIPS_RUNTIME``: OpenVINO,
    else onnxruntime, else torch), ``"openvino"``, ``"onnxruntime"`` or ``"torch"``; same numbers within 1e-3.

    Raises ValueError for bad arguments and :class:`LPIPSUnavailableError` (a RuntimeError) when the requested
    network cannot be set up.
    """
    backend = _resolve_backend(net, backend, pnet_rand)
    dev = _resolve_device(device)
    rt = lpips_runtime.resolve_runtime(runtime)
    if dev != "cpu" or pnet_rand or _weight_files(net, backend) is None:
        rt = "torch"  # a GPU runs torch; a random backbone or a missing file (download, error) goes the torch way
    key = (net, backend, dev, pnet_rand, rt)
    with _LOCK:  # held while loading, so concurrent first calls load the network once
        metric = _CACHE.get(key)
        if metric is None:
            if rt == "torch":
                metric = build_lpips(net, backend, dev, pnet_rand)
            else:  # the torch network is built only if the graph must be exported or a caller wants it
                build = (lambda: _build_lpips(net, False)) if backend == "lpips" else (lambda: _build_st(net))
                metric = LPIPSMetric(None, net, backend, dev, runtime=rt, build=build)
            _CACHE[key] = metric
        return metric
