"""Image facts: exact width and height, and a tiny placeholder that decodes, from bytes."""

from __future__ import annotations

import base64
import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from contentapi.engine import images
from contentapi.engine.images import inspect, is_image

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = sorted(p for p in (ROOT / "content").rglob("*") if is_image(p.name))


def encoded(image: Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height read straight from the PNG header, without Pillow."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def decode_placeholder(uri: str) -> Image.Image:
    prefix = "data:image/png;base64,"
    assert uri.startswith(prefix)
    image = Image.open(io.BytesIO(base64.b64decode(uri[len(prefix) :], validate=True)))
    image.load()
    return image


def test_images_bundled_images_exist():
    assert len(BUNDLED) >= 9


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.name)
def test_images_bundled_dimensions_are_exact_and_placeholder_decodes(path: Path):
    data = path.read_bytes()
    facts, problem = inspect(data)
    assert problem is None
    assert facts is not None
    assert (facts.width, facts.height) == png_size(data)
    assert facts.placeholder is not None
    assert len(facts.placeholder) < 700  # a few hundred bytes, inline in JSON
    small = decode_placeholder(facts.placeholder)
    assert small.format == "PNG"
    assert max(small.size) == 16
    assert abs(small.size[0] / small.size[1] - facts.width / facts.height) < 0.2


def test_images_jpeg_dimensions_and_placeholder():
    photo = Image.radial_gradient("L").convert("RGB").resize((1200, 800))
    facts, problem = inspect(encoded(photo, "JPEG", quality=80))
    assert problem is None
    assert facts is not None
    assert (facts.width, facts.height) == (1200, 800)
    assert decode_placeholder(facts.placeholder or "").size == (16, 11)


def test_images_exif_rotation_swaps_width_and_height():
    """A phone photo stored landscape but shown portrait: browsers show it turned."""
    photo = Image.new("RGB", (400, 300), "red")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    facts, _ = inspect(encoded(photo, "JPEG", exif=exif))
    assert facts is not None
    assert (facts.width, facts.height) == (300, 400)
    assert decode_placeholder(facts.placeholder or "").size == (12, 16)


def test_images_transparency_survives_in_the_placeholder():
    icon = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    icon.paste((255, 0, 0, 255), (0, 0, 32, 32))
    facts, _ = inspect(encoded(icon))
    assert facts is not None
    small = decode_placeholder(facts.placeholder or "").convert("RGBA")
    assert small.getpixel((15, 15))[3] == 0
    assert small.getpixel((0, 0))[3] > 240


@pytest.mark.parametrize(
    ("fmt", "mode"), [("GIF", "P"), ("WEBP", "RGB"), ("BMP", "RGB"), ("TIFF", "CMYK")]
)
def test_images_other_formats(fmt: str, mode: str):
    facts, problem = inspect(encoded(Image.new(mode, (33, 17)), fmt))
    assert problem is None
    assert facts is not None
    assert (facts.width, facts.height) == (33, 17)
    decode_placeholder(facts.placeholder or "")


@pytest.mark.parametrize(
    "data",
    [b"", b"\x89PNG\r\n\x1a\n", b"not an image at all", b"\xff\xd8\xff\xe0" + b"\x00" * 40],
    ids=["empty", "png-signature-only", "text", "truncated-jpeg"],
)
def test_images_broken_bytes_are_a_problem_not_a_crash(data: bytes):
    facts, problem = inspect(data)
    assert facts is None
    assert problem is not None
    assert "image" in problem


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_images_truncated_file_keeps_its_size_and_warns(fmt: str):
    """The header is whole, the pixels are not: the size is known, the placeholder is not."""
    data = encoded(Image.radial_gradient("L").resize((300, 200)), fmt)
    facts, problem = inspect(data[: len(data) // 2])
    assert facts is not None
    assert (facts.width, facts.height, facts.placeholder) == (300, 200, None)
    assert problem is not None and "truncated" in problem


def huge_png(width: int, height: int) -> bytes:
    """A PNG header announcing a huge image, with no pixel data worth decoding."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def test_images_huge_image_gets_its_size_and_a_warning_but_no_placeholder():
    facts, problem = inspect(huge_png(9000, 6000))
    assert facts is not None
    assert (facts.width, facts.height) == (9000, 6000)
    assert facts.placeholder is None
    assert problem is not None and "pixels" in problem


def test_images_decompression_bomb_is_a_problem():
    facts, problem = inspect(huge_png(30000, 30000))
    assert facts is None
    assert problem is not None and "pixels" in problem


def test_images_describe_records_digest_and_facts():
    data = encoded(Image.new("RGB", (5, 7)))
    record = images.describe("a/b.png", data, len(data), 123)
    assert (record.path, record.size, record.mtime_ns) == ("a/b.png", len(data), 123)
    assert len(record.digest) == 64
    assert record.facts is not None
    assert (record.facts.width, record.facts.height) == (5, 7)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("a.png", True),
        ("photos/IMG_1.JPG", True),
        ("x.jpeg", True),
        ("x.webp", True),
        ("logo.svg", False),
        ("notes.pdf", False),
        ("png", False),
        ("dir.png/readme", False),
    ],
)
def test_images_is_image_by_suffix(path: str, expected: bool):
    assert is_image(path) is expected
