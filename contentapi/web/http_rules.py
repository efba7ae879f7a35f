"""HTTP behaviour clients and CDNs rely on: validators, cache headers, shared cache, CORS,
compression, security headers and preview access."""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from collections.abc import Iterable
from typing import Any

from flask import Flask, Response, current_app, g, request
from flask_caching import Cache
from flask_compress import Compress
from flask_cors import CORS

from contentapi.engine.model import Post
from contentapi.service.store import ContentStore
from contentapi.settings import Settings

EXPOSED = ["ETag", "Link", "X-Total-Count", "Last-Modified", "Location"]
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.S)
# Endpoints whose responses depend only on the index version, the URL and the clock.
CACHEABLE = {
    "meta.root",
    "meta.archive",
    "posts.index",
    "posts.detail",
    "search.search",
    "terms.terms",
    "terms.term",
    "feeds.rss",
    "feeds.atom",
    "feeds.json",
    "feeds.sitemap",
    "feeds.sitemap_page",
}

cache = Cache()


def preview_requested(settings: Settings) -> bool:
    """True only for `Authorization: Bearer <CONTENTAPI_PREVIEW_TOKEN>`, compared in constant
    time; with no token configured, preview does not exist."""
    if "preview" not in g:
        token = settings.preview_token
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        g.preview = (
            bool(token)
            and scheme.lower() == "bearer"
            and hmac.compare_digest(given.strip().encode(), token.encode())
        )
    return bool(g.preview)


def last_modified(posts: Iterable[Post | None]) -> None:
    """Record the newest `updated`/`date` among what the response shows (for Last-Modified)."""
    moments = [post.modified for post in posts if post is not None]
    if moments:
        newest = max(moments)
        current = g.get("last_modified")
        g.last_modified = newest if current is None else max(current, newest)


def _cache_key(store: ContentStore) -> str:
    """Index version, how many scheduled posts are public by now, base URL, path, sorted query:
    a reload or a publication moment makes every earlier entry unreachable."""
    query = "&".join(f"{k}={v}" for k, v in sorted(request.args.items(multi=True)))
    base = store.settings.base_url or request.host_url
    published = store.index.published_count(store.now(request.environ))
    return f"contentapi:{store.index.version}:{published}:{base}{request.path}?{query}"


def _from_cache() -> Response | None:
    """Serve a stored response for this version and URL; preview requests never use it."""
    if request.method not in {"GET", "HEAD"} or request.endpoint not in CACHEABLE:
        return None
    store = current_app.extensions["contentapi"]
    if not store.ready or preview_requested(store.settings):
        return None
    g.cache_key = _cache_key(store)
    hit = cache.get(g.cache_key)
    if hit is None:
        return None
    status, headers, body = hit
    g.cache_hit = True
    return Response(body, status=status, headers=headers)


def _store(response: Response) -> None:
    """Keep a successful public response until the next scheduled post could change it."""
    key = g.get("cache_key")
    if key is None or g.get("cache_hit") or response.status_code != 200:
        return
    store = current_app.extensions["contentapi"]
    timeout = store.settings.cache_timeout
    now = store.now(request.environ)
    upcoming = store.index.next_publication(now)
    if upcoming is not None:
        timeout = min(timeout, math.ceil((upcoming - now).total_seconds()))
    headers = [(k, v) for k, v in response.headers.items() if k.lower() != "content-length"]
    cache.set(key, (response.status_code, headers, response.get_data()), timeout=timeout)


def _finish(response: Response) -> Response:
    """Validators, cache and security headers, then a 304 when the client's copy is current."""
    settings: Settings = current_app.extensions["contentapi"].settings
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if request.blueprint == "docs":
        _docs_policy(response)
    else:
        response.headers.setdefault(
            "Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"
        )
    if request.method not in {"GET", "HEAD"} or response.direct_passthrough:
        return response
    preview = preview_requested(settings)
    if response.status_code == 200 and not g.get("cache_hit"):
        response.add_etag()
        if g.get("last_modified") is not None:
            response.last_modified = g.last_modified
        if not preview:
            _store(response)
    if preview or request.blueprint == "admin":
        response.headers["Cache-Control"] = "private, no-store"
        response.vary.add("Authorization")
    elif response.status_code < 400:
        response.headers["Cache-Control"] = (
            f"public, max-age={settings.cache_max_age}, "
            f"stale-while-revalidate={settings.cache_stale_while_revalidate}"
        )
    else:
        response.headers["Cache-Control"] = "no-store"
    response.vary.add("Origin")
    return response.make_conditional(request)


def _docs_policy(response: Response) -> None:
    """Swagger UI: only its own files, plus its one inline script allowed by hash."""
    hashes = ""
    if response.mimetype == "text/html" and not response.direct_passthrough:
        import base64

        for script in _INLINE_SCRIPT.findall(response.get_data()):
            digest = base64.b64encode(hashlib.sha256(script).digest()).decode()
            hashes += f" 'sha256-{digest}'"
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; font-src 'self'; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'none'"
    )


def register(app: Flask, settings: Settings) -> None:
    """Order matters: Flask runs after-request hooks last-registered first, so `_finish` sees
    the view's response, compression sees the finished one, and CORS marks everything."""
    config: dict[str, Any] = {
        "CACHE_TYPE": settings.cache_type,
        "CACHE_DEFAULT_TIMEOUT": settings.cache_timeout,
        "CACHE_THRESHOLD": 5000,
    }
    if settings.cache_redis_url:
        config["CACHE_REDIS_URL"] = settings.cache_redis_url
    cache.init_app(app, config=config)
    CORS(
        app,
        origins=list(settings.cors_origins) or "*",
        expose_headers=EXPOSED,
        allow_headers=["Authorization", "If-None-Match", "If-Modified-Since", "Content-Type"],
        methods=["GET", "HEAD", "OPTIONS"],
        max_age=86400,
        vary_header=True,
    )
    app.config.update(
        COMPRESS_ALGORITHM=["br", "gzip"],
        COMPRESS_MIN_SIZE=settings.compress_min_size,
        COMPRESS_MIMETYPES=[
            "application/json",
            "application/problem+json",
            "application/yaml",
            "text/css",
            "text/html",
            "application/javascript",
            "text/javascript",
            "application/xml",
            "application/rss+xml",
            "application/atom+xml",
            "application/feed+json",
        ],
    )
    Compress(app)
    app.before_request(_from_cache)
    app.after_request(_finish)
