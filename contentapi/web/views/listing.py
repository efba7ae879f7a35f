"""The listing every post collection shares: filters, sort, page, envelope and headers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import Response, jsonify

from contentapi.engine.model import Post
from contentapi.outputs.query import Filters, Page, Scope, paginate, published
from contentapi.outputs.search import Hit, highlighted
from contentapi.outputs.serialize import envelope, pagination_links, summary
from contentapi.web.errors import InvalidParameters
from contentapi.web.headers import last_modified
from contentapi.web.request_state import RequestState


def listing(
    ctx: RequestState,
    posts: Sequence[Post],
    extra: dict[str, Any] | None = None,
    scope: Scope = None,
) -> Response:
    """A page of post summaries in the `{data, meta, links}` envelope, with Link headers,
    as the route's query (`ListArgs` or `SearchArgs`, parsed before the view) asks.

    `posts` are the visible posts of `scope` (a term's, or all). With `q`, only posts matching
    the search, best first unless `sort` says otherwise, each with its `score` and
    highlighted `snippets`.
    """
    args = ctx.args
    filters = Filters(
        category=args["category"],
        tags=tuple(args["tag"]),
        author=args["author"],
        lang=args["lang"],
        since=args["since"],
        until=args["until"],
    )
    sort = args["sort"] or "-date"
    chosen = published(ctx.index, ctx.now, ctx.preview).select(filters, sort, scope)
    hits: dict[str, Hit] = {}
    q = args["q"]
    if q is not None and q.strip():
        page, hits = _search(ctx, chosen, args, whole=scope is None and not filters.active)
    else:
        page = paginate(chosen, args["page"], args["per_page"])
    links = pagination_links(page, lambda number: ctx.self_url(page=number))
    items = [
        summary(ctx.index, post, ctx.links, now=ctx.now, preview=ctx.preview, only=args["only"])
        for post in page.items
    ]
    if hits:
        search = ctx.store.search(ctx.index, ctx.now, ctx.preview)
        shown = highlighted(search, q, [hits[post.slug] for post in page.items])
        for item, hit in zip(items, shown, strict=True):
            item["score"] = float(f"{hit.score:.4g}")  # 4 significant digits: tiny scores stay > 0
            item["snippets"] = [
                {"section": s.section_id, "heading": s.heading, "html": s.html}
                for s in hit.snippets
            ]
    last_modified(page.items)
    body = envelope(page, items, links)
    if extra:
        body = {**extra, **body}
    response = jsonify(body)
    response.headers["X-Total-Count"] = str(page.total)
    response.headers["Link"] = ", ".join(
        f'<{url}>; rel="{rel}"' for rel, url in links.items() if url is not None
    )
    return response


def _search(
    ctx: RequestState, posts: Sequence[Post], args: Any, whole: bool
) -> tuple[Page, dict[str, Hit]]:
    """The page of posts matching `q` (best first, or in `posts`' order with `sort`) and their
    hits by slug. Over every visible post, best first, only the page leaves the search index;
    otherwise every match is ranked and kept only if it is in `posts`."""
    q, number, per_page = args["q"], args["page"], args["per_page"]
    search = ctx.store.search(ctx.index, ctx.now, ctx.preview)
    problem = search.explain(q)
    if problem is not None:
        raise InvalidParameters([{"parameter": "q", "message": problem}])
    by_slug = ctx.index.by_slug
    if whole and args["sort"] is None:
        found = search.search(q, offset=(number - 1) * per_page, limit=per_page)
        page = Page(tuple(by_slug[hit.slug] for hit in found.hits), number, per_page, found.total)
        return page, {hit.slug: hit for hit in found.hits}
    found = search.search(q, limit=None, allowed=None if whole else {p.slug for p in posts})
    hits = {hit.slug: hit for hit in found.hits}
    if args["sort"] is None:
        matching: Sequence[Post] = [by_slug[hit.slug] for hit in found.hits]
    else:
        matching = [post for post in posts if post.slug in hits]
    return paginate(matching, number, per_page), hits
