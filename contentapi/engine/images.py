"""Image facts: width, height and a tiny placeholder, from an image file's bytes (Pillow).

Pure functions of bytes: the loader reads the files and calls these once per file content, so
no request ever opens an image. A placeholder is a PNG at most 16 pixels on its longer side
(in 32 colours when that is smaller), as a `data:` URI of a few hundred bytes: every browser
and native toolkit decodes it without a library (a blurhash would need one), and a frontend
shows it stretched and blurred until the real image arrives.
"""

from __future__ import annotations

import base64
import hashlib
import io
import warnings
from typing import Final

from PIL import Image, ImageOps, UnidentifiedImageError

from contentapi.engine.model import ImageFacts, ImageFile

# What Pillow reads; SVG has no pixels to measure and is left alone.
SUFFIXES: Final = frozenset(
    {".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff", ".avif"}
)
MAX_BYTES: Final = 50 * 1024 * 1024  # larger files are not read at all
MAX_PIXELS: Final = 50_000_000  # larger images get their size, but no placeholder
PLACEHOLDER_SIDE: Final = 16
PLACEHOLDER_COLOURS: Final = 32
_ROTATED = {5, 6, 7, 8}  # EXIF orientations shown turned by 90 degrees: width and height swap
_ORIENTATION = 0x0112


def is_image(path: str) -> bool:
    """Whether a file of the content folder is an image whose facts are worth learning."""
    dot = path.rfind(".")
    return dot > path.rfind("/") and path[dot:].lower() in SUFFIXES


def inspect(data: bytes) -> tuple[ImageFacts | None, str | None]:
    """The displayed width and height (EXIF rotation applied) and a placeholder, and a problem
    to warn about: (None, why) for bytes that are no readable image."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width < 1 or height < 1:
                    return None, "is an image with no pixels"
                if _orientation(image) in _ROTATED:
                    width, height = height, width
                if width * height > MAX_PIXELS:
                    problem = (
                        f"is {width}x{height} pixels, more than {MAX_PIXELS:,}: "
                        "no placeholder (consider a smaller image for the web)"
                    )
                    return ImageFacts(width, height), problem
                try:
                    return ImageFacts(width, height, placeholder(image)), None
                except (OSError, SyntaxError, ValueError, EOFError) as error:  # cut short
                    return ImageFacts(width, height), f"is not a readable image: {error}"
    except Image.DecompressionBombError:
        return None, f"has more pixels than the {MAX_PIXELS:,} this API reads"
    except UnidentifiedImageError:
        return None, "is not an image in a format this API reads"
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        return None, f"is not a readable image: {error}"


def placeholder(image: Image.Image) -> str:
    """A `data:image/png;base64,...` URI of the image shrunk to 16 pixels at most."""
    image.thumbnail((PLACEHOLDER_SIDE, PLACEHOLDER_SIDE), reducing_gap=2.0)
    small = ImageOps.exif_transpose(image)
    transparent = small.mode in {"RGBA", "LA", "PA"} or "transparency" in small.info
    small = small.convert("RGBA" if transparent else "RGB")
    quantized = small.quantize(PLACEHOLDER_COLOURS, method=Image.Quantize.FASTOCTREE)
    data = min((_png(small), _png(quantized)), key=len)  # a flat image is smaller unquantized
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def _orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(_ORIENTATION, 1))
    except (ValueError, TypeError, OSError, SyntaxError):
        return 1


def describe(path: str, data: bytes, size: int, mtime_ns: int) -> ImageFile:
    """One image file's record: its digest and facts, or the problem that keeps it without."""
    digest = hashlib.sha256(data).hexdigest()
    facts, problem = inspect(data)
    return ImageFile(path, size, mtime_ns, digest, facts, problem)


def too_large(path: str, size: int, mtime_ns: int) -> ImageFile:
    """The record of an image file too large to read."""
    megabytes = MAX_BYTES // (1024 * 1024)
    problem = f"is {size / 1024 / 1024:.0f} MB, larger than the {megabytes} MB this API reads"
    return ImageFile(path, size, mtime_ns, f"unread:{size}:{mtime_ns}", None, problem)
