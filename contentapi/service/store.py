"""The content store: holds the current index and swaps in a new one atomically on reload."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import tempfile
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import click

from contentapi.engine.blocks import render_blocks
from contentapi.engine.index import (
    Index,
    failure,
    issue_order,
    log_failure,
    plain_html,
    render_options,
)
from contentapi.engine.loader import load_index, unchanged_since
from contentapi.engine.model import Analysis, ContentIssue, Post
from contentapi.engine.render import render_html
from contentapi.outputs.query import (
    Changes,
    Published,
    Snapshot,
    carry_over,
    index_changes,
    index_snapshot,
    published,
)
from contentapi.outputs.search import Saved, Searchable, SearchIndex, backend, loader, refresh
from contentapi.service import search_files
from contentapi.service.artifact_db import open_artifacts
from contentapi.service.builder import fill_in_background
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
    """What one rebuild did: versions before and after, what changed, how long it took.

    `previous` and `version` are the index's (every file, drafts too: what caches and the
    workers' reports key on); `public_*` are those of what clients see in `GET /api/v1`.
    """

    previous: str | None
    version: str
    seconds: float
    index: Index
    changes: Changes
    public_previous: str | None = None
    public_version: str = ""
    at: datetime | None = None  # the moment `changes` was computed for

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


def runtime_folder(settings: Settings) -> Path:
    """Where the processes serving one content folder leave each other notes (the reload
    signal, which version each serves): `CONTENTAPI_RUNTIME_DIR`, or with `auto` a folder
    private to this user under `$XDG_RUNTIME_DIR` or the system's temporary folder, named by
    a hash of the content folder's path."""
    if settings.runtime_dir.lower() not in {"", "auto"}:
        return Path(settings.runtime_dir)
    name = hashlib.sha256(str(settings.content_dir.resolve()).encode()).hexdigest()[:16]
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return Path(base) / f"contentapi-{os.getuid()}" / name


Stamp = tuple[int, int, int] | None


@dataclass(frozen=True)
class Worker:
    """What one serving process last reported: its pid and the version it serves."""

    pid: int
    version: str
    built_at: str
    current: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "pid": self.pid,
            "version": self.version,
            "built_at": self.built_at,
            "current": self.current,
        }


class ReloadSignal:
    """A small file every process serving the same content folder can see.

    `post` replaces it (a new inode each time, written then renamed), and a process compares
    one `stat` of it with the stamp it saw last to learn whether some other process was asked
    to reload. Beside it, `workers/<pid>.json` says which version each process serves.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.marker = folder / "reload-request"

    def stamp(self) -> Stamp:
        try:
            found = self.marker.stat()
        except OSError:
            return None
        return (found.st_ino, found.st_mtime_ns, found.st_size)

    def post(self) -> Stamp:
        """Ask every process to reload; returns the new stamp (this process has reloaded)."""
        self._prepare()
        handle, name = tempfile.mkstemp(dir=self.folder, prefix=".reload-")
        with os.fdopen(handle, "w") as file:
            file.write(f"{os.getpid()} {time.time_ns()}\n")
        Path(name).replace(self.marker)
        return self.stamp()

    def report(self, worker: Worker) -> None:
        """Record the version this process serves (one small file per pid)."""
        folder = self._prepare() / "workers"
        folder.mkdir(mode=0o700, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=folder, prefix=".worker-")
        with os.fdopen(handle, "w") as file:
            json.dump(
                {"pid": worker.pid, "version": worker.version, "built_at": worker.built_at}, file
            )
        Path(name).replace(folder / f"{worker.pid}.json")

    def workers(self) -> list[Worker]:
        """Every process that reported and is still running, by pid."""
        found = []
        for path in sorted((self.folder / "workers").glob("*.json")):
            try:
                entry = json.loads(path.read_text())
                os.kill(int(entry["pid"]), 0)
            except ProcessLookupError:
                path.unlink(missing_ok=True)
                continue
            except (OSError, ValueError, KeyError, TypeError):
                continue
            found.append(Worker(int(entry["pid"]), str(entry["version"]), str(entry["built_at"])))
        return sorted(found, key=lambda worker: worker.pid)

    def _prepare(self) -> Path:
        """The folder, created private to this user; refused if someone else owns it."""
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self.folder.stat().st_uid != os.getuid():
            raise PermissionError(f"{self.folder} belongs to another user")
        return self.folder


class ContentStore:
    """The one mutable thing: a reference to the current immutable index."""

    def __init__(
        self, settings: Settings, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.settings = settings
        self.clock = clock
        self._index: Index | None = None
        self._before: Index | None = None  # the index before the last reload that changed it
        self._lock = threading.Lock()
        self._history: OrderedDict[str, Snapshot] = OrderedDict()
        self.watcher: Any = None  # a watch.Watcher when the folder is watched
        # (index version, publication count or "preview") and the search index for it
        self._search: dict[str, tuple[tuple[str, object], Searchable]] = {}
        self._search_lock = threading.Lock()
        self._search_backend = backend(settings.search_backend)
        size = settings.render_cache_size
        self._render = lru_cache(maxsize=size)(render_html) if size else render_html
        self._failed: dict[tuple[str, str], tuple[str, ContentIssue]] = {}  # (path, digest)
        self.signal = ReloadSignal(runtime_folder(settings))
        self._seen = self.signal.stamp()  # reload requests before this process started are done
        self._catch_up_lock = threading.Lock()
        self._reported: tuple[int, str] | None = None
        self.artifacts = open_artifacts(settings)  # every post's analysis and HTML, on disk
        self._blocks = lru_cache(maxsize=size)(render_blocks) if size else render_blocks
        self._swapped = threading.Condition()  # notified whenever a new index is in force
        # Called with each Reload after the swap, on the reloading thread: keep them quick.
        self.listeners: list[Callable[[Reload], None]] = []
        self.notifier: Any = None  # a webhooks.Notifier when webhooks are configured
        # Called with the index after each background fill of the artifact store, on the
        # warm-up thread (the web layer stores prebuilt answers: `web/prebuilt.py`).
        self.after_fill: Callable[[ContentStore, Index], object] | None = None

    def wait_for_change(self, version: str, timeout: float) -> Index:
        """The index in force once it is no longer `version`, or after `timeout` seconds."""
        with self._swapped:
            self._swapped.wait_for(lambda: self.index.version != version, timeout)
        return self.index

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
        """Whether the public search index of the current version is built already."""
        found = self._search.get("public")
        return found is not None and self._index is not None and found[0][0] == self._index.version

    def warm_up(self) -> threading.Thread:
        """In the background: store the analysis and HTML of every post the artifact store
        lacks (a process pool; one process at a time fills it, the others wait and then read),
        then make the search index (read from its file when another process built it), then,
        without the artifact store, analyse every post not analysed yet, so the first search or
        listing does not pay for any of it. Logs `warm-up` when done, then runs `after_fill`
        (which stores prebuilt answers)."""
        index, previous = self.index, self._before
        self._before = None  # kept only until this fill has used it

        artifacts = self.artifacts if _serving() else None  # click's context is per thread

        def work() -> None:
            started = time.perf_counter()
            if artifacts is not None:
                fill_in_background(index, artifacts, previous)
            try:
                self.search(index, self.clock())
                if self.artifacts is None:  # with it, each is a read when needed
                    for post in index.posts:
                        index.derived(post)
            except Exception:  # a failed warm-up only means the first requests do the work
                log.exception("search warm-up failed")
            else:
                log.info(
                    "warm-up %s: search index and %d posts analysed in %.3f s",
                    index.version,
                    len(index.posts),
                    time.perf_counter() - started,
                    extra={"event": "warm-up"},
                )
            if artifacts is not None and self.after_fill is not None:
                try:  # last: extra work, after what every worker needs is done
                    self.after_fill(self, index)
                except Exception:  # a failed fill only means requests do the work
                    log.exception("prebuilding answers failed")

        thread = threading.Thread(target=work, name="contentapi-warm-up", daemon=True)
        thread.start()
        return thread

    def search(self, index: Index, now: datetime, preview: bool = False) -> SearchIndex:
        """The search index of what `index` shows at `now` (every post, in preview), made on
        first use under a lock and kept until the next version or publication moment.

        Public and preview indexes are separate, so drafts and scheduled posts never weigh on
        public scores. With `CONTENTAPI_SEARCH_CACHE`, an index is a file one process builds
        and every worker reads. A new one is made from the last one by adding and removing
        what changed when that is little (a post going public, a few edited files).
        """
        kind = "preview" if preview else "public"
        key = (index.version, "preview" if preview else index.published_count(now))
        found = self._search.get(kind)
        if found is not None and found[0] == key:
            return found[1].index
        with self._search_lock:
            found = self._search.get(kind)
            if found is None or found[0] != key:
                started = time.perf_counter()
                shown = published(index, now, preview)
                other = self._search.get("public" if preview else "preview")
                slugs = {post.slug for post in shown.posts}
                if (
                    other is not None
                    and other[0][0] == index.version
                    and other[1].posts.keys() == slugs
                ):
                    made, how = other[1], "shared"  # nothing hidden: the same posts
                else:
                    previous = found[1] if found is not None else None
                    made, how = self._made(index, shown, previous)
                found = self._search[kind] = (key, made)
                log.info(
                    "search index %s (%s): %d posts %s in %.3f s",
                    index.version,
                    kind,
                    len(shown.posts),
                    how,
                    time.perf_counter() - started,
                    extra={"event": "search-index"},
                )
        return found[1].index

    def _made(
        self, index: Index, shown: Published, previous: Searchable | None
    ) -> tuple[Searchable, str]:
        """The search index of `shown`: read from its file, or made (and saved when files are
        on): updated from `previous` if little changed, else built."""
        name, language = self.settings.search_backend, self.settings.site_language
        by_slug = {post.slug: post for post in shown.posts}

        def analysis(post: Post) -> Analysis:
            return index.derived(post).analysis

        def make() -> Searchable:
            return refresh(
                previous,
                shown.posts,
                analysis,
                lambda entries: self._search_backend(entries, language),
            )

        load, where = loader(name), search_files.folder(self.settings)
        if load is None or where is None:
            return make(), "built"
        path = search_files.file_for(where, name, shown.version, language)

        def entry_of(slug: str) -> tuple[Post, Analysis]:
            return by_slug[slug], analysis(by_slug[slug])

        with search_files.locked(path):
            loaded = load(path, language, entry_of) if path.exists() else None
            if loaded is not None:
                return Searchable(loaded, by_slug), f"read from {path}"
            made = make()
            temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            try:
                cast(Saved, made.index).save(temporary)  # a backend with a `load` saves
                search_files.remove(path)  # one that could not be read (a folder stays)
                temporary.replace(path)
            except (OSError, ValueError, sqlite3.Error) as error:
                search_files.remove(temporary)
                log.warning("search index kept in memory: cannot write %s: %s", path, error)
                return made, "built"
            search_files.prune(where, name)
            loaded = load(path, language, entry_of)
        return (
            (Searchable(loaded, by_slug, made.issues), f"built into {path}")
            if loaded
            else (made, "built")
        )

    def html(self, index: Index, post: Post, media_base_url: str) -> str:
        """The post's HTML: from the artifact store (rendered and stored on a miss), else
        rendered on first request and kept in this process (keyed by body and options).

        A post whose rendering fails is served as its plain text, and the failure is logged
        once and listed in diagnostics; the response never fails with it.
        """
        key = (post.path, post.digest)
        failed = self._failed.get(key)
        if failed is not None:
            return failed[0]
        try:
            if self.artifacts is not None:
                found = self.artifacts.html(index, post, media_base_url)
                if found is not None:
                    return found
            return self._render(
                index.body(post), post.directory, render_options(index, media_base_url)
            )
        except Exception as error:  # one post must never take a response down
            issue = failure(post.path, "rendering", error)
            log_failure(issue, error)
            markup = plain_html(index.derived(post).analysis.plaintext)
            self._failed[key] = (markup, issue)
            return markup

    def all_issues(self, index: Index) -> tuple[ContentIssue, ...]:
        """Every issue of `index`, and the failures met while serving it (a post that could
        not be rendered or indexed for search)."""
        current = {(post.path, post.digest) for post in index.everything}
        rendering = [issue for key, (_, issue) in self._failed.items() if key in current]
        searching = [
            issue
            for key, made in self._search.values()
            if key[0] == index.version
            for issue in made.issues
        ]
        every = {*index.all_issues(), *rendering, *searching}
        return tuple(sorted(every, key=issue_order))

    def blocks(self, index: Index, post: Post, media_base_url: str) -> list[dict[str, Any]]:
        """The post's block tree, like its HTML: from the artifact store (built and stored on
        the first request that asks), else built on first request and kept in this process.
        Read-only."""
        if self.artifacts is not None:
            found = self.artifacts.blocks(index, post, media_base_url)
            if found is not None:
                return found
        return self._blocks(index.body(post), post.directory, render_options(index, media_base_url))

    def reload_everywhere(self) -> Reload:
        """Reload here, then ask every other process serving this folder to do the same.

        The other processes catch up on their next request (`catch_up`). In strict mode a
        refused reload raises here and asks nobody else.
        """
        result = self.reload()
        try:
            self._seen = self.signal.post()
        except OSError as error:
            log.warning("could not ask the other workers to reload: %s", error)
        return result

    def catch_up(self) -> bool:
        """Once per request, one `stat`: reload when another process was asked to since this
        one last looked (requests arriving meanwhile wait for it, then see the new index).
        Also keeps this process's line of `workers()` current. True when it reloaded."""
        stamp = self.signal.stamp()
        reloaded = False
        if stamp != self._seen:
            with self._catch_up_lock:
                if stamp != self._seen:
                    self._seen = stamp
                    try:
                        self.reload()
                        self.warm_up()
                    except ContentError as error:
                        log.warning("reload asked by another worker refused: %s", error)
                    reloaded = True
        self._report()
        return reloaded

    def workers(self) -> list[Worker]:
        """The version each process serving this folder reported, this one marked `current`."""
        self._report()
        pid = os.getpid()
        return [
            Worker(w.pid, w.version, w.built_at, current=w.pid == pid)
            for w in self.signal.workers()
        ]

    def _report(self) -> None:
        index = self._index
        if index is None or self._reported == (os.getpid(), index.version):
            return
        self._reported = (os.getpid(), index.version)
        try:
            self.signal.report(Worker(os.getpid(), index.version, index.built_at.isoformat()))
        except OSError as error:
            log.warning("could not record this worker's version: %s", error)

    def reload_if_changed(self) -> Reload | None:
        """Reload unless the folder still holds what the current index was read from. A
        worker forked from a preloading master calls this to catch edits made while it
        booted: the check keeps nothing per file, where a reload that finds nothing would
        still allocate for every file, and in a forked process each allocation that lands on
        a page of the master's memory copies that page (28 MiB of PSS at 10,000 posts)."""
        index = self._index
        if index is not None and unchanged_since(self.settings.content_dir, index):
            return None
        return self.reload()

    def reload(self, strict: bool | None = None, edited: Collection[str] | None = None) -> Reload:
        """Build a new index (reusing unchanged files) and swap it in with one assignment.

        In strict mode (the setting, unless `strict` says otherwise) an index with errors is
        refused and the current one stays. `edited`: the only files the watcher saw change
        (see `load_index`).
        """
        with self._lock:
            previous = self._index
            started = time.perf_counter()
            index = load_index(
                self.settings, previous, self.artifacts, later=_in_background, edited=edited
            )
            seconds = time.perf_counter() - started
            for issue in index.issues:
                log.warning("%s", issue)
            errors = tuple(issue for issue in index.issues if issue.severity == "error")
            if (self.settings.strict if strict is None else strict) and errors:
                raise ContentError(errors)
            if previous is not None and previous is not index:
                carry_over(previous, index)  # a patched index starts with what it can reuse
            self._before = previous if previous is not index else self._before
            self._index = index
            index.stamps()  # what the next reload compares with, made before workers fork
            if self._failed:
                served = {(post.path, post.digest) for post in index.everything}
                self._failed = {k: v for k, v in self._failed.items() if k in served}
            self._history[index.version] = index_snapshot(index)
            self._history.move_to_end(index.version)
            while len(self._history) > HISTORY:
                self._history.popitem(last=False)
        with self._swapped:
            self._swapped.notify_all()
        now = self.clock()
        diff = index_changes(previous, index, now)
        result = Reload(
            previous.version if previous else None,
            index.version,
            seconds,
            index,
            diff,
            published(previous, now).version if previous else None,
            published(index, now).version,
            now,
        )
        log.info(
            "content index %s: %d posts, %d invalid, %s in %.3f s",
            index.version,
            len(index.posts),
            len({issue.path for issue in index.issues if issue.severity == "error"}),
            "patched" if previous is not None and index.patched_from(previous) else "built",
            seconds,
            extra={
                "event": "reload",
                **{k: len(v) if isinstance(v, list) else v for k, v in result.as_dict().items()},
            },
        )
        for listener in self.listeners:
            try:
                listener(result)
            except Exception:  # a listener must never fail a reload
                log.exception("reload listener failed")
        return result


CACHE_WRITE_DELAY = 2.0  # seconds from a reload to writing its parse cache (see `_Later`)


class _Later:
    """Runs jobs (writing the parse cache) one at a time, in order, on a thread of its own,
    each `delay` seconds after it was handed over: a reload need not wait for it, and it does
    not take the CPU from the other workers while they reload and answer with the new index.
    A process that exits first loses the write: its next start reads the files it changed."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self._reset()
        os.register_at_fork(after_in_child=self._reset)  # the parent's thread is not ours

    def _reset(self) -> None:
        self._jobs: deque[tuple[float, Callable[[], None]]] = deque()
        self._lock = threading.Lock()
        self._running = False

    def __call__(self, job: Callable[[], None]) -> None:
        with self._lock:
            self._jobs.append((time.monotonic() + self.delay, job))
            if self._running:
                return
            self._running = True
        threading.Thread(target=self._run, name="contentapi-cache-writer", daemon=True).start()

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._jobs:
                    self._running = False
                    return
                at, job = self._jobs.popleft()
            time.sleep(max(0.0, at - time.monotonic()))
            try:
                job()
            except Exception:  # a cache that cannot be written is only a slower start
                log.exception("writing the parse cache failed")


_in_background = _Later(CACHE_WRITE_DELAY)


def _serving() -> bool:
    """Whether this process serves requests (a WSGI server, `flask run`, a test client), not a
    one-off `flask` command: `content build` fills the store itself, and `check` or `export`
    have no use for a background fill."""
    context = click.get_current_context(silent=True)
    return context is None or context.info_name == "run"


def store_of(app: Flask) -> ContentStore:
    """The store an app serves (what `create_app` attached to it)."""
    store: ContentStore = app.extensions[EXTENSION]
    return store
