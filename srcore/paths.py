"""Where model files are looked for, in the documented order.

1. ``--models-dir`` (set with :func:`use_models_dir`) or the ``SRCORE_MODELS`` environment variable;
2. the user cache: ``$XDG_CACHE_HOME/srcore`` or ``~/.cache/srcore`` (where ``download`` writes).
Our own trained weights are not looked up: they ship in the package's ``assets/`` folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from srcore.errors import SRError

REPO_ROOT = Path(__file__).resolve().parents[1]
ASSETS_DIR = REPO_ROOT / "assets"

_models_dir_override: Path | None = None


def use_models_dir(path: str | Path | None) -> None:
    """The one way to set ``--models-dir`` (CLI, app, benchmarks, tests): look in ``path`` first.

    ``None`` goes back to the default search. A folder that does not exist is refused with one line,
    the same from every front end. Nobody needs telling: :mod:`srcore.registry` keys its loaded
    methods on :func:`model_dirs`, so a new folder makes it rebuild them by itself.
    """
    global _models_dir_override
    if path is not None and not Path(path).expanduser().is_dir():
        raise SRError(f"--models-dir {path}: no such folder")
    _models_dir_override = Path(path).expanduser().resolve() if path is not None else None


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
