"""Posts and terms as the JSON the API promises (see openapi.yaml).

Pure functions of the index, a post, a `Links` (the URL builder) and plain values (the time, the
preview flag): the web views, the feeds and the tests build the same JSON from the same inputs,
with no request. A summary's keys follow the front-matter field table (`schema.FIELDS`), with the
values derived from the body placed after the field they belong with (`DERIVED`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from contentapi.engine.artifacts import Memo, brief, outline
from contentapi.engine.blocks import BLOCKS_VERSION
from contentapi.engine.index import Index
from contentapi.engine.model import Image, Post, TermRef
from contentapi.engine.schema import FIELDS
from contentapi.outputs.query import Changes, Page, TermCount

TermKind = Literal["categories", "tags"]
SUMMARY_MEMO_SIZE = 2048  # summaries an index keeps (~2.3 KB each)
HtmlOf = Callable[[Post], str]
BlocksOf = Callable[[Post], list[dict[str, Any]]]


class Links(Protocol):
    """Absolute URLs for what the JSON points at. The web layer builds one per request from its
    routes and base URL; outputs never know the routes."""

    @property
    def base_url(self) -> str: ...

    def post(self, slug: str) -> str:
        """The post in this API."""
        ...

    def term(self, kind: TermKind, slug: str) -> str:
        """A category's or tag's posts in this API."""
        ...

    def page(self, slug: str) -> str:
        """The page in this API."""
        ...

    def media(self, url: str) -> str:
        """A resolved image URL: `/media/...` made absolute, any other URL as it is."""
        ...


def term_ref(ref: TermRef | None) -> dict[str, str] | None:
    return None if ref is None else {"name": ref.name, "slug": ref.slug}


def excerpt(index: Index, post: Post) -> str:
    """Plain text for summaries and feeds: the author's `excerpt` (or `summary`), else the text
    before `<!--more-->`, else the description, else the start of the first paragraph with
    words of its own."""
    found = brief(index, post)
    return post.summary or (found.excerpt if found.more else post.description or found.excerpt)


def cover(index: Index, post: Post, links: Links) -> str | None:
    """The front matter's image, else the body's first, as `Links.media` gives it."""
    found = brief(index, post).cover
    return links.media(found) if found else None


def image(found: Image, links: Links) -> dict[str, Any]:
    """An image with what a frontend needs to reserve its space: width, height and a tiny
    placeholder when the file is in the content folder (null otherwise: never fetched)."""
    facts = found.facts
    return {
        "url": links.media(found.url),
        "alt": found.alt,
        "width": facts.width if facts else None,
        "height": facts.height if facts else None,
        "placeholder": facts.placeholder if facts else None,
    }


def cover_image(index: Index, post: Post, links: Links) -> dict[str, Any] | None:
    """`cover` with its alt text, width, height and placeholder, or null."""
    found = brief(index, post).cover_image
    return image(found, links) if found else None


@dataclass(frozen=True)
class Derived:
    """A summary value front matter does not give directly, shown after the field `after`."""

    name: str
    after: str
    value: Callable[[Index, Post, Links], Any]


DERIVED: tuple[Derived, ...] = (
    Derived("url", "slug", lambda index, post, links: links.post(post.slug)),
    Derived("category", "updated", lambda index, post, links: term_ref(post.category)),
    Derived("excerpt", "description", lambda index, post, links: excerpt(index, post)),
    Derived(
        "reading_time",
        "description",
        lambda index, post, links: brief(index, post).reading_time,
    ),
    Derived(
        "word_count",
        "description",
        lambda index, post, links: brief(index, post).word_count,
    ),
    Derived("cover", "description", cover),
    Derived("cover_image", "description", cover_image),
)
_SUMMARY = tuple(field for field in FIELDS if field.shown == "summary")
_DETAIL = tuple(field for field in FIELDS if field.shown == "detail")
_AFTER = {
    field.name: tuple(item for item in DERIVED if item.after == field.name) for field in _SUMMARY
}
# Every key of a summary, in order: the `fields=` allowlist and what openapi.yaml must list.
SUMMARY_FIELDS: tuple[str, ...] = tuple(
    name for field in _SUMMARY for name in (field.name, *(d.name for d in _AFTER[field.name]))
)


def summary(
    index: Index,
    post: Post,
    links: Links,
    *,
    now: datetime,
    preview: bool = False,
    only: Iterable[str] = (),
) -> dict[str, Any]:
    """The fields every listing shows; `only` keeps a subset (sparse fieldset). In preview the
    post's `status` at `now` is added, whatever `only` asks for.

    Each index keeps the most recent SUMMARY_MEMO_SIZE (by links and post), since the same
    posts appear in many listings, neighbours and related posts; every call gets a new dict
    (the values inside are shared: callers add keys, never change values).
    """
    memo: Memo[dict[str, Any]] = index.memo(("summaries",), lambda: Memo(SUMMARY_MEMO_SIZE))
    key = (links, post.path)
    kept = memo.get(key)
    if kept is None:
        kept = {}
        for field in _SUMMARY:
            kept[field.name] = field.kind.json(getattr(post, field.name))
            for item in _AFTER[field.name]:
                kept[item.name] = item.value(index, post, links)
        memo[key] = kept
    body = dict(kept)
    wanted = set(only)
    if wanted:
        body = {key: value for key, value in body.items() if key in wanted}
    if preview:
        body["status"] = post.status(now)
    return body


def detail(
    index: Index,
    post: Post,
    links: Links,
    *,
    html: HtmlOf,
    blocks: BlocksOf,
    formats: Iterable[str],
    neighbours: tuple[Post | None, Post | None],
    related: Sequence[Post],
    now: datetime,
    preview: bool = False,
) -> dict[str, Any]:
    """A whole post: the summary, the chosen bodies (`html(post)` renders it, `blocks(post)`
    builds its block tree), toc, images, the fields only a whole post shows, neighbours and
    related."""
    shown = outline(index, post)

    def summary_of(other: Post) -> dict[str, Any]:
        return summary(index, other, links, now=now, preview=preview)

    body = summary_of(post)
    wanted = set(formats)
    if "html" in wanted:
        body["html"] = html(post)
    if "markdown" in wanted:
        body["markdown"] = index.body(post)
    if "plaintext" in wanted:
        body["plaintext"] = index.derived(post).analysis.plaintext
    if "blocks" in wanted:
        body["blocks_version"] = BLOCKS_VERSION
        body["blocks"] = blocks(post)
    body["toc"] = [entry.as_dict() for entry in shown.toc]
    body["images"] = [image(found, links) for found in shown.images]
    for field in _DETAIL:
        body[field.name] = field.kind.json(getattr(post, field.name))
    older, newer = neighbours
    body["prev"] = summary_of(older) if older else None
    body["next"] = summary_of(newer) if newer else None
    body["related"] = [summary_of(other) for other in related]
    return body


def page_summary(
    index: Index, page: Post, links: Links, *, now: datetime, preview: bool = False
) -> dict[str, Any]:
    """A page as `/api/v1/pages` lists it: a summary's fields, its own URL (`date` may be
    null: a page needs none)."""
    body = summary(index, page, links, now=now, preview=preview)
    body["url"] = links.page(page.slug)
    return body


def page_detail(
    index: Index,
    page: Post,
    links: Links,
    *,
    html: HtmlOf,
    blocks: BlocksOf,
    formats: Iterable[str],
    now: datetime,
    preview: bool = False,
) -> dict[str, Any]:
    """A whole page: as a whole post, without neighbours or related posts (a page has none)."""
    body = detail(
        index,
        page,
        links,
        html=html,
        blocks=blocks,
        formats=formats,
        neighbours=(None, None),
        related=(),
        now=now,
        preview=preview,
    )
    for key in ("prev", "next", "related"):
        del body[key]
    body["url"] = links.page(page.slug)
    return body


def term_count(kind: TermKind, item: TermCount, links: Links) -> dict[str, Any]:
    """A category or tag with how many posts it has, its newest post's date and its URL."""
    return {
        "name": item.term.name,
        "slug": item.term.slug,
        "count": len(item.posts),
        "latest": item.latest.isoformat(),
        "url": links.term(kind, item.term.slug),
    }


def change(post: Post, links: Links) -> dict[str, str]:
    """A post in `/changes`: enough to fetch it again."""
    return {"slug": post.slug, "url": links.post(post.slug), "modified": post.modified.isoformat()}


def token_moment(index: Index, now: datetime) -> int:
    """The time in a `/changes` token: the latest publication moment passed (visibility is
    the same from then until now), so the token, and the response, only change when content
    or visibility does, not every second."""
    passed = index.published_count(now)
    latest = index.publications[passed - 1].timestamp() if passed else 0.0
    return min(math.ceil(latest), math.floor(now.timestamp()))


def changes_body(
    index: Index, found: Changes, links: Links, *, since: str | None, token: str, reset: bool
) -> dict[str, Any]:
    """What changed since a sync token: `/changes`, its stream and the webhooks send this."""
    return {
        "since": since,
        "token": token,
        "reset": reset,
        "added": [change(index.by_slug[slug], links) for slug in found.added],
        "updated": [change(index.by_slug[slug], links) for slug in found.updated],
        "removed": list(found.removed),
    }


def pagination_links(page: Page, url_of: Callable[[int], str]) -> dict[str, str | None]:
    """self/first/last/next/prev, each `url_of(page number)` (the caller keeps the query)."""

    def link(number: int | None) -> str | None:
        return None if number is None else url_of(number)

    return {
        "self": link(page.page),
        "first": link(1),
        "last": link(page.pages),
        "next": link(page.next),
        "prev": link(page.prev),
    }


def envelope(page: Page, items: list[dict[str, Any]], links: dict[str, Any]) -> dict[str, Any]:
    """A page of items in the `{data, meta, links}` shape of every listing."""
    return {
        "data": items,
        "meta": {
            "pagination": {
                "page": page.page,
                "per_page": page.per_page,
                "total": page.total,
                "pages": page.pages,
                "next": page.next,
                "prev": page.prev,
            }
        },
        "links": links,
    }
