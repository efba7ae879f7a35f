"""The listing every post collection shares: filters, sort, page, envelope and headers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import Response, jsonify, request

from ..context import Context
from ..http import last_modified
from ..model import Post
from ..params import ListArgs, parser
from ..query import Filters, paginate, select
from ..serialize import envelope, pagination_links, summary


def list_args(ctx: Context) -> dict[str, Any]:
    settings = ctx.settings
    schema = ListArgs(settings.timezone, settings.default_per_page, settings.max_per_page)
    args: dict[str, Any] = parser.parse(schema, request, location="query")
    return args


def listing(
    ctx: Context, posts: Sequence[Post], args: dict[str, Any], extra: dict | None = None
) -> Response:
    """A page of post summaries in the `{data, meta, links}` envelope, with Link headers."""
    filters = Filters(
        category=args["category"],
        tags=tuple(args["tag"]),
        author=args["author"],
        lang=args["lang"],
        since=args["since"],
        until=args["until"],
    )
    page = paginate(select(posts, filters, args["sort"]), args["page"], args["per_page"])
    endpoint = request.endpoint or ""
    links = pagination_links(ctx, page, endpoint, request.args, **(request.view_args or {}))
    items = [summary(ctx, post, args["only"]) for post in page.items]
    last_modified(page.items)
    body = envelope(ctx, page, items, links)
    if extra:
        body = {**extra, **body}
    response = jsonify(body)
    response.headers["X-Total-Count"] = str(page.total)
    response.headers["Link"] = ", ".join(
        f'<{url}>; rel="{rel}"' for rel, url in links.items() if url is not None
    )
    return response
