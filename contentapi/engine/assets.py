"""Where an image or link URL written in a post points, as a pure function of the post's folder,
and the one URL policy every URL field follows (HTML, `images`, `cover`)."""

from __future__ import annotations

import html
import posixpath
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urljoin, urlsplit

from contentapi.engine.model import ImageTable

MEDIA_PREFIX = "/media/"
# A URL attribute in raw HTML: (name, quote, value), for rendering and feeds alike.
HTML_URL = re.compile(r"""(?<![\w-])(src|href|poster)\s*=\s*(["'])(.*?)\2""", re.I)
POSTS_PREFIX = "/api/v1/posts/"
POST_SUFFIXES = (".md", ".markdown")


class PostPaths(Mapping[str, str]):
    """Each post file's path in the content folder -> its slug, so a link to `other.md` (or a
    Hugo `ref`, a Jekyll `post_url`) reaches that post. Hashable, the hash computed once."""

    __slots__ = ("_hash", "_slugs")

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        self._slugs = dict(pairs)
        self._hash = hash(frozenset(self._slugs.items()))

    def __getitem__(self, path: str) -> str:
        return self._slugs[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self._slugs)

    def __len__(self) -> int:
        return len(self._slugs)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PostPaths):
            return NotImplemented
        return self is other or (self._hash == other._hash and self._slugs == other._slugs)

    def __repr__(self) -> str:
        return f"PostPaths({len(self._slugs)} posts)"


@dataclass(frozen=True)
class AssetMap:
    """The non-post files of the content folder, the base URL for what is not among them, and
    what is known about the images among them; `posts` maps each post file to its slug."""

    files: frozenset[str] = frozenset()
    base_url: str = ""
    posts: PostPaths = field(default_factory=PostPaths)
    images: ImageTable = field(default_factory=ImageTable)


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


def find_post(url: str, directory: str, assets: AssetMap) -> str | None:
    """The slug of the post a local URL names: `other.md`, `/posts/other.md`, `other` (as
    Hugo's `ref` resolves: relative to the post's folder first, then to the content root)."""
    if not assets.posts:
        return None
    path = content_path(url, directory)
    if path is None:
        return None
    bases = [path]
    written = unquote(urlsplit(url).path)
    if not written.startswith("/"):
        root = posixpath.normpath(written.lstrip("./") or ".")
        if root not in {".", ".."} and not root.startswith("../"):
            bases.append(root)
    for base in bases:
        base = base.rstrip("/")
        if base.endswith(POST_SUFFIXES):
            candidates: tuple[str, ...] = (base,)
        else:
            candidates = tuple(base + suffix for suffix in POST_SUFFIXES) + tuple(
                f"{base}/index{suffix}" for suffix in POST_SUFFIXES
            )
        for candidate in candidates:
            slug = assets.posts.get(candidate)
            if slug is not None:
                return slug
    return None


def resolve(url: str, directory: str, assets: AssetMap) -> Resolved:
    """Content files become `/media/<path>`; a post file becomes its API URL
    (`/api/v1/posts/<slug>`); other local URLs join `assets.base_url` if set.

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
    slug = find_post(url, directory, assets)
    if slug is not None:
        return Resolved(
            POSTS_PREFIX + quote(slug) + (f"#{parts.fragment}" if parts.fragment else "")
        )
    if assets.base_url:
        return Resolved(urljoin(assets.base_url, quote(path)) + suffix)
    return Resolved(url, missing=True)


def absolute(url: str, base_url: str) -> str:
    """A `/media/...` or post URL made absolute against the API's own URL; others as they are."""
    return urljoin(base_url, url) if url.startswith((MEDIA_PREFIX, POSTS_PREFIX)) else url


# The URL policy --------------------------------------------------------------------------

SAFE_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
IMAGE_DATA_TYPES = frozenset(
    {"image/png", "image/jpeg", "image/jpg", "image/gif", "image/webp", "image/avif",
     "image/bmp", "image/x-icon", "image/vnd.microsoft.icon", "image/svg+xml"}
)  # fmt: skip
_PLAINLY_SAFE = ("https://", "http://", "/", "#", "./", "../")
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]{0,31}):")
_IGNORED = re.compile(r"[\x00-\x20\x7f]")  # browsers drop these before reading a scheme


def url_scheme(url: str) -> str | None:
    """The scheme a browser would read in `url` (lowercase), or None for a relative URL."""
    match = _SCHEME.match(_IGNORED.sub("", url[:64]))
    return match.group(1).lower() if match else None


def image_data(url: str) -> bool:
    """Whether a `data:` URL holds a raster or SVG image (the only `data:` URLs kept)."""
    media_type = _IGNORED.sub("", url[5:69]).split(",", 1)[0].split(";", 1)[0].lower()
    return media_type in IMAGE_DATA_TYPES


def url_problem(url: str, *, image: bool = False) -> str | None:
    """Why a URL is removed from what readers get, or None when it is kept.

    Kept: relative URLs, http(s), and (not for images) mailto/tel; `data:` only for images of
    a raster or SVG type. Everything else (`javascript:`, `file:`, `C:\\...`) is removed.
    """
    if url.startswith(_PLAINLY_SAFE):  # most URLs: decided without a regex
        return None
    scheme = url_scheme(url)
    if scheme is None or scheme in {"http", "https"}:
        return None
    if scheme == "data":
        if image and image_data(url):
            return None
        return "a data: URL is only kept for a raster or SVG image"
    if scheme in SAFE_SCHEMES and not image:
        return None
    if len(scheme) == 1:
        return "a path on someone's computer, not a URL readers can load"
    return f"{scheme}: URLs are removed"


# Where URLs are written: Markdown destinations, reference definitions, autolinks and HTML
# attributes. Each pattern starts with a literal, so `re` skips ahead to it (a single alternation
# costs 50x more), and none can backtrack far.
# A destination may hold one level of parentheses (`Pan_(alimento).jpg`), as analysis reads it.
_DESTINATION = re.compile(r"\]\(\s*<?((?:[^\s()<>]|\([^\s()<>]{0,256}\)){1,2048}+)")
_DEFINITION = re.compile(r"\]:[ \t]*<?([^\s>]{1,2048})")
_AUTOLINK = re.compile(r"<([a-zA-Z][a-zA-Z0-9+.-]{1,31}:[^\s<>]{0,2048})>")
_ATTRIBUTE_VALUE = re.compile(
    r"""=[ \t]*(?:"([^"]{0,2048})"|'([^']{0,2048})'|([^\s"'>]{1,2048}))"""
)
_URL_ATTRIBUTE = re.compile(
    r"(?:^|[^\w-])(src|href|poster|cite|action|formaction|background|xlink:href)[ \t]*$", re.I
)
_DEFINITION_START = re.compile(r"[ \t]{0,3}\[")
_FENCE = re.compile(r"^[ \t>]*(`{3,}|~{3,})", re.M)


def _written_urls(markdown: str) -> Iterator[tuple[int, str, bool]]:
    """(position, URL, whether it is an image source) for each URL written in a body."""
    for match in _DESTINATION.finditer(markdown):
        url = match.group(1)
        # `![x](data:image/...)` is an image; a destination alone does not say which it is
        yield match.start(), url, not url.startswith(_PLAINLY_SAFE) and url_scheme(url) == "data"
    seen = line_start = 0
    for match in _DEFINITION.finditer(markdown):
        line_start = markdown.rfind("\n", seen, match.start()) + 1 or line_start
        seen = match.start()
        if _DEFINITION_START.match(markdown, line_start, line_start + 4):
            yield match.start(), match.group(1), False
    for match in _AUTOLINK.finditer(markdown):
        yield match.start(), match.group(1), False
    for match in _ATTRIBUTE_VALUE.finditer(markdown):
        name = _URL_ATTRIBUTE.search(markdown, max(0, match.start() - 16), match.start())
        if name is not None:
            value = next(v for v in match.groups() if v is not None)
            image = name.group(1).lower() in {"src", "poster"}
            yield match.start(), html.unescape(value), image


def unsafe_urls(markdown: str) -> list[tuple[int, str, str]]:
    """`(line, url, why)` for each URL in a Markdown body that the policy removes, outside
    code (a tutorial may show `javascript:` in a code block). Linear in the body."""
    bad = sorted(
        (position, url, why)
        for position, url, image in _written_urls(markdown)
        if (why := url_problem(url, image=image)) is not None
    )
    if not bad:
        return []
    where = _Where(markdown)
    found = []
    for position, url, why in bad:
        line, in_code = where.at(position)
        if not in_code:
            found.append((line, url, why))
    return found


class _Where:
    """Line numbers and "inside code?" for increasing positions, in one pass over the text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.fences = _fenced(text)
        self.fence = 0
        self.position = 0
        self.line = 1
        self.line_start = 0
        self.ticks = 0  # backticks between the line's start and `position`

    def at(self, position: int) -> tuple[int, bool]:
        text = self.text
        newline = text.rfind("\n", self.position, position)
        if newline >= 0:
            self.line += text.count("\n", self.position, position)
            self.line_start = newline + 1
            self.ticks = text.count("`", self.line_start, position)
        else:
            self.ticks += text.count("`", self.position, position)
        self.position = position
        while self.fence < len(self.fences) and self.fences[self.fence][1] <= position:
            self.fence += 1
        fenced = self.fence < len(self.fences) and self.fences[self.fence][0] <= position
        return self.line, fenced or self.ticks % 2 == 1


def _fenced(markdown: str) -> list[tuple[int, int]]:
    """Start and end of every fenced code block (an unclosed fence runs to the end)."""
    spans: list[tuple[int, int]] = []
    opening: tuple[int, str] | None = None
    for match in _FENCE.finditer(markdown):
        run = match.group(1)
        if opening is None:
            opening = (match.start(), run)
        elif run[0] == opening[1][0] and len(run) >= len(opening[1]):
            spans.append((opening[0], match.end()))
            opening = None
    if opening is not None:
        spans.append((opening[0], len(markdown)))
    return spans
