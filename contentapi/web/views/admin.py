"""`/api/v1/admin/*`: reload for webhooks and deploy scripts, diagnostics for authors.

Both need `Authorization: Bearer <CONTENTAPI_ADMIN_TOKEN>`; with no token configured they
answer 404 exactly like a route that does not exist.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, abort, current_app, jsonify, request
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import MethodNotAllowed, NotFound, Unauthorized

from contentapi.service.store import ContentError, store_of
from contentapi.web.auth import bearer_matches
from contentapi.web.errors import http_error, problem
from contentapi.web.routes import declare

bp = Blueprint("admin", __name__, url_prefix="/api/v1/admin")
NOT_FOUND = "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again."  # noqa: E501 - Werkzeug's own 404 text, so both are alike


def gate() -> None:
    """Before anything else looks at an admin request (its query included): without a
    configured token the route does not exist (404), without the right one it is a 401."""
    if request.blueprint != bp.name:
        return
    store = store_of(current_app)
    token = store.settings.admin_token
    if not token:
        abort(404, description=NOT_FOUND)
    if not bearer_matches(token):
        raise Unauthorized(
            description="Send Authorization: Bearer <CONTENTAPI_ADMIN_TOKEN>.",
            www_authenticate=WWWAuthenticate("bearer", {"realm": "contentapi admin"}),
        )


def hide_when_off(app: Flask) -> None:
    """Without a token the admin routes do not exist: a wrong method on them is a 404 too,
    not a 405 whose `Allow` header would say they are there."""

    @app.errorhandler(MethodNotAllowed)
    def _hidden(error: MethodNotAllowed) -> Response:
        store = store_of(current_app)
        if request.path.startswith(bp.url_prefix or "/") and not store.settings.admin_token:
            return http_error(NotFound(NOT_FOUND))
        return http_error(error)


@bp.post("/reload", endpoint="reload")
@declare(cacheable=False, http_cache="private")
def reload() -> Response:
    """Rebuild now (re-parsing only changed files), have every other worker do the same on
    its next request, and say what changed."""
    store = store_of(current_app)
    try:
        result = store.reload_everywhere()
        store.warm_up()
    except ContentError as error:
        return problem(
            409,
            "Strict mode refused the new content; the previous version is still served.",
            issues=[issue.as_dict() for issue in error.issues],
        )
    return jsonify({"reloaded": True, **result.as_dict()})


@bp.get("/diagnostics", endpoint="diagnostics")
@declare(cacheable=False, http_cache="private")
def diagnostics() -> Response:
    """Every invalid file and warning, with path, line, field and reason; the version each
    worker process serves; and the recent webhook deliveries."""
    store = store_of(current_app)
    index = store.index
    issues = store.all_issues(index)
    return jsonify(
        {
            "version": index.version,
            "built_at": index.built_at.isoformat(),
            "posts": len(index.posts),
            "errors": sum(issue.severity == "error" for issue in issues),
            "warnings": sum(issue.severity == "warning" for issue in issues),
            "issues": [issue.as_dict() for issue in issues],
            "workers": [worker.as_dict() for worker in store.workers()],
            "webhooks": store.notifier.status() if store.notifier is not None else None,
        }
    )
