"""The file watcher: notices edits in the content folder and reloads, debounced.

An editor's save or a `git pull` of 200 files is a burst of events; the watcher waits until
the folder has been quiet for `quiet` seconds (at most `longest` after the first event) and
then runs one incremental reload, which re-parses only the files whose bytes changed.

A deploy often replaces the folder rather than editing it: deleted and created again, or a
symlink (`content -> releases/42`) switched to a new release. Events only come from the folder
being watched, so every `recheck` seconds the watcher resolves the configured path again and,
when it leads to another folder, watches that one and reloads.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import ObservedWatch

from contentapi.engine.loader import POST_SUFFIXES, is_hidden
from contentapi.engine.shortcodes import FOLDER as SHORTCODES_FOLDER
from contentapi.service.store import ContentError, ContentStore

log = logging.getLogger("contentapi")
# gunicorn.conf.py sets this: with preload_app the app is built in the master, where threads
# would not survive the fork (and a lock held there would stay held in every worker), so each
# worker starts its own watcher and warm-up after it boots.
DEFERRED = False
# Events that only say a file's bytes (or times) changed: for a post file, the reload reads
# that file alone (see `Watcher.poke`); any other event makes it scan the whole folder.
EDITS = frozenset({"modified", "closed", "attrib"})
NEUTRAL = ""  # `Watcher.poke`: an event that says nothing of which files changed


class _Changed(FileSystemEventHandler):
    def __init__(self, watcher: Watcher, root: Path) -> None:
        self.watcher = watcher
        self.root = root

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in {"opened", "closed_no_write"}:
            return
        if event.event_type in {"deleted", "moved"} and Path(str(event.src_path)) == self.root:
            self.watcher.lost()  # a folder made again may get the same inode number
        paths = [str(event.src_path), str(getattr(event, "dest_path", "") or "")]
        if all(_ignored(Path(path), self.root) for path in paths if path):
            return
        if event.is_directory and event.event_type == "modified":
            # what watchdog adds to each file's event in a folder (a write's close, too): the
            # file's own event says what changed; alone it makes a full scan (see `_take_edited`)
            self.watcher.poke(NEUTRAL)
            return
        edited = None
        if event.event_type in EDITS and not event.is_directory:
            relative = Path(str(event.src_path)).relative_to(self.root).as_posix()
            edited = relative if relative.lower().endswith(POST_SUFFIXES) else None
        self.watcher.poke(edited)


def _ignored(path: Path, root: Path) -> bool:
    """Editor swap files and hidden files or folders (as the loader skips them) never count."""
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return True
    if parts[:1] == (SHORTCODES_FOLDER,):  # site shortcode templates are read, so they count
        parts = parts[1:]
    return any(is_hidden(part) for part in parts) or path.name.endswith(
        ("~", ".swp", ".swx", ".tmp")
    )


class Watcher:
    """One observer thread (watchdog) and one reloader thread, for one store in one process."""

    def __init__(
        self,
        store: ContentStore,
        quiet: float = 0.2,
        longest: float = 1.0,
        recheck: float = 1.0,
        verify: float = 2.5,
    ) -> None:
        self.store = store
        self.quiet = quiet
        self.longest = longest
        self.recheck = recheck
        self._event = threading.Event()
        self._last = 0.0
        self._stop = threading.Event()
        self._observer = Observer()
        self._watch: ObservedWatch | None = None
        self._folder: tuple[str, int, int] | None = None  # real path, device, inode
        self._lost = threading.Event()
        self.reloads = 0
        # The post files written since the last reload, if every event was such a write (None
        # after any other event: a file added, removed or moved, an asset, a folder).
        self._edited: set[str] | None = set()
        self._edited_lock = threading.Lock()
        self.verify = verify
        self._verify_at: float | None = None  # when to scan the whole folder after a patch

    def lost(self) -> None:
        """The watched folder itself went away: watch whatever the path leads to next."""
        self._lost.set()
        self.poke()

    def poke(self, edited: str | None = None) -> None:
        """Something changed: `edited`, the post file written (and only that), if known;
        NEUTRAL for an event that names no file (a folder's modification time)."""
        with self._edited_lock:
            if edited is None:
                self._edited = None
            elif edited != NEUTRAL and self._edited is not None:
                self._edited.add(edited)
        self._last = time.monotonic()
        self._event.set()

    def _take_edited(self) -> set[str] | None:
        """The post files written since the last call, if nothing else happened."""
        with self._edited_lock:
            edited, self._edited = self._edited, set()
        return edited or None

    def start(self) -> Watcher:
        self._follow()
        self._observer.daemon = True
        self._observer.start()
        thread = threading.Thread(target=self._run, name="contentapi-reloader", daemon=True)
        thread.start()
        folder = self._folder[0] if self._folder else self.store.settings.content_dir
        log.info("watching %s for changes", folder, extra={"event": "watch"})
        return self

    def _locate(self) -> tuple[str, int, int] | None:
        """Where the content path leads now: real path and identity, or None while missing."""
        folder = Path(os.path.realpath(self.store.settings.content_dir))
        try:
            info = folder.stat()
        except OSError:
            return None
        return (str(folder), info.st_dev, info.st_ino) if stat.S_ISDIR(info.st_mode) else None

    def _follow(self) -> bool:
        """Watch the folder the content path leads to now; True when it is another one than
        before (a symlink switched, or the folder deleted and made again)."""
        where = self._locate()
        if where is None:
            return False
        alive = self._observer.is_alive() and any(e.is_alive() for e in self._observer.emitters)
        if where == self._folder and alive and not self._lost.is_set():
            return False
        self._lost.clear()
        if self._watch is not None:
            try:
                self._observer.unschedule(self._watch)
            except Exception:  # its emitter may have stopped with the deleted folder
                log.debug("unwatching the previous content folder failed", exc_info=True)
        folder = Path(where[0])
        self._watch = self._observer.schedule(_Changed(self, folder), str(folder), recursive=True)
        moved, self._folder = self._folder is not None, where
        if moved:
            log.info("content folder replaced: now watching %s", folder, extra={"event": "watch"})
        return moved

    def stop(self) -> None:
        self._stop.set()
        self._event.set()
        self._observer.stop()
        self._observer.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            wait = self.recheck
            if self._verify_at is not None:
                wait = max(0.0, min(wait, self._verify_at - time.monotonic()))
            self._event.wait(timeout=wait)
            if self._stop.is_set():
                return
            if self._follow():
                self.poke()
            if self._event.is_set():
                self._debounced()
            # never before an edit's reload: the scan would make it wait
            if self._verify_at is not None and time.monotonic() >= self._verify_at:
                self._verify_at = None
                self._reload(check=True)

    def _debounced(self) -> None:
        """Wait for quiet, then reload: only the files events named, when that is all."""
        first = time.monotonic()
        while True:  # debounce: wait for quiet, but never longer than `longest`
            now = time.monotonic()
            left = min(self._last + self.quiet, first + self.longest) - now
            if left <= 0:
                break
            time.sleep(left)
        self._event.clear()
        edited = self._take_edited()
        self._reload(edited)
        # Events can be lost (a full kernel queue): a while after reading only the files
        # events named, the whole folder is scanned; a full reload is such a scan.
        if edited is None:
            self._verify_at = None
        elif self._verify_at is None:
            self._verify_at = time.monotonic() + self.verify

    def _reload(self, edited: set[str] | None = None, check: bool = False) -> None:
        """Reload (only the `edited` files when given; with `check`, only if a scan of the
        folder finds a change) and warm up; never raises."""
        try:
            if check:
                if self.store.reload_if_changed() is None:
                    return
            else:
                self.store.reload(edited=edited)
            self.reloads += 1
            self.store.warm_up()
            return
        except ContentError as error:
            log.error("reload refused, still serving the previous index: %s", error)
        except FileNotFoundError as error:  # the folder is being replaced: wait for the new one
            log.warning("reload postponed, still serving the previous index: %s", error)
        except Exception:  # a watcher that dies would silently stop all reloads
            log.exception("reload failed, still serving the previous index")
        with self._edited_lock:  # what this reload missed, the next one finds by a scan
            self._edited = None
