"""Prebuilt answers: each post's default detail, finished, compressed and shared by every worker.

`GET /api/v1/posts/{slug}` with no query, outside preview, is what a crawler, a CDN fill, a
static build or a mobile sync asks for each post once: each request is then a miss in every
worker's response cache. After each warm-up (the artifact fill, then the search index), one
worker's children (one per core, at a lower priority) store that answer for every visible post
in the artifact store, in br and in gzip, with its status and headers (ETag and Last-Modified
included), and a pointer per visible slug at that index version and moment, so a request
answers from one row (pointer and answer joined), as cheaply as a response-cache hit.

A key names everything the answer shows: a fingerprint of the code and libraries that make it,
of the settings an answer can show (`SETTINGS`), and of the base URL; and of each post it
shows (the post, its older and newer neighbours, its related posts, in order), that post's
artifact key (its file, the build options, the shortcode templates, the engine's code) and
every value of the post as parsed (title, dates, slug, term names...). What an answer's
artifacts read from the rest of the folder (a media file, an image's size, a linked post's
slug) is recorded with it, as each artifact records it, and checked on every read. So an
edit, a neighbour or related post edited, a term renamed, a post going public (new
neighbours), a setting or the base URL changed each give new keys, and only the answers that
show what changed are built again; a row that does not match its key, or whose lookups answer
otherwise now, is a miss. A miss, an answer in identity (rare: clients that take neither br
nor gzip) or a request with a query is served by the view as ever.

Without `CONTENTAPI_BASE_URL` nothing is prebuilt: links then follow each request's Host.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import multiprocessing
import os
import sys
import threading
import time
import zlib
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any, Literal, cast

from flask import Flask, Response, g

from contentapi.engine.artifacts import (
    BRIEF,
    HTML,
    OUTLINE,
    Memo,
    _fresh,
    artifact_key,
    media_origin,
)
from contentapi.engine.artifacts import code_fingerprint as engine_fingerprint
from contentapi.engine.index import Index
from contentapi.engine.model import Post
from contentapi.outputs.query import Published, published
from contentapi.service.artifact_db import Answer, ArtifactDB
from contentapi.service.builder import cores
from contentapi.service.store import MOMENT, ContentStore, store_of
from contentapi.settings import Settings
from contentapi.web import compression, headers, routes
from contentapi.web.compression import Coding
from contentapi.web.request_state import _PINNED, route_path

log = logging.getLogger("contentapi")

LAYOUT = 1  # of keys, heads and deps; the code fingerprint covers everything else
ENDPOINT = "posts.detail"
STAMP_MEMO_SIZE = 32768  # post stamps an index keeps (~0.2 KB each)
CHUNK = 64  # answers per write
LIBRARIES = ("flask", "werkzeug", "brotli", "flask-cors")
NICE = 10  # the building process yields the CPU to requests
REFILL_MOST = 32  # answers a worker builds itself after an edit; more are left to a child
# Each setting, by whether an answer can show it ("key": part of every key) or not ("none":
# where files live, logging, caching, tokens and secrets, which only decide whether an answer
# is given or how long it is kept, and must not reach a key on disk). A test fails when a
# setting is added without deciding.
SETTINGS: Mapping[str, Literal["key", "none"]] = {
    **dict.fromkeys(
        (
            "timezone",
            "strict",
            "raw_html",
            "asset_base_url",
            "base_url",
            "iframe_hosts",
            "strip_title_heading",
            "words_per_minute",
            "excerpt_length",
            "max_post_bytes",
            "page_types",
            "page_folders",
            "site_title",
            "site_description",
            "default_per_page",
            "max_per_page",
            "site_url",
            "permalink",
            "category_permalink",
            "tag_permalink",
            "feed_items",
            "site_language",
            "site_author",
            "compress_min_size",
        ),
        "key",
    ),
    **dict.fromkeys(
        (
            "content_dir",
            "render_cache_size",
            "watch",
            "admin_token",
            "log_format",
            "log_level",
            "parse_cache",
            "store_path",
            "cache_type",
            "cache_redis_url",
            "cache_timeout",
            "cache_max_age",
            "cache_stale_while_revalidate",
            "cors_origins",
            "preview_token",
            "trusted_hosts",
            "cache_max_bytes",
            "secret_key",
            "runtime_dir",
            "search_backend",
            "search_cache",
            "webhook_urls",
            "webhook_secret",
            "webhook_timeout",
            "webhook_retries",
            "webhook_retry_delay",
            "changes_stream_seconds",
        ),
        "none",
    ),
}
# Headers of one response that are not part of the stored answer: those `headers.finish` and
# the after-request hooks set anew on every request, and the public version (of the whole
# index, where an answer only depends on what it shows).
PER_REQUEST = {"content-length", "cache-control", "vary", "date", "set-cookie", "x-content-version"}
Entry = tuple[int, tuple[tuple[str, str], ...], bytes]


@cache
def code_fingerprint() -> str:
    """The code that makes an answer (every module of this package, the engine's libraries)
    and the libraries that shape its bytes (JSON, ETag, compression)."""
    hasher = hashlib.sha256(f"{LAYOUT}\n{engine_fingerprint()}\n{sys.version_info[:2]}\n".encode())
    for name in LIBRARIES:
        try:
            hasher.update(f"{name}={metadata.version(name)}\n".encode())
        except metadata.PackageNotFoundError:  # pragma: no cover - installed with the package
            hasher.update(f"{name}=?\n".encode())
    hasher.update(f"zlib={zlib.ZLIB_RUNTIME_VERSION}\n".encode())
    package = Path(__file__).resolve().parent.parent
    for source in sorted(package.rglob("*.py")):
        hasher.update(f"{source.relative_to(package)}\0".encode() + source.read_bytes())
    return hasher.hexdigest()


_CONTEXTS: dict[tuple[int, str], tuple[Settings, str]] = {}
_CONTEXTS_LOCK = threading.Lock()


def context_fingerprint(settings: Settings, base_url: str) -> str:
    """What every answer of a deployment depends on: the code, the settings an answer can show
    (`SETTINGS`) and the base URL."""
    found = _CONTEXTS.get((id(settings), base_url))
    if found is not None and found[0] is settings:
        return found[1]
    shown = [(name, getattr(settings, name)) for name, use in SETTINGS.items() if use == "key"]
    text = f"{code_fingerprint()}\n{shown!r}\n{base_url}\n"
    made = hashlib.sha256(text.encode()).hexdigest()
    with _CONTEXTS_LOCK:
        if len(_CONTEXTS) > 16:
            _CONTEXTS.clear()
        _CONTEXTS[(id(settings), base_url)] = (settings, made)
    return made


def post_stamp(index: Index, post: Post) -> str:
    """What an answer shows of `post`, as a hash: its artifact key (file, build options,
    shortcode templates, engine code) and every value it was parsed into (slug, term names,
    dates...). Kept per index (the most recent STAMP_MEMO_SIZE)."""
    memo: Memo[tuple[Post, str]] = index.memo(("answer stamps",), lambda: Memo(STAMP_MEMO_SIZE))
    found = memo.get(post.path)
    if found is not None and found[0] is post:
        return found[1]
    # Dates as ISO text: a post read again and one from the parse cache hold the same moment
    # and offset in tzinfo objects of other types (a ZoneInfo, a fixed offset), and both
    # answer alike, so both have one key.
    dates = [moment.isoformat() if moment else "" for moment in (post.date, post.updated)]
    plain = dataclasses.replace(post, date=None, updated=None)
    text = f"{artifact_key(index, post)}\0{dates}\0{plain!r}"
    stamp = hashlib.sha256(text.encode()).hexdigest()[:32]
    memo[post.path] = (post, stamp)
    return stamp


def shown_posts(shown: Published, post: Post) -> list[Post | None]:
    """The posts a detail shows, in the order of its key: itself, older, newer, related."""
    older, newer = shown.neighbours(post)
    return [post, older, newer, *shown.related(post)]


def answer_key(index: Index, shown: Published, post: Post, context: str) -> str:
    """The key of `post`'s default public detail (see the module's docstring)."""
    stamps = [post_stamp(index, p) if p is not None else "-" for p in shown_posts(shown, post)]
    return hashlib.sha256(f"{context}\n{' '.join(stamps)}".encode()).hexdigest()[:40]


def marker_of(context: str, index: Index | str, published_count: int) -> str:
    """What names one index version (an index, or its version) at one publication moment,
    for one deployment: the mark of a complete fill, and what pointers are made for. Two
    indexes of one version are alike (the response cache relies on it too), so both the
    posts shown and each key follow."""
    version = index if isinstance(index, str) else index.version
    text = f"{context}\n{version}\n{published_count}"
    return "answers:" + hashlib.sha256(text.encode()).hexdigest()[:40]


def database(store: ContentStore) -> ArtifactDB | None:
    artifacts = store.artifacts
    return None if artifacts is None else cast(ArtifactDB, artifacts.backend)


def find(
    store: ContentStore, index: Index, now: datetime, slug: str, coding: Coding, base_url: str
) -> Entry | None:
    """The stored answer to the default public detail of `slug` in `coding`, or None (nothing
    stored, no such post, a coding not stored, or lookups that answer otherwise now)."""
    db = database(store)
    if db is None or coding not in compression.CODINGS or media_origin(base_url) is None:
        return None
    context = context_fingerprint(store.settings, base_url)
    marker = marker_of(context, index, index.published_count(now))
    found = db.pointed(marker, slug, coding)
    if found is None:  # not filled for this version and moment yet: work the key out
        shown = published(index, now)
        post = shown.shows(slug)
        if post is None:
            return None
        found = db.answer(answer_key(index, shown, post, context), coding)
    if found is None or not _fresh(index, found.deps):
        return None
    try:
        status, pairs = json.loads(found.head)
        entry: Entry = (int(status), tuple((str(k), str(v)) for k, v in pairs), found.body)
    except (ValueError, TypeError):
        return None
    return entry


# --- building ----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FillReport:
    """What one fill (or one process's share of it) did."""

    marker: str  # the index version and moment it filled, as `_marker` names it
    posts: int
    missing: int
    built: int
    skipped: int
    seconds: float
    cpu_seconds: float

    @property
    def complete(self) -> bool:
        return self.skipped == 0

    def __str__(self) -> str:
        return (
            f"{self.posts} post(s): {self.posts - self.missing} answers already stored, "
            f"{self.built} built in {self.seconds:.2f} s ({self.cpu_seconds:.2f} CPU s)"
            + (f", {self.skipped} left to requests" if self.skipped else "")
        )


def _marker(store: ContentStore, index: Index) -> tuple[ArtifactDB, str] | None:
    """The store and the mark a complete fill of `index` leaves in it, or None when nothing
    is to be prebuilt (no store, no base URL, or one stored HTML cannot take)."""
    base_url = store.settings.base_url
    db = database(store)
    if db is None or not base_url or media_origin(base_url) is None:
        return None
    context = context_fingerprint(store.settings, base_url)
    return db, marker_of(context, index, index.published_count(store.clock()))


def fill(app: Flask, store: ContentStore, index: Index) -> FillReport | None:
    """Store the default detail of every post `index` shows now that the store lacks, in this
    process; one process at a time (another finding the lock taken leaves it to that one)."""
    found = _marker(store, index)
    if found is None or found[0].filled(found[1]):
        return None
    with found[0].exclusive(wait=False, what="answers") as held:
        if not held:
            return None
        report = fill_part(app, store, index)
        if report is not None and report.complete and report.marker == found[1]:
            found[0].mark_filled(found[1])
        return report


def fill_elsewhere(store: ContentStore, index: Index, app: Flask | None = None) -> bool:
    """What a serving process does after each artifact fill (`ContentStore.after_fill`): when
    answers are missing and no other process is storing them, store them: after an edit
    `patch_index` applied, in this process when little is to be done (`refill`, given the
    `app`); otherwise from processes of their own (one per core on a first fill, each a share
    of the posts; at a lower priority), waited for on the warm-up thread. Requests never
    wait, and the serving process keeps none of the memory a full fill uses. True when every
    answer is stored."""
    found = _marker(store, index)
    if found is None:
        return False
    db, marker = found
    if db.filled(marker):
        _log_stored(index)
        return True
    with db.exclusive(wait=False, what="answers") as held:
        if not held:
            return False
        if app is not None:
            try:
                report = refill(app, store, index)
            except Exception:  # then the full fill below does it
                log.exception("refilling answers after an edit failed")
                report = None
            if report is not None:
                _log_stored(index)
                return True
        # One process per core when most answers are missing (a first start); one otherwise
        # (after an edit, a few answers are; each process starts an app of its own).
        jobs = cores() if db.answer_count() < len(index.posts) // 2 else 1
        # forkserver: processes start clean, never as a fork of a threaded server.
        context = multiprocessing.get_context("forkserver")
        try:
            with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
                parts = list(
                    pool.map(_fill_in_child, [store.settings] * jobs, range(jobs), [jobs] * jobs)
                )
        except Exception:  # a failed fill only means requests do the work
            log.exception("prebuilding answers failed")
            return False
        if all(p is not None and p.complete and p.marker == marker for p in parts):
            db.mark_filled(marker)
        reports = [p for p in parts if p is not None]
        if any(report.missing for report in reports):
            total = FillReport(
                marker,
                sum(r.posts for r in reports),
                sum(r.missing for r in reports),
                sum(r.built for r in reports),
                sum(r.skipped for r in reports),
                max(r.seconds for r in reports),
                sum(r.cpu_seconds for r in reports),
            )
            log.info("prebuilt answers (%d processes): %s", jobs, total, extra={"event": "answers"})
        if db.filled(marker):
            _log_stored(index)
            return True
        return False


def refill(app: Flask, store: ContentStore, index: Index) -> FillReport | None:
    """Store the answers of `index`, made by `patch_index` from an index whose answers are
    all stored (at this moment), with work in proportion to the edit: by the process the lock
    is held for, with `app`'s views and `index`'s memos (what requests share). None when it
    does not apply (nothing recorded: the full fill does it).

    A patch keeps every post's slug, date, draft state and terms, so what each post shows
    (its neighbours, its related posts: positions in the same lists) is unchanged, and of the
    stamps in a key only those of the edited posts differ (an artifact key depends on the
    file, the options and the templates, which a patch keeps). So the keys that can differ
    are those of the edited posts, of their neighbours and of posts whose related lists can
    include one (`Published.related_to`): of those, the keys of the answers that show an
    edited post are worked out, their missing answers built (at most REFILL_MOST, else a
    child process does it), and every other pointer is copied from the previous version's
    in one statement."""
    found = _marker(store, index)
    patch = index.patch
    if found is None or patch is None:
        return None
    db, marker = found
    started, cpu = time.perf_counter(), time.process_time()
    now = store.clock()
    count = index.published_count(now)
    context = context_fingerprint(store.settings, store.settings.base_url)
    before = marker_of(context, patch.previous, count)
    if marker != marker_of(context, index, count) or not db.filled(before):
        return None
    shown = published(index, now)
    edited = [post for _, post in patch.pairs]
    slugs = {post.slug for post in edited}
    posts = [  # of those that can, the answers that show an edited post
        shown.posts[at]
        for at in sorted(affected(shown, edited))
        if any(
            other is not None and other.slug in slugs
            for other in shown_posts(shown, shown.posts[at])
        )
    ]
    keys = {post.path: answer_key(index, shown, post, context) for post in posts}
    stored = db.answer_keys(list(keys.values()))
    missing = [post for post in posts if keys[post.path] not in stored]
    if len(missing) > REFILL_MOST:
        return None
    per_post = len(compression.CODINGS)
    answers = _build(app, store, index, shown, missing, keys, now) if missing else []
    if len(answers) != per_post * len(missing):
        return None  # some left to requests: the full fill says so
    if answers and not db.put_answers(answers, wait=5.0):
        return None
    pointers = [(post.slug, keys[post.path]) for post in posts]
    if not db.carry_pointers(before, marker, pointers, len(shown.posts)):
        return None
    db.mark_filled(marker)
    db.prune_pointers(marker)
    if db.answer_count() > 2 * len(shown.posts) + 64:  # stale answers from older versions
        db.prune_unpointed(marker)
    report = FillReport(
        marker,
        len(posts),
        len(missing),
        len(missing),
        0,
        time.perf_counter() - started,
        time.process_time() - cpu,
    )
    log.info(
        "prebuilt answers after an edit: %s; the %d other pointers carried over",
        report,
        len(shown.posts) - len(posts),
        extra={"event": "answers"},
    )
    return report


def affected(shown: Published, changed: Sequence[Post]) -> set[int]:
    """Positions of the visible posts whose answers can show one of `changed` when nothing
    else changed, nor where any post is listed (a patch): each visible one, its older and
    newer neighbours, and the posts whose related lists can include it."""
    found: set[int] = set()
    last = len(shown.posts) - 1
    for post in changed:
        at = shown.positions.get(post.slug)
        if at is None:
            continue  # shown by no answer
        found.update(range(max(0, at - 1), min(last, at + 1) + 1))
        found |= shown.related_to(post)
    return found


_LOGGED: set[str] = set()


def _log_stored(index: Index) -> None:
    """Say once per index version that every answer is stored (the benchmark waits for it)."""
    if index.version not in _LOGGED:
        _LOGGED.add(index.version)
        log.info(
            "prebuilt answers %s: every answer stored", index.version, extra={"event": "answers"}
        )


def _fill_in_child(settings: Settings, part: int, parts: int) -> FillReport | None:
    """One of the processes `fill_elsewhere` starts (it holds the lock for them): an app of
    its own over the same folder and store, without watcher or warm-up, that stores its share
    of the answers and exits."""
    from contentapi.web.app import create_app  # the app factory imports this module

    os.nice(NICE)
    logging.getLogger("contentapi").setLevel(logging.WARNING)  # the parent reports
    app = create_app({"SEARCH_WARM_UP": False}, settings=settings.replace(watch="false"))
    store = store_of(app)
    return fill_part(app, store, store.index, part, parts)


def fill_part(
    app: Flask, store: ContentStore, index: Index, part: int = 0, parts: int = 1
) -> FillReport | None:
    """Store the missing answers of share `part` of `parts` of the posts `index` shows now
    (consecutive posts, whose neighbours and related posts are mostly each other), by a
    process the lock is held for. Runs against a copy of the index with memos of its own."""
    found = _marker(store, index)
    if found is None:
        return None
    db = found[0]
    started, cpu = time.perf_counter(), time.process_time()
    now = store.clock()
    context = context_fingerprint(store.settings, store.settings.base_url)
    marker = marker_of(context, index, index.published_count(now))  # this moment's
    work = _fresh_memos(index, len(index.posts))
    shown = published(work, now)
    count = len(shown.posts)
    mine = shown.posts[part * count // parts : (part + 1) * count // parts]
    keys = {post.path: answer_key(work, shown, post, context) for post in mine}
    stored = db.answer_keys(list(keys.values()))
    missing = [post for post in mine if keys[post.path] not in stored]
    built = skipped = 0
    per_post = len(compression.CODINGS)
    for start in range(0, len(missing), CHUNK):
        chunk = missing[start : start + CHUNK]
        answers = _build(app, store, work, shown, chunk, keys, now)
        skipped += len(chunk) - len(answers) // per_post
        if answers and db.put_answers(answers, wait=5.0):
            built += len(answers) // per_post
            stored.update(answer.key for answer in answers)
        else:
            skipped += len(answers) // per_post
    pointers = [(post.slug, keys[post.path]) for post in mine if keys[post.path] in stored]
    if not db.put_pointers(marker, pointers):
        skipped += len(pointers)
    if part == 0:
        db.prune_pointers(marker)
        if db.answer_count() > 2 * count + 64:  # stale answers from older versions
            db.prune_answers({answer_key(work, shown, post, context) for post in shown.posts})
    report = FillReport(
        marker,
        len(mine),
        len(missing),
        built,
        skipped,
        time.perf_counter() - started,
        time.process_time() - cpu,
    )
    if missing:
        log.info("prebuilt answers: %s", report, extra={"event": "answers"})
    return report


def _build(
    app: Flask,
    store: ContentStore,
    index: Index,
    shown: Published,
    posts: Sequence[Post],
    keys: dict[str, str],
    now: datetime,
) -> list[Answer]:
    """The answers of `posts` in every stored coding, each with the lookups its artifacts
    made; a post whose artifacts are not all stored and fresh is left to requests."""
    artifacts = store.artifacts
    assert artifacts is not None
    needed: dict[str, list[tuple[str, str]]] = {}
    for post in posts:
        own = artifact_key(index, post)
        others = [artifact_key(index, p) for p in shown_posts(shown, post) if p is not None]
        needed[post.path] = [(own, OUTLINE), (own, HTML), *((key, BRIEF) for key in others)]
    wanted = sorted({key for pairs in needed.values() for key, _ in pairs})
    deps = artifacts.backend.deps(wanted)
    checked: dict[str, list[list[Any]] | None] = {}  # each row's lookups, once per chunk
    made: list[Answer] = []
    for post in posts:
        lookups = _lookups(index, [deps.get(pair) for pair in needed[post.path]], checked)
        if lookups is None:
            continue
        entry = _render(app, store, index, post, now)
        if entry is None or (post.path, post.digest) in store._failed:
            continue
        for coding in compression.CODINGS:
            status, pairs, body = _encoded(entry, coding, store.settings.compress_min_size)
            head = json.dumps([status, pairs], ensure_ascii=False, separators=(",", ":"))
            made.append(Answer(keys[post.path], coding, lookups, head, body))
    return made


def _fresh_memos(index: Index, posts: int) -> Index:
    """A copy of `index` with memos of its own, its summaries memo large enough for every
    post (each is shown by about eight answers: itself, as a neighbour and as related)."""
    work = dataclasses.replace(index, _derived={}, _memo={}, _memo_lock=threading.Lock())
    work.memo(("summaries",), lambda: Memo(posts + 64))  # the key `serialize.summary` uses
    return work


def _lookups(
    index: Index, found: Sequence[str | None], checked: dict[str, list[list[Any]] | None]
) -> str | None:
    """The union of the artifacts' lookups as one `deps` value, or None when an artifact is
    missing, stale, or two disagree. `checked` keeps each row's lookups (None: stale)."""
    union: dict[tuple[str, str], object] = {}
    for deps in found:
        if deps is None:
            return None
        if deps not in checked:
            checked[deps] = json.loads(deps) if _fresh(index, deps) else None
        listed = checked[deps]
        if listed is None:
            return None
        for lookup, path, answer in listed:
            if union.setdefault((lookup, path), answer) != answer:
                return None
    merged = [[lookup, path, answer] for (lookup, path), answer in sorted(union.items())]
    return json.dumps(merged, ensure_ascii=False, separators=(",", ":"))


def _render(
    app: Flask, store: ContentStore, index: Index, post: Post, now: datetime
) -> Entry | None:
    """The answer as the view and `headers.finish` make it for a request with no query and no
    credentials, answered from `index` at `now`, before compression. The request is made to
    the base URL, so a host list (`CONTENTAPI_TRUSTED_HOSTS`) lets it through as it does the
    clients' own."""
    path = route_path(app.url_map, ENDPOINT, (("slug", post.slug),))
    environ = {MOMENT: now}
    base = store.settings.base_url
    with app.test_request_context(path, base_url=base, environ_overrides=environ):
        setattr(g, _PINNED, index)
        routes.parse_declared_query()
        response = app.make_response(cast(Response, app.view_functions[ENDPOINT](slug=post.slug)))
        response = headers.finish(response)
        if response.status_code != 200:
            return None
        pairs = tuple((k, v) for k, v in response.headers.items() if k.lower() not in PER_REQUEST)
        return response.status_code, pairs, response.get_data()


def _encoded(entry: Entry, coding: Coding, min_size: int) -> Entry:
    """The answer in `coding`, as the response cache stores a miss (`compression.encode`)."""
    status, pairs, body = entry
    response = Response(body, status=status, headers=list(pairs))
    compression.encode(response, coding, min_size)
    encoded = tuple((k, v) for k, v in response.headers.items() if k.lower() not in PER_REQUEST)
    return response.status_code, encoded, response.get_data()
