"""Where model files are looked for, in the documented order.

1. ``--models-dir`` (set with :func:`set_models_dir`) or the ``SRCORE_MODELS`` environment variable;
2. the user cache: ``$XDG_CACHE_HOME/srcore`` or ``~/.cache/srcore`` (where ``download`` writes).
Our own trained weights are not looked up: they ship in the package's ``assets/`` folder.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
ASSETS_DIR = REPO_ROOT / "assets"

_models_dir_override: Path | None = None


def set_models_dir(path: str | Path | None) -> None:
    """Point model lookups at ``path`` first (the CLI's and app's ``--models-dir``)."""
    global _models_dir_override
    _models_dir_override = Path(path).expanduser().resolve() if path else None


def use_models_dir(path: str | Path) -> None:
    """The CLI's and the app's ``--models-dir``: check the folder, look there first, forget loaded methods.

    One set-up for both front ends, so a bad folder is the same one-line error from either.
    """
    from srcore.errors import SRError
    from srcore.registry import reset  # lazy: the registry imports the methods, which import this module

    if not Path(path).expanduser().is_dir():
        raise SRError(f"--models-dir {path}: no such folder")
    set_models_dir(path)
    reset()


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "srcore"


def model_dirs() -> list[Path]:
    """Directories searched for model files, highest priority first."""
    dirs: list[Path] = []
    if _models_dir_override is not None:
        dirs.append(_models_dir_override)
    env = os.environ.get("SRCORE_MODELS")
    if env:
        dirs.append(Path(env).expanduser().resolve())
    dirs.append(cache_dir())
    return dirs


def find_model_file(filename: str) -> Path | None:
    """First existing ``dir/filename`` over :func:`model_dirs`.

    ``filename`` must be a bare name: ids and names coming from users cannot walk out of the
    model directories with ``..`` or absolute paths, and symlinks pointing outside are ignored.
    """
    if Path(filename).name != filename or filename in {"", ".", ".."}:
        return None
    for d in model_dirs():
        candidate = d / filename
        if candidate.is_file():
            real = candidate.resolve()
            if real.parent == d.resolve():
                return candidate
    return None


def searched_dirs_text() -> str:
    return ", ".join(str(d) for d in model_dirs())
