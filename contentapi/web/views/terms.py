"""`/api/v1/categories` and `/api/v1/tags`: terms with counts, and each term's posts."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response, abort, jsonify

from contentapi.engine.index import Index
from contentapi.engine.model import Term
from contentapi.outputs.query import published
from contentapi.outputs.serialize import TermKind, term_count
from contentapi.web.headers import last_modified
from contentapi.web.params import ListArgs
from contentapi.web.request_state import current
from contentapi.web.routes import declare
from contentapi.web.views.listing import listing

bp = Blueprint("terms", __name__, url_prefix="/api/v1")

# The routes' `any(categories, tags)` converter lets only these through as `kind`.
KINDS: dict[TermKind, tuple[str, Callable[[Index], tuple[Term, ...]]]] = {
    "categories": ("category", lambda index: index.categories),
    "tags": ("tag", lambda index: index.tags),
}


@bp.get("/<any(categories, tags):kind>", endpoint="terms")
@declare(cacheable=True)
def terms(kind: TermKind) -> Response:
    ctx = current()
    shown = published(ctx.index, ctx.now, ctx.preview)
    counted = shown.categories if kind == "categories" else shown.tags
    last_modified([shown.latest_in(kind)])
    return jsonify({"data": [term_count(kind, item, ctx.links) for item in counted]})


@bp.get("/<any(categories, tags):kind>/<slug>", endpoint="term")
@declare(cacheable=True, query=ListArgs)
def term(kind: TermKind, slug: str) -> Response:
    ctx = current()
    found = published(ctx.index, ctx.now, ctx.preview).term(kind, slug)
    if found is None:
        abort(404, description=f"No {KINDS[kind][0]} with slug {slug!r}.")
    extra = {"term": term_count(kind, found, ctx.links)}
    return listing(ctx, found.posts, extra, scope=(kind, slug))
