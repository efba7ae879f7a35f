"""`/api/v1/pages`: the pages (about, contact, newsletter), which are never posts.

A file is a page when its `type:` or `layout:` is one of `CONTENTAPI_PAGE_TYPES` or it is in
a folder named in `CONTENTAPI_PAGE_FOLDERS`. Pages need no date and are never in the post
listings, feeds, archive, sitemap, search or counts.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify, redirect
from werkzeug.wrappers import Response as WerkzeugResponse

from contentapi.outputs.query import visible
from contentapi.outputs.serialize import page_detail, page_summary
from contentapi.web.headers import last_modified
from contentapi.web.params import DetailArgs
from contentapi.web.request_state import current
from contentapi.web.routes import declare

bp = Blueprint("pages", __name__, url_prefix="/api/v1/pages")


@bp.get("", endpoint="index")
@declare(cacheable=True)
def index() -> Response:
    """Every published page, by title."""
    ctx = current()
    pages = visible(ctx.index.pages, ctx.now, ctx.preview)
    last_modified(page for page in pages if page.date or page.updated)
    items = [
        page_summary(ctx.index, page, ctx.links, now=ctx.now, preview=ctx.preview) for page in pages
    ]
    return jsonify({"data": items})


@bp.get("/<page>", endpoint="detail")
@declare(cacheable=True, query=DetailArgs)
def detail_view(page: str) -> WerkzeugResponse:  # flask's `redirect` is typed as werkzeug's
    """One page whole; an old name of it answers 301 to its URL, like a post's alias."""
    ctx = current()
    found = ctx.index.pages_by_slug.get(page)
    if found is None or not (ctx.preview or found.is_public(ctx.now)):
        target = ctx.index.pages_by_slug.get(ctx.index.canonical_slug(page, page=True) or "")
        if target is not None and (ctx.preview or target.is_public(ctx.now)):
            return redirect(ctx.url("pages.detail", ctx.query(), page=target.slug), code=301)
        abort(404, description=f"No page with slug {page!r}.")
    if found.date or found.updated:
        last_modified([found])
    body = page_detail(
        ctx.index,
        found,
        ctx.links,
        html=ctx.html,
        blocks=ctx.blocks,
        formats=ctx.args["formats"],
        now=ctx.now,
        preview=ctx.preview,
    )
    return jsonify(body)
