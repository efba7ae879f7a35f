"""The content store: holds the current index and swaps in a new one atomically on reload."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from .index import Index
from .loader import load_index
from .model import ContentIssue, Post
from .query import Snapshot, snapshot
from .render import RenderOptions, render_html
from .settings import Settings

log = logging.getLogger("contentapi")
HISTORY = 32  # index versions remembered for /api/v1/changes


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
    """What one rebuild did: the versions before and after, and how long it took."""

    previous: str | None
    version: str
    seconds: float
    index: Index


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
        size = settings.render_cache_size
        self._render = lru_cache(maxsize=size)(render_html) if size else render_html

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
            if self.settings.strict and index.issues:
                raise ContentError(index.issues)
            self._index = index
            self._history[index.version] = snapshot(index.posts)
            self._history.move_to_end(index.version)
            while len(self._history) > HISTORY:
                self._history.popitem(last=False)
        log.info(
            "content index %s: %d posts, %d invalid, built in %.3f s",
            index.version,
            len(index.posts),
            len({issue.path for issue in index.issues}),
            seconds,
        )
        return Reload(previous.version if previous else None, index.version, seconds, index)
