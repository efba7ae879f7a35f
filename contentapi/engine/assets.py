"""Where an image or link URL written in a post points, as a pure function of the post's folder."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from urllib.parse import quote, unquote, urljoin, urlsplit

MEDIA_PREFIX = "/media/"
# A URL attribute in raw HTML: (name, quote, value), for rendering and feeds alike.
HTML_URL = re.compile(r"""(?<![\w-])(src|href|poster)\s*=\s*(["'])(.*?)\2""", re.I)


@dataclass(frozen=True)
class AssetMap:
    """The non-post files of the content folder, and the base URL for what is not among them."""

    files: frozenset[str] = frozenset()
    base_url: str = ""


@dataclass(frozen=True)
class Resolved:
    """A URL after resolution; `local` when it names a file served from the content folder."""

    url: str
    local: bool = False
    missing: bool = False


def content_path(url: str, directory: str) -> str | None:
    """The path inside the content folder a relative or root-relative URL names, if any."""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or not parts.path:
        return None
    path = unquote(parts.path)
    joined = path.lstrip("/") if path.startswith("/") else posixpath.join(directory, path)
    normal = posixpath.normpath(joined)
    if normal in {".", ""} or normal.startswith("../") or normal == "..":
        return None
    return normal


def resolve(url: str, directory: str, assets: AssetMap) -> Resolved:
    """Content files become `/media/<path>`; other local URLs join `assets.base_url` if set.

    A local URL that is not a content file and has no base URL to join is left as written and
    marked `missing`, so the caller can warn about an image that will not load.
    """
    path = content_path(url, directory)
    if path is None:
        return Resolved(url)
    parts = urlsplit(url)
    suffix = (f"?{parts.query}" if parts.query else "") + (
        f"#{parts.fragment}" if parts.fragment else ""
    )
    if path in assets.files:
        return Resolved(MEDIA_PREFIX + quote(path) + suffix, local=True)
    if assets.base_url:
        return Resolved(urljoin(assets.base_url, quote(path)) + suffix)
    return Resolved(url, missing=True)


def absolute(url: str, base_url: str) -> str:
    """A `/media/...` URL made absolute against the API's own URL; any other URL as it is."""
    return urljoin(base_url, url) if url.startswith(MEDIA_PREFIX) else url
