"""Full-text search behind one small interface, so a backend can change without touching views.

A backend is built from posts with their analysed text (`SearchFactory`), holds one set of
posts (the public ones, or every post for preview: drafts never weigh on public scores), and
answers with a page of ranked hits and the total. `updated` gives a copy with posts added,
replaced or removed, for a scheduled post going public or a reload that changed a few files.

The query language (`parse_query`: words, `"phrases"`, `-excluded`, a prefix while typing),
folding and stemming (`language`) and snippets are shared by every backend. Backends are
named in `BACKENDS` and chosen with `CONTENTAPI_SEARCH_BACKEND`; `tantivy` is the default,
`fts5` (SQLite) the one with no package beyond the standard library.

May import the engine's model and the standard library; never Flask or the service.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from contentapi.engine.index import failure, log_failure
from contentapi.engine.model import Analysis, ContentIssue, Post
from contentapi.outputs.search.parse import (
    MAX_QUERY_LENGTH,
    ParsedQuery,
    QueryError,
    fold,
    parse_query,
    words,
)

log = logging.getLogger("contentapi")

__all__ = [
    "BACKENDS",
    "MAX_QUERY_LENGTH",
    "Hit",
    "ParsedQuery",
    "QueryError",
    "Results",
    "SearchFactory",
    "SearchIndex",
    "Searchable",
    "Snippet",
    "backend",
    "fold",
    "highlighted",
    "loader",
    "parse_query",
    "refresh",
    "words",
]


@dataclass(frozen=True)
class Snippet:
    """An excerpt of one section: `html` is escaped text with matched words in `<mark>`."""

    section_id: str
    heading: str
    html: str


@dataclass(frozen=True)
class Hit:
    """One matching post: higher `score` is better; best-matching sections first."""

    slug: str
    score: float
    snippets: tuple[Snippet, ...] = ()


@dataclass(frozen=True)
class Results:
    """One page of hits, best first (then newest), and how many posts match in all."""

    total: int
    hits: tuple[Hit, ...]


Entry = tuple[Post, Analysis]


class SearchIndex(Protocol):
    """A search backend over one set of posts. Immutable: `updated` returns a new one, and
    every method is safe to call from several threads."""

    def __len__(self) -> int:
        """How many posts it holds."""
        ...

    def explain(self, query: str) -> str | None:
        """Why `query` cannot be searched for (a message for a 400), or None if it can."""
        ...

    def search(
        self,
        query: str | ParsedQuery,
        *,
        offset: int = 0,
        limit: int | None = 10,
        allowed: Collection[str] | None = None,
    ) -> Results:
        """The hits `offset` to `offset + limit` (all without a limit), best first, without
        snippets; `allowed` (best a set) keeps only those slugs. Raises QueryError."""
        ...

    def highlight(self, query: str | ParsedQuery, hits: Iterable[Hit]) -> list[Hit]:
        """The same hits with their snippets: call it for the page shown only."""
        ...

    def updated(self, put: Iterable[Entry] = (), drop: Iterable[str] = ()) -> SearchIndex:
        """A copy with the posts of `put` added (or replaced, by slug) and `drop` removed."""
        ...


class SearchFactory(Protocol):
    def __call__(self, entries: Iterable[Entry], default_lang: str = "en") -> SearchIndex:
        """Index posts with their analyses; a post without `lang` is in `default_lang`."""
        ...


class Saved(Protocol):
    """A backend whose indexes can live in a file that every process reads (optional): one
    process builds and saves, the others load instead of building their own."""

    def save(self, path: Path) -> None:
        """Write this index to a new file at `path`."""
        ...


SearchLoader = Callable[[Path, str, Callable[[str], Entry]], SearchIndex | None]
"""`load(path, default_lang, entry_of)`: a saved index, or None to build it anew;
`entry_of(slug)` gives the post and analysis a saved post was indexed from."""


# name: "module:class" of a backend; its `build` is a SearchFactory, its `load` (if it has
# one) a SearchLoader. Imported on first use.
BACKENDS: Mapping[str, str] = {
    "fts5": "contentapi.outputs.search.fts5:Fts5Index",
    "tantivy": "contentapi.outputs.search.tantivy_engine:TantivyIndex",
}


class _Backend(Protocol):
    """What BACKENDS names: a class whose `build` is a SearchFactory (`load`: see `loader`)."""

    build: SearchFactory


def _backend_class(name: str) -> _Backend:
    module, _, attribute = BACKENDS[name].partition(":")
    try:
        found = importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            f"the {name} search backend needs {error.name}: pip install 'contentapi[{name}]'"
        ) from error
    named: _Backend = getattr(found, attribute)
    return named


def backend(name: str) -> SearchFactory:
    """The factory of a backend named in BACKENDS; ImportError names a missing package."""
    return _backend_class(name).build


def loader(name: str) -> SearchLoader | None:
    """How a backend opens a saved index, if its indexes can be saved."""
    load: SearchLoader | None = getattr(_backend_class(name), "load", None)
    return load


@dataclass(frozen=True)
class Searchable:
    """A search index with the posts it holds, by slug: what `refresh` needs to update it;
    and the posts whose text could not be indexed (left out, each an error naming its file)."""

    index: SearchIndex
    posts: Mapping[str, Post]
    issues: tuple[ContentIssue, ...] = ()


def isolated(
    build: Callable[[Iterable[Entry]], SearchIndex], entries: Iterable[Entry]
) -> tuple[SearchIndex, tuple[ContentIssue, ...]]:
    """`build(entries)`. If one post's text makes it fail (a bug meeting content nobody
    foresaw), each post is tried alone and those that fail are left out, each an issue naming
    its file, so search still answers with every other post."""
    entries = list(entries)
    try:
        return build(entries), ()
    except Exception as error:  # the failing posts are found below, one by one
        log.warning("search index: building failed (%s); trying post by post", error)
    kept: list[Entry] = []
    issues: list[ContentIssue] = []
    for entry in entries:
        try:
            build([entry])
        except Exception as error:
            issue = failure(entry[0].path, "search indexing", error)
            log_failure(issue, error)
            issues.append(issue)
        else:
            kept.append(entry)
    return build(kept), tuple(issues)


def highlighted(index: SearchIndex, query: str | ParsedQuery, hits: Sequence[Hit]) -> list[Hit]:
    """`index.highlight`; a hit whose snippets cannot be made is shown without them."""
    try:
        return index.highlight(query, hits)
    except Exception as error:  # the failing hits are found below, one by one
        log.warning("search snippets failed (%s); trying hit by hit", error)
    shown = []
    for hit in hits:
        try:
            shown += index.highlight(query, [hit])
        except Exception as error:
            log_failure(failure(hit.slug, "search snippets", error), error)
            shown.append(Hit(hit.slug, hit.score))
    return shown


def refresh(
    previous: Searchable | None,
    posts: Sequence[Post],
    analysis: Callable[[Post], Analysis],
    build: Callable[[Iterable[Entry]], SearchIndex],
    rebuild_over: float = 0.2,
) -> Searchable:
    """A search index holding exactly `posts`: `previous` updated with what changed when that
    is a small part of it (a post going public, a few edited files), otherwise built anew."""
    wanted = {post.slug: post for post in posts}
    if previous is not None:
        held = previous.posts
        # most posts are the very objects the previous index held: `is` spares comparing them
        put = [
            post
            for slug, post in wanted.items()
            if (kept := held.get(slug)) is not post and kept != post
        ]
        drop = [slug for slug in held if slug not in wanted]
        if not put and not drop:
            return previous
        if len(put) + len(drop) <= rebuild_over * max(len(wanted), 1):
            try:
                index = previous.index.updated(((post, analysis(post)) for post in put), drop)
                return Searchable(index, wanted, previous.issues)
            except Exception as error:  # built anew below, a failing post left out
                log_failure(failure(put[0].path if put else "", "search update", error), error)
    index, issues = isolated(build, ((post, analysis(post)) for post in posts))
    return Searchable(index, wanted, issues)
