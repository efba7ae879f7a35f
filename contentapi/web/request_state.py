"""What one request is answered from: the index in force, the moment, the base URL, preview,
the parsed query, and the URL builder the serializers use. Captured once, so a reload
mid-request cannot mix two indexes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

from flask import Flask, current_app, g, request
from werkzeug.routing import Map

from contentapi.engine.assets import absolute
from contentapi.engine.index import Index
from contentapi.engine.model import Post
from contentapi.outputs.query import published
from contentapi.outputs.serialize import TermKind
from contentapi.service.store import ContentStore, store_of
from contentapi.settings import Settings
from contentapi.web.auth import preview_requested
from contentapi.web.params import Query
from contentapi.web.routes import canonical_query, query_args


class _EndpointLinks:
    """`serialize.Links` over this app's endpoints; subclasses say how an endpoint's URL is
    built (in a request, or from the URL map alone)."""

    base_url: str

    def url(self, endpoint: str, **values: Any) -> str:
        raise NotImplementedError

    def post(self, slug: str) -> str:
        return self.url("posts.detail", slug=slug)

    def term(self, kind: TermKind, slug: str) -> str:
        return self.url("terms.term", kind=kind, slug=slug)

    def page(self, slug: str) -> str:
        return self.url("pages.detail", page=slug)

    def media(self, url: str) -> str:
        return absolute(url, self.base_url)


@dataclass(frozen=True)
class RequestLinks(_EndpointLinks):
    """`serialize.Links` from this app's routes, absolute under `base_url`."""

    base_url: str

    def url(self, endpoint: str, query: Any = None, **values: Any) -> str:
        """An absolute URL for an endpoint, honouring `CONTENTAPI_BASE_URL`."""
        path = route_path(current_app.url_map, endpoint, tuple(sorted(values.items())))
        suffix = f"?{urlencode(query, doseq=True, safe=',:')}" if query else ""
        return self.base_url.rstrip("/") + path + suffix


@lru_cache(maxsize=32768)
def route_path(url_map: Map, endpoint: str, values: tuple[tuple[str, Any], ...]) -> str:
    """An endpoint's path (from `/`, without the script root), as `url_for` builds it: built
    once per endpoint and values in this process, since a detail shows eight post URLs."""
    return url_map.bind("localhost").build(endpoint, dict(values))


@dataclass(frozen=True)
class RouteLinks(_EndpointLinks):
    """`serialize.Links` from this app's routes with no request (for webhooks), absolute
    under `base_url` (`CONTENTAPI_BASE_URL`, which webhooks require)."""

    app: Flask
    base_url: str

    def url(self, endpoint: str, **values: Any) -> str:
        path = route_path(self.app.url_map, endpoint, tuple(sorted(values.items())))
        return self.base_url.rstrip("/") + path


@dataclass(frozen=True)
class RequestState:
    """What a view needs for one request."""

    store: ContentStore
    index: Index
    settings: Settings
    now: datetime
    links: RequestLinks
    preview: bool = False

    @property
    def base_url(self) -> str:
        return self.links.base_url

    @property
    def args(self) -> dict[str, Any]:
        """The query parameters, parsed once before the view (`routes.query_args`)."""
        return query_args()

    def url(self, endpoint: str, query: Any = None, **values: Any) -> str:
        return self.links.url(endpoint, query, **values)

    def query(self, **changes: Any) -> Query:
        """The query in its one spelling (`routes.canonical_query`), `changes` applied."""
        return canonical_query(**changes)

    def self_url(self, **changes: Any) -> str:
        """This resource's URL with its query in its one spelling, `changes` applied
        (`page=2`): the same for every spelling of the same request."""
        endpoint, values = request.endpoint or "", request.view_args or {}
        return self.url(endpoint, self.query(**changes), **values)

    def html(self, post: Post) -> str:
        return self.store.html(self.index, post, self.base_url)

    def blocks(self, post: Post) -> list[dict[str, Any]]:
        return self.store.blocks(self.index, post, self.base_url)


_PINNED = "contentapi_index"  # `g` attribute: the index this request is answered from


def request_index(store: ContentStore) -> Index:
    """The index this request is answered from: the store's current one when first asked
    (the response cache's key, then the view), then that one until the request ends, so a
    reload in the middle of a request can never pair one version's key or header with another
    version's body."""
    found: Index | None = g.get(_PINNED)
    if found is None:
        found = store.index
        setattr(g, _PINNED, found)
    return found


def content_version(store: ContentStore) -> str | None:
    """The version of what this request's answer shows (`GET /api/v1`'s `version`: a draft's
    edit leaves it, preview has its own), or None when the answer read no index."""
    index: Index | None = g.get(_PINNED)
    if index is None:
        return None
    preview = preview_requested(store.settings)
    return published(index, store.now(request.environ), preview).version


def current() -> RequestState:
    store = store_of(current_app)
    settings = store.settings
    base_url = settings.base_url or (request.host_url.rstrip("/") + request.script_root + "/")
    preview = preview_requested(settings)
    now = store.now(request.environ)
    index = request_index(store)
    return RequestState(store, index, settings, now, RequestLinks(base_url), preview)
