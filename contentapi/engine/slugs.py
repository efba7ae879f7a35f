"""Slugs: lowercase ASCII with hyphens, transliterated (`Cómo` -> `como`, `año` -> `ano`)."""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

from slugify import slugify as _slugify
from text_unidecode import unidecode

_ALREADY_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_DATE_PREFIX = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}[-_ .]+")
_EXTENSION = re.compile(r"\.(?:md|markdown)$", re.IGNORECASE)


@lru_cache(maxsize=65536)
def slugify(text: str) -> str:
    """The slug of any text; may be empty for text with no letters or digits.

    Transliterated here rather than by python-slugify, which looks the transliterator up
    again on every call; cached, since tags and categories repeat across thousands of posts.
    """
    if len(text) <= 200 and _ALREADY_SLUG.fullmatch(text):
        return text
    return _slugify(unidecode(text), lowercase=True, max_length=200, word_boundary=True)


def slug_from_path(path: str) -> str:
    """The slug of a post file's name: no folder, no extension, no leading `2023-07-15-`."""
    stem = _EXTENSION.sub("", path.rpartition("/")[2])
    return slugify(_DATE_PREFIX.sub("", stem)) or slugify(stem)


def fallback_slug(text: str) -> str:
    """A slug that is never empty: the text's slug, else a short hash of the text."""
    return slugify(text) or "post-" + hashlib.sha1(text.encode()).hexdigest()[:8]  # noqa: S324


def sort_key(text: str) -> str:
    """Alphabetical order as a reader expects it: `Ángel` by A, `Ñandú` by N, case ignored."""
    return unidecode(text).casefold()
