"""The API root, archive, health checks, the contract and its docs, and content media."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from flask import Blueprint, Response, abort, current_app, jsonify, request, send_file
from flask_swagger_ui import get_swaggerui_blueprint
from werkzeug.exceptions import RequestedRangeNotSatisfiable

from contentapi.engine.loader import open_asset
from contentapi.engine.render import highlight_css
from contentapi.outputs.query import published
from contentapi.service.store import store_of
from contentapi.web.errors import problem
from contentapi.web.headers import last_modified
from contentapi.web.request_state import current
from contentapi.web.routes import declare

SPEC = (
    Path(__file__).resolve().parents[2] / "openapi.yaml"
)  # the package's link to the top-level file

bp = Blueprint("meta", __name__)
health = Blueprint("health", __name__)
docs = get_swaggerui_blueprint(
    "/docs",
    "/openapi.yaml",
    # A fixed redirect URL keeps the inline script identical, so its CSP hash is stable.
    config={"app_name": "contentapi", "oauth2RedirectUrl": "/docs/oauth2-redirect.html"},
    blueprint_name="docs",
)


@bp.get("/api/v1", endpoint="root")
@declare(cacheable=True)
def root() -> Response:
    ctx = current()
    shown = published(ctx.index, ctx.now, ctx.preview)
    last_modified([shown.latest])
    return jsonify(
        {
            "title": ctx.settings.site_title,
            "description": ctx.settings.site_description,
            "version": shown.version,  # of what is shown: a draft's edit leaves it as it is
            "built_at": ctx.index.built_at.isoformat(),
            "counts": {
                "posts": len(shown.posts),
                "categories": len(shown.categories),
                "tags": len(shown.tags),
            },
            "links": {
                "self": ctx.url("meta.root"),
                "posts": ctx.url("posts.index"),
                "categories": ctx.url("terms.terms", kind="categories"),
                "tags": ctx.url("terms.terms", kind="tags"),
                "archive": ctx.url("meta.archive"),
                "openapi": ctx.url("meta.openapi"),
                "docs": ctx.url("docs.show"),
            },
        }
    )


@bp.get("/api/v1/archive", endpoint="archive")
@declare(cacheable=True)
def archive_view() -> Response:
    ctx = current()
    shown = published(ctx.index, ctx.now, ctx.preview)
    last_modified([shown.latest])
    return jsonify({"data": shown.archive()})


@bp.get("/api/v1/highlight.css", endpoint="highlight_css")
@declare(cacheable=False)
def highlight() -> Response:
    return Response(highlight_css(), mimetype="text/css")


@bp.get("/media/<path:path>", endpoint="media")
@declare(cacheable=False)
def media(path: str) -> Response:
    """Files of the content folder other than posts; only those the index lists."""
    ctx = current()
    if path not in ctx.index.assets.files:
        abort(404, description="No such media file.")
    # Checked again now, not only at build time: the file may have been swapped for a link.
    file = open_asset(ctx.settings.content_dir, path)
    if file is None:
        abort(404, description="No such media file.")
    info = os.fstat(file.fileno())
    response = send_file(
        file,
        download_name=PurePosixPath(path).name,
        etag=f"{info.st_mtime_ns:x}-{info.st_size:x}",
        last_modified=info.st_mtime,
        conditional=False,
    )
    response.content_length = info.st_size
    try:  # in place: a 206 or 304 when the request's conditions ask for one
        response.make_conditional(request, accept_ranges=True, complete_length=info.st_size)
    except RequestedRangeNotSatisfiable:
        file.close()
        raise
    return response


@bp.get("/openapi.yaml", endpoint="openapi")
@declare(cacheable=False)
def openapi() -> Response:
    return send_file(SPEC, mimetype="application/yaml")


@health.get("/healthz", endpoint="healthz")
@declare(cacheable=False, http_cache="no-store")
def healthz() -> Response:
    return jsonify({"status": "ok"})


@health.get("/readyz", endpoint="readyz")
@declare(cacheable=False, http_cache="no-store")
def readyz() -> Response:
    store = store_of(current_app)
    if not store.ready:
        return problem(503, "The content index is not built yet.")
    shown = published(store.index, store.clock())  # public: a draft's edit leaves it
    return jsonify({"status": "ready", "version": shown.version})
