"""Checking what users send: uploads, scales, modes, method ids (with ``@α``), degradations, file names.

One module for every input check, imported by the Compare tab, the Benchmark tab and the
``/compare`` API, so a bad value gets the same one-line message wherever it comes from.
Nothing here knows about Gradio components beyond the shape of an upload value.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from srcore.backends import available_backends, resolve
from srcore.degrade import Degradation
from srcore.errors import InputImageError, SRError
from srcore.filenames import safe_name, safe_stem  # noqa: F401 - re-exported: the app's one sanitiser is srcore's
from srcore.imageio import LoadedImage, load_image
from srcore.outscale import OutputSize, from_args
from srcore.specs import MethodSpec, parse_spec, split_ids  # noqa: F401 - re-exported for the tabs and the API

MODE_CHOICES = [("Treat as ground truth", "reference"), ("Upscale as is", "upscale")]
DEGRADATION_CHOICES = [("Bicubic", "bicubic"), ("JPEG", "jpeg"), ("Realistic", "realistic")]


def normalize_mode(mode: str | None) -> str:
    """API and UI spellings of the mode ("reference", "Treat as ground truth", ...) -> srcore's value."""
    text = (mode or "reference").strip().lower()
    for label, value in MODE_CHOICES:
        if text in (label.lower(), value):
            return value
    raise SRError(f"unknown mode {mode!r}; use 'reference' (treat as ground truth) or 'upscale' (upscale as is)")


def parse_scale(scale: Any) -> int:
    try:
        s = int(float(scale))
    except (TypeError, ValueError):
        raise SRError(f"scale must be a whole number such as 2, 3 or 4, got {scale!r}") from None
    if s != float(scale) or not 2 <= s <= 8:
        raise SRError(f"scale {scale} is not supported; use 2, 3 or 4 (some methods go up to 8)")
    return s


def parse_outscale(value: Any) -> OutputSize | None:
    """The output-scale setting (blank/0 = the network's own scale) as srcore's :class:`OutputSize`; a bad value is one line."""
    if value is None or value == "" or (isinstance(value, (int, float)) and value == 0):
        return None
    try:
        factor = float(value)
    except (TypeError, ValueError):
        raise SRError(f"output scale must be a number such as 3.5, got {value!r}") from None
    return from_args(factor, None, None)


def parse_methods(methods: list[str] | str | None) -> list[str]:
    """A list of ids, or one comma-separated string (handy from curl); duplicates dropped, order kept."""
    ids = split_ids(methods)
    if not ids:
        raise SRError("choose at least one method")
    return ids


def degradation_spec(mode: str, kind: str | None, quality: Any = 50, seed: Any = 0) -> Any:
    """srcore's ``Degradation`` for reference mode from the UI/API fields; None means srcore's default (MATLAB bicubic).

    Upscale mode degrades nothing, so the fields are ignored there rather than refused.
    """
    if mode != "reference" or not kind or str(kind).strip().lower() == "bicubic":
        return None

    try:
        return Degradation(str(kind).strip().lower(), seed=int(float(seed or 0)), jpeg_quality=int(float(quality or 50)))
    except (TypeError, ValueError) as exc:
        raise SRError(f"degradation: {exc}") from None


def backend_choices() -> list[tuple[str, str]]:
    """(label, value) of the backends installed here for torch networks; "" = the server's default."""
    return [("server default", ""), *((b, b) for b in available_backends())]


def parse_backend(backend: str | None) -> str | None:
    """A backend name srcore accepts, or None for the server's default (``$SRCORE_BACKEND`` or torch)."""
    if not backend or not str(backend).strip():
        return None

    resolve(str(backend))  # unknown or not installed: srcore's one-line MethodError (an SRError)
    return str(backend).strip().lower()


# ----------------------------------------------------------------------------------------- uploads


def upload_source(value: Any) -> tuple[str | bytes, str] | None:
    """(path or bytes, the name the user knows it by) from any upload value Gradio hands us.

    Events that skip Gradio's preprocessing get the raw ``FileData`` dict (``path``, ``orig_name``);
    the API gets bytes. ``None``/empty means nothing was uploaded.
    """
    if value is None or value == "":
        return None
    if isinstance(value, (bytes, bytearray)):
        return bytes(value), "upload"
    if isinstance(value, dict):
        path = value.get("path")
        if not path:
            return None
        return str(path), str(value.get("orig_name") or Path(path).name)
    path = str(getattr(value, "path", value))
    return path, str(getattr(value, "orig_name", None) or Path(path).name)


def fitting_size(w: int, h: int, max_pixels: int) -> tuple[int, int]:
    """The largest size with the same aspect ratio that fits ``max_pixels``: what to resize to."""
    f = math.sqrt(max_pixels / (w * h))
    return max(1, math.floor(w * f)), max(1, math.floor(h * f))


def _amount(pixels: int) -> str:
    return f"{pixels / 1e6:.1f} MP" if pixels >= 100_000 else f"{pixels:,} pixels"


def check_header(data: bytes, name: str, max_pixels: int) -> None:
    """Refuse an image that is too big from its header, with the size that would fit (srcore decodes the rest)."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            w, h = im.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return  # not readable as an image: srcore's loader says so in its own words
    if w * h > max_pixels:
        fw, fh = fitting_size(w, h, max_pixels)
        raise InputImageError(f"{name}: {w}x{h} is larger than this server accepts ({_amount(max_pixels)}); "
                              f"resize it to at most {fw}x{fh} (or crop it) and upload it again")


def load_input(source: Any, max_pixels: int, name: str | None = None) -> LoadedImage:
    """The upload (a path, the raw FileData of an event, or the bytes of an API upload) through srcore's loader.

    Our own decoding, not Gradio's, so a non-image is a message that names the file, never a failed preprocess.
    """
    got = upload_source(source)
    if got is None:
        raise SRError("upload an image (or pick an example) first")
    src, known = got
    name = name or known
    data = src if isinstance(src, bytes) else _read(src, name)
    check_header(data, name, max_pixels)
    try:
        return load_image(data, name=name, pixel_limit=max_pixels)
    except InputImageError as exc:
        text = str(exc)
        if "not an image file" in text or "corrupt or truncated" in text:  # srcore says what is wrong; add what to do
            raise InputImageError(f"{text}; upload a PNG, JPEG, WebP, BMP or TIFF picture") from None
        raise


def _read(path: str, name: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError:
        raise InputImageError(f"{name}: the upload could not be read; upload it again") from None


def check_output_size(img: LoadedImage, scale: int, mode: str, max_pixels: int) -> None:
    """Upscale mode multiplies the input by scale²: cap outputs at 4x the input limit (one method's output
    is held per session and encoded for the slider), with the numbers and what fits in the message."""
    h, w = img.rgb.shape[:2]
    limit = 4 * max_pixels
    if mode == "upscale" and w * h * scale * scale > limit:
        fw, fh = fitting_size(w, h, limit // (scale * scale))
        raise InputImageError(
            f"{img.name}: upscaling {w}x{h} by x{scale} makes {w * h * scale * scale / 1e6:.1f} MP outputs, above this server's "
            f"limit of {limit / 1e6:.1f} MP; crop or resize it to at most {fw}x{fh}, use a smaller scale, or 'Treat as ground truth'"
        )


def check_outscale_size(out_size: tuple[int, int] | None, max_pixels: int) -> None:
    """An output scale above the network's makes bigger outputs than the scale check saw: the same 4x cap applies."""
    if out_size is not None and out_size[0] * out_size[1] > 4 * max_pixels:
        raise InputImageError(f"an output of {out_size[1]}x{out_size[0]} is above this server's limit of "
                              f"{4 * max_pixels / 1e6:.1f} MP; choose a smaller output scale")


def check_reference_size(img: LoadedImage, scale: int, mode: str) -> None:
    """Reference mode downscales by ``scale``: the image must leave at least 2x2 LR pixels (as srcore's ``prepare``)."""
    h, w = img.rgb.shape[:2]
    if mode == "reference" and (h < 2 * scale or w < 2 * scale):
        raise InputImageError(f"{img.name}: {w}x{h} is too small to use as ground truth at x{scale} "
                              f"(needs at least {2 * scale}x{2 * scale}); use 'Upscale as is' or a larger image")


# ----------------------------------------------------------------------------------------- JPEG inputs

#: The IJG (libjpeg) base luminance quantization table, in natural (row-major) order.
_IJG_LUMA = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99], np.float64)


def _ijg_table(quality: int) -> np.ndarray:
    scale = 5000 / quality if quality < 50 else 200 - 2 * quality
    return np.clip(np.floor((_IJG_LUMA * scale + 50) / 100), 1, 255)


def jpeg_quality(source: str | bytes) -> int | None:
    """Estimated JPEG quality (1-100, IJG scale) from the file's luminance quantization table; None if not a JPEG.

    Encoders that follow libjpeg scale one base table by the quality, so the closest scaled table
    names the quality; other encoders get the nearest equivalent, which is what matters here: how
    strongly the picture was quantized.
    """
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as im:
            if im.format != "JPEG":
                return None
            tables = getattr(im, "quantization", None) or {}
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError):
        return None
    if 0 not in tables:
        return None
    # Pillow returns the table in natural order as a list/array of 64 values.
    luma = np.asarray(list(tables[0]), np.float64)
    if luma.size != 64:
        return None
    errors = [float(np.abs(np.log(_ijg_table(q)) - np.log(luma)).mean()) for q in range(1, 101)]
    return int(np.argmin(errors)) + 1
