"""`/api/v1/posts`: the published posts, one page at a time, and each post whole."""

from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify, redirect
from werkzeug.wrappers import Response as WerkzeugResponse

from contentapi.outputs.query import published
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
    return listing(ctx, published(ctx.index, ctx.now, ctx.preview).posts)


@search_bp.get("/search", endpoint="search")
@declare(cacheable=True, query=SearchArgs)
def search() -> Response:
    """Published posts matching `q`, best first, paginated like `/posts`."""
    ctx = current()
    return listing(ctx, published(ctx.index, ctx.now, ctx.preview).posts)


@bp.get("/<slug>", endpoint="detail")
@declare(cacheable=True, query=DetailArgs)
def detail_view(slug: str) -> WerkzeugResponse:  # flask's `redirect` is typed as werkzeug's
    ctx = current()
    shown = published(ctx.index, ctx.now, ctx.preview)
    post = shown.shows(slug)
    if post is None:
        canonical = ctx.index.canonical_slug(slug)
        target = ctx.index.by_slug.get(canonical or "")
        if target is not None and shown.shows(target.slug) is not None:
            return redirect(ctx.url("posts.detail", ctx.query(), slug=target.slug), code=301)
        abort(404, description=f"No post with slug {slug!r}.")
    around = shown.neighbours(post)
    others = shown.related(post)
    last_modified([post, *around, *others])
    body = detail(
        ctx.index,
        post,
        ctx.links,
        html=ctx.html,
        blocks=ctx.blocks,
        formats=ctx.args["formats"],
        neighbours=around,
        related=others,
        now=ctx.now,
        preview=ctx.preview,
    )
    return jsonify(body)
