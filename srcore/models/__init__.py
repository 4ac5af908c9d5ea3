"""Network definitions used for inference (training-only parts such as discriminators live in ``train/``)."""

from __future__ import annotations

import torch
from torch import nn

from srcore.models.edsr import EDSR, edsr_config_from_state_dict
from srcore.models.espcn import ESPCN
from srcore.models.fsrcnn import FSRCNN
from srcore.models.rrdb import RRDBNet, rrdb_config_from_state_dict
from srcore.models.unet import AutoEncoder, UNet, unet_config_from_state_dict

ARCHS: dict[str, type[nn.Module]] = {"edsr": EDSR, "espcn": ESPCN, "fsrcnn": FSRCNN, "unet": UNet, "autoencoder": AutoEncoder,
                                 "rrdb": RRDBNet}
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


def config_from_state_dict(state: dict[str, torch.Tensor]) -> tuple[str, dict]:
    """(architecture, config) of an EDSR, RRDBNet or U-Net/autoencoder state dict, told apart by their own layer names.

    Why from the weights (as spandrel does): a GAN fine-tune starts from any of our PSNR networks, and the
    file is the one thing that cannot disagree with itself about what it holds.
    """
    if "enc0.0.weight" in state and "head.weight" in state:
        cfg = unet_config_from_state_dict(state)
        return ("unet" if cfg["skips"] else "autoencoder"), cfg
    if "conv_first.weight" in state and "conv_last.weight" in state:
        return "rrdb", rrdb_config_from_state_dict(state)
    if "head.0.weight" in state and any(k.startswith("body.") for k in state):
        return "edsr", edsr_config_from_state_dict(state)
    raise ValueError("not an EDSR, RRDBNet or U-Net state dict (no head.0.weight/body.*, conv_first.*/conv_last.* or enc0.*/head.weight tensors)")


__all__ = ["ARCHS", "EDSR", "ESPCN", "FSRCNN", "LUMA_ARCHS", "AutoEncoder", "RRDBNet", "UNet", "build_model", "config_from_state_dict"]
