"""Resume record of a batch run: which outputs are finished, and from what.

An output that merely exists proves little (a different method, scale or input may have made it,
or someone edited it), so a rerun skips an output only when this record says which input (SHA-256),
which recipe (method, scale, tile, options, backend) made it, and the file still has the SHA-256
written down then. The record is a JSON-lines file in the output folder, appended by the one
driver process as results come in: a run killed mid-line leaves a torn last line, which is ignored.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

#: Hidden, beside the outputs, so it moves with the folder.
MANIFEST_NAME = ".srcore-manifest.jsonl"
_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def entry(target: Path, source: Path, recipe: dict[str, Any], source_sha256: str, sha256: str) -> dict[str, Any]:
    """One manifest line: output name, its SHA-256, the input and the recipe that made it."""
    return {"output": target.name, "sha256": sha256, "source": str(source), "source_sha256": source_sha256, "recipe": recipe}


def read_manifest(folder: Path) -> dict[str, dict[str, Any]]:
    """Entries by output name (the last line for a name wins); unreadable lines are skipped."""
    path = folder / MANIFEST_NAME
    out: dict[str, dict[str, Any]] = {}
    if not path.is_file():
        return out
    for line in path.read_text(errors="replace").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and isinstance(rec.get("output"), str):
            out[rec["output"]] = rec
    return out


def append_entries(folder: Path, entries: list[dict[str, Any]]) -> None:
    """Append lines in one write (one writer: the driver); the rename-free format keeps appends cheap."""
    if not entries:
        return
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / MANIFEST_NAME, "a") as f:
        f.write("".join(json.dumps(e, sort_keys=True) + "\n" for e in entries))
        f.flush()


def is_done(target: Path, source: Path, recipe: dict[str, Any], rec: dict[str, Any] | None) -> bool:
    """Whether ``target`` is a finished output of ``source`` with ``recipe``: both files hash as recorded."""
    if rec is None or rec.get("recipe") != recipe:  # the input is identified by its SHA-256, not its path
        return False
    try:
        return sha256_file(target) == rec.get("sha256") and sha256_file(source) == rec.get("source_sha256")
    except OSError:
        return False
