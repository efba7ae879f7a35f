"""Filling the artifact store: the analysis and HTML of every post not in it yet, computed in a
process pool (one process per core) and written by the one process that holds the store's lock.

`flask content build` runs this ahead of time (CI, container images); a running service runs
it in the background after every start and reload, so a request never waits for it (a request
for a post not built yet computes that post alone and stores it).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from contentapi.engine.artifacts import (
    Artifacts,
    Row,
    artifact_key,
    code_fingerprint,
    compute,
    from_portable,
    portable,
)
from contentapi.engine.index import Index, Parsed, changed_posts
from contentapi.engine.model import Post
from contentapi.service.artifact_db import ArtifactDB

log = logging.getLogger("contentapi")

CHUNK = 16  # posts per task: ~100 ms of work, small enough to spread evenly
POOL_MIN = 64  # fewer missing posts than this are built in this process: a pool costs ~0.5 s


@dataclass(frozen=True)
class BuildReport:
    """What one fill did."""

    posts: int
    missing: int
    built: int
    failed: tuple[tuple[str, str], ...]
    seconds: float
    jobs: int
    cpu_seconds: float = 0.0  # this process's and the workers' (their start-up included)

    def __str__(self) -> str:
        text = (
            f"{self.posts} post(s): {self.posts - self.missing} already stored, {self.built} "
            f"built in {self.seconds:.2f} s ({self.jobs} process(es), "
            f"{self.cpu_seconds:.2f} CPU s)"
        )
        return text + (f", {len(self.failed)} failed" if self.failed else "")


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def build(
    index: Index,
    artifacts: Artifacts,
    jobs: int | None = None,
    *,
    nice: int = 0,
    pool_min: int = POOL_MIN,
    previous: Index | None = None,
) -> BuildReport:
    """Compute and store every artifact the index's posts lack; one builder at a time (a second
    one waits, then finds nothing left to do). When `previous` (the index before a reload) was
    filled, only the posts parsed anew are checked (see `changed_posts`)."""
    jobs = jobs or cores()
    database = cast(ArtifactDB, artifacts.backend)
    started, cpu = time.perf_counter(), time.process_time()
    workers_cpu = 0.0
    failed: list[tuple[str, str]]
    done = filled_key(index)
    with database.exclusive():
        missing = [] if database.filled(done) else _missing(index, artifacts, database, previous)
        used = jobs if jobs > 1 and len(missing) >= max(pool_min, 2) else 1
        if not missing:
            built, failed = 0, []
        elif used > 1:
            built, failed, workers_cpu = _pooled(index, missing, database, used, nice)
        else:
            built, failed = _serial(index, missing, database)
        if not failed and built == len(missing):
            database.mark_filled(done)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu + workers_cpu
    report = BuildReport(len(index.posts), len(missing), built, tuple(failed), seconds, used, cpu)
    for path, reason in failed:
        log.error("artifact build failed for %s: %s", path, reason)
    return report


def _missing(
    index: Index, artifacts: Artifacts, database: ArtifactDB, previous: Index | None
) -> list[Post]:
    changed = None
    if previous is not None and database.filled(filled_key(previous)):
        changed = changed_posts(previous, index)
    return artifacts.missing(index) if changed is None else artifacts.missing(index, changed)


def filled_key(index: Index) -> str:
    """What a complete fill is recorded under: the index's version (every file, asset and
    setting) and the fingerprint of the code that computes artifacts."""
    return f"{index.version}:{code_fingerprint()}"


def _chunks(posts: Sequence[Post], size: int = CHUNK) -> Iterator[Sequence[Post]]:
    for start in range(0, len(posts), size):
        yield posts[start : start + size]


def _compute_all(index: Index, posts: Sequence[Post]) -> tuple[list[Row], list[tuple[str, str]]]:
    """Rows for every post; a post whose computation raises is reported, not fatal."""
    rows: list[Row] = []
    failed: list[tuple[str, str]] = []
    for post in posts:
        try:
            rows += compute(index, post)
        except Exception as error:  # one post that breaks the renderer must not stop a build
            failed.append((post.path, f"{type(error).__name__}: {error}"))
    return rows, failed


def _serial(
    index: Index, posts: Sequence[Post], database: ArtifactDB
) -> tuple[int, list[tuple[str, str]]]:
    built, failed = 0, []
    for chunk in _chunks(posts):
        rows, problems = _compute_all(index, chunk)
        count, problems = _write(database, rows, chunk, problems)
        built += count
        failed += problems
    return built, failed


def _write(
    database: ArtifactDB, rows: list[Row], chunk: Sequence[Post], failed: list[tuple[str, str]]
) -> tuple[int, list[tuple[str, str]]]:
    """Store a chunk's rows: how many posts are built, and the failures (all of them when the
    store refused the write)."""
    if database.put(rows, wait=5.0):
        return len(chunk) - len(failed), failed
    bad = {path for path, _ in failed}
    unwritten = [
        (p.path, "the artifact store refused the write") for p in chunk if p.path not in bad
    ]
    return 0, failed + unwritten


# --- the pool ----------------------------------------------------------------------------------

_WORKER_PORTABLE: dict[str, Any] = {}
_WORKER_DATABASE: ArtifactDB | None = None


def _start_worker(index: dict[str, Any], path: str, nice: int) -> None:
    global _WORKER_PORTABLE, _WORKER_DATABASE
    _WORKER_PORTABLE = index
    _WORKER_DATABASE = ArtifactDB(Path(path))
    if nice:
        os.nice(nice)


_Done = tuple[int, list[tuple[str, str]], int, float]


def _work(posts: Sequence[Post], parsed: Sequence[Parsed]) -> _Done:
    """Compute and store a chunk: how many posts were built, the failures, the worker's pid
    and the CPU time it used so far. `parsed` carries the chunk's bodies (the index sent at
    start has none: see `portable`). The worker writes its rows itself (SQLite lets one writer
    at a time in, the others wait), so the serving process never holds them: a cold fill of
    10,000 posts used to leave it with a few hundred MB of freed but unreturned heap."""
    assert _WORKER_PORTABLE and _WORKER_DATABASE, "the worker was started without an index"
    index = from_portable(_WORKER_PORTABLE, parsed)
    rows, failed = _compute_all(index, posts)
    count, failed = _write(_WORKER_DATABASE, rows, posts, failed)
    return count, failed, os.getpid(), time.process_time()


def _pooled(
    index: Index, posts: Sequence[Post], database: ArtifactDB, jobs: int, nice: int
) -> tuple[int, list[tuple[str, str]], float]:
    """Workers compute and write (one short transaction per task); this process hands out
    the chunks and adds up what was built."""
    # forkserver: workers start from a clean process, never a fork of a threaded server.
    context = multiprocessing.get_context("forkserver")
    chunks = _chunks(posts)
    built, failed = 0, []
    cpu: dict[int, float] = {}
    with ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=context,
        initializer=_start_worker,
        initargs=(portable(index), str(database.path), nice),
    ) as pool:
        pending: dict[Future[_Done], Sequence[Post]] = {}

        def submit() -> None:
            chunk = next(chunks, None)
            if chunk is not None:
                bodies = [index.parsed[post.path] for post in chunk]
                pending[pool.submit(_work, chunk, bodies)] = chunk

        for _ in range(jobs * 3):
            submit()
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                pending.pop(future)
                count, problems, pid, used = future.result()
                cpu[pid] = max(used, cpu.get(pid, 0.0))
                built += count
                failed += problems
                submit()
    return built, failed, sum(cpu.values())


def fill_in_background(
    index: Index, artifacts: Artifacts, previous: Index | None = None
) -> BuildReport | None:
    """What a running service does after a start or reload: fill what is missing, at a lower
    priority than requests. Never raises (a failed fill only means requests compute)."""
    try:
        report = build(index, artifacts, nice=10, previous=previous)
    except Exception:
        log.exception("filling the artifact store failed; posts are computed on request")
        return None
    if report.missing:
        log.info("artifact store: %s", report, extra={"event": "artifacts"})
    return report


def prune(index: Index, artifacts: Artifacts) -> int:
    """Delete stored artifacts that no post of the index uses; how many keys went."""
    database = cast(ArtifactDB, artifacts.backend)
    with database.exclusive():
        return database.prune({artifact_key(index, post) for post in index.posts})
