"""Run a luma-only network the way OpenCV ``dnn_superres`` runs ESPCN/FSRCNN.

OpenCV (5.x ``dnn_superres.cpp``) converts BGR to full-range YCrCb, feeds Y/255 to the
network, enlarges the whole YCrCb image with ``cv::resize``'s default ``INTER_LINEAR``, puts
the network's Y in, converts every channel back to uint8 (rounding and clipping) and only
then converts YCrCb to BGR. Doing exactly the same around a torch model gives validation
numbers during training that match what the exported ``.pb`` scores through OpenCV.
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
    merged = cv2.resize(ycrcb, (w, h), interpolation=cv2.INTER_LINEAR)
    merged[..., 0] = y_sr
    merged8 = np.clip(np.round(merged * 255.0), 0, 255).astype(np.uint8)
    return cv2.cvtColor(merged8, cv2.COLOR_YCrCb2RGB)
