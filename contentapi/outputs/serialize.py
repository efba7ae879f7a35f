"""Posts and terms as the JSON the API promises (see openapi.yaml)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from contentapi.engine.assets import absolute
from contentapi.engine.model import Post, TermRef
from contentapi.outputs.query import Page
from contentapi.web.view_state import Context


def term_ref(ref: TermRef | None) -> dict[str, str] | None:
    return None if ref is None else {"name": ref.name, "slug": ref.slug}


def summary(ctx: Context, post: Post, only: Iterable[str] = ()) -> dict[str, Any]:
    """The fields every listing shows; `only` keeps a subset (sparse fieldset)."""
    derived = ctx.index.derived(post)
    body: dict[str, Any] = {
        "slug": post.slug,
        "url": ctx.post_url(post),
        "title": post.title,
        "date": post.date.isoformat(),
        "updated": post.updated.isoformat() if post.updated else None,
        "category": term_ref(post.category),
        "categories": [term_ref(ref) for ref in post.categories],
        "tags": [term_ref(ref) for ref in post.tags],
        "description": post.description,
        "excerpt": post.description or derived.analysis.excerpt,
        "reading_time": derived.analysis.reading_time,
        "word_count": derived.analysis.word_count,
        "cover": absolute(derived.cover, ctx.base_url) if derived.cover else None,
        "lang": post.lang,
        "author": post.author,
        "extra": dict(post.extra),
    }
    wanted = set(only)
    if wanted:
        body = {key: value for key, value in body.items() if key in wanted}
    if ctx.preview:  # always shown in preview, whatever `fields` asks for
        body["status"] = post.status(ctx.now)
    return body


def detail(
    ctx: Context,
    post: Post,
    formats: Iterable[str],
    neighbours: tuple[Post | None, Post | None],
    related: Sequence[Post],
) -> dict[str, Any]:
    """A whole post: the summary, the chosen bodies, toc, images, neighbours and related."""
    derived = ctx.index.derived(post)
    body = summary(ctx, post)
    wanted = set(formats)
    if "html" in wanted:
        body["html"] = ctx.html(post)
    if "markdown" in wanted:
        body["markdown"] = post.body
    if "plaintext" in wanted:
        body["plaintext"] = derived.analysis.plaintext
    body["toc"] = [entry.as_dict() for entry in derived.analysis.toc]
    body["images"] = [
        {"url": absolute(image.url, ctx.base_url), "alt": image.alt} for image in derived.images
    ]
    body["aliases"] = list(post.aliases)
    older, newer = neighbours
    body["prev"] = summary(ctx, older) if older else None
    body["next"] = summary(ctx, newer) if newer else None
    body["related"] = [summary(ctx, other) for other in related]
    return body


def pagination_links(ctx: Context, page: Page, endpoint: str, args: Any, **values: Any) -> dict:
    """self/first/last/next/prev as absolute URLs keeping every other query parameter."""

    def link(number: int | None) -> str | None:
        if number is None:
            return None
        query = [(k, v) for k, v in args.items(multi=True) if k != "page"] + [("page", number)]
        return ctx.url(endpoint, query, **values)

    return {
        "self": link(page.page),
        "first": link(1),
        "last": link(page.pages),
        "next": link(page.next),
        "prev": link(page.prev),
    }


def envelope(ctx: Context, page: Page, items: list[dict[str, Any]], links: dict) -> dict:
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
