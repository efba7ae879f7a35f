"""Stemming: each post's folded words through the Snowball stemmer of its language, and a
query in those stems. Shared by every backend and by snippets."""

from __future__ import annotations

import copy
import threading
from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

import Stemmer

from contentapi.outputs.search.parse import ParsedQuery, words

MAX_EXPANSIONS = 64
CACHE_SIZE = 50_000

# ISO 639-1 codes to Snowball algorithms; only those this PyStemmer has are used.
ALGORITHMS: dict[str, str] = {
    "ar": "arabic",
    "ca": "catalan",
    "cs": "czech",
    "da": "danish",
    "de": "german",
    "el": "greek",
    "en": "english",
    "eo": "esperanto",
    "es": "spanish",
    "et": "estonian",
    "eu": "basque",
    "fa": "persian",
    "fi": "finnish",
    "fr": "french",
    "ga": "irish",
    "hi": "hindi",
    "hu": "hungarian",
    "hy": "armenian",
    "id": "indonesian",
    "it": "italian",
    "lt": "lithuanian",
    "nb": "norwegian",
    "ne": "nepali",
    "nl": "dutch",
    "nn": "norwegian",
    "no": "norwegian",
    "pl": "polish",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sr": "serbian",
    "sv": "swedish",
    "ta": "tamil",
    "tr": "turkish",
    "yi": "yiddish",
}
_AVAILABLE: frozenset[str] = frozenset(Stemmer.algorithms())
V = TypeVar("V")
LINK = "_"  # between the stems of one chunk in a stem line: never in a word (`parse.WORD`)
PLAIN = "plain"  # the key of languages without a stemmer: folded, not stemmed


def language_key(lang: str | None, default_lang: str = "en") -> str:
    """The Snowball algorithm for a language tag (`es-MX` -> `spanish`), or `plain`."""
    primary = (lang or default_lang or "").strip().lower().replace("_", "-").partition("-")[0]
    algorithm = ALGORITHMS.get(primary, PLAIN)
    return algorithm if algorithm in _AVAILABLE else PLAIN


class _Memo(dict[str, str]):
    """A dict that computes and keeps missing values; `map(memo.__getitem__, ...)` is fast."""

    def __init__(self, compute: Callable[[str], str]) -> None:
        super().__init__()
        self._compute = compute

    def __missing__(self, key: str) -> str:
        value = self[key] = self._compute(key)
        return value


class _Bounded(dict[str, V]):
    """A cache that computes missing values and keeps the first CACHE_SIZE of them."""

    def __init__(self, compute: Callable[[str], V]) -> None:
        super().__init__()
        self._compute = compute

    def __missing__(self, key: str) -> V:
        value = self._compute(key)
        if len(self) < CACHE_SIZE:
            self[key] = value
        return value


class Language:
    """One language's Snowball stemmer, and its index's words for prefixes (`runn` -> `run`).

    Stemmers are not thread-safe: stemming at query time takes a lock. Memos filled while
    indexing are dropped by `finish`; at query time only a bounded cache grows.
    """

    def __init__(self, key: str) -> None:
        self.key = key
        self._stemmer = None if key == PLAIN else Stemmer.Stemmer(key)
        self._lock = threading.Lock()
        self._words = _Memo(self._stem_word)
        self._chunks = _Memo(lambda chunk: " ".join(map(self._words.__getitem__, words(chunk))))
        self._cache: _Bounded[tuple[str, ...]] = _Bounded(
            lambda chunk: tuple(map(self._stem_word, words(chunk)))
        )
        self._links: dict[str, str] = _Memo(self._linked)  # bounded once indexed: `finish`
        self._expansions: dict[str, list[tuple[str, str]]] = {}
        self._vocabulary: list[str] = []
        self.chunk_stems: Callable[[str], tuple[str, ...]] = self._cache.__getitem__
        """The stems of the words in one piece of text, through the bounded cache."""

    def _stem_word(self, word: str) -> str:
        if self._stemmer is None:
            return word
        with self._lock:
            return self._stemmer.stemWord(word) or word

    def copy(self) -> Language:
        """A copy to index more text with, leaving this one's prefix words as they are."""
        clone = copy.copy(self)
        clone._expansions = {prefix: list(items) for prefix, items in self._expansions.items()}
        clone._vocabulary = list(self._vocabulary)
        clone._words = _Memo(clone._stem_word)
        clone._chunks = _Memo(lambda chunk: " ".join(map(clone._words.__getitem__, words(chunk))))
        clone._links = _Memo(clone._linked)
        return clone

    def saved(self) -> list[tuple[str, str]]:
        """What `restored` needs: (word, stem) for the prefix words, ("", stem) for the rest
        of the vocabulary."""
        pairs = [pair for items in self._expansions.values() for pair in items]
        return pairs + [("", stem) for stem in self._vocabulary]

    @classmethod
    def restored(cls, key: str, pairs: Iterable[tuple[str, str]]) -> Language:
        """A language as `saved` left it, to search an index read from a file."""
        language = cls(key)
        for word, stem in pairs:
            if word:
                shared = _shared_prefix(word, stem)
                language._expansions.setdefault(word[: shared + 1], []).append((word, stem))
            else:
                language._vocabulary.append(stem)
        language._vocabulary.sort()
        language._bound_links()
        return language

    def index_text(self, text: str) -> str:
        """The stems of a text's words, space-separated; only while indexing."""
        return " ".join(filter(None, map(self._chunks.__getitem__, text.split())))

    def stem_line(self, text: str) -> str:
        """The stems of a text's whitespace-separated chunks, a chunk's stems joined by LINK
        and chunks by one space (a chunk without words is empty): the `n`th chunk of the line
        stands for the `n`th of `text.split()`. Memoised while indexing, cached after."""
        return " ".join(map(self._links.__getitem__, text.split()))

    def _linked(self, chunk: str) -> str:
        return LINK.join(map(self._words.__getitem__, words(chunk)))

    def finish(self) -> None:
        """Drop the indexing memos, keeping the words a prefix cannot find through their stem.

        A word whose stem keeps its first `n` letters is found by any prefix of up to `n`
        letters through the stem; longer prefixes look it up under its first `n + 1` letters.
        """
        self._vocabulary = sorted({*self._vocabulary, *self._words.values()})
        for word, stem in self._words.items():
            if not stem.startswith(word):
                shared = _shared_prefix(word, stem)
                found = self._expansions.setdefault(word[: shared + 1], [])
                if (word, stem) not in found:
                    found.append((word, stem))
        self._words = _Memo(self._stem_word)
        self._chunks.clear()
        self._bound_links()

    def _bound_links(self) -> None:
        self._links = _Bounded(lambda chunk: LINK.join(self._cache[chunk]))

    def starting_with(self, prefix: str) -> frozenset[str]:
        """The stems of the index's words that start with `prefix`."""
        vocabulary = self._vocabulary
        start = bisect_left(vocabulary, prefix)
        end = bisect_left(vocabulary, prefix + "\U0010ffff", start)
        return frozenset(vocabulary[start:end])

    def stem(self, word: str) -> str:
        """The stem of one folded word."""
        return self._stem_word(word)

    def stems(self, chunks: Iterable[str]) -> list[tuple[str, ...]]:
        """The stems of the words in each piece of text, through a bounded cache."""
        return list(map(self._cache.__getitem__, chunks))

    def expand(self, prefix: str) -> list[str]:
        """Stems of the index's words that start with `prefix` but whose stems do not."""
        found: dict[str, None] = {}
        for length in range(1, len(prefix) + 1):
            for word, stem in self._expansions.get(prefix[:length], ()):
                if word.startswith(prefix) and not stem.startswith(prefix):
                    found[stem] = None
                    if len(found) >= MAX_EXPANSIONS:
                        return list(found)
        return list(found)


def _shared_prefix(a: str, b: str) -> int:
    size = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        size += 1
    return size


@dataclass(frozen=True)
class Stemmed:
    """A parsed query in one language's stems; the prefix has its alternatives."""

    terms: tuple[str, ...]
    phrases: tuple[tuple[str, ...], ...]
    excluded: tuple[tuple[str, ...], ...]
    prefix: str | None
    prefix_stems: tuple[str, ...]


def stem_query(parsed: ParsedQuery, language: Language) -> Stemmed:
    """The query in `language`'s stems, with the stems a prefix being typed may stand for."""
    terms = list(parsed.terms)
    prefix = terms.pop() if parsed.prefix else None
    prefix_stems: tuple[str, ...] = ()
    if prefix is not None:
        prefix_stems = tuple(dict.fromkeys([language.stem(prefix), *language.expand(prefix)]))
    return Stemmed(
        terms=tuple(dict.fromkeys(language.stem(term) for term in terms)),
        phrases=tuple(tuple(map(language.stem, phrase)) for phrase in parsed.phrases),
        excluded=tuple(tuple(map(language.stem, item)) for item in parsed.excluded),
        prefix=prefix,
        prefix_stems=prefix_stems,
    )
