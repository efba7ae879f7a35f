"""The file watcher: notices edits in the content folder and reloads, debounced.

An editor's save or a `git pull` of 200 files is a burst of events; the watcher waits until
the folder has been quiet for `quiet` seconds (at most `longest` after the first event) and
then runs one incremental reload, which re-parses only the files whose bytes changed.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from contentapi.engine.loader import is_hidden
from contentapi.service.store import ContentError, ContentStore

log = logging.getLogger("contentapi")
# gunicorn.conf.py sets this: with preload_app the app is built in the master, where threads
# would not survive the fork (and a lock held there would stay held in every worker), so each
# worker starts its own watcher and warm-up after it boots.
DEFERRED = False


class _Changed(FileSystemEventHandler):
    def __init__(self, watcher: Watcher, root: Path) -> None:
        self.watcher = watcher
        self.root = root

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in {"opened", "closed_no_write"}:
            return
        paths = [str(event.src_path), str(getattr(event, "dest_path", "") or "")]
        if all(_ignored(Path(path), self.root) for path in paths if path):
            return
        self.watcher.poke()


def _ignored(path: Path, root: Path) -> bool:
    """Editor swap files and hidden files or folders (as the loader skips them) never count."""
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return True
    return any(is_hidden(part) for part in parts) or path.name.endswith(
        ("~", ".swp", ".swx", ".tmp")
    )


class Watcher:
    """One observer thread (watchdog) and one reloader thread, for one store in one process."""

    def __init__(self, store: ContentStore, quiet: float = 0.2, longest: float = 1.0) -> None:
        self.store = store
        self.quiet = quiet
        self.longest = longest
        self._event = threading.Event()
        self._last = 0.0
        self._stop = threading.Event()
        self._observer = Observer()
        self.reloads = 0

    def poke(self) -> None:
        self._last = time.monotonic()
        self._event.set()

    def start(self) -> Watcher:
        folder = self.store.settings.content_dir.resolve()
        self._observer.schedule(_Changed(self, folder), str(folder), recursive=True)
        self._observer.daemon = True
        self._observer.start()
        thread = threading.Thread(target=self._run, name="contentapi-reloader", daemon=True)
        thread.start()
        log.info("watching %s for changes", folder, extra={"event": "watch"})
        return self

    def stop(self) -> None:
        self._stop.set()
        self._event.set()
        self._observer.stop()
        self._observer.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._event.wait()
            if self._stop.is_set():
                return
            first = time.monotonic()
            while True:  # debounce: wait for quiet, but never longer than `longest`
                now = time.monotonic()
                if now - self._last >= self.quiet or now - first >= self.longest:
                    break
                time.sleep(min(self.quiet, 0.05))
            self._event.clear()
            self._reload()

    def _reload(self) -> None:
        try:
            self.store.reload()
            self.reloads += 1
            self.store.warm_up()
        except ContentError as error:
            log.error("reload refused, still serving the previous index: %s", error)
        except Exception:  # a watcher that dies would silently stop all reloads
            log.exception("reload failed, still serving the previous index")
