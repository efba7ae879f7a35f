"""The artifact store on disk: one SQLite file in WAL mode that every process reads and writes.

It is a cache, so it never fails a request: a missing, deleted, truncated or corrupt file is
noticed on the next access and made again (empty), a busy or read-only file means "not
stored", and every row carries a checksum and its own key, so a damaged row reads as a miss,
never as another post's body. Each process (and thread) opens its own connection; a connection
made before a fork is never used or closed in the child.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
import threading
import time
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contentapi.engine.artifacts import Artifacts, Row
from contentapi.settings import Settings

log = logging.getLogger("contentapi")

USER_VERSION = 2  # the tables' layout; a file of another layout is made again
POINTERS_CHANGED = 1  # a file of this layout differs only in `pointer`: only it is made again
BATCH = 500  # keys per `IN (...)` query
BACKOFF = 30.0  # seconds without the store after it could not be opened
# SQLite's answers that mean the file is damaged or not a database: it is made again.
DAMAGED = {"SQLITE_CORRUPT", "SQLITE_NOTADB", "SQLITE_IOERR_SHORT_READ", "SQLITE_CORRUPT_INDEX"}
SCHEMA = """
CREATE TABLE IF NOT EXISTS artifact (
    key TEXT NOT NULL,
    kind TEXT NOT NULL,
    deps TEXT NOT NULL,
    crc INTEGER NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (key, kind)
)
"""
# The index versions (with the artifact code's fingerprint) whose every artifact was stored:
# a process starting on one of them checks one row instead of every post's.
FILLED = "CREATE TABLE IF NOT EXISTS filled (version TEXT PRIMARY KEY)"
# Finished answers (`contentapi.web.prebuilt`): a key naming everything the answer shows, the
# content coding, the asset lookups it made (checked on read, as an artifact's), a checksum of
# key, coding, head and body, the status and headers as JSON, and the body as sent.
ANSWERS = """
CREATE TABLE IF NOT EXISTS answer (
    key TEXT NOT NULL,
    coding TEXT NOT NULL,
    deps TEXT NOT NULL,
    crc INTEGER NOT NULL,
    head TEXT NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (key, coding)
)
"""
# Which answer each visible post (by slug) has at one index version and moment (`fill` names
# it with `marker`): a request finds its answer by this, without working out the key from what
# the post shows. A checksum of slug and answer makes a damaged row a miss (a damaged marker
# names no version, so its row is never found); it leaves the marker out so that a refill
# after an edit copies the other pointers to the new marker in one statement.
POINTERS = """
CREATE TABLE IF NOT EXISTS pointer (
    marker TEXT NOT NULL,
    slug TEXT NOT NULL,
    answer TEXT NOT NULL,
    crc INTEGER NOT NULL,
    PRIMARY KEY (marker, slug)
) WITHOUT ROWID
"""
TABLES = {"artifact", "filled", "answer", "pointer"}
# Connections made in a parent process before a fork: the child must neither use nor close
# them (closing could checkpoint or delete the parent's WAL), so they are kept here, unused.
_INHERITED: list[sqlite3.Connection] = []


def store_file(settings: Settings) -> Path | None:
    """Where the artifact store lives, or None when it is off (`CONTENTAPI_STORE_PATH`)."""
    choice = settings.store_path.strip()
    if choice.lower() == "off":
        return None
    if choice.lower() not in {"", "auto"}:
        return Path(choice)
    cache = settings.parse_cache.strip()
    if cache.lower() not in {"", "auto", "off"}:
        return Path(cache) / "artifacts.sqlite"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "contentapi" / "artifacts.sqlite"


def open_artifacts(settings: Settings) -> Artifacts | None:
    """The artifact store the settings name, or None when it is off."""
    path = store_file(settings)
    return Artifacts(ArtifactDB(path)) if path is not None else None


@dataclass
class _Connection:
    pid: int
    identity: tuple[int, int]
    sqlite: sqlite3.Connection


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        found = path.stat()
    except OSError:
        return None
    return (found.st_dev, found.st_ino)


class ArtifactDB:
    """`engine.artifacts.Backend` over one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_path = path.with_name(path.name + ".lock")
        self._local = threading.local()
        self._off_until = 0.0

    # --- connections ---------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection | None:
        """This thread's connection to the file now at `path`, opened (and the file made) when
        there is none, or when the file was deleted or replaced since."""
        current: _Connection | None = getattr(self._local, "connection", None)
        pid = os.getpid()
        if current is not None:
            if current.pid != pid:
                _INHERITED.append(current.sqlite)
            elif _identity(self.path) == current.identity:
                return current.sqlite
            else:
                with contextlib.suppress(sqlite3.Error):
                    current.sqlite.close()
            self._local.connection = current = None
        if time.monotonic() < self._off_until:
            return None
        try:
            made = self._open()
        except (sqlite3.Error, OSError) as error:
            if isinstance(error, sqlite3.Error) and _busy(error):
                return None  # busy for longer than the timeout: next time
            log.warning("artifact store %s is unusable for %ds: %s", self.path, BACKOFF, error)
            self._off_until = time.monotonic() + BACKOFF
            return None
        self._local.connection = made
        return made.sqlite

    def _open(self) -> _Connection:
        """Connect, making the file and its table when needed, or making it again when it is
        damaged. Under the opening lock, which every process takes to make or remove the file,
        so none can read a half-made file and take it for a damaged one."""
        with self._opening():
            try:
                return self._connect()
            except sqlite3.Error as error:
                if not _damaged(error):
                    raise
                log.warning("artifact store %s is damaged (%s): starting again", self.path, error)
                self._remove()
                return self._connect()

    @contextlib.contextmanager
    def _opening(self) -> Iterator[None]:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with self.path.with_name(self.path.name + ".open.lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _connect(self) -> _Connection:
        sqlite = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
        try:
            sqlite.execute("PRAGMA journal_mode=WAL")
            sqlite.execute("PRAGMA synchronous=NORMAL")
            version = sqlite.execute("PRAGMA user_version").fetchone()[0]
            query = "SELECT name FROM sqlite_master WHERE type = 'table'"
            tables = [name for (name,) in sqlite.execute(query)]
            if version != USER_VERSION or not set(tables) >= TABLES:
                with self._write(sqlite):
                    if version == POINTERS_CHANGED:  # what was filled has no pointers now
                        sqlite.execute("DROP TABLE IF EXISTS pointer")
                        sqlite.execute("DELETE FROM filled WHERE version LIKE 'answers:%'")
                    elif version not in (0, USER_VERSION):
                        sqlite.execute("DROP TABLE IF EXISTS artifact")
                        sqlite.execute("DROP TABLE IF EXISTS filled")
                        sqlite.execute("DROP TABLE IF EXISTS answer")
                        sqlite.execute("DROP TABLE IF EXISTS pointer")
                    sqlite.execute(SCHEMA)
                    sqlite.execute(FILLED)
                    sqlite.execute(ANSWERS)
                    sqlite.execute(POINTERS)
                    sqlite.execute(f"PRAGMA user_version={USER_VERSION}")
            identity = _identity(self.path)
            if identity is None:
                raise OSError(f"{self.path} vanished while it was opened")
        except BaseException:
            sqlite.close()
            raise
        return _Connection(os.getpid(), identity, sqlite)

    @contextlib.contextmanager
    def _write(self, sqlite: sqlite3.Connection) -> Iterator[None]:
        sqlite.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            sqlite.execute("ROLLBACK")
            raise
        sqlite.execute("COMMIT")

    def _failed(self, error: sqlite3.Error) -> None:
        """After an error: a busy file is left alone; a damaged one is removed (the next access
        makes it again); anything else drops this thread's connection, to be opened anew."""
        current: _Connection | None = getattr(self._local, "connection", None)
        if _damaged(error):
            log.warning("artifact store %s is damaged (%s): starting again", self.path, error)
            if current is not None:
                with contextlib.suppress(OSError), self._opening():
                    if _identity(self.path) == current.identity:  # not made again meanwhile
                        self._remove()
        elif _busy(error):
            return
        if current is not None:
            with contextlib.suppress(sqlite3.Error):
                current.sqlite.close()
        self._local.connection = None

    def _remove(self) -> None:
        """Delete the file with its WAL and shared-memory files (a stale WAL must never meet a
        new file). Processes that have the old file open notice on their next access."""
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(OSError):
                Path(f"{self.path}{suffix}").unlink()

    @contextlib.contextmanager
    def exclusive(self, wait: bool = True, what: str = "") -> Iterator[bool]:
        """Hold the store's lock file (or the one named `what`, beside it): one builder at a
        time, across processes. Yields whether the lock is held (always, when `wait`)."""
        self.lock_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.lock_path.with_name(f"{self.path.name}.{what}.lock") if what else self.lock_path
        with path.open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # --- Backend -------------------------------------------------------------------------------

    def get(self, key: str, kind: str) -> Row | None:
        sqlite = self._connection()
        if sqlite is None:
            return None
        try:
            found = sqlite.execute(
                "SELECT deps, crc, value FROM artifact WHERE key = ? AND kind = ?", (key, kind)
            ).fetchone()
        except sqlite3.Error as error:
            self._failed(error)
            return None
        if found is None:
            return None
        deps, crc, value = found
        if not isinstance(value, bytes) or not isinstance(deps, str) or zlib.crc32(value) != crc:
            return None
        return Row(key, kind, deps, value)

    def deps(self, keys: Sequence[str]) -> Mapping[tuple[str, str], str]:
        sqlite = self._connection()
        found: dict[tuple[str, str], str] = {}
        if sqlite is None:
            return found
        try:
            query = "SELECT key, kind, deps FROM artifact WHERE key IN ({marks})"
            for key, kind, deps in _in_batches(sqlite, query, keys):
                found[(key, kind)] = deps
        except sqlite3.Error as error:
            self._failed(error)
        return found

    def put(self, rows: Sequence[Row], wait: float = 1.0) -> bool:
        return self._put_many(
            "INSERT OR REPLACE INTO artifact (key, kind, deps, crc, value) VALUES (?, ?, ?, ?, ?)",
            [(r.key, r.kind, r.deps, zlib.crc32(r.value), r.value) for r in rows],
            wait,
        )

    def _put_many(self, statement: str, rows: Sequence[tuple[Any, ...]], wait: float) -> bool:
        """`statement` for each row, in one transaction, waiting at most `wait` seconds for
        another writer; False when there was nothing to write or the store was busy or
        unwritable."""
        sqlite = self._connection()
        if sqlite is None or not rows:
            return False
        try:
            sqlite.execute(f"PRAGMA busy_timeout={int(wait * 1000)}")
            with self._write(sqlite):
                sqlite.executemany(statement, rows)
        except sqlite3.Error as error:
            self._failed(error)
            return False
        return True

    def filled(self, version: str) -> bool:
        """Whether `mark_filled(version)` was recorded (and nothing pruned since)."""
        sqlite = self._connection()
        if sqlite is None:
            return False
        try:
            query = "SELECT 1 FROM filled WHERE version = ?"
            return sqlite.execute(query, (version,)).fetchone() is not None
        except sqlite3.Error as error:
            self._failed(error)
            return False

    def mark_filled(self, version: str) -> None:
        """Record that every artifact of `version` is stored (a failure only costs a check)."""
        sqlite = self._connection()
        if sqlite is None:
            return
        try:
            with self._write(sqlite):
                sqlite.execute("INSERT OR IGNORE INTO filled (version) VALUES (?)", (version,))
        except sqlite3.Error as error:
            self._failed(error)

    def prune(self, keep: set[str]) -> int:
        """Delete every artifact whose key is not in `keep`; how many were deleted."""
        sqlite = self._connection()
        if sqlite is None:
            return 0
        try:
            stored = {key for (key,) in sqlite.execute("SELECT DISTINCT key FROM artifact")}
            stale = [(key,) for key in stored - keep]
            sqlite.execute("PRAGMA busy_timeout=5000")
            with self._write(sqlite):
                sqlite.executemany("DELETE FROM artifact WHERE key = ?", stale)
                sqlite.execute("DELETE FROM filled")  # what was complete may not be now
        except sqlite3.Error as error:
            self._failed(error)
            return 0
        return len(stale)

    # --- answers (contentapi.web.prebuilt) ------------------------------------------------------

    def answer(self, key: str, coding: str) -> Answer | None:
        """A stored answer whose checksum holds, or None."""
        sqlite = self._connection()
        if sqlite is None:
            return None
        try:
            found = sqlite.execute(
                "SELECT deps, crc, head, body FROM answer WHERE key = ? AND coding = ?",
                (key, coding),
            ).fetchone()
        except sqlite3.Error as error:
            self._failed(error)
            return None
        if found is None:
            return None
        deps, crc, head, body = found
        if not (isinstance(deps, str) and isinstance(head, str) and isinstance(body, bytes)):
            return None
        answer = Answer(key, coding, deps, head, body)
        return answer if answer.crc() == crc else None

    def pointed(self, marker: str, slug: str, coding: str) -> Answer | None:
        """The answer the pointer of `slug` at `marker` names, in `coding`, when both rows'
        checksums hold."""
        sqlite = self._connection()
        if sqlite is None:
            return None
        try:
            found = sqlite.execute(
                "SELECT p.answer, p.crc, a.deps, a.crc, a.head, a.body FROM pointer p "
                "JOIN answer a ON a.key = p.answer "
                "WHERE p.marker = ? AND p.slug = ? AND a.coding = ?",
                (marker, slug, coding),
            ).fetchone()
        except sqlite3.Error as error:
            self._failed(error)
            return None
        if found is None:
            return None
        key, pointer_crc, deps, crc, head, body = found
        if not (isinstance(key, str) and isinstance(deps, str) and isinstance(head, str)):
            return None
        if not isinstance(body, bytes) or pointer_crc != pointer_checksum(slug, key):
            return None
        answer = Answer(key, coding, deps, head, body)
        return answer if answer.crc() == crc else None

    def put_pointers(self, marker: str, pointers: Sequence[tuple[str, str]]) -> bool:
        """Store (slug, answer key) pairs made for `marker` in one transaction."""
        sqlite = self._connection()
        if sqlite is None or not pointers:
            return False
        try:
            sqlite.execute("PRAGMA busy_timeout=5000")
            with self._write(sqlite):
                self._insert_pointers(sqlite, marker, pointers)
        except sqlite3.Error as error:
            self._failed(error)
            return False
        return True

    @staticmethod
    def _insert_pointers(
        sqlite: sqlite3.Connection, marker: str, pointers: Sequence[tuple[str, str]]
    ) -> None:
        sqlite.executemany(
            "INSERT OR REPLACE INTO pointer (marker, slug, answer, crc) VALUES (?, ?, ?, ?)",
            [(marker, slug, answer, pointer_checksum(slug, answer)) for slug, answer in pointers],
        )

    def carry_pointers(
        self, before: str, marker: str, pointers: Sequence[tuple[str, str]], expected: int
    ) -> bool:
        """In one transaction: copy every pointer of `before` whose answer is stored to
        `marker` (one statement), then store the (slug, answer key) `pointers` over them.
        True when `marker` then has `expected` pointers; otherwise nothing is kept."""
        sqlite = self._connection()
        if sqlite is None:
            return False
        try:
            sqlite.execute("PRAGMA busy_timeout=5000")
            sqlite.execute("BEGIN IMMEDIATE")
            try:
                sqlite.execute(
                    "INSERT OR REPLACE INTO pointer (marker, slug, answer, crc) "
                    "SELECT ?, p.slug, p.answer, p.crc FROM pointer p WHERE p.marker = ? "
                    "AND EXISTS (SELECT 1 FROM answer a WHERE a.key = p.answer)",
                    (marker, before),
                )
                self._insert_pointers(sqlite, marker, pointers)
                query = "SELECT COUNT(*) FROM pointer WHERE marker = ?"
                (count,) = sqlite.execute(query, (marker,)).fetchone()
            except BaseException:
                sqlite.execute("ROLLBACK")
                raise
            sqlite.execute("COMMIT" if count == expected else "ROLLBACK")
        except sqlite3.Error as error:
            self._failed(error)
            return False
        return bool(count == expected)

    def prune_unpointed(self, marker: str) -> int:
        """Delete every answer no pointer of `marker` names; how many rows went."""
        sqlite = self._connection()
        if sqlite is None:
            return 0
        try:
            sqlite.execute("PRAGMA busy_timeout=5000")
            with self._write(sqlite):
                gone = sqlite.execute(
                    "DELETE FROM answer WHERE key NOT IN "
                    "(SELECT answer FROM pointer WHERE marker = ?)",
                    (marker,),
                ).rowcount
        except sqlite3.Error as error:
            self._failed(error)
            return 0
        return int(gone)

    def prune_pointers(self, marker: str) -> None:
        """Delete the pointers of every other version and moment (of no use after a reload),
        and the records that their fills were complete."""
        sqlite = self._connection()
        if sqlite is None:
            return
        try:
            sqlite.execute("PRAGMA busy_timeout=5000")
            with self._write(sqlite):
                sqlite.execute("DELETE FROM pointer WHERE marker <> ?", (marker,))
                sqlite.execute(
                    "DELETE FROM filled WHERE version LIKE 'answers:%' AND version <> ?", (marker,)
                )
        except sqlite3.Error as error:
            self._failed(error)

    def answer_keys(self, keys: Sequence[str]) -> set[str]:
        """Which of `keys` have an answer stored (in some coding)."""
        sqlite = self._connection()
        found: set[str] = set()
        if sqlite is None:
            return found
        try:
            query = "SELECT DISTINCT key FROM answer WHERE key IN ({marks})"
            found.update(key for (key,) in _in_batches(sqlite, query, keys))
        except sqlite3.Error as error:
            self._failed(error)
        return found

    def put_answers(self, answers: Sequence[Answer], wait: float = 1.0) -> bool:
        """Store the answers in one transaction; False when the store was busy or unwritable."""
        return self._put_many(
            "INSERT OR REPLACE INTO answer (key, coding, deps, crc, head, body) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(a.key, a.coding, a.deps, a.crc(), a.head, a.body) for a in answers],
            wait,
        )

    def answer_count(self) -> int:
        """How many answers are stored (in any coding, each counted once)."""
        sqlite = self._connection()
        if sqlite is None:
            return 0
        try:
            (count,) = sqlite.execute("SELECT COUNT(DISTINCT key) FROM answer").fetchone()
        except sqlite3.Error as error:
            self._failed(error)
            return 0
        return int(count)

    def prune_answers(self, keep: set[str]) -> int:
        """Delete every answer whose key is not in `keep`; how many keys went."""
        sqlite = self._connection()
        if sqlite is None:
            return 0
        try:
            stored = {key for (key,) in sqlite.execute("SELECT DISTINCT key FROM answer")}
            stale = [(key,) for key in stored - keep]
            sqlite.execute("PRAGMA busy_timeout=5000")
            with self._write(sqlite):
                sqlite.executemany("DELETE FROM answer WHERE key = ?", stale)
        except sqlite3.Error as error:
            self._failed(error)
            return 0
        return len(stale)

    def size(self) -> int:
        """Bytes on disk, WAL included."""
        return sum(
            Path(f"{self.path}{suffix}").stat().st_size
            for suffix in ("", "-wal")
            if Path(f"{self.path}{suffix}").exists()
        )


@dataclass(frozen=True)
class Answer:
    """One stored answer: its key and coding, the asset lookups it made (JSON, as an
    artifact's `deps`), its status and headers (JSON) and its body."""

    key: str
    coding: str
    deps: str
    head: str
    body: bytes

    def crc(self) -> int:
        """A checksum of everything the row holds, its key and coding included: a damaged row,
        or one holding another answer, reads as a miss."""
        text = f"{self.key}\0{self.coding}\0{self.deps}\0{self.head}\0".encode()
        return zlib.crc32(self.body, zlib.crc32(text))


def pointer_checksum(slug: str, answer: str) -> int:
    return zlib.crc32(f"{slug}\0{answer}".encode())


def _damaged(error: sqlite3.Error) -> bool:
    name = getattr(error, "sqlite_errorname", "")
    return name in DAMAGED or (
        isinstance(error, sqlite3.DatabaseError)
        and ("malformed" in str(error) or "not a database" in str(error))
    )


def _busy(error: sqlite3.Error) -> bool:
    name = getattr(error, "sqlite_errorname", "")
    return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))


def _in_batches(sqlite: sqlite3.Connection, query: str, keys: Sequence[str]) -> Iterator[Any]:
    """The rows of `query` (whose `IN ({marks})` takes the keys) over every key, BATCH keys a
    statement: SQLite caps the variables one statement may have."""
    for start in range(0, len(keys), BATCH):
        batch = keys[start : start + BATCH]
        yield from sqlite.execute(query.format(marks=",".join("?" * len(batch))), batch)
