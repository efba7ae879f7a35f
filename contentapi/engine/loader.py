"""The loader: the only code that reads the content folder."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import hashlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import pickle
import stat
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, BinaryIO, cast

from contentapi.engine import images, parsecache
from contentapi.engine.index import (
    ArtifactSource,
    BuildOptions,
    Index,
    Parsed,
    build_index,
    parse_source,
    patch_index,
)
from contentapi.engine.model import (
    ContentIssue,
    FileStamp,
    ImageFile,
    Post,
    SourceFile,
    Sources,
    TermRef,
)
from contentapi.engine.shortcodes import FOLDER as SHORTCODES_FOLDER
from contentapi.settings import Settings

POST_SUFFIXES = (".md", ".markdown")
SETTLE_NS = 2_000_000_000  # a file changed this recently before a scan is read again next time
DEFAULT_MAX_POST_BYTES = BuildOptions.max_post_bytes
log = logging.getLogger("contentapi")


# Jekyll keeps a site's posts in `_posts`: the one `_` folder that holds content, so pointing
# the API at a Jekyll site's root serves its posts (and skips `_site`, `_layouts`, `_drafts`).
CONTENT_UNDERSCORE_FOLDERS = frozenset({"_posts"})


def is_hidden(name: str) -> bool:
    """A file or folder the loader skips (`.git`, `.obsidian`, `_drafts` style), and so do
    the watcher and `flask content new`."""
    return name.startswith((".", "_")) and name not in CONTENT_UNDERSCORE_FOLDERS


def _read_at_most(path: str, limit: int) -> bytes:
    """The file's bytes, but never more than `limit + 1`: enough to tell it is too large
    without loading a 50 MB file into memory.

    The read asks for the size the file has (plus one byte, to see it grew), not for
    `limit + 1`: a 2 MiB request is an `mmap` of its own that stays one after the bytes
    shrink to the file's 7 KB, and 65,530 of them (Linux's `vm.max_map_count`) are reached
    at about 65,000 posts, after which every allocation of a forked process fails."""
    with open(path, "rb", buffering=0) as file:  # noqa: PTH123 - a path string from os.scandir
        size = os.fstat(file.fileno()).st_size
        data = file.read(min(size, limit) + 1)
        if len(data) > size:  # it grew since: what there is now, up to the limit
            data += file.read(limit + 1 - len(data))
        return data


def read_image(
    path: str, relative: str, known: Mapping[str, ImageFile], by_digest: Mapping[str, ImageFile]
) -> ImageFile:
    """An image file's facts, learned once per content: a file whose size and modification
    time are unchanged is not read again, and bytes seen before (a moved or re-saved image)
    are not decoded again."""
    info = Path(path).stat()
    earlier = known.get(relative)
    if earlier is not None and (earlier.size, earlier.mtime_ns) == (info.st_size, info.st_mtime_ns):
        return earlier
    data = b"" if info.st_size > images.MAX_BYTES else _read_at_most(path, images.MAX_BYTES)
    if info.st_size > images.MAX_BYTES or len(data) > images.MAX_BYTES:
        return images.too_large(relative, max(info.st_size, len(data)), info.st_mtime_ns)
    digest = hashlib.sha256(data).hexdigest()
    same = by_digest.get(digest)
    if same is not None:
        return ImageFile(relative, len(data), info.st_mtime_ns, digest, same.facts, same.problem)
    return images.describe(relative, data, len(data), info.st_mtime_ns)


def read_sources(
    root: Path,
    max_post_bytes: int = DEFAULT_MAX_POST_BYTES,
    known_images: Mapping[str, ImageFile] | None = None,
    known_files: Mapping[str, tuple[FileStamp, str]] | None = None,
) -> Sources:
    """Every post file's bytes and every other file's path under `root`, recursively, with
    the facts of the images among them (`known_images`: the last ones, reused if unchanged).

    `known_files` are the stamps and digests of the post files the last index read: a file
    whose stamp is the same is not read again (`SourceFile.unchanged`), so a reload of a
    large folder costs one `stat` per unchanged file. A file changed less than
    `SETTLE_NS` before this scan gets no stamp, so the next scan reads it again: file times
    are coarser than the clock, and an edit of the same size in the same tick as the scan
    would otherwise go unseen (git's "racily clean" entries).

    Hidden files and folders (`.git`, `.obsidian`, `_drafts` style) are skipped. Links are
    followed only inside the folder: a link out of it, a dangling link, a link loop
    (`ln -s .. posts/up`) and a folder already read through another path are skipped with a
    warning. A post file is read up to `max_post_bytes + 1` bytes (the index refuses it as
    too large). A file that vanishes or cannot be read while the folder is scanned (an edit,
    a `git pull`) is skipped with a warning: the watcher's next reload sees it again.
    `_shortcodes/*.html` at the top are the site's shortcode templates.
    """
    known = known_images or {}
    seen_files = known_files or {}
    settled = time.time_ns() - SETTLE_NS
    by_digest = {image.digest: image for image in known.values()}
    found: list[ImageFile] = []
    root = Path(os.path.realpath(root))
    files: list[SourceFile] = []
    assets: set[str] = set()
    linked: set[str] = set()
    for relative, entry in _walk(root):
        try:
            if entry.name.lower().endswith(POST_SUFFIXES):
                files.append(_post_file(entry, relative, seen_files, max_post_bytes, settled))
                if entry.is_symlink() or entry.stat().st_nlink > 1:
                    linked.add(relative)
            else:
                assets.add(relative)
                if images.is_image(relative):
                    found.append(read_image(entry.path, relative, known, by_digest))
        except OSError as exc:
            _skip(root, relative, f"cannot be read ({exc.strerror or exc})")
    return Sources(
        tuple(files),
        frozenset(assets),
        _shortcode_templates(root, max_post_bytes),
        tuple(sorted(found, key=lambda image: image.path)),
        frozenset(linked),
    )


def _walk(root: Path) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """Every regular file under `root` (a real path) the loader reads, with its path relative
    to `root`, by the rules `read_sources` describes; what breaks them is skipped with a
    warning."""
    if not root.is_dir():
        raise FileNotFoundError(f"content folder {root} does not exist")
    seen = {_identity(root)}
    pending = [("", root)]  # (folder relative to root, "" or ending in "/"; its real location)
    while pending:
        prefix, real_folder = pending.pop()
        try:
            entries = sorted(os.scandir(real_folder), key=lambda e: e.name)
        except OSError as exc:
            _skip(root, prefix.rstrip("/") or ".", f"cannot be read ({exc.strerror})")
            continue
        for entry in entries:
            if is_hidden(entry.name):
                continue
            relative = prefix + entry.name
            try:
                link = entry.is_symlink()
                real = Path(os.path.realpath(entry.path)) if link else None
                if real is not None and not real.is_relative_to(root):
                    _skip(root, relative, "is a link to outside the content folder")
                    continue
                if entry.is_dir():
                    real = real or real_folder / entry.name
                    identity = _identity(real)
                    if identity in seen:
                        _skip(root, relative, "is a link loop or a folder already read")
                        continue
                    seen.add(identity)
                    pending.append((relative + "/", real))
                elif entry.is_file():
                    yield relative, entry
                elif link:
                    _skip(root, relative, "is a broken link or a link loop")
            except OSError as exc:
                _skip(root, relative, f"cannot be read ({exc.strerror or exc})")


def unchanged_since(root: Path, index: Index) -> bool:
    """Whether the folder still holds exactly what `index` was read from, told by `stat`
    alone and keeping nothing per file: what a worker forked from a preloading master checks
    before serving, instead of a reload that would allocate (and so copy pages of the master's
    memory) for every file. Site shortcode templates, or any file without a settled stamp,
    answer False: then a reload decides."""
    if (Path(root) / SHORTCODES_FOLDER).is_dir() or len(index.files) != len(index.parsed):
        return False
    stamps, images_known, assets = index.files, index.assets.images, index.assets.files
    posts = others = 0
    try:
        for relative, entry in _walk(Path(os.path.realpath(root))):
            info = entry.stat()
            if entry.name.lower().endswith(POST_SUFFIXES):
                posts += 1
                stamp = (info.st_mtime_ns, info.st_ctime_ns, info.st_size, info.st_ino)
                if stamps.get(relative) != stamp:
                    return False
            else:
                others += 1
                image = images_known.get(relative)
                if relative not in assets or (
                    image is not None
                    and (image.size, image.mtime_ns) != (info.st_size, info.st_mtime_ns)
                ):
                    return False
    except OSError:
        return False
    return posts == len(stamps) and others == len(assets)


def _post_file(
    entry: os.DirEntry[str],
    relative: str,
    known: Mapping[str, tuple[FileStamp, str]],
    limit: int,
    settled: int,
) -> SourceFile:
    """The post file, read only if its stamp differs from the one the last index saw; its
    stamp is kept only if it last changed before `settled` (see `read_sources`)."""
    info = entry.stat()
    stamp = (info.st_mtime_ns, info.st_ctime_ns, info.st_size, info.st_ino)
    earlier = known.get(relative)
    if earlier is not None and earlier[0] == stamp:
        return SourceFile.unchanged(relative, stamp, earlier[1])
    recent = max(info.st_mtime_ns, info.st_ctime_ns) >= settled
    return SourceFile(relative, _read_at_most(entry.path, limit), None if recent else stamp)


def _shortcode_templates(root: Path, limit: int) -> tuple[SourceFile, ...]:
    """`_shortcodes/*.html` at the top of the folder, skipped like posts when unreadable."""
    folder = root / SHORTCODES_FOLDER
    try:
        if not folder.is_dir() or not Path(os.path.realpath(folder)).is_relative_to(root):
            return ()
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        _skip(root, folder, f"cannot be read ({exc.strerror or exc})")
        return ()
    templates = []
    for entry in entries:
        path = folder / entry.name
        if is_hidden(entry.name) or not entry.name.lower().endswith(".html"):
            continue
        try:
            if not entry.is_file() or not Path(os.path.realpath(path)).is_relative_to(root):
                _skip(root, path, "is not a file inside the content folder")
                continue
            data = _read_at_most(entry.path, limit)
        except OSError as exc:
            _skip(root, path, f"cannot be read ({exc.strerror or exc})")
            continue
        if len(data) > limit:
            _skip(root, path, "is larger than a post may be")
            continue
        templates.append(SourceFile(path.relative_to(root).as_posix(), data))
    return tuple(templates)


def _identity(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_dev, info.st_ino


def _skip(root: Path, path: Path | str, why: str) -> None:
    """Log a skipped file or folder (`path` under `root`, or already relative to it)."""
    if isinstance(path, str):
        relative = path
    else:
        relative = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
    log.warning("skipped %s: %s", relative, why, extra={"event": "skip", "path": relative})


def build_options(settings: Settings) -> BuildOptions:
    return BuildOptions(
        timezone=settings.timezone,
        strip_title_heading=settings.strip_title_heading,
        words_per_minute=settings.words_per_minute,
        excerpt_length=settings.excerpt_length,
        asset_base_url=settings.asset_base_url,
        raw_html=settings.raw_html,
        iframe_hosts=settings.iframe_hosts,
        max_post_bytes=settings.max_post_bytes,
        page_types=settings.page_types,
        page_folders=settings.page_folders,
    )


def parse_cache_file(settings: Settings) -> Path | None:
    """Where the parse cache for this content folder lives, or None when it is off."""
    choice = settings.parse_cache
    if choice.lower() == "off":
        return None
    if choice.lower() in {"", "auto"}:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        folder = Path(base) / "contentapi"
    else:
        folder = Path(choice)
    return parsecache.cache_file(folder, settings.content_dir)


def read_edited(root: Path, paths: Collection[str], limit: int) -> list[SourceFile] | None:
    """The post files at `paths` (relative to `root`), read as `read_sources` reads them; None
    when one is not a regular file inside the folder any more (then a full scan decides)."""
    base = os.path.realpath(root)
    settled = time.time_ns() - SETTLE_NS
    files = []
    for relative in sorted(paths):
        path = os.path.join(base, relative)  # noqa: PTH118 - a path the last scan found
        try:
            info = os.lstat(path)
            if not stat.S_ISREG(info.st_mode) or os.path.realpath(path) != path:
                return None
            data = _read_at_most(path, limit)
        except OSError:
            return None
        stamp = (info.st_mtime_ns, info.st_ctime_ns, info.st_size, info.st_ino)
        recent = max(info.st_mtime_ns, info.st_ctime_ns) >= settled
        files.append(SourceFile(relative, data, None if recent else stamp))
    return files


def load_index(
    settings: Settings,
    previous: Index | None = None,
    artifacts: ArtifactSource | None = None,
    later: Callable[[Callable[[], None]], None] | None = None,
    edited: Collection[str] | None = None,
) -> Index:
    """Read the content folder and build its index.

    Unchanged files are not read again: `previous` covers a reload (a `stat` per file), the
    parse cache a restart (YAML and validation are ~0.25 ms of the ~0.4 ms a new post costs).
    `artifacts` is the store the index reads derived values from (see `engine.artifacts`).
    Writing the parse cache is handed to `later` when given (a reload need not wait for it),
    else done before returning.

    `edited` are the post files the file watcher saw written, and nothing else (no file added,
    removed or moved, no asset or template): then only they are read, and when the edit keeps
    each post where it is listed the previous index is patched (`patch_index`); otherwise,
    or without `edited`, the whole folder is scanned.

    A start (no `previous`) parses a large folder on every core (`parse_in_pool`) and pauses
    the cyclic garbage collector meanwhile: the index is a few hundred thousand long-lived
    objects that no collection could free, and at 10,000 posts the collections it triggers
    cost a fifth of a start's time in this process (a preloading gunicorn master collects
    once anyway, before it freezes them).
    """
    if previous is not None:
        return _load(settings, previous, artifacts, later, edited)
    with collection_paused():
        return _load(settings, previous, artifacts, later, edited)


@contextlib.contextmanager
def collection_paused() -> Iterator[None]:
    """No cyclic garbage collection inside the block (unless it was off already)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _load(
    settings: Settings,
    previous: Index | None,
    artifacts: ArtifactSource | None,
    later: Callable[[Callable[[], None]], None] | None,
    edited: Collection[str] | None,
) -> Index:
    options = build_options(settings)
    cache = parse_cache_file(settings)
    if edited and previous is not None and previous.options == options:
        index = _patched(settings, previous, artifacts, edited)
        if index is not None:
            if cache is not None:
                (later or _now)(partial(_save_caches, cache, index, previous.parsed, None))
            return index
    known_files: Mapping[str, tuple[FileStamp, str]] = {}
    cached: parsecache.Rows = []
    if previous is not None:
        known_images: Mapping[str, ImageFile] = previous.assets.images
        if previous.options == options:  # else every file is parsed again: read them all
            known_files = previous.stamps()
    else:
        known_images = parsecache.read_images(cache) if cache else {}
        cached = parsecache.read(cache, options) if cache else []
        known_files = parsecache.stamps(cached)
    sources = read_sources(settings.content_dir, options.max_post_bytes, known_images, known_files)
    known = parsecache.results(cached, sources)
    if cached:
        sources = _read_unknown(sources, known, options.max_post_bytes, settings.content_dir)
    # A reload parses what changed in the serving process, whose cores are the requests'.
    fresh = parse_in_pool(_to_parse(sources, known), options) if previous is None else {}
    index = build_index(
        sources,
        options,
        datetime.now(UTC),
        previous,
        known=known,
        artifacts=artifacts,
        fresh=fresh,
    )
    if cache is not None:
        before = previous.parsed if previous is not None else known
        same_images = dict(known_images) == {i.path: i for i in sources.images}
        save = partial(_save_caches, cache, index, before, None if same_images else sources)
        (later or _now)(save)
    return index


def _patched(
    settings: Settings, previous: Index, artifacts: ArtifactSource | None, edited: Collection[str]
) -> Index | None:
    """`previous` patched with the files in `edited` read again, if that applies (not when
    a post file is a link: its other name may have changed with it, unseen)."""
    if previous.linked or not all(path in previous.parsed for path in edited):
        return None
    read = read_edited(settings.content_dir, edited, previous.options.max_post_bytes)
    if read is None:
        return None
    return patch_index(previous, read, previous.options, datetime.now(UTC), artifacts)


def _read_unknown(sources: Sources, known: Mapping[str, Parsed], limit: int, root: Path) -> Sources:
    """`sources` with the files left unread (their stamp was in the parse cache) read after
    all where the cache has no usable result for them."""
    unread = [f for f in sources.files if f.data is None and f.path not in known]
    if not unread:
        return sources
    base = os.path.realpath(root)
    again = {
        f.path: SourceFile(f.path, _read_at_most(os.path.join(base, f.path), limit), f.stamp)  # noqa: PTH118
        for f in unread
    }
    return replace(sources, files=tuple(again.get(f.path, f) for f in sources.files))


def _to_parse(sources: Sources, known: Mapping[str, Parsed]) -> list[SourceFile]:
    """The files read whose bytes no earlier result covers."""
    return [
        source
        for source in sources.files
        if source.data is not None
        and (source.path not in known or known[source.path].digest != source.digest)
    ]


# Parsing costs ~0.25 ms a file in one process (2.2 s at 10,000 files). A pool forked from a
# single-threaded process starts in milliseconds and sends each result back for ~0.04 ms; one
# started by spawning imports the engine anew in each process (~0.35 s of CPU each). Below
# these many files to parse, one process does it sooner.
POOL_FROM = 2000
SPAWNED_POOL_FROM = 5000
CHUNKS_PER_PROCESS = 16  # small enough that the processes finish at about the same time


def cpu_count() -> int:
    """The cores this process may run on (a container's CPU set, not the host's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def single_threaded() -> bool:
    """Whether this process provably runs one thread, native ones included, as a gunicorn
    master preloading the app does: Linux lists every thread in /proc/self/task."""
    try:
        return sum(1 for _ in Path("/proc/self/task").iterdir()) == 1
    except OSError:  # pragma: no cover - not Linux: not provable
        return False


def start_method() -> str:
    """`fork` where it is provably safe (one thread: no lock can be held by a thread the child
    lacks), else `spawn`. Not `forkserver`: its server process would be forked from whatever
    process first starts it and outlive the start, in a gunicorn master that later forks."""
    if "fork" in multiprocessing.get_all_start_methods() and single_threaded():
        return "fork"
    return "spawn"


def parse_in_pool(files: Sequence[SourceFile], options: BuildOptions) -> dict[str, Parsed]:
    """`parse_source` of each file, by path, made by one process per core when there are
    POOL_FROM files or more and more than one core; else nothing (`build_index` parses them).

    Parsing is pure, so which process parses a file changes nothing. The files are cut in
    chunks; each process is handed the number of its next chunk over a pipe of its own (two
    ahead, so it never waits; whichever is faster on a busy machine parses more) and sends
    the chunk's results back, which this process reads and turns back into results while the
    others parse, all in its one thread. (A reader thread, as `concurrent.futures` has, waits
    for the GIL on every 64 KB it reads while this thread decodes: results came back twice as
    slowly. Parsing chunks here too made the others wait to send theirs until it was done.)
    What the pool fails at (a process killed, a pool that cannot start, a file that makes
    parsing raise) is left out, so `build_index` parses those files in this process, as
    without a pool.
    """
    jobs = cpu_count()
    method = start_method()
    if len(files) < (POOL_FROM if method == "fork" else SPAWNED_POOL_FROM) or jobs < 2:
        return {}
    fork = multiprocessing.get_context("fork") if method == "fork" else None
    context = fork or multiprocessing.get_context("spawn")
    started = time.perf_counter()
    size = -(-len(files) // (jobs * CHUNKS_PER_PROCESS))
    chunks = [files[at : at + size] for at in range(0, len(files), size)]
    results: dict[str, Parsed] = {}
    memo: dict[Any, Any] = {}
    helpers: dict[Connection, tuple[BaseProcess, list[int]]] = {}  # pipe: process, chunks
    taken = 0  # chunks handed out so far

    def hand_out(pipe: Connection) -> None:
        nonlocal taken
        if taken < len(chunks):
            helpers[pipe][1].append(taken)
            taken += 1
            with contextlib.suppress(OSError):  # a process that died is found out by reading
                pipe.send(taken - 1)

    try:
        for _ in range(jobs):
            pipe, theirs = context.Pipe()
            # A forked process has the chunks already; a spawned one is sent them once it
            # runs, so that every process imports the engine at the same time.
            process: BaseProcess = context.Process(
                target=_parse_chunks, args=(chunks if fork else None, options, theirs)
            )
            process.daemon = True
            process.start()
            theirs.close()  # so this end sees the end of the pipe when the process is done
            helpers[pipe] = (process, [])
        if not fork:
            payload = pickle.dumps(chunks, pickle.HIGHEST_PROTOCOL)
            for pipe in helpers:
                pipe.send_bytes(payload)
        for pipe in list(helpers):
            hand_out(pipe)
            hand_out(pipe)
        while any(handed for _, handed in helpers.values()):
            for ready in multiprocessing.connection.wait(list(helpers)):
                pipe = cast(Connection, ready)
                try:
                    number, rows = pipe.recv()
                except (EOFError, OSError):  # it died: its chunks are parsed by build_index
                    process = helpers.pop(pipe)[0]
                    process.join()
                    pipe.close()
                    log.warning(
                        "a parsing process ended before it was done (exit code %s); "
                        "its files are parsed here",
                        process.exitcode,
                    )
                    continue
                helpers[pipe][1].remove(number)
                hand_out(pipe)
                if isinstance(rows, str):
                    log.warning("parsing in a pool process failed (%s); parsing here", rows)
                    continue
                for row in rows:
                    result = _restored(row, memo)
                    results[result.path] = result
    except Exception as error:  # the pool did not start or broke: the rest is parsed here
        why = " ".join(f"{type(error).__name__}: {error}".split())[:300]
        log.warning("the parsing pool failed (%s); parsing in this process", why)
    finally:
        for pipe, (process, _) in helpers.items():
            # A forked process holds the others' ends of their pipes too: none sees the end
            # of its own when this process closes it, so each is told to stop.
            with contextlib.suppress(OSError):
                pipe.send(None)
            process.join(timeout=1)
            if process.is_alive():
                process.terminate()
                process.join()
            pipe.close()
    log.info(
        "parsed %d of %d files in %d processes (%s) in %.3f s",
        len(results),
        len(files),
        jobs,
        method,
        time.perf_counter() - started,
        extra={"event": "parse-pool"},
    )
    return results


# A parse result as plain values for the trip back from a pool process: unpickling the
# dataclasses themselves costs twice as much, and here shared terms are made once.
_POST_FIELDS = tuple(field.name for field in dataclasses.fields(Post))
_TERM_FIELDS = (_POST_FIELDS.index("categories"), _POST_FIELDS.index("tags"))
_Row = tuple[str, str, list[Any] | None, list[tuple[Any, ...]], bytes]


def _parse_chunks(
    chunks: Sequence[Sequence[SourceFile]] | None, options: BuildOptions, pipe: Connection
) -> None:
    """What a pool process does: parse each chunk whose number it is sent, until the pipe
    says stop, and send back the number with the results, or with why parsing failed. `chunks`
    are given to a forked process, sent first to a spawned one."""
    gc.freeze()  # what a forked process has from its parent is never collected here (nor copied)
    gc.enable()  # a start paused it in the parent; here only this process's garbage is looked at
    with pipe:
        if chunks is None:
            chunks = pickle.loads(pipe.recv_bytes())  # noqa: S301 - from the parent process
        while True:
            try:
                number = pipe.recv()
            except EOFError:  # the parent is gone
                return
            if number is None:
                return
            try:
                rows = [_portable(parse_source(source, options)) for source in chunks[number]]
            except Exception as error:  # the parent parses this chunk again itself
                pipe.send((number, f"{type(error).__name__}: {error}"[:300]))
            else:
                pipe.send((number, rows))


def _portable(result: Parsed) -> _Row:
    values = None
    if result.post is not None:
        values = [getattr(result.post, name) for name in _POST_FIELDS]
        for at in _TERM_FIELDS:
            values[at] = tuple((ref.name, ref.slug) for ref in values[at])
    issues = [dataclasses.astuple(issue) for issue in result.issues]
    return result.path, result.digest, values, issues, result.packed


def _restored(row: _Row, memo: dict[Any, Any]) -> Parsed:
    """The result `_portable` made `row` of; terms several posts name are one object."""
    path, digest, values, issues, packed = row
    post = None
    if values is not None:
        for at in _TERM_FIELDS:
            pairs = values[at]
            refs = memo.get(pairs)
            if refs is None:
                refs = memo[pairs] = tuple(memo.setdefault(pair, TermRef(*pair)) for pair in pairs)
            values[at] = refs
        post = Post(*values)
    return Parsed(path, digest, post, tuple(ContentIssue(*issue) for issue in issues), packed)


def _now(job: Callable[[], None]) -> None:
    job()


def _save_caches(
    cache: Path, index: Index, before: Mapping[str, Parsed], new_images: Sources | None
) -> None:
    """Write the parse cache when some file was parsed anew, the image facts when they changed."""
    if any(before.get(path) is not result for path, result in index.parsed.items()):
        parsecache.write(cache, index.parsed, index.files, index.options)
    if new_images is not None:
        parsecache.write_images(cache, new_images.images)


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_WALK = bool(_NOFOLLOW and _DIRECTORY) and os.open in os.supports_dir_fd


def open_asset(root: Path, relative: str) -> BinaryIO | None:
    """A content folder file opened for reading, or None if it is not a regular file inside
    the folder *now*: an indexed image swapped for a link out of the folder (or a FIFO) after
    the build is never served.

    The resolved path must be inside the resolved folder; then each part of it is opened
    without following links (`O_NOFOLLOW`, from the folder's descriptor), so a link swapped in
    between the check and the open is refused too.
    """
    base = os.path.realpath(root)
    target = os.path.realpath(os.path.join(base, relative))  # noqa: PTH118
    if os.path.commonpath([base, target]) != base or target == base:
        return None
    if _WALK:
        fd = _open_beneath(base, Path(target).relative_to(base).parts)
    else:  # pragma: no cover - Windows: the containment check above is all there is
        try:
            fd = os.open(target, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        except OSError:
            fd = None
    if fd is None:
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return os.fdopen(fd, "rb")


def _open_beneath(base: str, parts: tuple[str, ...]) -> int | None:
    """Open `base/parts...` one part at a time from `base`'s descriptor, following no link."""
    try:
        folder = os.open(base, os.O_RDONLY | _DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        for part in parts[:-1]:
            inner = os.open(
                part, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | os.O_CLOEXEC, dir_fd=folder
            )
            os.close(folder)
            folder = inner
        # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
        flags = os.O_RDONLY | _NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        return os.open(parts[-1], flags, dir_fd=folder)
    except OSError:
        return None
    finally:
        os.close(folder)
