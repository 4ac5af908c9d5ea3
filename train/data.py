"""Training data: random aligned HR/LR patch pairs from a folder of images.

Clean LR images are made once, up front, with our MATLAB-style degradation of the whole image
(as EDSR and BasicSR do) - degrading each patch separately would get the borders wrong and
cost far more CPU. Flips and 90-degree rotations commute with the symmetric bicubic
kernel, so augmenting HR and LR patches identically keeps them a true pair.

With ``degrade="jpeg"`` or ``"realistic"`` the LR of each patch is made afresh (a network
trained on real-world degradations must never see the same noise twice): ``jpeg`` compresses
the clean LR patch at a random quality, ``realistic`` runs the second-order pipeline of
:func:`srcore.degrade.realistic_lr` on the HR patch. ``clean_share``/``jpeg_share`` mix in
clean-bicubic and JPEG-only patches so clean inputs keep their quality.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from srcore.bench import load_dataset
from srcore.color import rgb_to_y_full
from srcore.degrade import DEGRADATIONS, Degradation, degrade, jpeg_roundtrip, realistic_lr, usm_sharpen
from srcore.errors import SRError
from srcore.imageio import IMAGE_SUFFIXES

#: JPEG qualities drawn for on-the-fly JPEG patches (Real-ESRGAN's range).
TRAIN_JPEG_RANGE = (30, 95)


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


def augment(rng: np.random.Generator, lr: np.ndarray, hr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same random flip / flip / transpose of an LR patch and its target: one of the 8 dihedral views."""
    if rng.random() < 0.5:
        lr, hr = lr[:, ::-1], hr[:, ::-1]
    if rng.random() < 0.5:
        lr, hr = lr[::-1], hr[::-1]
    if rng.random() < 0.5:
        lr, hr = lr.transpose(1, 0, 2), hr.transpose(1, 0, 2)
    return lr, hr


class PatchSampler:
    """Draws batches of (lr, hr) float tensors in [0, 1], NCHW.

    ``luma=True`` gives single-channel full-range Y patches (the ESPCN/FSRCNN convention).
    Each DDP rank gets its own generator seed, so ranks see different patches.
    """

    def __init__(
        self,
        folders: list[Path],
        scale: int,
        hr_patch: int,
        luma: bool,
        seed: int,
        degrade_kind: str = "bicubic",
        clean_share: float = 0.0,
        jpeg_share: float = 0.0,
        usm_target: bool = False,
    ) -> None:
        if hr_patch % scale:
            raise SystemExit(f"--patch {hr_patch} must be a multiple of the scale {scale}")
        if degrade_kind not in DEGRADATIONS:
            raise SystemExit(f"--degrade must be one of {', '.join(DEGRADATIONS)}")
        if clean_share < 0 or jpeg_share < 0 or clean_share + jpeg_share > 1:
            raise SystemExit("--clean-share and --jpeg-share must be >= 0 and add up to at most 1")
        self.scale, self.hr_patch, self.luma = scale, hr_patch, luma
        # share of each kind of patch: the rest of the mix is ``degrade_kind`` itself
        self.mix = {"bicubic": clean_share, "jpeg": jpeg_share}
        self.mix[degrade_kind] = self.mix.get(degrade_kind, 0.0) + 1 - clean_share - jpeg_share
        self.pairs: list[tuple[np.ndarray, np.ndarray]] = []
        self.targets: list[np.ndarray] = []
        for path in list_images(folders):
            hr = read_rgb(path)
            if min(hr.shape[:2]) < hr_patch:
                continue
            hr, lr = degrade(hr, scale)
            self.pairs.append((hr, lr))
            if usm_target:
                self.targets.append(_to_u8(usm_sharpen(hr.astype(np.float32) / 255.0)))
        if not self.pairs:
            raise SystemExit(f"no training image is at least {hr_patch} px on each side")
        self.rng = np.random.default_rng(seed)

    def state(self) -> dict:
        return self.rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state

    def _kind(self) -> str:
        kinds = [k for k, share in self.mix.items() if share > 0]
        if len(kinds) == 1:
            return kinds[0]
        p = np.array([self.mix[k] for k in kinds])
        return kinds[int(self.rng.choice(len(kinds), p=p / p.sum()))]

    def _one(self) -> tuple[np.ndarray, np.ndarray]:
        i = int(self.rng.integers(len(self.pairs)))
        hr, lr = self.pairs[i]
        target = self.targets[i] if self.targets else hr
        lp, s = self.hr_patch // self.scale, self.scale
        y = int(self.rng.integers(lr.shape[0] - lp + 1))
        x = int(self.rng.integers(lr.shape[1] - lp + 1))
        hr_p = target[y * s : (y + lp) * s, x * s : (x + lp) * s]
        kind = self._kind()
        if kind == "realistic":
            lr_p = _to_u8(realistic_lr(hr[y * s : (y + lp) * s, x * s : (x + lp) * s].astype(np.float32) / 255.0, s, self.rng)[0])
        else:
            lr_p = lr[y : y + lp, x : x + lp]
            if kind == "jpeg":
                lr_p = jpeg_roundtrip(lr_p, int(self.rng.integers(TRAIN_JPEG_RANGE[0], TRAIN_JPEG_RANGE[1] + 1)))
        return augment(self.rng, lr_p, hr_p)

    def batch(self, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        lrs, hrs = zip(*(self._one() for _ in range(size)), strict=False)
        return self._to_tensor(np.stack(lrs)), self._to_tensor(np.stack(hrs))

    def _to_tensor(self, batch: np.ndarray) -> torch.Tensor:
        if self.luma:
            return torch.from_numpy(np.ascontiguousarray(rgb_to_y_full(batch)))[:, None]
        t = torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2)
        return t.float().div_(255.0)


def _to_u8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)


def load_validation(folder: Path, scale: int, limit: int | None = None, spec: Degradation | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """(hr, lr) uint8 RGB pairs from :func:`srcore.bench.load_dataset` - the loader ``bench`` uses.

    One loader, so validation scores are measured exactly like benchmark figures: ``HR/``+``LR/``
    used as given (HR cropped to a multiple of the scale), else LR made by our degradation; ``spec``
    (jpeg/realistic) degrades the HR images instead, so a real-world network is validated on the
    kind of input it is trained for (seeded: the same LR at every validation).
    """
    try:
        return [(it.hr, it.lr) for it in load_dataset(folder, scale, limit, spec)]
    except SRError as exc:
        raise SystemExit(f"validation data: {exc}") from exc


class ShardSampler:
    """Draws (lr, target) batches from :mod:`train.distill_data` shards: a teacher's outputs as targets.

    Same interface as :class:`PatchSampler`. ``target`` picks the ``teacher`` output (distillation) or the
    ``hr`` patch the LR was made from. The folder is re-read every ``rescan`` batches, so a student can start
    while the teacher is still making shards; random crops of ``hr_patch`` inside the stored patches, with
    the same flips and transposes as :class:`PatchSampler`.
    """

    def __init__(self, folder: Path, scale: int, hr_patch: int, seed: int, target: str = "teacher", rescan: int = 200) -> None:
        if target not in ("teacher", "hr"):
            raise SystemExit("--pairs-target must be teacher or hr")
        self.folder, self.scale, self.hr_patch, self.target, self.rescan = folder, scale, hr_patch, target, rescan
        self.rng = np.random.default_rng(seed)
        self._seen: set[str] = set()
        self.lr: list[np.ndarray] = []
        self.tg: list[np.ndarray] = []
        self._calls = 0
        self._scan()
        if not self.lr:
            raise SystemExit(f"--pairs {folder}: no shard_*.npz files (make them with python -m train.distill_data)")

    def _scan(self) -> None:
        for path in sorted(self.folder.glob("shard_*.npz")):
            if path.name in self._seen:
                continue
            with np.load(path) as d:
                lr, tg = d["lr"], d[self.target]
            if tg.shape[1] != lr.shape[1] * self.scale or lr.shape[1] * self.scale < self.hr_patch:
                raise SystemExit(f"{path.name}: patches of {lr.shape[1]} px at x{self.scale} cannot give {self.hr_patch}-px targets")
            self.lr.append(lr)
            self.tg.append(tg)
            self._seen.add(path.name)
        self.n = sum(len(a) for a in self.lr)

    @property
    def size(self) -> int:
        return self.n

    def state(self) -> dict:
        return self.rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state

    def _one(self) -> tuple[np.ndarray, np.ndarray]:
        i = int(self.rng.integers(self.n))
        k = 0
        while i >= len(self.lr[k]):
            i -= len(self.lr[k])
            k += 1
        lr_full, tg_full = self.lr[k][i], self.tg[k][i]
        lp, s = self.hr_patch // self.scale, self.scale
        y = int(self.rng.integers(lr_full.shape[0] - lp + 1))
        x = int(self.rng.integers(lr_full.shape[1] - lp + 1))
        lr_p, tg_p = lr_full[y : y + lp, x : x + lp], tg_full[y * s : (y + lp) * s, x * s : (x + lp) * s]
        return augment(self.rng, lr_p, tg_p)

    def batch(self, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        self._calls += 1
        if self._calls % self.rescan == 0:
            self._scan()
        lrs, tgs = zip(*(self._one() for _ in range(size)), strict=False)
        return _batch_tensor(np.stack(lrs)), _batch_tensor(np.stack(tgs))


def _batch_tensor(batch: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2).float().div_(255.0)
