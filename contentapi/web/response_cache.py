"""The shared response cache: finished public answers as bytes, keyed by what they depend on.

A key is the index version, how many scheduled posts are public by now, a hash of an
unambiguous encoding (JSON) of the base URL, the endpoint, its path values and the query in its
one spelling (`routes.canonical_query`: parsed, defaults left out, names sorted), and the
content coding the request negotiated (`br`, `gzip` or `identity`). `?tag=a%26tag%3Db` is one
tag named `a&tag=b` and can never meet `?tag=a&tag=b`; `?tag=b,a` and `?tag=a&tag=b` are one
entry, whose links are the same whichever came first. A reload or a publication moment makes
every older key unreachable.

An entry is the answer as it goes out: status, headers (the ETag of those exact bytes
included) and the body, compressed in its coding. A miss runs the view and stores the answer in
the request's coding only; a request in another coding is made from a stored sibling (decoded,
then encoded: no view, no JSON) and stored in turn, so each body is compressed once per coding.
A hit is one lookup and one write: no view, no serializer, no compression, no ETag hashing.

In one process the cache is bounded in bytes (`CONTENTAPI_CACHE_MAX_BYTES`, least recently used
first out); `RedisCache` shares it between workers and replicas, bounded by Redis `maxmemory`.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections import OrderedDict
from datetime import timedelta
from typing import Any

from flask import Flask, Response, current_app, g, request
from flask_caching import Cache
from flask_caching.backends.base import BaseCache

from contentapi.service.store import ContentStore, store_of
from contentapi.settings import Settings
from contentapi.web import compression, prebuilt
from contentapi.web.auth import preview_requested
from contentapi.web.compression import Coding
from contentapi.web.params import Query
from contentapi.web.request_state import request_index
from contentapi.web.routes import canonical_query, current_facts

cache = Cache()
# Headers that belong to one answer, not to the stored body.
_PER_REQUEST = {"content-length", "cache-control", "vary", "date", "set-cookie"}


class ByteBoundedCache(BaseCache):
    """An in-process cache that keeps at most `max_bytes` of values (approximately: bodies,
    headers and keys are counted), dropping the least recently used first."""

    def __init__(self, max_bytes: int, default_timeout: int = 300) -> None:
        super().__init__(default_timeout=default_timeout)
        self.max_bytes = max_bytes
        self.size = 0
        self._entries: OrderedDict[str, tuple[float, int, Any]] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def factory(
        cls, app: Flask, config: dict[str, Any], args: list[Any], kwargs: dict[str, Any]
    ) -> ByteBoundedCache:
        return cls(config["CACHE_MAX_BYTES"], default_timeout=kwargs["default_timeout"])

    def get(self, key: str) -> Any:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires, _, value = entry
            if expires and expires <= time.monotonic():
                self._drop(key)
                return None
            self._entries.move_to_end(key)
            return value

    def set(self, key: str, value: Any, timeout: int | timedelta | None = None) -> bool:
        seconds = self._normalize_timeout(timeout)
        expires = time.monotonic() + seconds if seconds else 0.0
        cost = footprint(key) + footprint(value)
        with self._lock:
            self._drop(key)
            if cost > self.max_bytes:
                return False
            self._entries[key] = (expires, cost, value)
            self.size += cost
            while self.size > self.max_bytes:
                self._drop(next(iter(self._entries)))
        return True

    def add(self, key: str, value: Any, timeout: int | timedelta | None = None) -> bool:
        return False if self.has(key) else self.set(key, value, timeout)

    def delete(self, key: str) -> bool:
        with self._lock:
            return self._drop(key)

    def has(self, key: str) -> bool:
        return self.get(key) is not None

    def clear(self) -> bool:
        with self._lock:
            self._entries.clear()
            self.size = 0
        return True

    def _drop(self, key: str) -> bool:
        entry = self._entries.pop(key, None)
        if entry is None:
            return False
        self.size -= entry[1]
        return True


def footprint(value: Any) -> int:
    """Roughly how many bytes `value` holds: its data plus CPython's per-object overhead."""
    if isinstance(value, bytes | str):
        return len(value) + 40
    if isinstance(value, tuple | list):
        return 56 + sum(footprint(item) for item in value)
    return 32


def register(app: Flask, settings: Settings) -> None:
    config: dict[str, Any] = {
        "CACHE_TYPE": settings.cache_type,
        "CACHE_DEFAULT_TIMEOUT": settings.cache_timeout,
    }
    if settings.cache_type == "SimpleCache":
        config["CACHE_TYPE"] = f"{__name__}.{ByteBoundedCache.__name__}"
        config["CACHE_MAX_BYTES"] = settings.cache_max_bytes
    if settings.cache_redis_url:
        config["CACHE_REDIS_URL"] = settings.cache_redis_url
    cache.init_app(app, config=config)


def cache_key(store: ContentStore, query: Query) -> str:
    """Version, public posts by now, and a hash of base URL, endpoint, path values and the
    canonical query, encoded as JSON (so no two different requests can share a key). The
    coding is added by `_variant`."""
    base = store.settings.base_url or (request.host_url.rstrip("/") + request.script_root + "/")
    facts = [base, request.endpoint, request.view_args or {}, query]
    encoded = json.dumps(facts, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(encoded.encode()).hexdigest()
    index = request_index(store)
    published = index.published_count(store.now(request.environ))
    return f"contentapi:{index.version}:{published}:{digest}"


def _variant(key: str, coding: Coding) -> str:
    return f"{key}:{coding}"


Entry = tuple[int, tuple[tuple[str, str], ...], bytes]


def _entry(response: Response) -> Entry:
    headers = tuple((k, v) for k, v in response.headers.items() if k.lower() not in _PER_REQUEST)
    return response.status_code, headers, response.get_data()


def _response(entry: Entry) -> Response:
    status, headers, body = entry
    return Response(body, status=status, headers=list(headers))


def _timeout(store: ContentStore) -> int:
    """`CONTENTAPI_CACHE_TIMEOUT`, or less: never past the next scheduled post."""
    timeout = store.settings.cache_timeout
    now = store.now(request.environ)
    upcoming = request_index(store).next_publication(now)
    if upcoming is not None:
        timeout = min(timeout, math.ceil((upcoming - now).total_seconds()))
    return timeout


def lookup() -> Response | None:
    """Before the view: the stored answer for this version, request and coding, if there is
    one, or else one made from the same answer stored in another coding.

    Preview requests never use the cache; the query has been parsed (`g.query_args`) by then.
    """
    facts = current_facts()
    if request.method not in {"GET", "HEAD"} or facts is None or not facts.cacheable:
        return None
    store = store_of(current_app)
    if not store.ready or preview_requested(store.settings):
        return None
    query = canonical_query()
    key, coding = cache_key(store, query), compression.coding_for()
    g.cache_key, g.coding = key, coding
    entry = (
        cache.get(_variant(key, coding))
        or _recode(store, key, coding)
        or (None if query else _prebuilt(store, coding))
    )
    if entry is None:
        return None
    g.cache_hit = True
    return _response(entry)


def _prebuilt(store: ContentStore, coding: Coding) -> Entry | None:
    """A post's default detail as the builder stored it (`prebuilt`): one read of the shared
    store, not kept here too (each is mostly asked for once per worker)."""
    if request.endpoint != prebuilt.ENDPOINT:
        return None
    slug = str((request.view_args or {}).get("slug", ""))
    now = store.now(request.environ)
    return prebuilt.find(store, request_index(store), now, slug, coding, store.settings.base_url)


def _recode(store: ContentStore, key: str, coding: Coding) -> Entry | None:
    """The answer in `coding`, made from one stored in another coding (identity first: it
    need not be decoded), and stored."""
    others = [other for other in (compression.IDENTITY, *compression.CODINGS) if other != coding]
    found = next(
        (entry for entry in cache.get_many(*(_variant(key, c) for c in others)) if entry), None
    )
    if found is None:
        return None
    response = compression.decode(_response(found))
    compression.encode(response, coding, store.settings.compress_min_size)
    entry = _entry(response)
    cache.set(_variant(key, coding), entry, timeout=_timeout(store))
    return entry


def store_response(response: Response) -> Response:
    """After the view (and `headers.finish`): encode the answer in the request's coding and
    keep a 200 until the next scheduled post could change it."""
    key = g.get("cache_key")
    if key is None or g.get("cache_hit") or response.status_code != 200:
        return response
    if response.direct_passthrough:
        return response
    store = store_of(current_app)
    compression.encode(response, g.coding, store.settings.compress_min_size)
    g.encoded = True
    cache.set(_variant(key, g.coding), _entry(response), timeout=_timeout(store))
    return response
