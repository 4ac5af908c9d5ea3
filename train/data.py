"""Training data: random aligned HR/LR patch pairs from a folder of images.

LR images are made once, up front, with our MATLAB-style degradation of the whole image
(as EDSR and BasicSR do) - degrading each patch separately would get the borders wrong and
cost far more CPU. Flips and 90-degree rotations commute with the symmetric bicubic
kernel, so augmenting HR and LR patches identically keeps them a true pair.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from srcore.color import rgb_to_y_full
from srcore.degrade import degrade

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


def list_images(folders: list[Path]) -> list[Path]:
    files: list[Path] = []
    for folder in folders:
        if folder.is_file():
            files.append(folder)
            continue
        if not folder.is_dir():
            raise SystemExit(f"training data folder not found: {folder}")
        files += sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise SystemExit(f"no images found in {', '.join(map(str, folders))}")
    return files


def read_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


class PatchSampler:
    """Draws batches of (lr, hr) float tensors in [0, 1], NCHW.

    ``luma=True`` gives single-channel full-range Y patches (the ESPCN/FSRCNN convention).
    Each DDP rank gets its own generator seed, so ranks see different patches.
    """

    def __init__(self, folders: list[Path], scale: int, hr_patch: int, luma: bool, seed: int) -> None:
        if hr_patch % scale:
            raise SystemExit(f"--patch {hr_patch} must be a multiple of the scale {scale}")
        self.scale, self.hr_patch, self.luma = scale, hr_patch, luma
        self.pairs: list[tuple[np.ndarray, np.ndarray]] = []
        for path in list_images(folders):
            hr = read_rgb(path)
            if min(hr.shape[:2]) < hr_patch:
                continue
            hr, lr = degrade(hr, scale)
            self.pairs.append((hr, lr))
        if not self.pairs:
            raise SystemExit(f"no training image is at least {hr_patch} px on each side")
        self.rng = np.random.default_rng(seed)

    def state(self) -> dict:
        return self.rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state

    def _one(self) -> tuple[np.ndarray, np.ndarray]:
        hr, lr = self.pairs[self.rng.integers(len(self.pairs))]
        lp = self.hr_patch // self.scale
        y = int(self.rng.integers(lr.shape[0] - lp + 1))
        x = int(self.rng.integers(lr.shape[1] - lp + 1))
        lr_p = lr[y : y + lp, x : x + lp]
        hr_p = hr[y * self.scale : (y + lp) * self.scale, x * self.scale : (x + lp) * self.scale]
        if self.rng.random() < 0.5:
            lr_p, hr_p = lr_p[:, ::-1], hr_p[:, ::-1]
        if self.rng.random() < 0.5:
            lr_p, hr_p = lr_p[::-1], hr_p[::-1]
        if self.rng.random() < 0.5:
            lr_p, hr_p = lr_p.transpose(1, 0, 2), hr_p.transpose(1, 0, 2)
        return lr_p, hr_p

    def batch(self, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        lrs, hrs = zip(*(self._one() for _ in range(size)), strict=False)
        return self._to_tensor(np.stack(lrs)), self._to_tensor(np.stack(hrs))

    def _to_tensor(self, batch: np.ndarray) -> torch.Tensor:
        if self.luma:
            return torch.from_numpy(np.ascontiguousarray(rgb_to_y_full(batch)))[:, None]
        t = torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2)
        return t.float().div_(255.0)


def load_validation(folder: Path, scale: int, limit: int | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """(hr, lr) uint8 RGB pairs: ``HR/``+``LR/`` used as given, else LR made by our degradation."""
    hr_dir, lr_dir = folder / "HR", folder / "LR"
    pairs: list[tuple[np.ndarray, np.ndarray]] = []
    if hr_dir.is_dir() and lr_dir.is_dir():
        for hr_path in sorted(p for p in hr_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
            pairs.append((read_rgb(hr_path), read_rgb(lr_dir / hr_path.name)))
    else:
        for path in list_images([folder]):
            pairs.append(degrade(read_rgb(path), scale))
    return pairs[:limit] if limit else pairs
