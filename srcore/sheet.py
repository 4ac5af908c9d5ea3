"""Synchronized zoomed crops and the side-by-side crop sheet.

A crop is taken at the *same* region of every output (coordinates in HR/output space) and
enlarged with nearest neighbour, so individual pixels stay visible - a smooth zoom would
hide exactly the artefacts people look for.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont


def crop_box(center_xy: tuple[float, float], size: int, width: int, height: int) -> tuple[int, int, int, int]:
    """A ``size`` x ``size`` box (x0, y0, x1, y1) around ``center_xy``, kept inside the image."""
    size = max(2, min(size, width, height))
    x0 = int(round(center_xy[0] - size / 2))
    y0 = int(round(center_xy[1] - size / 2))
    x0 = min(max(0, x0), width - size)
    y0 = min(max(0, y0), height - size)
    return x0, y0, x0 + size, y0 + size


def zoom_crop(image: np.ndarray, box: tuple[int, int, int, int], zoom: int) -> np.ndarray:
    """Crop ``box`` and enlarge it ``zoom`` times with nearest neighbour."""
    x0, y0, x1, y1 = box
    crop = image[y0:y1, x0:x1]
    return np.repeat(np.repeat(crop, zoom, axis=0), zoom, axis=1)


def nearest_enlarge(image: np.ndarray, scale: int) -> np.ndarray:
    """LR shown at output size with nearest neighbour (pixels as the network saw them)."""
    return np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def crop_sheet(
    images: list[tuple[str, np.ndarray]],
    center_xy: tuple[float, float],
    crop: int = 64,
    zoom: int = 4,
    columns: int = 4,
) -> np.ndarray:
    """A labelled grid of zoomed crops of the same region of same-sized images (RGB uint8)."""
    if not images:
        raise ValueError("no images for the crop sheet")
    h, w = images[0][1].shape[:2]
    box = crop_box(center_xy, crop, w, h)
    tiles = [(label, zoom_crop(img, box, zoom)) for label, img in images]
    th, tw = tiles[0][1].shape[:2]
    label_h, pad = 22, 6
    cols = min(columns, len(tiles))
    rows = (len(tiles) + cols - 1) // cols
    sheet = Image.new("RGB", (cols * (tw + pad) + pad, rows * (th + label_h + pad) + pad), (30, 30, 30))
    draw = ImageDraw.Draw(sheet)
    font = _font(14)
    for i, (label, tile) in enumerate(tiles):
        r, c = divmod(i, cols)
        x = pad + c * (tw + pad)
        y = pad + r * (th + label_h + pad)
        draw.text((x + 2, y + 3), label[:48], fill=(235, 235, 235), font=font)
        sheet.paste(Image.fromarray(tile), (x, y + label_h))
    return np.asarray(sheet)


def stack_rows(rows: list[np.ndarray]) -> np.ndarray:
    """Stack crop-sheet rows of different widths into one picture, padding with the sheet's background."""
    width = max(r.shape[1] for r in rows)
    return np.concatenate([np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=30) for r in rows], axis=0)
