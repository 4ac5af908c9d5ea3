"""One input file -> one upscaled output file: the step ``upscale`` runs per image, on one machine or on Ray.

Why one place: ``python -m srcore upscale`` and its ``--ray`` workers (:mod:`srcore.distributed`) call
the same :func:`output_path` and :func:`upscale_file`, so a folder upscaled on a cluster is byte for
byte the folder upscaled here, with the same names and the same notes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from srcore.atomic import atomic_path
from srcore.compare import upscale_alpha
from srcore.errors import InputImageError
from srcore.filenames import safe_name
from srcore.imageio import load_image, save_image
from srcore.methods.base import Upscaler
from srcore.outscale import OutputSize, resize_to


def output_path(dst: Path, src: Path, method_id: str, scale: int) -> Path:
    """Where a folder run writes ``src``'s output: ``DST/STEM_METHOD_xS.png`` (the id made safe by :func:`srcore.filenames.safe_name`)."""
    return dst / f"{src.stem}_{safe_name(method_id)}_x{scale}.png"


def upscale_file(method: Upscaler, src: Path, target: Path, scale: int, tile: int | None, options: dict[str, Any],
                 tag: str = "", size: OutputSize | None = None) -> list[str]:
    """Upscale ``src`` into ``target`` (written atomically, alpha kept); return the loader's notes.

    Raises :class:`srcore.errors.SRError` for a file that cannot be used, with nothing written.
    ``tag`` marks the temporary name so a driver can sweep what a killed worker left.
    ``size``: --outscale/--width/--height; the native result is resized to it (srcore/outscale.py).
    """
    img = load_image(src)
    out = method.upscale(img.rgb, scale, tile=tile, **options)
    alpha = upscale_alpha(img.alpha, scale)
    if size is not None:
        dims = size.target(*img.rgb.shape[:2], scale)
        out, alpha = resize_to(out, dims), None if alpha is None else resize_to(alpha, dims)
    with atomic_path(target, tag) as tmp:
        try:
            save_image(tmp, out, alpha)
        except InputImageError as exc:  # name the file the user asked for, not the temporary one
            raise InputImageError(str(exc).replace(str(tmp), str(target))) from None
    return list(img.notes)
