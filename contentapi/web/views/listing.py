"""The listing every post collection shares: filters, sort, page, envelope and headers."""

from __future__ import annotations

from collections.abc import Sequence

from flask import Response, jsonify

from contentapi.engine.model import Post
from contentapi.outputs.query import Filters, paginate, select
from contentapi.outputs.search import Hit, QueryError
from contentapi.outputs.serialize import envelope, pagination_links, summary
from contentapi.web.errors import InvalidParameters
from contentapi.web.headers import last_modified
from contentapi.web.request_state import RequestState


def listing(ctx: RequestState, posts: Sequence[Post], extra: dict | None = None) -> Response:
    """A page of post summaries in the `{data, meta, links}` envelope, with Link headers,
    as the route's query (`ListArgs` or `SearchArgs`, parsed before the view) asks.

    With `q`, only posts matching the search, best first unless `sort` says otherwise, each
    with its `score` and highlighted `snippets`.
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
    chosen = select(posts, filters, args["sort"] or "-date")
    hits: dict[str, Hit] = {}
    if args["q"] is not None and args["q"].strip():
        chosen, hits = _search(ctx, chosen, args["q"], args["sort"] is None)
    page = paginate(chosen, args["page"], args["per_page"])
    links = pagination_links(page, lambda number: ctx.self_url(page=number))
    items = [
        summary(ctx.index, post, ctx.links, now=ctx.now, preview=ctx.preview, only=args["only"])
        for post in page.items
    ]
    if hits:
        shown = ctx.store.search(ctx.index).highlight(args["q"], [hits[p.slug] for p in page.items])
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
    ctx: RequestState, posts: Sequence[Post], q: str, by_score: bool
) -> tuple[Sequence[Post], dict[str, Hit]]:
    """The posts that match `q` (in their order, or best first) and their hits by slug."""
    try:
        found = ctx.store.search(ctx.index).search(
            q, allowed={post.slug for post in posts}, snippets=False
        )
    except QueryError as error:
        raise InvalidParameters([{"parameter": "q", "message": error.message}]) from None
    hits = {hit.slug: hit for hit in found}
    if by_score:
        return [ctx.index.by_slug[hit.slug] for hit in found], hits
    return [post for post in posts if post.slug in hits], hits
