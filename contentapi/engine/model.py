"""The immutable values the index is made of: read-only once built, safe to share across threads."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

Severity = Literal["error", "warning"]


class FrozenMap(Mapping[str, Any]):
    """A read-only mapping that, unlike MappingProxyType, can cross a process boundary."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        self._data = dict(data or {})

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"

    def __getstate__(self) -> dict[str, Any]:
        return self._data

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._data = state


EMPTY: Mapping[str, Any] = FrozenMap()
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# What tells a file changed without reading it: modification and change times in ns, size,
# inode. Any write moves `st_ctime_ns`, a replaced file has another inode; the same four
# values mean the same bytes, as make, Hugo and git's index assume too.
FileStamp = tuple[int, int, int, int]


@dataclass(frozen=True)
class SourceFile:
    """One post file as found on disk: its path relative to the content folder, its bytes, and
    its stamp (see `FileStamp`).

    A file whose stamp is the one the last index saw is not read again: it comes as
    `SourceFile.unchanged(path, stamp, digest)`, with no bytes and the digest read last time.
    """

    path: str
    data: bytes | None
    stamp: FileStamp | None = None
    known_digest: str | None = field(default=None, repr=False)
    # SHA-256 of the bytes: what "unchanged" means for reloads and the parse cache.
    digest: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.data is not None:
            digest = hashlib.sha256(self.data).hexdigest()
        elif self.known_digest is not None:
            digest = self.known_digest
        else:
            raise ValueError(f"{self.path}: neither bytes nor a known digest")
        object.__setattr__(self, "digest", digest)

    @classmethod
    def unchanged(cls, path: str, stamp: FileStamp, digest: str) -> SourceFile:
        return cls(path, None, stamp, digest)

    @property
    def content(self) -> bytes:
        """The bytes, for a file that was read (parsing an unchanged file is a bug)."""
        if self.data is None:
            raise ValueError(f"{self.path} was not read: it is unchanged since the last index")
        return self.data


@dataclass(frozen=True)
class Sources:
    """Everything the loader read: post files, the relative paths of every other file, the
    site's shortcode templates (`_shortcodes/NAME.html`), and what it learned about the image
    files among the others."""

    files: tuple[SourceFile, ...]
    assets: frozenset[str] = frozenset()
    shortcodes: tuple[SourceFile, ...] = ()
    images: tuple[ImageFile, ...] = ()
    # post files that are links, or have more than one name: a write through one name is
    # seen (by the file watcher) under that name only
    linked: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ContentIssue:
    """A problem with one file: which file, which field, what is wrong, and where."""

    path: str
    field: str | None
    message: str
    line: int | None = None
    severity: Severity = "error"

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        what = f"{self.field}: " if self.field else ""
        return f"{where}: {self.severity}: {what}{self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "field": self.field,
            "message": self.message,
            "line": self.line,
            "severity": self.severity,
        }


@dataclass(frozen=True, slots=True)
class TermRef:
    """A category or tag as a post refers to it."""

    name: str
    slug: str


@dataclass(frozen=True)
class Heading:
    id: str
    text: str
    level: int


@dataclass(frozen=True)
class TocEntry:
    id: str
    text: str
    level: int
    children: tuple[TocEntry, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "level": self.level,
            "children": [child.as_dict() for child in self.children],
        }


@dataclass(frozen=True)
class ImageFacts:
    """What a frontend needs to reserve an image's space and show something while it loads."""

    width: int
    height: int
    placeholder: str | None = None  # a `data:image/png;base64,...` URI of a tiny preview


@dataclass(frozen=True)
class ImageFile:
    """An image file of the content folder as the loader last saw it (`facts` None: unreadable)."""

    path: str
    size: int
    mtime_ns: int
    digest: str
    facts: ImageFacts | None
    problem: str | None = None


class ImageTable(FrozenMap):
    """Image files by path inside the content folder; hashable, so it can be part of a cache key."""

    __slots__ = ("_hash",)

    def __init__(self, files: Mapping[str, ImageFile] | None = None) -> None:
        super().__init__(files)
        self._hash: int | None = None

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._data.items()))
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ImageTable):
            return self._data == other._data
        return NotImplemented

    def __getstate__(self) -> dict[str, Any]:
        return self._data

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._data = state
        self._hash = None

    def facts(self, path: str | None) -> ImageFacts | None:
        found = self._data.get(path) if path is not None else None
        return found.facts if found is not None else None


@dataclass(frozen=True)
class Image:
    """An image in a post: its URL after resolution (absolute, or `/media/...`) and alt text;
    `facts` for a file shipped in the content folder that could be read."""

    url: str
    alt: str
    facts: ImageFacts | None = None


@dataclass(frozen=True)
class Section:
    """The plain text under one heading (id `""` for the text before the first heading)."""

    id: str
    heading: str
    text: str


@dataclass(frozen=True)
class Analysis:
    """What is derived from a post's body without rendering HTML."""

    plaintext: str
    excerpt: str
    word_count: int
    reading_time: int
    toc: tuple[TocEntry, ...]
    headings: tuple[Heading, ...]
    sections: tuple[Section, ...]
    images: tuple[Image, ...]
    more: bool = False  # `excerpt` is the text before `<!--more-->`, as the author cut it


@dataclass(frozen=True, slots=True)
class Post:
    """One valid post, or page: validated front matter and where it came from.

    `date` is None only for a page written without one (posts always have a date). The body
    is not kept here: lists never need it, and at 10,000 posts it would be most of the index's
    memory. `Index.body(post)` gives it, read again from the file when needed (a render or an
    analysis the artifact store lacks, `formats=markdown`).
    """

    path: str
    digest: str
    slug: str
    title: str
    date: datetime | None
    updated: datetime | None = None
    categories: tuple[TermRef, ...] = ()
    tags: tuple[TermRef, ...] = ()
    description: str = ""
    author: str | None = None
    image: str | None = None
    lang: str | None = None
    draft: bool = False
    aliases: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    body_line: int = 1  # the file line `body` starts on, so body warnings name file lines
    summary: str = ""  # the author's own excerpt, as plain text
    old_names: tuple[str, ...] = ()  # what old URLs may end in: the raw file stem and `slug`
    page: bool = False

    @property
    def category(self) -> TermRef | None:
        return self.categories[0] if self.categories else None

    @property
    def directory(self) -> str:
        """The post's folder relative to the content root (`""` at the top)."""
        return self.path.rpartition("/")[0]

    @property
    def modified(self) -> datetime:
        """When the post last changed (a page without dates: the Unix epoch)."""
        return self.updated or self.date or EPOCH

    @property
    def post_date(self) -> datetime:
        """`date` where only posts go (listings, feeds, search, the archive): a post always has
        one, so None here means a page was taken for a post."""
        if self.date is None:
            raise ValueError(f"{self.path} is a page without a date, not a post")
        return self.date

    def is_public(self, now: datetime) -> bool:
        return not self.draft and (self.date is None or self.date <= now)

    def status(self, now: datetime) -> Literal["published", "draft", "scheduled"]:
        if self.draft:
            return "draft"
        return "scheduled" if self.date is not None and self.date > now else "published"


@dataclass(frozen=True)
class Derived:
    """What a post's body yields besides HTML, with image URLs resolved; computed on demand.

    `issues` are what deriving found: missing images (warnings), or the error that analysis
    failed, in which case `analysis` is empty and the post is still served.
    """

    digest: str
    analysis: Analysis
    images: tuple[Image, ...]
    cover: str | None
    issues: tuple[ContentIssue, ...]
    cover_image: Image | None = None


@dataclass(frozen=True, slots=True)
class Term:
    """A category or tag with every post filed under it, newest first."""

    name: str
    slug: str
    posts: tuple[Post, ...]
