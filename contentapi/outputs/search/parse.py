"""The search box's language, the same for every backend: words folded to lowercase without
accents, `"phrases"`, `-excluded` words, and a last word that is a prefix while typing."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from typing import TypeVar

MAX_QUERY_LENGTH = 1000
MAX_WORDS = 32
MIN_PREFIX = 2
T = TypeVar("T")

# Combining marks that NFKD splits off Latin, Greek and Cyrillic letters.
_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
WORD = re.compile(r"[^\W_]+")
_QUERY_PART = re.compile(r'(?P<neg>-*)"(?P<phrase>[^"]*)"?|(?P<word>[^\s"]+)')


class QueryError(ValueError):
    """A query that cannot be searched for; `message` says why, for a 400 response."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class ParsedQuery:
    """A user query as words folded to lowercase without accents, not yet stemmed.

    Every word and phrase must match and no excluded one may. With `prefix`, the last of
    `terms` is still being typed and also matches the words that start with it.
    """

    terms: tuple[str, ...] = ()
    phrases: tuple[tuple[str, ...], ...] = ()
    excluded: tuple[tuple[str, ...], ...] = ()
    prefix: bool = False

    @property
    def empty(self) -> bool:
        """True when there is nothing to look for: no result, rather than an error."""
        return not self.terms and not self.phrases


def fold(text: str) -> str:
    """Lowercase without accents: `Respiración` -> `respiracion`, `Straße` -> `strasse`."""
    return _MARKS.sub("", unicodedata.normalize("NFKD", text.casefold()))


def words(text: str) -> list[str]:
    """The folded words of a text, split on anything but letters and digits."""
    return WORD.findall(fold(text))


def parse_query(text: str) -> ParsedQuery:
    """Read a search box query: words, `"exact phrases"` and `-excluded` words or phrases.

    Everything else is text, never syntax: `AND`, `NEAR(`, `*` or `title:x` are searched for as
    words. A word that folds to several words (`machine-learning`) is a phrase. The last word is
    a prefix when the query ends inside it. Raises QueryError for a query too long to be typed,
    or one that only excludes.
    """
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(f"the query is longer than {MAX_QUERY_LENGTH} characters")
    terms: list[str] = []
    phrases: list[tuple[str, ...]] = []
    excluded: list[tuple[str, ...]] = []
    last_word = False
    for match in _QUERY_PART.finditer(text):
        raw = match.group("word")
        negated = bool(match.group("neg")) if raw is None else raw.startswith("-")
        found = words(match.group("phrase") if raw is None else raw.lstrip("-+"))
        last_word = raw is not None and not negated and len(found) == 1
        if not found:
            continue
        if negated:
            excluded.append(tuple(found))
        elif len(found) == 1 and raw is not None:
            terms.append(found[0])
        else:
            phrases.append(tuple(found))
    prefix = last_word and text[-1:].isalnum() and len(terms[-1]) >= MIN_PREFIX
    parsed = ParsedQuery(_unique(terms, keep_last=prefix), _unique(phrases), _unique(excluded))
    parsed = replace(parsed, prefix=prefix)
    _check_size(parsed)
    return parsed


def parse(query: str | ParsedQuery) -> ParsedQuery:
    """A query as given, parsed unless it is already."""
    return query if isinstance(query, ParsedQuery) else parse_query(query)


def _unique(items: list[T], keep_last: bool = False) -> tuple[T, ...]:
    """Items without repeats, in order; with `keep_last`, the last item stays last."""
    if keep_last and items:
        last = items[-1]
        return (*(item for item in dict.fromkeys(items) if item != last), last)
    return tuple(dict.fromkeys(items))


def _check_size(parsed: ParsedQuery) -> None:
    count = len(parsed.terms) + sum(len(p) for p in (*parsed.phrases, *parsed.excluded))
    if count > MAX_WORDS:
        raise QueryError(f"the query has more than {MAX_WORDS} words")
    if parsed.empty and parsed.excluded:
        raise QueryError("the query only excludes words: add a word to search for")


def explain(query: str) -> str | None:
    """Why `query` cannot be searched for (a message for a 400), or None if it can; the same
    for every backend, since every backend searches the same parsed query."""
    try:
        parse(query)
    except QueryError as error:
        return error.message
    return None
