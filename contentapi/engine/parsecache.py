"""The parse cache: each file's parse result kept on disk by content hash between restarts.

YAML and validation cost ~0.3 ms a post; with this cache a restart re-parses only the files
whose bytes changed. Values are stored as plain data with `marshal` (nothing executable, unlike
pickle), under the settings and package version they were made with.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import tempfile
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from contentapi import __version__
from contentapi.engine.index import BuildOptions, Parsed, post_body
from contentapi.engine.model import ContentIssue, FrozenMap, Post, Sources, TermRef
from contentapi.engine.reader import decode, split

FORMAT = 1


def cache_file(folder: Path, content_dir: Path) -> Path:
    key = hashlib.sha256(str(content_dir.resolve()).encode()).hexdigest()[:16]
    return folder / f"parsed-{key}.marshal"


def _stamp(options: BuildOptions) -> str:
    return f"{FORMAT}:{__version__}:{options.fingerprint()}"


def _dump_post(post: Post) -> tuple:
    return (
        post.slug,
        post.title,
        post.date.isoformat(),
        post.updated.isoformat() if post.updated else None,
        [(t.name, t.slug) for t in post.categories],
        [(t.name, t.slug) for t in post.tags],
        post.description,
        post.author,
        post.image,
        post.lang,
        post.draft,
        list(post.aliases),
        dict(post.extra),
    )


def _load_post(path: str, digest: str, body: str, row: tuple, refs: dict) -> Post:
    (slug, title, date, updated, categories, tags, description, author, image, lang, draft,
     aliases, extra) = row  # fmt: skip
    return Post(
        path=path,
        digest=digest,
        slug=slug,
        title=title,
        date=datetime.fromisoformat(date),
        body=body,
        updated=datetime.fromisoformat(updated) if updated else None,
        categories=tuple(_ref(refs, pair) for pair in categories),
        tags=tuple(_ref(refs, pair) for pair in tags),
        description=description,
        author=author,
        image=image,
        lang=lang,
        draft=draft,
        aliases=tuple(aliases),
        extra=FrozenMap(extra),
    )


def _ref(refs: dict[tuple[str, str], TermRef], pair: tuple[str, str]) -> TermRef:
    """One shared TermRef per (name, slug): thousands of posts name the same few terms."""
    found = refs.get(pair)
    if found is None:
        found = refs[pair] = TermRef(*pair)
    return found


def dump(parsed: Mapping[str, Parsed], options: BuildOptions) -> bytes:
    rows = [
        (
            result.path,
            result.digest,
            _dump_post(result.post) if result.post else None,
            [(i.path, i.field, i.message, i.line, i.severity) for i in result.issues],
        )
        for result in parsed.values()
    ]
    return marshal.dumps((_stamp(options), rows))


def load(data: bytes, options: BuildOptions, sources: Sources) -> dict[str, Parsed]:
    """Cached results for the files whose bytes are unchanged, bodies re-cut from those bytes;
    nothing when the cache was made under other settings or cannot be read."""
    try:
        stamp, rows = marshal.loads(data)  # noqa: S302 - our own file of plain data
    except (EOFError, ValueError, TypeError):
        return {}
    if stamp != _stamp(options):
        return {}
    files = {source.path: source for source in sources.files}
    refs: dict[tuple[str, str], TermRef] = {}
    results: dict[str, Parsed] = {}
    for path, digest, row, issues in rows:
        source = files.get(path)
        if source is None or source.digest != digest:
            continue
        post = None
        if row is not None:
            body = post_body(split(decode(source.data))[1], row[1], options)
            post = _load_post(path, digest, body, row, refs)
        results[path] = Parsed(path, digest, post, tuple(ContentIssue(*i) for i in issues))
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
