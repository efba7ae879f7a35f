"""The loader: the only code that reads the content folder."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from contentapi.engine import parsecache
from contentapi.engine.index import BuildOptions, Index, build_index
from contentapi.engine.model import SourceFile, Sources
from contentapi.settings import Settings

POST_SUFFIXES = (".md", ".markdown")


def is_hidden(name: str) -> bool:
    """A file or folder the loader skips (`.git`, `.obsidian`, `_drafts` style), and so do
    the watcher and `flask content new`."""
    return name.startswith((".", "_"))


def read_sources(root: Path) -> Sources:
    """Every post file's bytes and every other file's path under `root`, recursively.

    Hidden files and folders (`.git`, `.obsidian`, `_drafts` style) are skipped, and so are
    links that lead outside the folder.
    """
    root = root.resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"content folder {root} does not exist")
    files: list[SourceFile] = []
    assets: set[str] = set()
    pending = [root]
    while pending:
        folder = pending.pop()
        with os.scandir(folder) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                if is_hidden(entry.name):
                    continue
                path = Path(entry.path)
                if entry.is_symlink() and not path.resolve().is_relative_to(root):
                    continue
                if entry.is_dir():
                    pending.append(path)
                elif not entry.is_file():
                    continue
                elif entry.name.lower().endswith(POST_SUFFIXES):
                    relative = path.relative_to(root).as_posix()
                    files.append(SourceFile(relative, path.read_bytes()))
                else:
                    assets.add(path.relative_to(root).as_posix())
    return Sources(tuple(files), frozenset(assets))


def build_options(settings: Settings) -> BuildOptions:
    return BuildOptions(
        timezone=settings.timezone,
        strip_title_heading=settings.strip_title_heading,
        words_per_minute=settings.words_per_minute,
        excerpt_length=settings.excerpt_length,
        asset_base_url=settings.asset_base_url,
        raw_html=settings.raw_html,
        iframe_hosts=settings.iframe_hosts,
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


def load_index(settings: Settings, previous: Index | None = None) -> Index:
    """Read the content folder and build its index.

    Unchanged files are not parsed again: `previous` covers a reload, the parse cache a
    restart (YAML and validation are ~0.25 ms of the ~0.4 ms a new post costs).
    """
    sources = read_sources(settings.content_dir)
    options = build_options(settings)
    cache = parse_cache_file(settings)
    known = parsecache.read(cache, options, sources) if cache and previous is None else {}
    index = build_index(sources, options, datetime.now(UTC), previous, known=known)
    if cache is not None and any(known.get(p) is not r for p, r in index.parsed.items()):
        parsecache.write(cache, index.parsed, options)
    return index
