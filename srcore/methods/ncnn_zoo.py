"""The reference models people choose between: Real-ESRGAN and Real-CUGAN, from the ncnn files in their wheels.

Each ncnn model is read into a torch module (:mod:`srcore.models.ncnn_graph`), so it tiles, exports and runs
on every ``--backend`` like our own networks (``auto``: OpenVINO, measured fastest for them too); ``--backend ncnn``
runs the very same files through the ``ncnn`` package instead, the reference the conversion is tested against. We did not train these
networks: their cards (``assets/reference/<id>.json``) say where they come from and what we measured.

Real-CUGAN needs two rules of its own, reproduced from realcugan-ncnn-vulkan:

* its U-Nets use unpadded convolutions and crop their skips, so the input is reflect-padded by a fixed
  ``prepadding`` (18 / 14 / 19 px for x2 / x3 / x4) and rounded up to an even size (a multiple of 4 at x3);
  the network then returns exactly ``scale`` times the unpadded input. The same padding is what makes its
  tiles exact: each tile is cut from the padded image with ``prepadding`` of real context per side.
* its squeeze-and-excitation blocks average over the *whole* input. Tiles therefore get those averages from
  one pass over the whole image (area-downscaled to :data:`GAP_MAX_PIXELS` when larger -- the idea of the
  original's ``syncgap``), so a tiled run equals an untiled one.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from srcore.backends import current as current_backend
from srcore.backends import forward_for
from srcore.errors import MethodError
from srcore.methods.base import Option, Upscaler
from srcore.methods.torch_sr import TorchUpscaler, run_network
from srcore.models.ncnn_graph import NcnnGraph, load_graph
from srcore.ncnn_runtime import NcnnNet
from srcore.ncnn_wheels import CUGAN_DIST, ESRGAN_DIST, NcnnFile, describe
from srcore.paths import ASSETS_DIR
from srcore.tiling import auto_tile, tiled_apply

REFERENCE_CARDS = ASSETS_DIR / "reference"
#: Largest image (input pixels) whose squeeze-and-excitation averages are taken at full size; larger
#: images are area-downscaled to this for that one pass (bounded memory, like realcugan's syncgap).
GAP_MAX_PIXELS = 400 * 400

ESRGAN = ESRGAN_DIST
CUGAN = CUGAN_DIST

DENOISE = Option("denoise", -1.0, -1.0, 3.0, "Real-CUGAN denoise level: -1 conservative, 0 none, 1-3 stronger "
                 "(x2 has all five; x3/x4 and the pro models -1, 0, 3)")
PRO = Option("pro", 0.0, 0.0, 1.0, "Real-CUGAN model family: 0 = se (x2, x3, x4), 1 = pro (x2, x3; sharper, newer)")
_LEVEL_NAMES = {-1: "conservative", 0: "no-denoise", 1: "denoise1x", 2: "denoise2x", 3: "denoise3x"}


def _to_uint8(y: torch.Tensor) -> np.ndarray:
    return (y.float().clamp_(0, 1) * 255.0).round_().byte()[0].permute(1, 2, 0).cpu().numpy()


def _to_input(patch: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(patch.transpose(2, 0, 1), dtype=np.float32)[None] / np.float32(255.0)


@dataclass
class NcnnZooMethod(TorchUpscaler):
    """A published network from an ncnn wheel (Real-ESRGAN or Real-CUGAN), converted to torch on load."""

    dist: str = field(default=ESRGAN, kw_only=True)
    #: ncnn file stem per scale (Real-ESRGAN) or per (scale, pro, denoise) (Real-CUGAN)
    stems: dict[tuple[int, ...], str] = field(default_factory=dict, kw_only=True)
    #: card name in ``assets/reference/``
    card: str = field(default="", kw_only=True)
    #: Real-CUGAN's reflect pre-padding per scale; empty for ordinary (padded-convolution) networks
    prepad: dict[int, int] = field(default_factory=dict, kw_only=True)
    #: working-set estimate for auto tiling (bytes per input pixel)
    bytes_per_pixel: float = field(default=10_000.0, kw_only=True)

    @property
    def is_cugan(self) -> bool:
        return bool(self.prepad)

    # -- which file ---------------------------------------------------------------------------

    def _key(self, scale: int, options: dict[str, Any]) -> tuple[int, ...]:
        if not self.is_cugan:
            return (scale,)
        level, pro = options.get("denoise", DENOISE.default), options.get("pro", PRO.default)
        if float(level) != int(level) or int(level) not in _LEVEL_NAMES:
            raise MethodError(f"{self.id}: denoise must be one of -1, 0, 1, 2, 3, got {level}")
        if float(pro) not in (0.0, 1.0):
            raise MethodError(f"{self.id}: pro must be 0 (se models) or 1 (pro models), got {pro}")
        key = (scale, int(pro), int(level))
        if key not in self.stems:
            family = "pro" if int(pro) else "se"
            have = sorted(k[2] for k in self.stems if k[:2] == key[:2])
            if not have:
                raise MethodError(f"{self.id}: the {family} models have no x{scale} file (pro: x2, x3; se: x2, x3, x4)")
            raise MethodError(f"{self.id}: the {family} x{scale} models have denoise levels {', '.join(map(str, have))}, not {int(level)}")
        return key

    def file(self, scale: int, **options: Any) -> NcnnFile:
        return NcnnFile(self.dist, self.stems[self._key(scale, options)])

    def missing(self, scale: int) -> str | None:
        return self.file(scale).missing()

    def weight_files(self, scale: int) -> list[Path]:
        f = self.file(scale)
        return [f.param, f.bin]

    # -- the networks -------------------------------------------------------------------------

    def graph(self, scale: int, **options: Any) -> NcnnGraph:
        """The torch module of the chosen file (verified, converted once per process)."""
        f = self.file(scale, **options)

        def build() -> nn.Module:
            f.verify()
            return load_graph(f.param.read_text(), f.bin.read_bytes(), f.stem)

        return self._get(("graph", f.stem), build)  # type: ignore[return-value]

    def ncnn_net(self, scale: int, **options: Any) -> NcnnNet:
        f = self.file(scale, **options)
        g = self.graph(scale, **options)
        gaps = [layer.tops[0] for layer in g.layers if layer.type == "Pooling" and layer.get(4)]
        with self._lock:
            key = ("ncnn", f.stem)
            if key not in self._models:
                f.verify()
                self._models[key] = NcnnNet(f.param, f.bin, g.input, g.output, gaps, max(1, torch.get_num_threads()),  # type: ignore[assignment]
                                            f.stem)
            return self._models[key]  # type: ignore[return-value]

    def torch_network(self, scale: int, **options: Any) -> nn.Module:
        """What ``export`` and the runtime backends run: the graph, with Real-CUGAN's padding and crop built in."""
        g = self.graph(scale, **options)
        if not self.is_cugan:
            return g
        key = ("whole", id(g))
        return self._get(key, lambda: CuganWhole(g, scale, self.prepad[scale]))

    def _engine(self) -> str:
        # ``auto`` keeps the general order (OpenVINO first): fastest or level for these too on AVX-512 CPUs, ncnn ahead
        # only on AVX2-only ones (docs/speed_reference_x4.json, README "Reference models"); ncnn runs when asked for.
        return current_backend()

    # -- running ------------------------------------------------------------------------------

    def _run(self, image: np.ndarray, scale: int, *, tile: int | None, **options: Any) -> np.ndarray:
        side = auto_tile(self.bytes_per_pixel, self.device.type) if tile is None else tile
        engine = self._engine()
        if self.is_cugan:
            return self._run_cugan(image, scale, side, engine, options)
        if engine == "ncnn":
            net = self.ncnn_net(scale, **options)
            return tiled_apply(lambda p: _to_uint8(torch.from_numpy(net(_to_input(p)))), image, scale, side, self.receptive_margin)
        return run_network(self.graph(scale, **options), image, scale, tile, self.receptive_margin, self.bytes_per_pixel,
                           self.device, self.half)

    def _run_cugan(self, image: np.ndarray, scale: int, side: int, engine: str, options: dict[str, Any]) -> np.ndarray:
        graph = self.graph(scale, **options)
        pad = self.prepad[scale]
        align = 4 if scale == 3 else 2
        h, w = image.shape[:2]
        tiled = side > 0 and (h > side or w > side)
        if engine == "ncnn":
            net = self.ncnn_net(scale, **options)

            def call(x: np.ndarray, gaps: list[np.ndarray] | None = None, record: list[np.ndarray] | None = None) -> np.ndarray:
                return net(x, gaps, record)
        else:
            fwd = forward_for(graph, self.device, self.half)

            def call(x: np.ndarray, gaps: list[np.ndarray] | None = None, record: list[np.ndarray] | None = None) -> np.ndarray:
                t = torch.from_numpy(x).to(self.device)
                with torch.inference_mode():
                    if gaps is None and record is None:
                        return fwd(t).float().cpu().numpy()  # the runtime backends run the plain graph
                    rec: list[torch.Tensor] | None = [] if record is not None else None
                    g = [torch.from_numpy(v).to(self.device) for v in gaps] if gaps is not None else None
                    y = graph(t, g, rec).float().cpu().numpy()
                    if record is not None and rec is not None:
                        record.extend(v.float().cpu().numpy() for v in rec)
                    return y

        gaps: list[np.ndarray] | None = None
        if graph.n_gaps and (tiled or h * w > GAP_MAX_PIXELS):
            gaps = []
            call(_to_input(_cugan_pad(_gap_image(image), pad, align)), record=gaps)
        padded = _cugan_pad(image, pad, align)
        x_all = _to_input(padded)
        if not tiled:
            return _to_uint8(torch.from_numpy(_cugan_residual(call(x_all, gaps), x_all, scale, pad)))[: h * scale, : w * scale]
        step = max(4, side // 4 * 4)  # tile origins on a multiple of 4: the U-Nets' stride-2 phases line up
        out = np.empty((h * scale, w * scale, 3), np.uint8)
        for y0 in range(0, h, step):
            for x0 in range(0, w, step):
                th, tw = min(step, h - y0), min(step, w - x0)
                th_a, tw_a = th + (-(th + 2 * pad)) % align, tw + (-(tw + 2 * pad)) % align
                win = x_all[..., y0 : y0 + th_a + 2 * pad, x0 : x0 + tw_a + 2 * pad]
                win = np.ascontiguousarray(win)
                res = _to_uint8(torch.from_numpy(_cugan_residual(call(win, gaps), win, scale, pad)))
                out[y0 * scale : (y0 + th) * scale, x0 * scale : (x0 + tw) * scale] = res[: th * scale, : tw * scale]
        return out

    # -- cards --------------------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        d = super().info()
        card = load_reference_card(self.card)
        d["reference_card"] = card
        try:
            d["provenance"] = describe(self.file(self.scales[-1]))
        except KeyError:
            pass
        return d


class CuganWhole(nn.Module):
    """A Real-CUGAN graph as a plain SR module: reflect pre-padding, the network, the crop to ``scale`` x input."""

    def __init__(self, graph: NcnnGraph, scale: int, prepad: int) -> None:
        super().__init__()
        self.graph, self.scale, self.prepad = graph, scale, prepad
        self.align = 4 if scale == 3 else 2

    @property
    def graph_signature(self) -> str:
        return f"cugan x{self.scale} prepad {self.prepad}|{self.graph.graph_signature}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        p = self.prepad
        eh, ew = (-(h + 2 * p)) % self.align, (-(w + 2 * p)) % self.align
        y = self.graph(F.pad(x, (p, p + ew, p, p + eh), mode="reflect"))[..., : h * self.scale, : w * self.scale]
        if self.scale == 4:  # the x4 graph ends before UpCunet4x's nearest-upsampled input residual
            y = y + F.interpolate(x, scale_factor=4.0, mode="nearest")
        return y


def _cugan_residual(y: np.ndarray, x_padded: np.ndarray, scale: int, pad: int) -> np.ndarray:
    """Finish a Real-CUGAN output: the x4 model's graph stops before its input residual (UpCunet4x adds the
    nearest-upsampled input; realcugan-ncnn-vulkan does it in its post-processing), so add it here."""
    if scale != 4:
        return y
    oh, ow = y.shape[-2] // 4, y.shape[-1] // 4
    x = x_padded[..., pad : pad + oh, pad : pad + ow]
    return y + np.repeat(np.repeat(x, 4, axis=-2), 4, axis=-1)


def _cugan_pad(image: np.ndarray, pad: int, align: int) -> np.ndarray:
    """Reflect-pad (edge pixel not repeated, as ncnn's BORDER_REFLECT) and round the padded size up to ``align``."""
    h, w = image.shape[:2]
    eh, ew = (-(h + 2 * pad)) % align, (-(w + 2 * pad)) % align
    mode = "reflect" if min(h, w) > pad + max(eh, ew) else "symmetric"  # tiny images cannot reflect that far
    return np.pad(image, ((pad, pad + eh), (pad, pad + ew), (0, 0)), mode=mode)


def _gap_image(image: np.ndarray) -> np.ndarray:
    """The image the squeeze-and-excitation averages are taken from: itself, or area-downscaled to GAP_MAX_PIXELS."""
    h, w = image.shape[:2]
    if h * w <= GAP_MAX_PIXELS:
        return image
    f = math.sqrt(GAP_MAX_PIXELS / (h * w))
    return cv2.resize(image, (max(8, round(w * f)), max(8, round(h * f))), interpolation=cv2.INTER_AREA)


def load_reference_card(name: str) -> dict[str, Any] | None:
    """A reference model's card (``assets/reference/<name>.json``), or None before ``benchmarks/reference_cards.py`` ran."""
    path = REFERENCE_CARDS / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _cugan_stems() -> dict[tuple[int, ...], str]:
    se = {2: (-1, 0, 1, 2, 3), 3: (-1, 0, 3), 4: (-1, 0, 3)}
    pro = {2: (-1, 0, 3), 3: (-1, 0, 3)}
    stems: dict[tuple[int, ...], str] = {}
    for flag, family, table in ((0, "se", se), (1, "pro", pro)):
        for s, levels in table.items():
            for lv in levels:
                stems[(s, flag, lv)] = f"models-{family}/up{s}x-{_LEVEL_NAMES[lv]}"
    return stems


def ncnn_zoo_methods() -> list[Upscaler]:
    trained = "published by its authors; SR Lab did not train it (card: source, licence, our measured numbers)"
    return [
        NcnnZooMethod(id="realesrgan-x4plus", label="Real-ESRGAN x4plus", scales=(4,), receptive_margin=64,
                      dist=ESRGAN, stems={(4,): "realesrgan-x4plus"}, card="realesrgan-x4plus", bytes_per_pixel=16_000.0,
                      description="Real-ESRGAN x4plus (Wang et al. 2021): RRDBNet, 23 blocks, 16.7 M params, GAN-trained on DF2K + OST "
                                  f"with second-order real-world degradations; the reference for real photos. {trained}."),
        NcnnZooMethod(id="realesrgan-x4plus-anime", label="Real-ESRGAN x4plus anime", scales=(4,), receptive_margin=64,
                      dist=ESRGAN, stems={(4,): "realesrgan-x4plus-anime"}, card="realesrgan-x4plus-anime", bytes_per_pixel=16_000.0,
                      description=f"Real-ESRGAN x4plus anime6B: RRDBNet with 6 blocks (4.5 M params) for anime illustrations. {trained}."),
        NcnnZooMethod(id="realesr-animevideov3", label="Real-ESRGAN anime video v3", scales=(2, 3, 4), receptive_margin=24,
                      dist=ESRGAN, stems={(s,): f"realesr-animevideov3-x{s}" for s in (2, 3, 4)}, card="realesr-animevideov3",
                      bytes_per_pixel=4.0 * 64 * 40,
                      description=f"realesr-animevideov3: SRVGGNetCompact (16 convs, 0.6 M params), fast, for anime video. {trained}."),
        NcnnZooMethod(id="realcugan", label="Real-CUGAN", scales=(2, 3, 4), options=(DENOISE, PRO), receptive_margin=0,
                      dist=CUGAN, stems=_cugan_stems(), card="realcugan", prepad={2: 18, 3: 14, 4: 19}, bytes_per_pixel=8_000.0,
                      description="Real-CUGAN (bilibili, 2022): a cascade of U-Nets with squeeze-and-excitation, 1.3-1.4 M params, "
                                  f"trained on anime; denoise levels and se/pro families. {trained}."),
    ]
