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
from contentapi.engine.index import BuildOptions, Parsed, body_line, post_body
from contentapi.engine.model import ContentIssue, ImageFacts, ImageFile, Post, Sources
from contentapi.engine.reader import decode, split
from contentapi.engine.schema import FIELDS, Memo

LAYOUT = 2  # of the file itself; the fields a post is stored with are part of `_stamp` anyway
POLICY = 2  # what parsing decides besides the fields (2: `image`/`cover` URL policy)


def cache_file(folder: Path, content_dir: Path) -> Path:
    key = hashlib.sha256(str(content_dir.resolve()).encode()).hexdigest()[:16]
    return folder / f"parsed-{key}.marshal"


def _stamp(options: BuildOptions) -> str:
    """What a cache was made under: a change to any of it (a field added or retyped in
    `schema.FIELDS`, a setting, this package's version) makes the whole cache unread."""
    fields = ",".join(f"{field.name}:{field.kind.name}" for field in FIELDS)
    return f"{LAYOUT}.{POLICY}:{fields}:{__version__}:{options.fingerprint()}"


def _dump_post(post: Post) -> dict[str, Any]:
    """A post's front-matter fields by name, as plain data (path, digest and body are not kept:
    the body is re-cut from the file's bytes)."""
    return {field.name: field.kind.store(getattr(post, field.name)) for field in FIELDS}


def _load_post(
    path: str, digest: str, body: str, row: dict[str, Any], memo: Memo, line: int = 1
) -> Post:
    values = {field.name: field.kind.restore(row[field.name], memo) for field in FIELDS}
    return Post(path=path, digest=digest, body=body, body_line=line, **values)


Row = tuple[str, str, dict[str, Any] | None, list[dict[str, Any]]]
# The rows of the last dump, by path: a result that is the same object as then is not turned
# into plain data again, so re-writing the cache after one edit in 10,000 files costs little.
_last_rows: dict[str, tuple[Parsed, Row]] = {}


def _row(result: Parsed) -> Row:
    return (
        result.path,
        result.digest,
        _dump_post(result.post) if result.post else None,
        [issue.as_dict() for issue in result.issues],
    )


def dump(parsed: Mapping[str, Parsed], options: BuildOptions) -> bytes:
    global _last_rows  # a memo of a pure function; replaced whole, so threads never see half
    earlier, made = _last_rows, {}
    for result in parsed.values():
        kept = earlier.get(result.path)
        made[result.path] = kept if kept and kept[0] is result else (result, _row(result))
    _last_rows = made
    return marshal.dumps((_stamp(options), [row for _, row in made.values()]))


def load(data: bytes, options: BuildOptions, sources: Sources) -> dict[str, Parsed]:
    """Cached results for the files whose bytes are unchanged, bodies re-cut from those bytes;
    nothing when the cache was made under other settings or cannot be read."""
    try:
        stamp, rows = marshal.loads(data)  # noqa: S302 - our own file of plain data
        if stamp != _stamp(options):
            return {}
        return _results(rows, options, sources)
    except (EOFError, ValueError, TypeError, KeyError, AttributeError):
        return {}  # a file not in the shape this version writes: as if there were none


def _results(rows: list[Any], options: BuildOptions, sources: Sources) -> dict[str, Parsed]:
    files = {source.path: source for source in sources.files}
    memo: Memo = {}
    results: dict[str, Parsed] = {}
    for path, digest, row, issues in rows:
        source = files.get(path)
        if source is None or source.digest != digest:
            continue
        post = None
        if row is not None:
            _, text, first_line = split(decode(source.content))
            body = post_body(text, row["title"], options)
            line = body_line(text, body, first_line)
            post = _load_post(path, digest, body, row, memo, line)
        results[path] = Parsed(path, digest, post, tuple(ContentIssue(**i) for i in issues))
    return results


def read(file: Path, options: BuildOptions, sources: Sources) -> dict[str, Parsed]:
    try:
        return load(file.read_bytes(), options, sources)
    except OSError:
        return {}


def write(file: Path, parsed: Mapping[str, Parsed], options: BuildOptions) -> None:
    """Replace the cache atomically; a cache that cannot be written is only a slower start."""
    with contextlib.suppress(OSError):
        file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=file.parent, prefix=".parsed-")
        with os.fdopen(handle, "wb") as out:
            out.write(dump(parsed, options))
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
