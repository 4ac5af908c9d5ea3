"""Odd and hostile inputs: each gets one clear line (CLI exit 2) or is handled correctly."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO
from PIL import Image

from srcore.cli import main
from srcore.errors import InputImageError
from srcore.imageio import load_image


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A ~100-byte PNG whose header claims an enormous size."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def rgb_png(tmp_path: Path, astronaut) -> Path:
    p = tmp_path / "in.png"
    Image.fromarray(astronaut[:48, :40]).save(p)
    return p


BAD_FILES = {
    "empty.png": (b"", "empty"),
    "text.png": (b"hello, I am not an image\n" * 10, "not an image"),
    "bomb.png": (bomb_png(), "above the limit"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_files_exit_2_with_one_line(tmp_path: Path, capsys, name: str) -> None:
    data, needle = BAD_FILES[name]
    p = tmp_path / name
    p.write_bytes(data)
    code, out, err = run_cli(["upscale", str(p), "-m", "bicubic", "-s", "2", "-o", str(tmp_path / "o.png")], capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: ") and needle in err
    assert "Traceback" not in err


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_files(tmp_path: Path, capsys, astronaut, fmt: str) -> None:
    data = encode(Image.fromarray(astronaut[:200, :200]), fmt)
    p = tmp_path / f"cut.{fmt.lower()}"
    p.write_bytes(data[: len(data) // 2])
    code, _, err = run_cli(["upscale", str(p), "-m", "bicubic", "-s", "2", "-o", str(tmp_path / "o.png")], capsys)
    assert code == 2 and "corrupt or truncated" in err and err.count("\n") == 1


def test_bomb_refused_before_decoding() -> None:
    with pytest.raises(InputImageError, match="above the limit"):
        load_image(bomb_png(20_000, 20_000), "bomb.png")


def test_pixel_limit(tmp_path: Path, capsys, monkeypatch, astronaut) -> None:
    monkeypatch.setenv("SRCORE_MAX_PIXELS", "1000")
    p = tmp_path / "big.png"
    Image.fromarray(astronaut[:100, :100]).save(p)
    code, _, err = run_cli(["upscale", str(p), "-m", "bicubic", "-s", "2", "-o", str(tmp_path / "o.png")], capsys)
    assert code == 2 and "above the limit" in err


def test_tiny_images(tmp_path: Path, capsys) -> None:
    one = tmp_path / "one.png"
    Image.new("RGB", (1, 1), (10, 20, 30)).save(one)
    code, _, err = run_cli(["upscale", str(one), "-m", "bicubic", "-s", "2", "-o", str(tmp_path / "o.png")], capsys)
    assert code == 2 and "too small" in err
    two = tmp_path / "two.png"
    Image.new("RGB", (2, 2), (10, 20, 30)).save(two)
    code, _, _ = run_cli(["upscale", str(two), "-m", "bicubic", "-s", "4", "-o", str(tmp_path / "o2.png")], capsys)
    assert code == 0 and Image.open(tmp_path / "o2.png").size == (8, 8)
    # as ground truth, 2x2 cannot be degraded by 4: clear message, not a crash
    code, _, err = run_cli(["compare", str(two), "-s", "4", "-m", "bicubic"], capsys)
    assert code == 2 and "too small to use as ground truth" in err


def test_unknown_method_and_unsupported_scale(rgb_png: Path, tmp_path: Path, capsys) -> None:
    code, _, err = run_cli(["upscale", str(rgb_png), "-m", "nope", "-s", "2", "-o", str(tmp_path / "o.png")], capsys)
    assert code == 2 and "unknown method 'nope'" in err
    code, _, err = run_cli(["upscale", str(rgb_png), "-m", "dnn-lapsrn", "-s", "3", "-o", str(tmp_path / "o.png")], capsys)
    assert code == 2 and "does not support x3" in err


def test_grayscale_and_grey_alpha(tmp_path: Path, astronaut) -> None:
    grey = Image.fromarray(astronaut[:32, :32]).convert("L")
    img = load_image(encode(grey, "PNG"))
    assert img.rgb.shape == (32, 32, 3) and img.alpha is None
    assert (img.rgb[..., 0] == img.rgb[..., 1]).all()
    la = grey.convert("LA")
    la.putalpha(Image.fromarray(np.tile(np.arange(32, dtype=np.uint8) * 8, (32, 1))))
    img = load_image(encode(la, "PNG"))
    assert img.rgb.shape == (32, 32, 3) and img.alpha is not None and img.alpha[0, 31] == 248


def test_rgba_alpha_is_kept_and_upscaled(tmp_path: Path, capsys, astronaut) -> None:
    rgba = np.dstack([astronaut[:40, :40], np.full((40, 40), 255, np.uint8)])
    rgba[:, :20, 3] = 0
    p = tmp_path / "rgba.png"
    Image.fromarray(rgba, "RGBA").save(p)
    code, _, _ = run_cli(["upscale", str(p), "-m", "bicubic", "-s", "2", "-o", str(tmp_path / "o.png")], capsys)
    assert code == 0
    out = Image.open(tmp_path / "o.png")
    assert out.mode == "RGBA" and out.size == (80, 80)
    a = np.asarray(out)[..., 3]
    assert a[:, :35].max() <= 5 and a[:, 45:].min() >= 250


def test_palette_png() -> None:
    pal = Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8)).convert("P")
    img = load_image(encode(pal, "PNG"))
    assert img.rgb.shape == (8, 8, 3)


def test_16bit_png_converted_with_note(tmp_path: Path) -> None:
    import cv2

    arr = (np.linspace(0, 65535, 16 * 16 * 3).reshape(16, 16, 3)).astype(np.uint16)
    p = tmp_path / "deep.png"
    cv2.imwrite(str(p), arr)
    img = load_image(p)
    assert img.rgb.dtype == np.uint8 and any("16-bit" in n for n in img.notes)
    # the high byte is what counts (not the truncated low byte): 8-bit = round(v * 255 / 65535), RGB from BGR
    expected = np.round(arr[..., ::-1].astype(float) * 255 / 65535).astype(np.uint8)
    assert np.array_equal(img.rgb, expected)
    grey16 = Image.fromarray(np.full((8, 8), 40000, np.uint16))
    g = load_image(encode(grey16, "PNG"))
    assert g.rgb[0, 0, 0] == round(40000 * 255 / 65535) and any("16-bit" in n for n in g.notes)


def test_cmyk_jpeg() -> None:
    cmyk = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # pure red in CMYK
    img = load_image(encode(cmyk, "JPEG"))
    assert img.rgb.shape == (16, 16, 3) and img.rgb[8, 8, 0] > 200 and img.rgb[8, 8, 1] < 60


def test_exif_rotated_jpeg_comes_out_upright(tmp_path: Path) -> None:
    # 40 wide x 20 tall, left half black; EXIF 6 = "rotate 90 CW to view"
    arr = np.full((20, 40, 3), 255, np.uint8)
    arr[:, :20] = 0
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(Image.fromarray(arr), "JPEG", exif=exif, quality=95)
    img = load_image(data)
    assert img.rgb.shape == (40, 20, 3)  # upright: taller than wide
    assert img.rgb[5, 10].mean() < 50 and img.rgb[35, 10].mean() > 200  # the black half is now on top
    assert any("EXIF" in n for n in img.notes)


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_animated_first_frame(fmt: str) -> None:
    frames = [Image.new("RGB", (16, 16), c) for c in ((255, 0, 0), (0, 0, 255))]
    data = encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)
    img = load_image(data)
    assert img.rgb[8, 8, 0] > 200 and img.rgb[8, 8, 2] < 60
    assert any("first frame" in n for n in img.notes)


def test_cli_subprocess_never_prints_traceback(tmp_path: Path) -> None:
    p = tmp_path / "x.png"
    p.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    proc = subprocess.run([sys.executable, "-m", "srcore", "compare", str(p), "-s", "4"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr


def test_folder_upscale_with_progress_and_skips(tmp_path: Path, capsys, astronaut) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        Image.fromarray(astronaut[i * 10 : i * 10 + 20, :30]).save(src / f"{i}.png")
    (src / "broken.png").write_bytes(b"nope")
    code, out, err = run_cli(["upscale", str(src), "-m", "bicubic", "-s", "3", "-o", str(tmp_path / "out")], capsys)
    assert code == 0 and "wrote 3 image(s)" in out and "1 skipped" in out
    assert len(list((tmp_path / "out").glob("*.png"))) == 3


def test_folder_upscale_into_existing_dotted_folder(tmp_path: Path, capsys, astronaut) -> None:
    """An existing output folder is a folder whatever its name (``out.v2/``, ``mktemp -d`` names); a new dotted name is not."""
    src, dst = tmp_path / "in", tmp_path / "out.v2"
    src.mkdir()
    dst.mkdir()
    Image.fromarray(astronaut[:20, :30]).save(src / "a.png")
    code, out, _ = run_cli(["upscale", str(src), "-m", "bicubic", "-s", "2", "-o", str(dst)], capsys)
    assert code == 0 and "wrote 1 image(s)" in out and len(list(dst.glob("*.png"))) == 1
    code, _, err = run_cli(["upscale", str(src), "-m", "bicubic", "-s", "2", "-o", str(tmp_path / "new.png")], capsys)
    assert code == 2 and "must be a folder too" in err


def test_output_format_errors_are_clear(rgb_png: Path, tmp_path: Path, capsys) -> None:
    code, _, err = run_cli(["upscale", str(rgb_png), "-m", "bicubic", "-s", "2", "-o", str(tmp_path / "o.xyz")], capsys)
    assert code == 2 and "cannot write" in err and err.count("\n") == 1
    code, _, _ = run_cli(["upscale", str(rgb_png), "-m", "bicubic", "-s", "2", "-o", str(tmp_path / "o.jpg")], capsys)
    assert code == 0 and Image.open(tmp_path / "o.jpg").size == (80, 96)
