"""Slugs: lowercase ASCII with hyphens, transliterated (`Cómo` -> `como`, `año` -> `ano`).

A post's slug keeps what its old site used where that is already a safe URL segment
(`gin_television`), and everything else an old URL may have said (accents, percent-encoding,
capitals) becomes an alias, so links into the old site keep working.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from urllib.parse import unquote

from slugify import slugify as _slugify
from text_unidecode import unidecode as _untyped_unidecode

# text-unidecode ships no types: the one function used, typed once here.
unidecode: Callable[[str], str] = _untyped_unidecode

_ALREADY_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_URL_SAFE = re.compile(r"[a-z0-9_-]*[a-z0-9][a-z0-9_-]*")
_DATE_PREFIX = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}[-_ .]+")
_EXTENSION = re.compile(r"\.(?:md|markdown)$", re.IGNORECASE)
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
MAX_LENGTH = 200


@lru_cache(maxsize=65536)
def slugify(text: str) -> str:
    """The slug of any text; may be empty for text with no letters or digits.

    Transliterated here rather than by python-slugify, which looks the transliterator up
    again on every call; cached, since tags and categories repeat across thousands of posts.
    """
    if len(text) <= MAX_LENGTH and _ALREADY_SLUG.fullmatch(text):
        return text
    return _slugify(unidecode(text), lowercase=True, max_length=MAX_LENGTH, word_boundary=True)


def percent_decoded(text: str) -> str:
    """Text with its percent-encoding undone (WordPress writes `¿` as `%c2%bf`); text with
    no `%XX` in it is returned as it is, so `100%` stays `100%`."""
    return unquote(text) if "%" in text and _PERCENT.search(text) else text


def post_slug(written: str) -> str:
    """The slug of a name an author or an old site chose: kept as written when it is already
    a safe URL segment (lowercase ASCII letters, digits, `-`, `_`), else percent-decoded and
    slugified (`%c2%bfes-bueno` -> `es-bueno`; an encoded emoji is dropped). May be empty."""
    if len(written) <= MAX_LENGTH and _URL_SAFE.fullmatch(written):
        return written
    return slugify(percent_decoded(written))


def file_stem(path: str) -> str:
    """A post file's name without folder or extension, as written."""
    return _EXTENSION.sub("", path.rpartition("/")[2])


def slug_from_path(path: str) -> str:
    """The slug of a post file's name: no folder, no extension, no leading `2023-07-15-`."""
    stem = file_stem(path)
    return post_slug(_DATE_PREFIX.sub("", stem)) or post_slug(stem)


def old_names(path: str, written_slug: str | None) -> tuple[str, ...]:
    """Names an old URL of the post may end in: the file stem with and without its date
    prefix, and the `slug` as written, each raw, percent-decoded and slugified the way this
    API did before it decoded them (`c2-bfes-bueno`), so those links keep working too."""
    stem = file_stem(path)
    undated = _DATE_PREFIX.sub("", stem)
    names = [stem, undated] if undated != stem else [stem]
    if written_slug:
        names.append(written_slug)
    for name in tuple(names):
        if not _ALREADY_SLUG.fullmatch(name):  # else it is its own decoded form and slug
            names += (percent_decoded(name), slugify(name))
    return tuple(dict.fromkeys(name for name in names if name))


def alias_key(text: str) -> str:
    """How a requested or old name is looked up among aliases: percent-decoded, composed
    (NFC) and case-folded, so `Introducción`, `introducci%C3%B3n` and `INTRODUCCIÓN` meet."""
    return unicodedata.normalize("NFC", percent_decoded(text)).casefold()


def fallback_slug(text: str) -> str:
    """A slug that is never empty: the text's slug, else a short hash of the text."""
    return slugify(text) or "post-" + hashlib.sha1(text.encode()).hexdigest()[:8]  # noqa: S324


def sort_key(text: str) -> str:
    """Alphabetical order as a reader expects it: `Ángel` by A, `Ñandú` by N, case ignored."""
    return unidecode(text).casefold()
