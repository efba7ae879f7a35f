"""Per-request context for views: the index in force, the time, and absolute URL building."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from flask import current_app, request, url_for

from contentapi.engine.index import Index
from contentapi.engine.model import Post
from contentapi.service.store import ContentStore
from contentapi.settings import Settings
from contentapi.web.http_rules import preview_requested


@dataclass(frozen=True)
class Context:
    """What a view needs, captured once so a reload mid-request cannot mix two indexes."""

    store: ContentStore
    index: Index
    settings: Settings
    now: datetime
    base_url: str
    preview: bool = False

    def url(self, endpoint: str, query: Any = None, **values: Any) -> str:
        """An absolute URL for an endpoint, honouring `CONTENTAPI_BASE_URL`."""
        path = url_for(endpoint, **values)[len(request.script_root) :]
        suffix = f"?{urlencode(query, doseq=True, safe=',:')}" if query else ""
        return self.base_url.rstrip("/") + path + suffix

    def post_url(self, post: Post) -> str:
        return self.url("posts.detail", slug=post.slug)

    def html(self, post: Post) -> str:
        return self.store.html(self.index, post, self.base_url)


def current() -> Context:
    store: ContentStore = current_app.extensions["contentapi"]
    settings = store.settings
    base_url = settings.base_url or (request.host_url.rstrip("/") + request.script_root + "/")
    preview = preview_requested(settings)
    return Context(store, store.index, settings, store.clock(), base_url, preview)
