"""Compiled artifacts: what each post compiles to (its analysis and its HTML), computed once and
kept in a store that every process reads.

The engine defines the artifacts: their key, their plain-data form, how to compute them, and
the small protocol a store implements (`Backend`). The store itself (SQLite, in
`contentapi.service.artifact_db`) is handed to `build_index` by the service; the engine never
touches it directly.

A key is content-addressed: a hash of the code and library versions that compute artifacts,
the output-affecting options, the shortcode templates, and the post's path and file digest.
What else an artifact reads from the index is listed in `INDEX_FIELDS` and `ASSET_FIELDS` (a
test keeps them complete): which files the content folder has and which post file has which
slug (`assets`). Those are recorded per artifact as the answer to each lookup it made (`deps`)
and checked on every read, so adding an image, or renaming a post another one links to,
recomputes only the posts that referred to it.

Kinds: `derived` (analysis, resolved images, cover, warnings), `brief` (the few of those a
summary shows: excerpt, word count, reading time, cover; small, so a listing or a detail's
neighbours and related posts never decode a whole analysis), `outline` (the table of contents
and images a whole post shows) and `html` (the rendered body),
built for every post ahead of requests, and `blocks` (the block tree for native clients), built
and stored on the first request that asks for it: keys, store and invalidation are shared. An
image's width, height and placeholder are an asset lookup like the others (`image`: the file's
digest), so replacing an image recomputes only the posts that show it.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sys
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields, is_dataclass, replace
from functools import cache, lru_cache
from importlib import metadata
from pathlib import Path
from types import NoneType, UnionType
from typing import (
    Any,
    Generic,
    Literal,
    NamedTuple,
    Protocol,
    TypeVar,
    Union,
    get_args,
    get_origin,
    get_type_hints,
)
from urllib.parse import urlsplit

from contentapi import __version__
from contentapi.engine.assets import MEDIA_PREFIX, POSTS_PREFIX, AssetMap, absolute
from contentapi.engine.blocks import render_blocks
from contentapi.engine.index import BuildOptions, Index, Parsed, render_options
from contentapi.engine.model import Derived, Image, ImageFacts, ImageTable, Post, TocEntry
from contentapi.engine.render import render_html
from contentapi.engine.shortcodes import Templates

LAYOUT = 1  # of keys and values; the code fingerprint covers everything else
DERIVED, BRIEF, OUTLINE, HTML, BLOCKS = "derived", "brief", "outline", "html", "blocks"
KINDS = (DERIVED, BRIEF, OUTLINE, HTML)  # built ahead of requests; `blocks` when a client asks
PLACEHOLDER_DOMAIN = ".contentapi.invalid"  # `.invalid` is reserved: no real host has it
MEMO_SIZE = 1024  # derived values an index keeps in memory when a store holds the rest
BRIEF_MEMO_SIZE = 16384  # briefs an index keeps in memory (~0.7 KB each)
# Libraries whose output ends up in an artifact: a new version re-keys the store.
LIBRARIES = ("mistune", "nh3", "pygments", "python-slugify", "text-unidecode")

# Each `Index` field, by what an artifact's key does with it. "key": part of every key;
# "deps": recorded per artifact and checked on read; "none": derive and render never read it.
# tests/test_artifacts.py fails when `Index` gains a field that is not listed here: decide
# whether artifacts depend on it before adding it.
INDEX_FIELDS: Mapping[str, Literal["key", "deps", "none"]] = {
    "version": "none",
    "built_at": "none",
    "posts": "none",
    "by_slug": "none",
    "aliases": "none",
    "categories": "none",
    "tags": "none",
    "issues": "none",
    "assets": "deps",
    "options": "key",
    "parsed": "none",
    "publications": "none",
    "pages": "none",  # a page's artifacts are keyed like a post's; the list is not read
    "pages_by_slug": "none",
    "page_aliases": "none",
    "files": "none",  # file stamps: when to read a file again, not what it says
    "shortcodes": "key",
    "_derived": "none",
    "artifacts": "none",
    "_memo": "none",
    "_memo_lock": "none",
    "patch": "none",  # which posts a reload replaced: what to check, not what a post says
    "linked": "none",  # which post files are links: when a reload may read one file alone
}
# Fields that belong to one process (memos, locks, the store): not sent to worker processes.
PROCESS_LOCAL = ("_derived", "_memo", "_memo_lock", "artifacts", "patch")
# The same for `AssetMap`: `files` and `posts` are probed per lookup; `base_url` is
# `options.asset_base_url`.
ASSET_FIELDS: Mapping[str, Literal["key", "deps"]] = {
    "files": "deps",
    "base_url": "key",
    "posts": "deps",
    "images": "deps",
}


V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Brief:
    """What a post's summary shows of its derived values (see `serialize.summary`)."""

    digest: str
    excerpt: str
    more: bool  # `excerpt` is the text before `<!--more-->`
    word_count: int
    reading_time: int
    cover: str | None
    cover_image: Image | None


def brief_of(derived: Derived) -> Brief:
    analysis = derived.analysis
    return Brief(
        derived.digest,
        analysis.excerpt,
        analysis.more,
        analysis.word_count,
        analysis.reading_time,
        derived.cover,
        derived.cover_image,
    )


@dataclass(frozen=True, slots=True)
class Outline:
    """What a whole post shows of its derived values besides its summary's."""

    digest: str
    toc: tuple[TocEntry, ...]
    images: tuple[Image, ...]


def outline_of(derived: Derived) -> Outline:
    return Outline(derived.digest, derived.analysis.toc, derived.images)


# The kinds made from the derived values alone: computed with them, stored with their lookups.
_FROM_DERIVED: dict[str, Callable[[Derived], Any]] = {BRIEF: brief_of, OUTLINE: outline_of}


def outline(index: Index, post: Post) -> Outline:
    """The post's `Outline`: read from the store when `index` has one (not the whole analysis),
    else made from `index.derived`."""
    source = index.artifacts
    if isinstance(source, Artifacts):
        return source.outline(index, post)
    return outline_of(index.derived(post))


def brief(index: Index, post: Post) -> Brief:
    """The post's `Brief`, kept per index (the most recent BRIEF_MEMO_SIZE): read from the
    store when `index` has one (a small row), else made from `index.derived`."""
    table: Memo[Brief] = index.memo(("briefs",), lambda: Memo(BRIEF_MEMO_SIZE))
    found = table.get(post.path)
    if found is None or found.digest != post.digest:
        source = index.artifacts
        if isinstance(source, Artifacts):
            found = source.brief(index, post)
        else:
            found = brief_of(index.derived(post))
        if found.digest is not post.digest:  # keep one copy of the digest, the post's
            found = replace(found, digest=post.digest)
        table[post.path] = found
    return found


class Row(NamedTuple):
    """One stored artifact: its key and kind, the asset lookups it made, and its value."""

    key: str
    kind: str
    deps: str  # JSON: [[lookup, path, answer], ...] (see `_fresh`)
    value: bytes  # zlib-compressed JSON


class Backend(Protocol):
    """What a store does; every method answers "nothing" rather than raise when it cannot."""

    def get(self, key: str, kind: str) -> Row | None:
        """The artifact, or None when absent or unreadable."""

    def deps(self, keys: Sequence[str]) -> Mapping[tuple[str, str], str]:
        """The `deps` of every stored artifact of these keys, by (key, kind)."""

    def put(self, rows: Sequence[Row], wait: float = 1.0) -> bool:
        """Store the rows in one transaction; False when the store was busy or unwritable."""


# --- keys --------------------------------------------------------------------------------------


@cache
def code_fingerprint() -> str:
    """The code and library versions that compute artifacts: a change to any engine module,
    a library that renders or slugs, or the Python version makes every artifact a miss."""
    hasher = hashlib.sha256(f"{LAYOUT}\n{__version__}\n{sys.version_info[:2]}\n".encode())
    for name in LIBRARIES:
        try:
            hasher.update(f"{name}={metadata.version(name)}\n".encode())
        except metadata.PackageNotFoundError:
            hasher.update(f"{name}=?\n".encode())
    for source in sorted(Path(__file__).parent.glob("*.py")):
        hasher.update(source.name.encode() + b"\0" + source.read_bytes())
    return hasher.hexdigest()


@lru_cache(maxsize=8)
def _prefix(options: BuildOptions, templates: str) -> bytes:
    return f"{code_fingerprint()}\n{options.fingerprint()}\n{templates}\n".encode()


def artifact_key(index: Index, post: Post) -> str:
    """The key of a post's artifacts in `index` (the file digest covers its body)."""
    data = _prefix(index.options, index.shortcodes.digest) + f"{post.path}\0{post.digest}".encode()
    return hashlib.sha256(data).hexdigest()[:40]


# --- plain data --------------------------------------------------------------------------------


def to_plain(value: Any) -> Any:
    """Dataclasses as lists of their fields, tuples as lists: what JSON holds."""
    if is_dataclass(value) and not isinstance(value, type):
        return [to_plain(getattr(value, f.name)) for f in fields(value)]
    if isinstance(value, tuple | list):
        return [to_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): to_plain(item) for key, item in value.items()}
    return value


_READERS: dict[Any, Callable[[Any], Any]] = {}


def reader(kind: Any) -> Callable[[Any], Any]:
    """A function from `to_plain`'s output back to a value of type `kind`; it raises
    ValueError or TypeError for data of any other shape, so a bad row reads as a miss."""
    found = _READERS.get(kind)
    if found is not None:
        return found
    origin, args = get_origin(kind), get_args(kind)
    read: Callable[[Any], Any]
    if kind in (str, int, float, bool):
        read = _scalar(kind)
    elif kind is Any:
        read = _same
    elif origin in (Union, UnionType) and len(args) == 2 and NoneType in args:
        inner = reader(next(arg for arg in args if arg is not NoneType))
        read = lambda data: None if data is None else inner(data)  # noqa: E731
    elif origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        item = reader(args[0])
        read = lambda data: tuple(item(entry) for entry in _list(data))  # noqa: E731
    elif origin is Literal:
        read = _one_of(args)
    elif is_dataclass(kind) and isinstance(kind, type):
        return _dataclass_reader(kind)
    else:
        raise TypeError(f"artifacts cannot store a {kind!r}")
    _READERS[kind] = read
    return read


def _dataclass_reader(kind: type) -> Callable[[Any], Any]:
    members: list[Callable[[Any], Any]] = []

    def read(data: Any) -> Any:
        values = _list(data)
        if len(values) != len(members):
            raise ValueError(f"{kind.__name__}: expected {len(members)} fields")
        return kind(*[member(value) for member, value in zip(members, values, strict=True)])

    _READERS[kind] = read  # before the fields, so a recursive type (TocEntry) finds itself
    hints = get_type_hints(kind)
    members.extend(reader(hints[f.name]) for f in fields(kind))
    return read


def _scalar(kind: type) -> Callable[[Any], Any]:
    def read(data: Any) -> Any:
        if type(data) is not kind and not (kind is float and type(data) is int):
            raise TypeError(f"expected {kind.__name__}, found {type(data).__name__}")
        return data

    return read


def _one_of(allowed: tuple[Any, ...]) -> Callable[[Any], Any]:
    def read(data: Any) -> Any:
        if data not in allowed:
            raise ValueError(f"{data!r} is not one of {allowed!r}")
        return data

    return read


def _same(data: Any) -> Any:
    return data


def _list(data: Any) -> list[Any]:
    if not isinstance(data, list):
        raise TypeError("expected a list")
    return data


def encode(key: str, kind: str, value: Any) -> bytes:
    """A value as stored: JSON of [key, kind, plain value], compressed. The key inside lets a
    reader prove that a row holds what it was asked for."""
    text = json.dumps([key, kind, to_plain(value)], ensure_ascii=False, separators=(",", ":"))
    return zlib.compress(text.encode(), 1)


def decode(row: Row) -> Any:
    """A row's plain value; raises (ValueError, TypeError, zlib.error) unless it is whole and
    holds the artifact its key and kind name."""
    key, kind, value = json.loads(zlib.decompress(row.value))
    if key != row.key or kind != row.kind:
        raise ValueError("the row holds another artifact")
    return value


# --- computing ---------------------------------------------------------------------------------


Asked = dict[tuple[str, str], Any]


class _FilesProbe:
    """A stand-in for `AssetMap.files` that records every membership question asked of it."""

    __slots__ = ("_asked", "_files")

    def __init__(self, files: frozenset[str], asked: Asked) -> None:
        self._files = files
        self._asked = asked

    def __contains__(self, path: object) -> bool:
        found = path in self._files
        self._asked["file", str(path)] = found
        return found

    def __iter__(self) -> Iterator[str]:  # pragma: no cover - resolution only asks `in`
        raise TypeError("artifacts record which files they look up; iterate index.assets")

    def __len__(self) -> int:  # pragma: no cover - resolution only asks `in`
        raise TypeError("artifacts record which files they look up; use index.assets")


class _PostsProbe(Mapping[str, str]):
    """A stand-in for `AssetMap.posts` that records each post file looked up (and its slug)."""

    def __init__(self, posts: Mapping[str, str], asked: Asked) -> None:
        self._posts = posts
        self._asked = asked

    def __getitem__(self, path: str) -> str:
        found = self._posts.get(path)
        self._asked["post", path] = found
        if found is None:
            raise KeyError(path)
        return found

    def __len__(self) -> int:
        count = len(self._posts)
        self._asked["any post", ""] = count > 0
        return count

    def __iter__(self) -> Iterator[str]:  # pragma: no cover - resolution only looks up
        raise TypeError("artifacts record which posts they look up; iterate index.assets")


class _ImagesProbe(ImageTable):
    """A stand-in for `AssetMap.images` that records each image's facts looked up, by the
    file's digest (its facts follow from its bytes)."""

    __slots__ = ("_asked",)

    def __init__(self, images: ImageTable, asked: Asked) -> None:
        self._data = images._data  # shared, not copied: a probe lives for one computation
        self._hash = None
        self._asked = asked

    def facts(self, path: str | None) -> ImageFacts | None:
        if path is not None:
            found = self._data.get(path)
            self._asked["image", path] = found.digest if found is not None else None
        return super().facts(path)


def _compute_derived(index: Index, post: Post) -> Derived:
    return index.derived(post)


def _from_derived(kind: str) -> Callable[[Index, Post], Any]:
    return lambda index, post: _FROM_DERIVED[kind](index.derived(post))


def _compute_html(index: Index, post: Post) -> list[str]:
    """The HTML with a placeholder origin, for the `/media/` and post URLs made absolute, that
    no author can write (a fresh random host): stored with it, swapped for the request's origin
    on read."""
    origin = f"http://{secrets.token_hex(8)}{PLACEHOLDER_DOMAIN}"
    return [
        origin,
        render_html(index.body(post), post.directory, render_options(index, origin + "/")),
    ]


def _compute_blocks(index: Index, post: Post) -> list[str]:
    """The block tree as JSON text with a placeholder origin, as `_compute_html` does."""
    origin = f"http://{secrets.token_hex(8)}{PLACEHOLDER_DOMAIN}"
    tree = render_blocks(index.body(post), post.directory, render_options(index, origin + "/"))
    return [origin, json.dumps(tree, ensure_ascii=False, separators=(",", ":"))]


_COMPUTE: dict[str, Callable[[Index, Post], Any]] = {
    DERIVED: _compute_derived,
    BRIEF: _from_derived(BRIEF),
    OUTLINE: _from_derived(OUTLINE),
    HTML: _compute_html,
    BLOCKS: _compute_blocks,
}


def compute(index: Index, post: Post, kinds: Iterable[str] = KINDS) -> list[Row]:
    """A post's artifacts as rows to store: pure, run in a worker process or inline.

    Each is computed against an index whose `assets` record the lookups made; a brief or an
    outline computed with the derived values is made from them (with the same lookups).
    """
    key = artifact_key(index, post)
    rows = []
    derived: tuple[Derived, str] | None = None
    for kind in kinds:
        if kind in _FROM_DERIVED and derived is not None:
            made = _FROM_DERIVED[kind](derived[0])
            rows.append(Row(key, kind, derived[1], encode(key, kind, made)))
            continue
        asked: Asked = {}
        # The probes answer as the frozenset and PostPaths they wrap, duck-typed for this copy.
        assets = replace(
            index.assets,
            files=_FilesProbe(index.assets.files, asked),  # type: ignore[arg-type]
            posts=_PostsProbe(index.assets.posts, asked),  # type: ignore[arg-type]
            images=_ImagesProbe(index.assets.images, asked),
        )
        probing = replace(index, assets=assets, _derived={}, artifacts=None)
        value = _COMPUTE[kind](probing, post)
        lookups = [[lookup, path, answer] for (lookup, path), answer in sorted(asked.items())]
        deps = json.dumps(lookups, ensure_ascii=False, separators=(",", ":"))
        if kind == DERIVED:
            derived = (value, deps)
        rows.append(Row(key, kind, deps, encode(key, kind, value)))
    return rows


def portable(index: Index) -> dict[str, Any]:
    """The index's fields without what artifacts never read (see `INDEX_FIELDS`) or what
    belongs to this process: small to send to a worker process, and free of read-only
    mappings, locks and compiled templates, which cannot be pickled. `from_portable` makes
    the worker's index from it."""
    lite = replace(
        index,
        posts=(),
        by_slug={},
        aliases={},
        categories=(),
        tags=(),
        issues=(),
        parsed={},
        publications=(),
        pages=(),
        pages_by_slug={},
        page_aliases={},
        files={},
        shortcodes=Templates(index.shortcodes),
    )
    return {f.name: getattr(lite, f.name) for f in fields(Index) if f.name not in PROCESS_LOCAL}


def from_portable(data: Mapping[str, Any], parsed: Iterable[Parsed] = ()) -> Index:
    """The worker's index, with the bodies of the posts it is to compute (`parsed`: each
    chunk of work brings its own, so the index sent at start stays small)."""
    return Index(**{**data, "parsed": {result.path: result for result in parsed}})


def _answer(assets: AssetMap, lookup: str, path: str) -> Any:
    if lookup == "file":
        return path in assets.files
    if lookup == "post":
        return assets.posts.get(path)
    if lookup == "any post":
        return len(assets.posts) > 0
    if lookup == "image":
        found = assets.images.get(path)
        return found.digest if found is not None else None
    raise ValueError(f"unknown lookup {lookup!r}")


def _fresh(index: Index, deps: str) -> bool:
    """Whether every lookup an artifact made (a file present or absent, a post file's slug)
    still gets the same answer."""
    if deps == "[]":
        return True
    try:
        return all(
            _answer(index.assets, lookup, path) == answer
            for lookup, path, answer in json.loads(deps)
        )
    except (ValueError, TypeError):
        return False


@lru_cache(maxsize=64)
def media_origin(base_url: str) -> str | None:
    """The `scheme://host` that `/media/` and post URLs get under `base_url`, when the stored
    HTML can take it by plain substitution (a host that no escaping in the pipeline changes)."""
    parts = urlsplit(base_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    host = parts.netloc
    plain_host = host and all(c.isascii() and (c.isalnum() or c in ".-:") for c in host)
    if parts.scheme not in {"http", "https"} or not plain_host:
        return None
    probes = (MEDIA_PREFIX + "x", POSTS_PREFIX + "x")
    return origin if all(absolute(p, base_url) == origin + p for p in probes) else None


class Memo(Generic[V]):
    """A bounded, thread-safe memo of derived values (or briefs) by path: the index's hot set."""

    def __init__(self, size: int = MEMO_SIZE) -> None:
        self._size = size
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: Hashable) -> V | None:
        with self._lock:
            found = self._items.get(path)
            if found is not None:
                self._items.move_to_end(path)
            return found

    def __setitem__(self, path: Hashable, value: V) -> None:
        with self._lock:
            self._items[path] = value
            self._items.move_to_end(path)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def __contains__(self, path: object) -> bool:
        return path in self._items

    def __getitem__(self, path: Hashable) -> V:
        return self._items[path]

    def __len__(self) -> int:
        return len(self._items)


class Artifacts:
    """Artifacts read from a store, computed on a miss and written back."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._read_derived = reader(Derived)
        self._read_brief = reader(Brief)
        self._read_outline = reader(Outline)

    def memo(self) -> Memo[Derived]:
        """The memo a new index keeps: bounded, since the store holds every post."""
        return Memo()

    def _stored(self, index: Index, key: str, kind: str) -> Any:
        row = self.backend.get(key, kind)
        if row is None or not _fresh(index, row.deps):
            return None
        try:
            return decode(row)
        except (ValueError, TypeError, zlib.error):
            return None

    def _compute(self, index: Index, post: Post, kind: str) -> Any:
        """Compute and store one kind (derived values with their brief and outline, which
        cost nothing more), and answer its plain value."""
        rows = compute(index, post, (DERIVED, *_FROM_DERIVED) if kind == DERIVED else (kind,))
        self.backend.put(rows, wait=0.05)  # a busy store only means the next reader computes
        return decode(rows[0])

    def derived(self, index: Index, post: Post) -> Derived:
        key = artifact_key(index, post)
        plain = self._stored(index, key, DERIVED)
        if plain is not None:
            try:
                found: Derived = self._read_derived(plain)
                if found.digest == post.digest:
                    return found
            except (ValueError, TypeError):
                pass
        result: Derived = self._read_derived(self._compute(index, post, DERIVED))
        return result

    def brief(self, index: Index, post: Post) -> Brief:
        """The post's brief: its small stored row, else made from its derived values (the
        builder stores the row)."""
        found: Brief | None = self._small(index, post, BRIEF, self._read_brief)
        return brief_of(index.derived(post)) if found is None else found

    def outline(self, index: Index, post: Post) -> Outline:
        """The post's outline, as `brief` gives its brief."""
        found: Outline | None = self._small(index, post, OUTLINE, self._read_outline)
        return outline_of(index.derived(post)) if found is None else found

    def _small(self, index: Index, post: Post, kind: str, read: Callable[[Any], Any]) -> Any:
        """A stored brief or outline of the post's content, or None."""
        plain = self._stored(index, artifact_key(index, post), kind)
        if plain is not None:
            try:
                found = read(plain)
                if found.digest == post.digest:
                    return found
            except (ValueError, TypeError):
                pass
        return None

    def html(self, index: Index, post: Post, media_base_url: str) -> str | None:
        """The post's HTML for `media_base_url`, or None when that base cannot be substituted
        into stored HTML byte for byte (the caller renders it directly then)."""
        return self._for_base(index, post, HTML, media_base_url)

    def blocks(self, index: Index, post: Post, media_base_url: str) -> list[dict[str, Any]] | None:
        """The post's block tree for `media_base_url`, as `html` gives its HTML: stored on the
        first request that asks for it; None when the base cannot be substituted."""
        text = self._for_base(index, post, BLOCKS, media_base_url)
        if text is None:
            return None
        tree: list[dict[str, Any]] = json.loads(text)
        return tree

    def _for_base(self, index: Index, post: Post, kind: str, media_base_url: str) -> str | None:
        """A stored [placeholder origin, text] artifact (computed on a miss) with the request's
        origin put in place of the placeholder; None when the base cannot be substituted."""
        origin = media_origin(media_base_url)
        if origin is None:
            return None
        plain = self._stored(index, artifact_key(index, post), kind)
        if not _stored_html(plain):
            plain = self._compute(index, post, kind)
        placeholder: str
        text: str
        placeholder, text = plain  # as `_compute_html` and the blocks builder make it
        return text.replace(placeholder, origin)

    def missing(self, index: Index, posts: Sequence[Post] | None = None) -> list[Post]:
        """The index's posts (or those of `posts`) that lack a fresh stored artifact of some
        kind."""
        posts = index.posts if posts is None else posts
        keys = {post.path: artifact_key(index, post) for post in posts}
        stored = self.backend.deps(list(keys.values()))
        return [
            post
            for post in posts
            if not all(
                (deps := stored.get((keys[post.path], kind))) is not None and _fresh(index, deps)
                for kind in KINDS
            )
        ]


def _stored_html(plain: Any) -> bool:
    """Whether a stored value is [placeholder origin, text] as `_compute_html` (and
    `_compute_blocks`) make it."""
    return (
        isinstance(plain, list)
        and len(plain) == 2
        and all(isinstance(part, str) for part in plain)
        and plain[0].startswith("http://")
        and plain[0].endswith(PLACEHOLDER_DOMAIN)
    )
