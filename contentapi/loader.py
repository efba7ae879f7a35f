"""The loader: the only code that reads the content folder."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from .index import BuildOptions, Index, build_index
from .model import SourceFile, Sources
from .settings import Settings

POST_SUFFIXES = (".md", ".markdown")


def _is_hidden(relative: Path) -> bool:
    return any(part.startswith((".", "_")) for part in relative.parts)


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
    for directory, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(directory)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "_")))
        for name in sorted(filenames):
            path = here / name
            relative = path.relative_to(root)
            if _is_hidden(relative) or not path.resolve().is_relative_to(root):
                continue
            if name.lower().endswith(POST_SUFFIXES):
                files.append(SourceFile(relative.as_posix(), path.read_bytes()))
            elif path.is_file():
                assets.add(relative.as_posix())
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


def load_index(settings: Settings, previous: Index | None = None) -> Index:
    """Read the content folder and build its index (reusing `previous` for unchanged files)."""
    sources = read_sources(settings.content_dir)
    return build_index(sources, build_options(settings), datetime.now(UTC), previous)
