"""The content store: holds the current index and swaps in a new one atomically on reload."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from contentapi.engine.index import Index
from contentapi.engine.loader import load_index
from contentapi.engine.model import ContentIssue, Post
from contentapi.engine.render import RenderOptions, render_html
from contentapi.outputs.query import Changes, Snapshot, changes, snapshot
from contentapi.outputs.search import SearchIndex
from contentapi.settings import Settings

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger("contentapi")
HISTORY = 32  # index versions remembered for /api/v1/changes
EXTENSION = "contentapi"  # the store's key in `app.extensions`
# A WSGI environ key only code in this process can set (clients cannot: their headers become
# `HTTP_*`): a request carrying a datetime here is answered as at that moment. The static export
# sets it so every file it writes agrees on what is published.
MOMENT = "contentapi.moment"


class ContentError(RuntimeError):
    """Strict mode found invalid posts; the message lists every one."""

    def __init__(self, issues: tuple[ContentIssue, ...]) -> None:
        self.issues = issues
        lines = "\n".join(f"  {issue}" for issue in issues)
        super().__init__(f"{len(issues)} invalid post(s):\n{lines}")


class NotReady(RuntimeError):
    """No index has been built yet."""


@dataclass(frozen=True)
class Reload:
    """What one rebuild did: versions before and after, what changed, how long it took."""

    previous: str | None
    version: str
    seconds: float
    index: Index
    changes: Changes

    def as_dict(self) -> dict[str, object]:
        return {
            "previous": self.previous,
            "version": self.version,
            "seconds": round(self.seconds, 4),
            "posts": len(self.index.posts),
            "errors": sum(issue.severity == "error" for issue in self.index.issues),
            "added": list(self.changes.added),
            "updated": list(self.changes.updated),
            "removed": list(self.changes.removed),
        }


class ContentStore:
    """The one mutable thing: a reference to the current immutable index."""

    def __init__(
        self, settings: Settings, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.settings = settings
        self.clock = clock
        self._index: Index | None = None
        self._lock = threading.Lock()
        self._history: OrderedDict[str, Snapshot] = OrderedDict()
        self.watcher: Any = None  # a watch.Watcher when the folder is watched
        self._search: tuple[str, SearchIndex] | None = None
        self._search_lock = threading.Lock()
        size = settings.render_cache_size
        self._render = lru_cache(maxsize=size)(render_html) if size else render_html

    def now(self, environ: Mapping[str, Any]) -> datetime:
        """The moment a request is answered at: the clock, unless the request fixes it."""
        moment = environ.get(MOMENT)
        return moment if isinstance(moment, datetime) else self.clock()

    @property
    def index(self) -> Index:
        index = self._index
        if index is None:
            raise NotReady("the content index is not built yet")
        return index

    @property
    def ready(self) -> bool:
        return self._index is not None

    def snapshot(self, version: str) -> Snapshot | None:
        """A recent index's posts by version (for `/changes`), if this process still has it."""
        return self._history.get(version)

    @property
    def searchable(self) -> bool:
        """Whether the search index of the current version is built already."""
        found = self._search
        return found is not None and self._index is not None and found[0] == self._index.version

    def warm_up(self) -> threading.Thread:
        """In the background: analyse every post and build the search index, so the first
        search or listing does not pay for it (~21 s for 10,000: 16 s of analysis, 5 s of FTS5)."""
        index = self.index

        def work() -> None:
            try:
                self.search(index)
            except Exception:  # a failed warm-up only means the first search builds it
                log.exception("search warm-up failed")

        thread = threading.Thread(target=work, name="contentapi-warm-up", daemon=True)
        thread.start()
        return thread

    def search(self, index: Index) -> SearchIndex:
        """The search index for `index`, built on first use (once, under a lock) and kept
        until the next version: every post's plain text, drafts included for preview."""
        found = self._search
        if found is not None and found[0] == index.version:
            return found[1]
        with self._search_lock:
            found = self._search
            if found is None or found[0] != index.version:
                started = time.perf_counter()
                entries = [(post, index.derived(post).analysis) for post in index.posts]
                built = SearchIndex.build(entries, self.settings.site_language)
                found = self._search = (index.version, built)
                log.info(
                    "search index %s: %d posts in %.3f s",
                    index.version,
                    len(entries),
                    time.perf_counter() - started,
                    extra={"event": "search-index"},
                )
        return found[1]

    def html(self, index: Index, post: Post, media_base_url: str) -> str:
        """The post's HTML, rendered on first request and kept (keyed by body and options)."""
        options = RenderOptions(
            raw_html=index.options.raw_html,
            iframe_hosts=index.options.iframe_hosts,
            assets=index.assets,
            media_base_url=media_base_url,
        )
        return self._render(post.body, post.directory, options)

    def reload(self) -> Reload:
        """Build a new index (reusing unchanged files) and swap it in with one assignment.

        In strict mode an index with errors is refused and the current one stays.
        """
        with self._lock:
            previous = self._index
            started = time.perf_counter()
            index = load_index(self.settings, previous)
            seconds = time.perf_counter() - started
            for issue in index.issues:
                log.warning("%s", issue)
            errors = tuple(issue for issue in index.issues if issue.severity == "error")
            if self.settings.strict and errors:
                raise ContentError(errors)
            self._index = index
            self._history[index.version] = snapshot(index.posts)
            self._history.move_to_end(index.version)
            while len(self._history) > HISTORY:
                self._history.popitem(last=False)
        now = self.clock()
        before = snapshot(previous.posts) if previous else {}
        diff = changes(before, now, snapshot(index.posts), now)
        result = Reload(previous.version if previous else None, index.version, seconds, index, diff)
        log.info(
            "content index %s: %d posts, %d invalid, built in %.3f s",
            index.version,
            len(index.posts),
            len({issue.path for issue in index.issues if issue.severity == "error"}),
            seconds,
            extra={
                "event": "reload",
                **{k: len(v) if isinstance(v, list) else v for k, v in result.as_dict().items()},
            },
        )
        return result


def store_of(app: Flask) -> ContentStore:
    """The store an app serves (what `create_app` attached to it)."""
    store: ContentStore = app.extensions[EXTENSION]
    return store
