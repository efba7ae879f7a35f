"""The short way for the commonest request of all: a post's default detail, already stored.

A crawler, a CDN fill, a static build or a mobile sync asks for every post once, so each
request misses every worker's response cache; the builder has stored each post's default
answer finished (`prebuilt`). For such a request Flask's machinery (request context, URL
matching, eleven hooks, a Response object) costs several times the lookup itself, so this WSGI
middleware answers it before Flask: one read of the shared store, the per-request headers, the
access line, the bytes.

It answers only what it can answer exactly as the app would (`tests/test_fastpath.py` compares
the two byte for byte, headers included): `GET /api/v1/posts/<slug>` with no query string, no
`Authorization`, no conditional or range header, a `br` or `gzip` coding, a host the app accepts,
and CORS open to every origin. Anything else, and any answer not stored, goes to Flask.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import SecurityError
from werkzeug.http import http_date
from werkzeug.wsgi import get_host

from contentapi.outputs.query import published
from contentapi.service.logs import log_request
from contentapi.service.store import ContentStore
from contentapi.web import compression, prebuilt
from contentapi.web.headers import CONDITIONAL, EXPOSED, cache_control_public

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

PREFIX = "/api/v1/posts/"
_REFUSED = ("HTTP_AUTHORIZATION", *CONDITIONAL)
_EXPOSED = ", ".join(sorted(EXPOSED))
# Headers the stored answer must not bring: this module sets them for each request.
_PER_REQUEST = {
    "content-length",
    "cache-control",
    "vary",
    "date",
    "set-cookie",
    "x-content-version",
    "access-control-allow-origin",
    "access-control-expose-headers",
}


class FastPath:
    """WSGI middleware: stored default details answered without entering Flask."""

    def __init__(self, inner: WSGIApplication, store: ContentStore, enabled: bool) -> None:
        self.inner = inner
        self.store = store
        self.enabled = enabled
        self.answered = 0  # how many requests took the short way (tests read it)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        began = time.perf_counter()
        answer = self._answer(environ) if self.enabled else None
        if answer is None:
            return self.inner(environ, start_response)
        path, headers, body = answer
        start_response("200 OK", headers)
        self.answered += 1
        log_request("GET", path, path, 200, (time.perf_counter() - began) * 1000)
        return [body]

    def _answer(self, environ: WSGIEnvironment) -> tuple[str, list[tuple[str, str]], bytes] | None:
        slug = _slug(environ)
        if slug is None or any(name in environ for name in _REFUSED):
            return None
        store = self.store
        settings = store.settings
        if not store.ready or not _host_accepted(environ, settings.trusted_hosts):
            return None
        coding = compression.negotiate(environ.get("HTTP_ACCEPT_ENCODING", ""))
        if coding == compression.IDENTITY:
            return None
        store.catch_up()
        index = store.index  # one index for the key, the body and X-Content-Version
        now = store.now(environ)
        entry = prebuilt.find(store, index, now, slug, coding, settings.base_url)
        if entry is None:
            return None
        status, stored, body = entry
        if status != 200:
            return None
        origin = environ.get("HTTP_ORIGIN")
        headers = [(k, v) for k, v in stored if k.lower() not in _PER_REQUEST]
        headers += [
            ("Content-Length", str(len(body))),
            ("X-Content-Version", published(index, now).version),
            ("Cache-Control", cache_control_public(settings)),
            ("Vary", "Origin, Accept-Encoding"),
            ("Date", http_date()),
            ("Access-Control-Allow-Origin", origin or "*"),
            ("Access-Control-Expose-Headers", _EXPOSED),
        ]
        return PREFIX + slug, headers, body


def _slug(environ: WSGIEnvironment) -> str | None:
    """The slug of a plain `GET /api/v1/posts/<slug>`, or None for any other request."""
    if environ.get("REQUEST_METHOD") != "GET" or environ.get("QUERY_STRING"):
        return None
    path: str = environ.get("PATH_INFO", "")
    if not path.startswith(PREFIX):
        return None
    raw = path[len(PREFIX) :]
    if not raw or "/" in raw:
        return None
    try:
        return raw.encode("latin-1").decode("utf-8")  # WSGI carries the path as latin-1
    except UnicodeError:
        return None


def _host_accepted(environ: WSGIEnvironment, trusted: tuple[str, ...]) -> bool:
    """What `headers.check_host` lets through: a well-formed Host in `trusted` (if set)."""
    try:
        return bool(get_host(environ, list(trusted) or None)) or "HTTP_HOST" not in environ
    except SecurityError:  # a host outside the list: Flask answers it with the 400
        return False


def install(app: Any, store: ContentStore) -> FastPath:
    """Put the short way in front of `app.wsgi_app` when its answers would be the app's: the
    detail route is the only one `/api/v1/posts/<one segment>` reaches, and CORS is open to
    every origin (a configured list is Flask-CORS's to match)."""
    rules = [
        rule
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(PREFIX) and "/" not in rule.rule[len(PREFIX) :]
    ]
    only_detail = [rule.endpoint for rule in rules] == [prebuilt.ENDPOINT]
    open_cors = set(store.settings.cors_origins) <= {"*"}
    inner = app.wsgi_app.inner if isinstance(app.wsgi_app, FastPath) else app.wsgi_app
    fast = FastPath(inner, store, only_detail and open_cors)
    app.wsgi_app = fast
    return fast


def fast_path_of(app: Any) -> FastPath | None:
    wsgi: Callable[..., Any] = app.wsgi_app
    return wsgi if isinstance(wsgi, FastPath) else None
