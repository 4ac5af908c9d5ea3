"""Safe loading of weight files: safetensors, or ``torch.load(weights_only=True)`` - never pickle code."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import torch
from safetensors.torch import load_file

from srcore.errors import ModelFileError

__all__ = ["ModelFileError", "load_state_dict", "sha256_file"]


_digests: dict[str, tuple[tuple[int, int, int], str]] = {}
_digests_lock = threading.Lock()


def sha256_file(path: Path | str, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, computed once per (path, size, mtime, inode) and remembered.

    Why remembered: availability checks run on every page load and every upscale verifies its
    weights, and hashing a 160 MB checkpoint each time cost seconds. Any rewrite, replace or
    touch of the file changes its size, mtime or inode, so a changed file is hashed again.
    The file is read in chunks so large model files don't fill memory.
    """
    key = str(Path(path).resolve())
    st = os.stat(key)
    stamp = (st.st_size, st.st_mtime_ns, st.st_ino)
    with _digests_lock:
        hit = _digests.get(key)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    h = hashlib.sha256()
    with open(key, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    digest = h.hexdigest()
    st = os.stat(key)
    if (st.st_size, st.st_mtime_ns, st.st_ino) == stamp:  # not rewritten while we read it
        with _digests_lock:
            _digests[key] = (stamp, digest)
    return digest


def load_state_dict(path: Path | str) -> dict[str, torch.Tensor]:
    """Read a flat ``name -> tensor`` dict from ``.safetensors``, ``.pt`` or ``.pth``.

    Common wrappers (``{"params": ...}``, ``{"state_dict": ...}``, ``{"model": ...}``) and DDP's
    ``module.`` prefix are unwrapped, since checkpoints in the wild come in all of these shapes.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file not found: {path}")
    try:
        if path.suffix == ".safetensors":
            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any parse failure means "not a model file" to the user
        raise ModelFileError(f"{path.name} is not a readable model file ({type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else 'no detail'})") from None
    for key in ("params_ema", "params", "state_dict", "model"):
        if isinstance(state, dict) and key in state and isinstance(state[key], dict):
            state = state[key]
            break
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelFileError(f"{path.name} does not hold a state dict of tensors")
    return {k.removeprefix("module."): v for k, v in state.items()}
