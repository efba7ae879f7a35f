"""`/api/v1/admin/*`: reload for webhooks and deploy scripts, diagnostics for authors.

Both need `Authorization: Bearer <CONTENTAPI_ADMIN_TOKEN>`; with no token configured they
answer 404 exactly like a route that does not exist.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Flask, Response, abort, current_app, jsonify, request
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import MethodNotAllowed, NotFound, Unauthorized

from contentapi.service.store import ContentError, store_of
from contentapi.web.errors import http_error, problem

bp = Blueprint("admin", __name__, url_prefix="/api/v1/admin")
NOT_FOUND = "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again."  # noqa: E501 - Werkzeug's own 404 text, so both are alike


@bp.before_request
def _authorised() -> None:
    store = store_of(current_app)
    token = store.settings.admin_token
    if not token:
        abort(404, description=NOT_FOUND)
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
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
def reload() -> Response:
    """Rebuild now (re-parsing only changed files) and say what changed."""
    store = store_of(current_app)
    try:
        result = store.reload()
        store.warm_up()
    except ContentError as error:
        return problem(
            409,
            "Strict mode refused the new content; the previous version is still served.",
            issues=[issue.as_dict() for issue in error.issues],
        )
    return jsonify({"reloaded": True, **result.as_dict()})


@bp.get("/diagnostics", endpoint="diagnostics")
def diagnostics() -> Response:
    """Every invalid file and warning, with path, line, field and reason."""
    store = store_of(current_app)
    index = store.index
    issues = index.all_issues()
    return jsonify(
        {
            "version": index.version,
            "built_at": index.built_at.isoformat(),
            "posts": len(index.posts),
            "errors": sum(issue.severity == "error" for issue in issues),
            "warnings": sum(issue.severity == "warning" for issue in issues),
            "issues": [issue.as_dict() for issue in issues],
        }
    )
