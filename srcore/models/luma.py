"""Run a luma-only network the way OpenCV ``dnn_superres`` runs ESPCN/FSRCNN.

OpenCV converts to full-range YCrCb, feeds Y/255 to the network, upscales Cr/Cb with
``INTER_CUBIC`` and converts back. Doing the same around a torch model gives validation
numbers during training that match what the exported ``.pb`` will score through OpenCV.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch import nn


def luma_upscale(model: nn.Module, rgb: np.ndarray, scale: int, device: torch.device | str = "cpu") -> np.ndarray:
    ycrcb = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb).astype(np.float32) / 255.0
    y = torch.from_numpy(np.ascontiguousarray(ycrcb[..., 0]))[None, None].to(device)
    with torch.inference_mode():
        y_sr = model(y)[0, 0].float().cpu().numpy()
    h, w = y_sr.shape
    chroma = cv2.resize(ycrcb, (w, h), interpolation=cv2.INTER_CUBIC)
    chroma[..., 0] = y_sr
    out = cv2.cvtColor(chroma, cv2.COLOR_YCrCb2RGB) * 255.0
    return np.clip(np.round(out), 0, 255).astype(np.uint8)
