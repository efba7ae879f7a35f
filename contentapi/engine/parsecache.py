"""The parse cache: each file's parse result kept on disk by content hash between restarts.

YAML and validation cost ~0.3 ms a post; with this cache a restart re-parses only the files
whose bytes changed. Values are stored as plain data with `marshal` (nothing executable, unlike
pickle), by field name, under the field table, settings and package version they were made
with.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from contentapi import __version__
from contentapi.engine.index import BuildOptions, Parsed
from contentapi.engine.model import ContentIssue, FileStamp, ImageFacts, ImageFile, Post, Sources
from contentapi.engine.schema import FIELDS, Memo

LAYOUT = 3  # of the file itself; the fields a post is stored with are part of `_stamp` anyway
POLICY = 3  # what parsing decides besides the fields (2: `image`/`cover` URL policy; 3: the
# order of `extra` is the file's)


def cache_file(folder: Path, content_dir: Path) -> Path:
    key = hashlib.sha256(str(content_dir.resolve()).encode()).hexdigest()[:16]
    return folder / f"parsed-{key}.marshal"


def _stamp(options: BuildOptions) -> str:
    """What a cache was made under: a change to any of it (a field added or retyped in
    `schema.FIELDS`, a setting, this package's version) makes the whole cache unread."""
    fields = ",".join(f"{field.name}:{field.kind.name}" for field in FIELDS)
    return f"{LAYOUT}.{POLICY}:{fields}:{__version__}:{options.fingerprint()}"


def _dump_post(post: Post) -> dict[str, Any]:
    """A post's front-matter fields by name, as plain data (path, digest and the body are
    kept beside them)."""
    return {field.name: field.kind.store(getattr(post, field.name)) for field in FIELDS}


def _load_post(path: str, digest: str, row: dict[str, Any], memo: Memo, line: int = 1) -> Post:
    values = {field.name: field.kind.restore(row[field.name], memo) for field in FIELDS}
    return Post(path=path, digest=digest, body_line=line, **values)


# path, digest, the file's stamp (None: read it again), fields, issues, body line, packed body
Row = tuple[str, str, FileStamp | None, dict[str, Any] | None, list[dict[str, Any]], int, bytes]
Rows = list[Row]
# The rows of the last dump, by path: a result that is the same object as then is not turned
# into plain data again, so re-writing the cache after one edit in 10,000 files costs little.
_last_rows: dict[str, tuple[Parsed, Row]] = {}


def _row(result: Parsed, stamp: FileStamp | None) -> Row:
    post = result.post
    return (
        result.path,
        result.digest,
        stamp,
        _dump_post(post) if post else None,
        [issue.as_dict() for issue in result.issues],
        post.body_line if post else 1,
        result.packed,
    )


def dump(
    parsed: Mapping[str, Parsed], stamps: Mapping[str, FileStamp], options: BuildOptions
) -> bytes:
    global _last_rows  # a memo of a pure function; replaced whole, so threads never see half
    earlier, made = _last_rows, {}
    for result in parsed.values():
        kept, stamp = earlier.get(result.path), stamps.get(result.path)
        same = kept is not None and kept[0] is result and kept[1][2] == stamp
        made[result.path] = kept if same and kept else (result, _row(result, stamp))
    _last_rows = made
    return marshal.dumps((_stamp(options), [row for _, row in made.values()]))


def load(data: bytes, options: BuildOptions) -> Rows:
    """The cached rows; none when the cache was made under other settings or is not whole."""
    try:
        stamp, rows = marshal.loads(data)  # noqa: S302 - our own file of plain data
        if stamp != _stamp(options) or not isinstance(rows, list):
            return []
        return [tuple(row) for row in rows if isinstance(row, tuple) and len(row) == 7]
    except (EOFError, ValueError, TypeError):
        return []  # a file not in the shape this version writes: as if there were none


def stamps(rows: Rows) -> dict[str, tuple[FileStamp, str]]:
    """Each cached file's stamp and digest: the files a start need not read again."""
    return {row[0]: (tuple(row[2]), row[1]) for row in rows if row[2] is not None}  # type: ignore[misc]


def results(rows: Rows, sources: Sources) -> dict[str, Parsed]:
    """Cached results for the files whose bytes are unchanged (by digest)."""
    files = {source.path: source.digest for source in sources.files}
    memo: Memo = {}
    found: dict[str, Parsed] = {}
    for path, digest, _, row, issues, line, packed in rows:
        if files.get(path) != digest:
            continue
        try:
            post = None if row is None else _load_post(path, digest, row, memo, line)
            problems = tuple(ContentIssue(**issue) for issue in issues)
        except (KeyError, TypeError, ValueError, AttributeError):
            continue  # a row not in this version's shape: that file is parsed again
        found[path] = Parsed(path, digest, post, problems, packed)
    return found


def read(file: Path, options: BuildOptions) -> Rows:
    try:
        return load(file.read_bytes(), options)
    except OSError:
        return []


def write(
    file: Path,
    parsed: Mapping[str, Parsed],
    stamps: Mapping[str, FileStamp],
    options: BuildOptions,
) -> None:
    """Replace the cache atomically; a cache that cannot be written is only a slower start."""
    with contextlib.suppress(OSError):
        file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=file.parent, prefix=".parsed-")
        with os.fdopen(handle, "wb") as out:
            out.write(dump(parsed, stamps, options))
        Path(temporary).replace(file)


# Image facts do not depend on the settings, only on the bytes (and how this package reads
# them), so they live in a file of their own beside the parse cache, under their own stamp.
IMAGES_FORMAT = 1


def image_cache_file(parse_cache: Path) -> Path:
    return parse_cache.with_name(parse_cache.name.replace("parsed-", "images-", 1))


def _image_stamp() -> str:
    return f"{IMAGES_FORMAT}:{__version__}"


def dump_images(images: Iterable[ImageFile]) -> bytes:
    rows = [
        (
            image.path,
            image.size,
            image.mtime_ns,
            image.digest,
            _facts_row(image.facts),
            image.problem,
        )
        for image in images
    ]
    return marshal.dumps((_image_stamp(), rows))


def _facts_row(facts: ImageFacts | None) -> tuple[int, int, str | None] | None:
    return None if facts is None else (facts.width, facts.height, facts.placeholder)


def load_images(data: bytes) -> dict[str, ImageFile]:
    """Image records by path; nothing when the file was made by another version or is broken."""
    try:
        stamp, rows = marshal.loads(data)  # noqa: S302 - our own file of plain data
        if stamp != _image_stamp():
            return {}
        return {
            path: ImageFile(
                path, size, mtime, digest, None if facts is None else ImageFacts(*facts), problem
            )
            for path, size, mtime, digest, facts, problem in rows
        }
    except (EOFError, ValueError, TypeError):
        return {}


def read_images(parse_cache: Path) -> dict[str, ImageFile]:
    try:
        return load_images(image_cache_file(parse_cache).read_bytes())
    except OSError:
        return {}


def write_images(parse_cache: Path, images: Iterable[ImageFile]) -> None:
    """Replace the image facts file atomically; failing to write it only costs time later."""
    _replace(image_cache_file(parse_cache), dump_images(images))


def _replace(file: Path, data: bytes) -> None:
    with contextlib.suppress(OSError):
        file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=file.parent, prefix=f".{file.stem}-")
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        Path(temporary).replace(file)
