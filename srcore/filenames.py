"""The one file-name sanitiser: method ids, upload stems and dataset titles become safe file-name parts.

Why one: ``file:/models/x.pth`` ids, ``srgan@0.5`` specs and uploads named ``my photo (1).jpg`` end
up in output names written by the CLI, the app and the benchmarks; one rule keeps every writer's
names alike and free of path separators, spaces and shell-hostile characters.
"""

from __future__ import annotations

import re
from pathlib import Path

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(text: str, limit: int = 60) -> str:
    """``text`` with every run of characters outside ``A-Za-z0-9._-`` replaced by ``_``, at most ``limit`` long.

    Leading/trailing dots and underscores go (no hidden files, no ``..``); an empty result is ``image``.
    """
    return _UNSAFE.sub("_", text).strip("._")[:limit] or "image"


def safe_stem(name: str) -> str:
    """``safe_name`` of a file name without its suffix (``my photo.jpg`` -> ``my_photo``)."""
    return safe_name(Path(name).stem)
