"""One error body for every failure: RFC 9457 `application/problem+json`."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from flask import Flask, Response, json, request
from werkzeug.exceptions import HTTPException, InternalServerError

PROBLEM_JSON = "application/problem+json"
# `?pretty=` values that indent a JSON body (of any response, errors included); others are compact.
PRETTY = frozenset({"1", "true", "yes"})
log = logging.getLogger("contentapi")


def pretty_requested() -> bool:
    """Whether this request asked for indented JSON (`?pretty=1`, `true` or `yes`)."""
    return request.args.get("pretty") in PRETTY


class InvalidParameters(HTTPException):
    """400 naming every bad query parameter and why."""

    code = 400
    description = "One or more query parameters are invalid."

    def __init__(self, errors: list[dict[str, str]], description: str | None = None) -> None:
        super().__init__(description)
        self.errors = errors


def problem(status: int, detail: str, **extra: Any) -> Response:
    """A problem+json response; `title` is the status phrase, `instance` the request path."""
    from http import HTTPStatus

    body = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": quote(request.path, safe="/:@!$&'()*+,;=-._~"),
        **extra,
    }
    indent = 2 if pretty_requested() else None
    text = json.dumps(body, ensure_ascii=False, indent=indent)
    response = Response(text + "\n", status=status, mimetype=PROBLEM_JSON)
    response.headers["Content-Type"] = f"{PROBLEM_JSON}; charset=utf-8"
    return response


def http_error(error: HTTPException) -> Response:
    extra: dict[str, Any] = {}
    if isinstance(error, InvalidParameters):
        extra["errors"] = error.errors
    response = problem(error.code or 500, error.description or "", **extra)
    for name, value in error.get_headers():
        if name.lower() not in {"content-type", "content-length"}:
            response.headers[name] = value
    return response


def _unexpected(error: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.path)
    return http_error(InternalServerError("The server could not answer this request."))


def register(app: Flask) -> None:
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, _unexpected)
