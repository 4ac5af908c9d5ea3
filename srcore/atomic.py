"""Atomic file writes: a reader (or a rerun) sees the old file or the whole new one, never half of one.

Every writer in srcore/, app/, train/ and benchmarks/ goes through here: a temporary name in the
target's folder, mode 0644, fsync, :func:`os.replace`; the temporary file is removed on any failure.

Why a module of its own: batch upscaling on one machine and on a Ray cluster both write their
outputs through :func:`atomic_path`, so a worker killed mid-write (Ctrl-C, OOM killer, a lost
cluster node) leaves no truncated PNG that a later run could take for a finished one.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

#: Every temporary name ends with this before the real suffix: ``.NAME.<tag>.partial.png``.
PARTIAL = ".partial"
#: Mode of a finished file: what a plain ``open(..., "w")`` gives under the usual umask 022.
FILE_MODE = 0o644


def partial_name(target: Path, tag: str = "") -> Path:
    """A hidden temporary name beside ``target`` that keeps its suffix (writers pick the format from it).

    Same folder, so the final :func:`os.replace` is a rename on one filesystem (atomic on POSIX and
    on NFS); ``tag`` lets a caller find its own leftovers (see :func:`remove_partials`).
    """
    token = f"{tag}-{os.getpid()}-{secrets.token_hex(4)}" if tag else f"{os.getpid()}-{secrets.token_hex(4)}"
    return target.with_name(f".{target.stem}.{token}{PARTIAL}{target.suffix}")


def commit(tmp: Path, target: Path) -> Path:
    """Make the finished temporary file ``tmp`` the file ``target``: mode 0644, flushed to disk, renamed.

    0644 because ``mkstemp`` makes 0600 files, which a server running as another user cannot read;
    fsync before the rename so a crash right after cannot leave ``target`` naming an empty file.
    """
    os.chmod(tmp, FILE_MODE)
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, target)
    return target


@contextlib.contextmanager
def atomic_path(target: str | Path, tag: str = "") -> Iterator[Path]:
    """Yield a temporary path to write; on success it becomes ``target`` (:func:`commit`), on error it is removed."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = partial_name(target, tag)
    try:
        yield tmp
        commit(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def atomic_write(target: str | Path, data: bytes | str) -> Path:
    """Write ``data`` (text as UTF-8) to ``target`` atomically: the one writer for reports, models and archives."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return Path(target)


def remove_partials(folder: Path, tag: str) -> int:
    """Delete the temporary files ``tag``'s writers left in ``folder`` (a SIGKILLed process cannot clean up)."""
    removed = 0
    for p in folder.glob(f".*.{tag}-*{PARTIAL}*"):
        with contextlib.suppress(OSError):
            p.unlink()
            removed += 1
    return removed
