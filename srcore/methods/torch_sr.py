"""PyTorch methods: our EDSR, the official EDSR-PyTorch weights, and user model files via spandrel.

All share one runner: CUDA with fp16 when present, else CPU fp32; ``torch.inference_mode``;
tiled (see :mod:`srcore.tiling`) so memory stays bounded; each network loaded once per
scale and cached. Weights load only through safetensors or ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from srcore.backends import current as current_backend
from srcore.backends import forward_for
from srcore.errors import MethodError, ModelFileError
from srcore.methods.base import Family, Upscaler
from srcore.models import build_model
from srcore.models.edsr import EDSR, edsr_config_from_state_dict
from srcore.paths import ASSETS_DIR, model_dirs, searched_dirs_text
from srcore.tiling import auto_tile, tiled_apply
from srcore.weights import EDSR_OFFICIAL_FILES, WeightFile, load_card, shipped_file, zoo_file
from srcore.weights_io import load_state_dict


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def run_network(
    forward: Callable[[torch.Tensor], torch.Tensor],
    image: np.ndarray,
    scale: int,
    tile: int | None,
    margin: int,
    bytes_per_pixel: float,
    device: torch.device,
    half: bool = False,
    multiple_of: int = 1,
) -> np.ndarray:
    """Run an RGB->RGB network tile by tile; input/output uint8 H x W x 3.

    The network runs on the backend chosen for this call (:func:`srcore.backends.forward_for`);
    conversion, padding, tiling and rounding are the same for every backend.
    """
    forward = forward_for(forward, device, half)

    def run(patch: np.ndarray) -> np.ndarray:
        h, w = patch.shape[:2]
        x = torch.from_numpy(np.array(patch, order="C", copy=True)).to(device).permute(2, 0, 1)[None]
        x = x.half() if half else x.float()
        x = x / 255.0
        ph, pw = (-h) % multiple_of, (-w) % multiple_of
        if ph or pw:  # some architectures (window attention) need sizes that are multiples of N
            x = nn.functional.pad(x, (0, pw, 0, ph), mode="replicate")
        with torch.inference_mode():
            y = forward(x)[..., : h * scale, : w * scale]
            y = (y.float().clamp_(0, 1) * 255.0).round_().byte()
            return y[0].permute(1, 2, 0).cpu().numpy()

    side = auto_tile(bytes_per_pixel, device.type) if tile is None else tile
    return tiled_apply(run, image, scale, side, margin, fixed_window=current_backend() not in ("torch", "torch-nchw"))


@dataclass
class TorchUpscaler(Upscaler):
    """Base for torch methods: lazy, thread-safe, once-per-scale model loading."""

    family: Family = "torch"

    def __post_init__(self) -> None:
        self._models: dict[Any, nn.Module] = {}
        self._lock = threading.RLock()  # re-entrant: a build() may itself read cached state
        self.device = default_device()

    def _get(self, key: Any, build: Callable[[], nn.Module]) -> nn.Module:
        with self._lock:
            if key not in self._models:
                model = build().eval().to(self.device)
                if self.device.type == "cuda":
                    model = model.half()
                for p in model.parameters():
                    p.requires_grad_(False)
                self._models[key] = model
            return self._models[key]

    @property
    def half(self) -> bool:
        return self.device.type == "cuda"

    def torch_network(self, scale: int, **options: Any) -> nn.Module:
        """The loaded network that ``_run`` uses at ``scale`` with ``options`` (for export and the backends)."""
        raise NotImplementedError

    def weight_files(self, scale: int) -> list[Path]:
        """The weight file(s) behind :meth:`torch_network` (their SHA-256 goes into exported files)."""
        raise NotImplementedError


def edsr_bytes_per_pixel(n_feats: int, scale: int) -> float:
    # Live activations at the widest point: the 4*n_feats conv before each pixel shuffle.
    return 4.0 * n_feats * (6 + 2 * scale * scale)


@dataclass
class OurTorchSR(TorchUpscaler):
    """A network trained here (weights ``assets/<asset>_x<scale>``, architecture from its card): ``edsr`` on clean
    bicubic LR, ``real-edsr`` on realistic LR, ``autoencoder``/``unet``/``unet-perceptual`` on bicubic + JPEG LR (``unet-gan``'s
    GAN fine-tune on bicubic LR)."""

    #: file stem of the shipped weights and cards, e.g. ``edsr`` -> ``assets/edsr_x4.safetensors``
    asset: str = "edsr"
    #: :func:`srcore.models.build_model` architecture, used when a card does not name one
    arch: str = "edsr"
    #: how to make the weights when they are missing (shown in the unavailability reason)
    train_hint: str = "python -m train.sr --arch edsr"

    def _weights(self, scale: int) -> tuple[Path, dict[str, Any]] | None:
        return shipped_file(f"{self.asset}_x{scale}")

    def missing(self, scale: int) -> str | None:
        return None if self._weights(scale) else self._not_shipped(f"x{scale}")

    def unavailable_reason(self, scale: int | None, reasons: list[str]) -> str:
        return reasons[0] if scale is not None else self._not_shipped("any scale")

    def _not_shipped(self, which: str) -> str:
        return f"our {self.id} weights for {which} are not shipped in {ASSETS_DIR} (train: `{self.train_hint}`)"

    def _model(self, scale: int) -> nn.Module:
        found = self._weights(scale)
        if found is None:
            raise MethodError(self.availability(scale).reason)
        path, card = found

        def build() -> nn.Module:
            m = build_model(card.get("arch", self.arch), scale, **card.get("model_config", {}))
            m.load_state_dict(load_state_dict(path))
            return m

        return self._get(scale, build)

    def torch_network(self, scale: int, **options: Any) -> nn.Module:
        return self._model(scale)

    def weight_files(self, scale: int) -> list[Path]:
        found = self._weights(scale)
        return [found[0]] if found else []

    def _run(self, image: np.ndarray, scale: int, *, tile: int | None, **options: Any) -> np.ndarray:
        model = self._model(scale)
        bpp = edsr_bytes_per_pixel(int(model.config.get("n_feats", 64)), scale)  # both end in EDSR's pixel-shuffle tail
        return run_network(model, image, scale, tile, self.receptive_margin, bpp, self.device, self.half)

    def info(self) -> dict[str, Any]:
        d = super().info()
        d["cards"] = {s: c for s in self.scales if (c := load_card(f"{self.asset}_x{s}"))}
        return d


_OFFICIAL_RE = re.compile(r"^edsr_(baseline_)?x(\d)-([0-9a-f]{8})\.pt$")


@dataclass
class OfficialEDSR(TorchUpscaler):
    """The official EDSR-PyTorch checkpoints (Lim et al.), found in the model directories.

    Availability only looks for the file; its SHA-256 is checked when the network is loaded
    (a refused file raises ModelFileError there), once per file state like every weight file.
    """

    def _find(self, scale: int) -> Path | None:
        """Prefer the full EDSR over the baseline when both are present (it is ~0.3 dB better)."""
        hits: list[Path] = []
        for d in model_dirs():
            if not d.is_dir():
                continue
            for p in sorted(d.iterdir()):
                m = _OFFICIAL_RE.match(p.name)
                if m and int(m.group(2)) == scale and p.is_file() and p.resolve().parent == d.resolve():
                    hits.append(p)
        hits.sort(key=lambda p: "baseline" in p.name)
        return hits[0] if hits else None

    def missing(self, scale: int) -> str | None:
        return None if self._find(scale) else self._not_found((scale,))

    def unavailable_reason(self, scale: int | None, reasons: list[str]) -> str:
        return self._not_found((scale,) if scale is not None else self.scales)

    @staticmethod
    def _not_found(scales: tuple[int, ...]) -> str:
        names = ", ".join(n for n, s in EDSR_OFFICIAL_FILES.items() if s in scales)
        return f"official EDSR weights ({names}) not found in {searched_dirs_text()}; run `python -m srcore download edsr-official`"

    def _model(self, scale: int) -> EDSR:
        path = self._find(scale)
        if path is None:
            raise MethodError(self.availability(scale).reason)
        # torch.hub convention: the 8 hex digits in the name are the file's SHA-256 prefix.
        spec = zoo_file(path.name) or WeightFile(path.name, "", sha256_prefix=_OFFICIAL_RE.match(path.name).group(3))
        spec.verify(path)

        def build() -> nn.Module:
            state = load_state_dict(path)
            cfg = edsr_config_from_state_dict(state)
            if cfg["scale"] != scale:
                raise ModelFileError(f"{path.name} is an x{cfg['scale']} model, not x{scale}")
            m = EDSR(**cfg)
            missing, unexpected = m.load_state_dict(state, strict=False)
            if [k for k in missing if "mean" not in k] or unexpected:
                raise ModelFileError(f"{path.name} is not an EDSR-PyTorch checkpoint (mismatched keys)")
            return m

        return self._get((path, scale), build)  # type: ignore[return-value]

    def torch_network(self, scale: int, **options: Any) -> nn.Module:
        return self._model(scale)

    def weight_files(self, scale: int) -> list[Path]:
        found = self._find(scale)
        return [found] if found else []

    def _run(self, image: np.ndarray, scale: int, *, tile: int | None, **options: Any) -> np.ndarray:
        model = self._model(scale)
        bpp = edsr_bytes_per_pixel(int(model.config["n_feats"]), scale)
        return run_network(model, image, scale, tile, self.receptive_margin, bpp, self.device, self.half)


class _DescriptorModule(nn.Module):
    """A spandrel descriptor as an ``nn.Module``, so the shared loader can move it to the device."""

    def __init__(self, desc: Any) -> None:
        super().__init__()
        self.desc = desc
        self.inner = desc.model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.desc(x)


@dataclass
class SpandrelFile(TorchUpscaler):
    """A user's own ``.pth``/``.safetensors`` model (ESRGAN, Real-ESRGAN, SwinIR, HAT, ...) via spandrel.

    Built by :func:`file_method`, which reads the file first: the architecture, scale and label
    come from the loaded descriptor, so the object is complete when constructed.
    """

    path: Path = field(kw_only=True)
    arch: str = field(kw_only=True)
    network: _DescriptorModule = field(kw_only=True, repr=False, compare=False)

    def _load(self) -> _DescriptorModule:
        return self._get("model", lambda: self.network)  # type: ignore[return-value]

    def torch_network(self, scale: int, **options: Any) -> nn.Module:
        return self._load()

    def weight_files(self, scale: int) -> list[Path]:
        return [self.path]

    def _run(self, image: np.ndarray, scale: int, *, tile: int | None, **options: Any) -> np.ndarray:
        mod = self._load()
        desc = mod.desc
        req = desc.size_requirements
        return run_network(
            mod, image, scale, tile, self.receptive_margin, 4.0 * 64 * 40, self.device,
            self.half and desc.supports_half, multiple_of=max(1, req.multiple_of),
        )


def _load_descriptor(path: Path) -> _DescriptorModule:
    """Read a user model file (safe loaders only) and let spandrel recognise it as an RGB SR network."""
    import spandrel  # lazy: only file: models need it, and importing it loads every architecture (~3 s)

    state = load_state_dict(path)
    try:
        desc = spandrel.ModelLoader().load_from_state_dict(state)
    except Exception as exc:
        raise ModelFileError(f"{path.name}: spandrel does not recognise this architecture ({str(exc)[:160]})") from None
    if not isinstance(desc, spandrel.ImageModelDescriptor) or desc.input_channels != 3 or desc.output_channels != 3:
        raise ModelFileError(f"{path.name}: not an RGB image-to-image super-resolution model")
    return _DescriptorModule(desc)


def file_method(spec: str, allowed_dirs: list[Path] | None = None) -> SpandrelFile:
    """Build the ``file:<path>`` method. Reads the file once to detect architecture and scale.

    ``allowed_dirs``: when given (the UI), the resolved path must lie inside one of them, so
    ``..`` and symlinks cannot reach elsewhere.
    """
    raw = spec[len("file:"):] if spec.startswith("file:") else spec
    path = Path(raw).expanduser()
    if allowed_dirs is not None:
        real = path.resolve()
        if not any(real.is_relative_to(d.resolve()) for d in allowed_dirs):
            raise MethodError(f"file:{raw} is outside the allowed model folders")
    if not path.is_file():
        raise MethodError(f"model file not found: {path}")
    if path.suffix.lower() not in {".pth", ".pt", ".safetensors", ".ckpt", ".bin"}:
        raise ModelFileError(f"{path.name}: expected a .pth, .pt or .safetensors model file")
    network = _load_descriptor(path)
    desc = network.desc
    arch, scale = desc.architecture.name, int(desc.scale)
    params = sum(p.numel() for p in desc.model.parameters()) / 1e6
    return SpandrelFile(
        id=f"file:{raw}", label=f"{path.name} ({arch} x{scale})", scales=(scale,), receptive_margin=24,
        description=f"User model {path.name}: {arch}, x{scale}, {params:.2f} M params (loaded with spandrel).",
        path=path, arch=arch, network=network,
    )


#: tile margin (LR px) of the 24-block real-world EDSRs (``real-edsr``, ``real-gan``): 2 convs per block + head, body end
#: and the first tail conv reach 51 px; the 16-block networks' 40 would leave seams.
REAL_MARGIN = 56


def torch_methods() -> list[Upscaler]:
    return [
        OurTorchSR(id="edsr", label="EDSR-baseline (ours)", scales=(2, 4), receptive_margin=40,
                description="EDSR-baseline (16 blocks x 64 channels, Lim et al. 2017) trained here with L1 loss on clean bicubic LR "
                            "(training data and measured numbers: its model card)."),
        OurTorchSR(id="real-edsr", label="Real-EDSR (ours)", scales=(4,), receptive_margin=REAL_MARGIN, asset="real_edsr",
                train_hint="python -m train.sr --arch edsr --degrade realistic --init assets/edsr_x4.safetensors",
                description="Our EDSR (24 blocks x 64 channels, 2.1 M params) fine-tuned on real-world degradations (blur, "
                            "resampling, noise, JPEG; Real-ESRGAN's second-order model) mixed with clean bicubic: made for "
                            "JPEG/noisy photos."),
        *[OurTorchSR(id=id_, label=label, scales=(4,), receptive_margin=40, asset=id_.replace("-", "_"), arch=arch,
                     train_hint=f"python -m train.sr --arch {arch} --loss {loss} --degrade jpeg, then train.export --name {id_.replace('-', '_')}_x4",
                     description=f"{what}, trained here on bicubic + JPEG (Q 30-95) LR, the 'crappify' degradation; "
                                 "a 45-minute CPU run of README's 'Which loss?' study (numbers: its model card).")
          # `unet-perceptual` and `unet-gan` are in srcore/methods/srgan.py: strength dials between `unet` and its
          # feature-loss / GAN fine-tunes.
          # No `autoencoder` here: the study's no-skip baseline (assets/autoencoder_x4, trained by
          # `train.sr --arch autoencoder`) is bicubic to within 0.02 dB on Set5, and issue 25 lists it as a method
          # only once it beats bicubic by >= 0.3 dB (tests/test_losses.py reads its card for that).
          for id_, label, arch, loss, what in (
              ("unet", "U-Net (ours)", "unet", "hfen+l1",
               "The same encoder-decoder with U-Net skip connections, HFEN + L1 loss (the study's best per-pixel loss by Set14 PSNR)"),
          )],
        OfficialEDSR(id="edsr-official", label="EDSR (official weights)", scales=(2, 3, 4), receptive_margin=40,
                     description="The official EDSR-PyTorch weights (DIV2K-trained); the full model when present, else the baseline."),
    ]
