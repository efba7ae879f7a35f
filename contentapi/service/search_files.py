"""Search indexes kept in files: built once by one process, read by every worker.

A file is named by a hash of what it holds (the version of the posts it indexes, which covers
their bytes and every setting their text depends on, the site language and the backend), so a
file is never changed once written: a new version is a new file, written under another name
and renamed into place. Whoever needs a file that is not there takes its lock and builds it;
the others wait on the lock and then read it. A missing or unreadable file only costs a build.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from contentapi.settings import Settings

log = logging.getLogger("contentapi")
KEEP = 8  # files kept per backend: the current ones and a few before them


def folder(settings: Settings) -> Path | None:
    """Where search files live (made if missing), or None when `CONTENTAPI_SEARCH_CACHE` is
    `off` or the folder cannot be made."""
    choice = settings.search_cache.strip()
    if choice.lower() == "off":
        return None
    if choice.lower() in {"", "auto"}:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        path = Path(base) / "contentapi" / "search"
    else:
        path = Path(choice)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        log.warning("search files stay in memory: cannot make %s: %s", path, error)
        return None
    return path


# What a backend's saved index is: a SQLite file (fts5) or a folder of files (tantivy).
SUFFIXES = {"fts5": ".sqlite", "tantivy": ".tantivy"}


def file_for(where: Path, backend: str, version: str, default_lang: str) -> Path:
    key = hashlib.sha256(f"{backend}\0{version}\0{default_lang}".encode()).hexdigest()[:24]
    return where / f"{backend}-{key}{SUFFIXES.get(backend, '.index')}"


def remove(path: Path) -> None:
    """Remove a saved index, file or folder, if it is there."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold `path`'s lock (across processes) while building or reading it."""
    with path.with_name(path.name + ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def prune(where: Path, backend: str, keep: int = KEEP) -> None:
    """Remove all but the `keep` newest files (or folders) of a backend (a process still
    reading one keeps its files open: removing a name never takes a file from a reader)."""
    suffix = SUFFIXES.get(backend, ".index")
    files = sorted(where.glob(f"{backend}-*{suffix}"), key=_mtime, reverse=True)
    for old in files[keep:]:
        remove(old)
        remove(old.with_name(old.name + ".lock"))


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
