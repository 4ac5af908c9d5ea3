"""Artefact maps for GAN methods: where a GAN output's texture departs from its PSNR counterpart's.

A GAN adds high-frequency detail; some of it is real texture (fur, grass) and some is invented
grain or ringing. LDL (Liang et al., CVPR 2022) locates artefacts as pixels where the *local
variance of the residual* ``SR - HR`` is high relative to the image's overall residual level.
DeSRA (Xie et al., ICML 2023) notes that a PSNR-trained network's output is a safe stand-in for
the unknown ground truth. We combine the two so the map needs no ground truth (it works in
upscale mode too): the residual is the GAN output minus the output of the same architecture
trained for PSNR (``srgan`` vs ``edsr``, ``real-gan`` vs ``real-edsr``), on BT.601 luma, and

    map = local_var_7x7(residual) * var(residual) ** (1/5)

(LDL's patch-level weight ``var(residual)^(1/a)``, ``a = 5``). Bright = the GAN changed the local
structure a lot there, in an image where it changes much overall; texture it restored coherently
(a smooth, low-variance residual) stays dark, isolated grain and speckle light up.
"""

from __future__ import annotations

import cv2
import numpy as np

from srcore.color import rgb_to_y_bt601

#: Each GAN method and the PSNR-trained method of the same architecture it is read against.
PSNR_COUNTERPART: dict[str, str] = {"srgan": "edsr", "real-gan": "real-edsr", "unet-perceptual": "unet", "unet-gan": "unet"}

#: How to read the map (for a caption next to it).
CAPTION = (
    "Artefact map (LDL/DeSRA-style): local variance of the GAN output minus its PSNR-trained counterpart "
    "({gan} - {psnr}), on luma, weighted by the image's overall difference. Bright = texture the GAN "
    "invented or changed abruptly (likely grain/artefacts); dark = agrees with the PSNR output. "
    "No ground truth needed."
)


def psnr_counterpart(method_id: str) -> str | None:
    """The PSNR-trained method a GAN method is compared with, or None for non-GAN methods."""
    return PSNR_COUNTERPART.get(method_id)


def artefact_map(gan_output: np.ndarray, psnr_output: np.ndarray, window: int = 7, a: float = 5.0) -> np.ndarray:
    """Artefact map (float32, H x W, >= 0, in luma-variance units) of ``gan_output`` read against ``psnr_output``.

    Both are RGB (or grey) uint8 images of the same size. ``window`` is the local-variance window
    (LDL's 7), ``a`` the exponent of the global weight (LDL's 5). For display, divide by a fixed
    ceiling (:func:`normalise_map`) rather than the map's own maximum, so two maps stay comparable.
    """
    if gan_output.shape[:2] != psnr_output.shape[:2]:
        raise ValueError(
            f"outputs differ in size: {gan_output.shape[1]}x{gan_output.shape[0]} vs {psnr_output.shape[1]}x{psnr_output.shape[0]}"
        )
    if window < 1 or window % 2 == 0:
        raise ValueError(f"window must be an odd positive size, got {window}")
    r = (rgb_to_y_bt601(gan_output) - rgb_to_y_bt601(psnr_output)).astype(np.float64)
    mean = cv2.blur(r, (window, window), borderType=cv2.BORDER_REFLECT)
    mean_sq = cv2.blur(r * r, (window, window), borderType=cv2.BORDER_REFLECT)
    local_var = np.maximum(mean_sq - mean * mean, 0.0)
    return (local_var * float(np.var(r)) ** (1.0 / a)).astype(np.float32)


def normalise_map(amap: np.ndarray, ceiling: float | None = None) -> np.ndarray:
    """``amap`` scaled to [0, 1] for a heatmap: by ``ceiling`` if given, else its 99th percentile."""
    top = float(ceiling if ceiling is not None else np.percentile(amap, 99))
    if top <= 0:
        return np.zeros_like(amap, dtype=np.float32)
    return np.clip(amap / top, 0.0, 1.0).astype(np.float32)

