"""`/api/v1/posts`: the published posts, one page at a time, and each post whole."""

from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify, redirect

from contentapi.outputs.query import neighbours, related, visible
from contentapi.outputs.serialize import detail
from contentapi.web.headers import last_modified
from contentapi.web.params import DetailArgs, ListArgs, SearchArgs
from contentapi.web.request_state import current
from contentapi.web.routes import declare
from contentapi.web.views.listing import listing

bp = Blueprint("posts", __name__, url_prefix="/api/v1/posts")
search_bp = Blueprint("search", __name__, url_prefix="/api/v1")


@bp.get("")
@declare(cacheable=True, query=ListArgs)
def index() -> Response:
    ctx = current()
    return listing(ctx, visible(ctx.index.posts, ctx.now, ctx.preview))


@search_bp.get("/search", endpoint="search")
@declare(cacheable=True, query=SearchArgs)
def search() -> Response:
    """Published posts matching `q`, best first, paginated like `/posts`."""
    ctx = current()
    return listing(ctx, visible(ctx.index.posts, ctx.now, ctx.preview))


@bp.get("/<slug>", endpoint="detail")
@declare(cacheable=True, query=DetailArgs)
def detail_view(slug: str) -> Response:
    ctx = current()
    posts = visible(ctx.index.posts, ctx.now, ctx.preview)
    post = ctx.index.by_slug.get(slug)
    if post is None or not (ctx.preview or post.is_public(ctx.now)):
        canonical = ctx.index.aliases.get(slug)
        target = ctx.index.by_slug.get(canonical or "")
        if target is not None and (ctx.preview or target.is_public(ctx.now)):
            return redirect(ctx.url("posts.detail", ctx.query(), slug=target.slug), code=301)
        abort(404, description=f"No post with slug {slug!r}.")
    around = neighbours(posts, post)
    others = related(posts, post)
    last_modified([post, *around, *others])
    body = detail(
        ctx.index,
        post,
        ctx.links,
        html=ctx.html,
        formats=ctx.args["formats"],
        neighbours=around,
        related=others,
        now=ctx.now,
        preview=ctx.preview,
    )
    return jsonify(body)
