"""Request and response headers: the Host check, validators (ETag, Last-Modified, 304),
Cache-Control, security headers, CORS and compression (`compression` does the coding)."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, request
from flask_cors import CORS
from werkzeug.exceptions import SecurityError
from werkzeug.http import http_date
from werkzeug.routing import RequestRedirect

from contentapi.engine.model import Post
from contentapi.service.store import store_of
from contentapi.settings import Settings
from contentapi.web import compression
from contentapi.web.auth import carries_credentials, preview_requested
from contentapi.web.errors import InvalidParameters
from contentapi.web.request_state import content_version
from contentapi.web.routes import current_facts

EXPOSED = ["ETag", "Link", "X-Total-Count", "Last-Modified", "Location", "X-Content-Version"]
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.S)


def last_modified(posts: Iterable[Post | None]) -> None:
    """Record the newest `updated`/`date` among what the response shows (for Last-Modified)."""
    moments = [post.modified for post in posts if post is not None]
    if moments:
        newest = max(moments)
        current = g.get("last_modified")
        g.last_modified = newest if current is None else max(current, newest)


def check_host() -> None:
    """A malformed `Host` (`a b`, `x:abc`), or one outside `CONTENTAPI_TRUSTED_HOSTS`, is a
    400 naming `Host`, before anything builds a URL from it."""
    try:
        valid = bool(request.host) or "Host" not in request.headers
        message = "Not a valid host[:port]."
    except SecurityError:
        valid, message = False, "Not a host this API answers to (CONTENTAPI_TRUSTED_HOSTS)."
    if not valid:
        raise InvalidParameters(
            [{"parameter": "Host", "message": message}], "The Host header is not accepted."
        )


def finish(response: Response) -> Response:
    """Security headers; on GET and HEAD answers also the validators and `Cache-Control`."""
    settings = store_of(current_app).settings
    _routing_redirect(response, settings.base_url)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if request.blueprint == "docs":
        _docs_policy(response)
    else:
        response.headers.setdefault(
            "Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"
        )
    version = content_version(store_of(current_app))
    if version is not None:  # a stored answer has its own, of the version it was made from
        response.headers.setdefault("X-Content-Version", version)
    if request.method not in {"GET", "HEAD"} or response.direct_passthrough:
        return response
    g.validated = True
    if response.status_code == 200 and not g.get("cache_hit"):
        response.add_etag()
        if g.get("last_modified") is not None:
            response.last_modified = g.last_modified
    response.headers["Cache-Control"] = _cache_control(response, settings)
    response.vary.add("Origin")
    return response


def _cache_control(response: Response, settings: Settings) -> str:
    """Errors are `no-store` alike (an admin 404 looks like any 404); an answer to a request
    with `Authorization` (preview, admin, or a wrong token) is private; probes are no-store."""
    if response.status_code >= 400:
        return "no-store"
    facts = current_facts()
    if (
        carries_credentials()
        or preview_requested(settings)
        or (facts is not None and facts.http_cache == "private")
    ):
        response.vary.add("Authorization")
        return "private, no-store"
    if facts is not None and facts.http_cache == "no-store":
        return "no-store"
    return cache_control_public(settings)


def cache_control_public(settings: Settings) -> str:
    """`Cache-Control` of a public answer: shared caches may keep it, and serve it stale while
    they fetch it again."""
    return (
        f"public, max-age={settings.cache_max_age}, "
        f"stale-while-revalidate={settings.cache_stale_while_revalidate}"
    )


def _docs_policy(response: Response) -> None:
    """Swagger UI: only its own files, plus its one inline script allowed by hash."""
    hashes = ""
    if response.mimetype == "text/html" and not response.direct_passthrough:
        for script in _INLINE_SCRIPT.findall(response.get_data()):
            digest = base64.b64encode(hashlib.sha256(script).digest()).decode()
            hashes += f" 'sha256-{digest}'"
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; font-src 'self'; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'none'"
    )


def _compress(response: Response) -> Response:
    """Every answer varies by `Accept-Encoding`; one the response cache has not already
    encoded (a hit, or a miss it stored) is compressed here, in the same negotiated coding."""
    response.vary.add("Accept-Encoding")
    if not g.get("cache_hit") and not g.get("encoded"):
        min_size = store_of(current_app).settings.compress_min_size
        compression.encode(response, compression.coding_for(), min_size)
    return response


# Request headers that can make an answer conditional (304, 412) or partial (206).
CONDITIONAL = (
    "HTTP_IF_NONE_MATCH",
    "HTTP_IF_MODIFIED_SINCE",
    "HTTP_IF_MATCH",
    "HTTP_IF_UNMODIFIED_SINCE",
    "HTTP_RANGE",
    "HTTP_IF_RANGE",
)


def _settle(response: Response) -> Response:
    """After compression: the 304 against the final ETag (that of the bytes sent). A request
    with none of the conditional headers gets what `make_conditional` would add without
    parsing any (a Date and a Content-Length)."""
    if not g.get("validated"):
        return response
    environ = request.environ
    if any(name in environ for name in CONDITIONAL):
        response.make_conditional(request)  # in place
        return response
    if "date" not in response.headers:
        response.headers["Date"] = http_date()
    if response.automatically_set_content_length and "content-length" not in response.headers:
        length = response.calculate_content_length()
        if length is not None:
            response.headers["Content-Length"] = str(length)
    return response


def _one_vary(response: Response) -> Response:
    """CORS and compression each add to `Vary`: send it once, each name once."""
    values = response.headers.getlist("Vary")
    if len(values) > 1:
        names: dict[str, str] = {}
        for value in values:
            for name in value.split(","):
                if name.strip():
                    names.setdefault(name.strip().lower(), name.strip())
        response.headers["Vary"] = ", ".join(names.values())
    return response


def _routing_redirect(response: Response, base_url: str) -> None:
    """Werkzeug's own redirects (`//api/v1//posts` to `/api/v1/posts`) point at
    `CONTENTAPI_BASE_URL` when it is set, never at whatever `Host` the request carried."""
    redirect = request.routing_exception
    if base_url and isinstance(redirect, RequestRedirect) and response.location:
        target = urlsplit(redirect.new_url)
        path = target.path[len(request.script_root) :]
        query = f"?{target.query}" if target.query else ""
        response.location = base_url.rstrip("/") + path + query


def register(app: Flask, settings: Settings) -> None:
    """CORS, compression, the final ETag and 304, and one `Vary`. Flask runs after-request
    hooks last-registered first, so these run after `finish` and the response cache (which
    `app.py` registers later), in this order: compression, `_settle`, CORS, `_one_vary`."""
    app.config["TRUSTED_HOSTS"] = list(settings.trusted_hosts) or None
    app.after_request(_one_vary)
    CORS(
        app,
        origins=list(settings.cors_origins) or "*",
        expose_headers=EXPOSED,
        allow_headers=["Authorization", "If-None-Match", "If-Modified-Since", "Content-Type"],
        methods=["GET", "HEAD", "OPTIONS"],
        max_age=86400,
        vary_header=True,
    )
    app.after_request(_settle)
    app.after_request(_compress)
