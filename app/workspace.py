"""Per-request scratch folders for downloads and uploaded datasets.

Each run gets its own folder under one process-wide root, named by a random id (not by the
session, so nothing about one user is guessable by another). A run's folder is deleted when
the same session starts its next run, when its session state expires (``gr.State``
``delete_callback``), and the whole root when the process exits. Gradio copies whatever it
serves into its own cache, which ``Blocks(delete_cache=...)`` cleans.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
from pathlib import Path

_lock = threading.Lock()
_root: Path | None = None


def root() -> Path:
    """The process's scratch root, created on first use and removed at exit."""
    global _root
    with _lock:
        if _root is None or not _root.is_dir():
            _root = Path(tempfile.mkdtemp(prefix="srlab-"))
            atexit.register(shutil.rmtree, _root, True)
        return _root


def new_run_dir(kind: str = "run") -> Path:
    """A fresh, private folder for one request."""
    return Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=root()))


def remove(path: Path | str | None) -> None:
    """Delete a run folder; only ever inside our root, so a bad value can never delete elsewhere."""
    if not path:
        return
    p = Path(path).resolve()
    r = root().resolve()
    if p != r and r in p.parents:
        shutil.rmtree(p, ignore_errors=True)
