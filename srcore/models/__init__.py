"""Network definitions used for inference (training-only parts such as discriminators live in ``train/``)."""

from __future__ import annotations

from torch import nn

from srcore.models.edsr import EDSR
from srcore.models.espcn import ESPCN
from srcore.models.fsrcnn import FSRCNN
from srcore.models.unet import AutoEncoder, UNet

ARCHS: dict[str, type[nn.Module]] = {"edsr": EDSR, "espcn": ESPCN, "fsrcnn": FSRCNN, "unet": UNet, "autoencoder": AutoEncoder}
#: Architectures that work on the luma channel only (as OpenCV dnn_superres runs them).
LUMA_ARCHS = {"espcn", "fsrcnn"}


def build_model(arch: str, scale: int, /, **config: object) -> nn.Module:
    """Instantiate ``arch`` for ``scale``; ``config`` overrides the architecture's defaults
    (a stored ``config`` may repeat ``scale``; the argument wins)."""
    try:
        cls = ARCHS[arch]
    except KeyError:
        raise ValueError(f"unknown architecture {arch!r}; known: {', '.join(sorted(ARCHS))}") from None
    config.pop("scale", None)
    return cls(scale=scale, **config)  # type: ignore[call-arg]


__all__ = ["ARCHS", "EDSR", "ESPCN", "FSRCNN", "LUMA_ARCHS", "AutoEncoder", "UNet", "build_model"]
