"""Full-text search: SQLite FTS5 over text folded and stemmed here, one row per post.

Each post is one row of an in-memory FTS5 table, with columns for its title, description, terms
(tags and categories), headings and body, ranked by FTS5's weighted `bm25()`. The text is folded
(lowercase, accents removed: `Respiración` -> `respiracion`) and stemmed with the Snowball stemmer
of the post's language (`modelos` -> `model`) before FTS5 sees it, so FTS5 only splits on spaces.

User queries never reach FTS5 as written: `parse_query` reads words, `"phrases"` and `-excluded`
words, and the MATCH expression is built from quoted tokens only. A query is stemmed once per
language in the index and each language's posts (an indexed `lang` column) are matched with
that language's stems, all in one query.

Snippets come from the original section text (accents, case and all), HTML-escaped, with every
word whose folded and stemmed form matches the query wrapped in `<mark>`.
"""

from __future__ import annotations

import html
import re
import sqlite3
import threading
import unicodedata
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from itertools import chain
from typing import TypeVar

import Stemmer

from contentapi.engine.model import Analysis, Post, Section

MAX_QUERY_LENGTH = 1000
MAX_WORDS = 32
MIN_PREFIX = 2
MAX_EXPANSIONS = 64
SNIPPET_LENGTH = 160
SNIPPET_LEAD = 50
MAX_SNIPPETS = 3
CACHE_SIZE = 50_000

# bm25 weights of the columns: title, description, terms (tags, categories), headings, body.
WEIGHTS = (10.0, 4.0, 6.0, 4.0, 1.0)

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
_AVAILABLE = frozenset(Stemmer.algorithms())
T = TypeVar("T")
PLAIN = "plain"  # the key of languages without a stemmer: folded, not stemmed

# Combining marks that NFKD splits off Latin, Greek and Cyrillic letters.
_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_WORD = re.compile(r"[^\W_]+")
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


@dataclass(frozen=True)
class Snippet:
    """An excerpt of one section: `html` is escaped text with matched words in `<mark>`."""

    section_id: str
    heading: str
    html: str


@dataclass(frozen=True)
class Hit:
    """One matching post: higher `score` is better; best-matching sections first."""

    slug: str
    score: float
    snippets: tuple[Snippet, ...] = ()


def fold(text: str) -> str:
    """Lowercase without accents: `Respiración` -> `respiracion`, `Straße` -> `strasse`."""
    return _MARKS.sub("", unicodedata.normalize("NFKD", text.casefold()))


def words(text: str) -> list[str]:
    """The folded words of a text, split on anything but letters and digits."""
    return _WORD.findall(fold(text))


def language_key(lang: str | None, default_lang: str = "en") -> str:
    """The Snowball algorithm for a language tag (`es-MX` -> `spanish`), or `plain`."""
    primary = (lang or default_lang or "").strip().lower().replace("_", "-").partition("-")[0]
    algorithm = ALGORITHMS.get(primary)
    return algorithm if algorithm in _AVAILABLE else PLAIN


# Query parsing


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


# Languages: stemming, with memos while building and the vocabulary prefixes need


class _Memo(dict[str, str]):
    """A dict that computes and keeps missing values; `map(memo.__getitem__, ...)` is fast."""

    def __init__(self, compute: Callable[[str], str]) -> None:
        super().__init__()
        self._compute = compute

    def __missing__(self, key: str) -> str:
        value = self[key] = self._compute(key)
        return value


class _Bounded(dict[str, tuple[str, ...]]):
    """A cache that computes missing values and keeps the first CACHE_SIZE of them."""

    def __init__(self, compute: Callable[[str], tuple[str, ...]]) -> None:
        super().__init__()
        self._compute = compute

    def __missing__(self, key: str) -> tuple[str, ...]:
        value = self._compute(key)
        if len(self) < CACHE_SIZE:
            self[key] = value
        return value


class _Language:
    """One language's Snowball stemmer, and its index's words for prefixes (`runn` -> `run`).

    Stemmers are not thread-safe: stemming at query time takes a lock. Memos filled while
    building are dropped after it; at query time only a bounded cache grows.
    """

    def __init__(self, key: str) -> None:
        self.key = key
        self._stemmer = None if key == PLAIN else Stemmer.Stemmer(key)
        self._lock = threading.Lock()
        self._words = _Memo(self._stem_word)
        self._chunks = _Memo(lambda chunk: " ".join(map(self._words.__getitem__, words(chunk))))
        self._cache = _Bounded(lambda chunk: tuple(map(self._stem_word, words(chunk))))
        self._expansions: dict[str, list[tuple[str, str]]] = {}

    def _stem_word(self, word: str) -> str:
        if self._stemmer is None:
            return word
        with self._lock:
            return self._stemmer.stemWord(word) or word

    def index_text(self, text: str) -> str:
        """The stems of a text's words, space-separated; only while building."""
        return " ".join(filter(None, map(self._chunks.__getitem__, text.split())))

    def finish(self) -> None:
        """Drop the build memos, keeping the words a prefix cannot find through their stem.

        A word whose stem keeps its first `n` letters is found by any prefix of up to `n`
        letters through the stem; longer prefixes look it up under its first `n + 1` letters.
        """
        for word, stem in self._words.items():
            if not stem.startswith(word):
                shared = _shared_prefix(word, stem)
                self._expansions.setdefault(word[: shared + 1], []).append((word, stem))
        self._words = _Memo(self._stem_word)
        self._chunks.clear()

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


# The MATCH expression: quoted tokens only


def _quote(token: str) -> str:
    return '"' + token.replace('"', '""') + '"'


@dataclass(frozen=True)
class _Stemmed:
    """A parsed query in one language's stems; the prefix has its alternatives."""

    terms: tuple[str, ...]
    phrases: tuple[tuple[str, ...], ...]
    excluded: tuple[tuple[str, ...], ...]
    prefix: str | None
    prefix_stems: tuple[str, ...]

    def expression(self) -> str:
        """The FTS5 MATCH expression: every token quoted, so no query text is syntax."""
        required = [_quote(term) for term in self.terms]
        required += [_quote(" ".join(phrase)) for phrase in self.phrases]
        if self.prefix is not None:
            options = [_quote(stem) for stem in self.prefix_stems]
            required.append("(" + " OR ".join([*options, _quote(self.prefix) + "*"]) + ")")
        expression = " AND ".join(required)
        if self.excluded:
            excluded = " OR ".join(_quote(" ".join(item)) for item in self.excluded)
            expression = f"({expression}) NOT ({excluded})"
        return expression


def _stem_query(parsed: ParsedQuery, language: _Language) -> _Stemmed:
    terms = list(parsed.terms)
    prefix = terms.pop() if parsed.prefix else None
    prefix_stems: tuple[str, ...] = ()
    if prefix is not None:
        prefix_stems = tuple(dict.fromkeys([language.stem(prefix), *language.expand(prefix)]))
    return _Stemmed(
        terms=tuple(dict.fromkeys(language.stem(term) for term in terms)),
        phrases=tuple(tuple(map(language.stem, phrase)) for phrase in parsed.phrases),
        excluded=tuple(tuple(map(language.stem, item)) for item in parsed.excluded),
        prefix=prefix,
        prefix_stems=prefix_stems,
    )


# The index


@dataclass(frozen=True)
class _Doc:
    """What a hit needs besides its score: slug, language and sections."""

    slug: str
    lang: str
    key: str
    sections: tuple[Section, ...]


_TEXT = "{title description terms headings body}"
_SCHEMA = (
    "CREATE VIRTUAL TABLE fts USING fts5(lang, title, description, terms, headings, body, "
    "content='', detail=full, tokenize='unicode61 remove_diacritics 0')"
)
_INSERT = (
    "INSERT INTO fts(rowid, lang, title, description, terms, headings, body) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_SELECT = (
    "SELECT rowid, bm25(fts, 0.0, ?, ?, ?, ?, ?) AS score FROM fts WHERE fts MATCH ? "
    "ORDER BY score, rowid"
)


class SearchIndex:
    """Every post's text in an in-memory FTS5 table; built once, then only read.

    Rows are numbered newest first, so SQLite orders hits by score, then date. Reads are
    safe from any thread: the one connection is used under a lock.
    """

    def __init__(
        self, connection: sqlite3.Connection, docs: list[_Doc], languages: dict[str, _Language]
    ) -> None:
        self._connection = connection
        self._docs = docs
        self._languages = languages
        self._rowids = {doc.slug: rowid for rowid, doc in enumerate(docs)}
        self._keys = {doc.lang: doc.key for doc in docs}
        self._lock = threading.Lock()

    @classmethod
    def build(
        cls, entries: Iterable[tuple[Post, Analysis]], default_lang: str = "en"
    ) -> SearchIndex:
        """Index posts with their analyses; a post without `lang` is in `default_lang`."""
        items = sorted(entries, key=lambda item: (-item[0].date.timestamp(), item[0].slug))
        docs = [
            _Doc(
                slug=post.slug,
                lang=(post.lang or default_lang).lower(),
                key=language_key(post.lang, default_lang),
                sections=analysis.sections,
            )
            for post, analysis in items
        ]
        languages = {key: _Language(key) for key in sorted({doc.key for doc in docs})}
        rows = (
            (rowid, doc.key, *_columns(post, analysis, languages[doc.key]))
            for rowid, (doc, (post, analysis)) in enumerate(zip(docs, items, strict=True))
        )
        connection = sqlite3.connect(":memory:", check_same_thread=False)
        with connection:
            connection.execute(_SCHEMA)
            connection.executemany(_INSERT, rows)
            connection.execute("INSERT INTO fts(fts) VALUES ('optimize')")
        for language in languages.values():
            language.finish()
        return cls(connection, docs, languages)

    def __len__(self) -> int:
        return len(self._docs)

    def database_size(self) -> int:
        """Bytes of the SQLite database: the FTS5 index, not the Python side."""
        with self._lock:
            pages = self._connection.execute("PRAGMA page_count").fetchone()[0]
            size = self._connection.execute("PRAGMA page_size").fetchone()[0]
        return int(pages * size)

    def search(
        self,
        query: str | ParsedQuery,
        *,
        langs: Iterable[str] | None = None,
        allowed: Collection[str] | None = None,
        limit: int | None = None,
        snippets: bool = True,
    ) -> list[Hit]:
        """The best `limit` posts matching `query` (all without a limit), with snippets.

        For pages of a long list, `rank` every match (cheap) and `highlight` the page.
        Raises QueryError for a query it refuses.
        """
        ranked = self.rank(query, langs=langs, allowed=allowed)[:limit]
        if snippets:
            return self.highlight(query, ranked)
        return [Hit(slug, score) for slug, score in ranked]

    def rank(
        self,
        query: str | ParsedQuery,
        *,
        langs: Iterable[str] | None = None,
        allowed: Collection[str] | None = None,
    ) -> list[tuple[str, float]]:
        """(slug, score) of every post matching `query`: best score first, then newest.

        The score is minus FTS5's weighted bm25, so higher is better. `langs` keeps posts in
        those languages (their `lang`, or the default language); `allowed` (best a set) keeps
        posts with those slugs: the visible ones, say.
        """
        parsed = _parse(query)
        if parsed.empty:
            return []
        codes = None if langs is None else {code.lower() for code in langs}
        keys = self._languages.keys() if codes is None else {self._keys.get(c) for c in codes}
        expression = self._expression(parsed, [key for key in self._languages if key in keys])
        if expression is None:
            return []
        try:
            with self._lock:
                rows = self._connection.execute(_SELECT, (*WEIGHTS, expression)).fetchall()
        except sqlite3.Error as exc:  # not expected: every token is quoted
            raise QueryError("the query could not be searched for") from exc
        docs = self._docs
        return [
            (docs[rowid].slug, -score)
            for rowid, score in rows
            if (allowed is None or docs[rowid].slug in allowed)
            and (codes is None or docs[rowid].lang in codes)
        ]

    def highlight(
        self, query: str | ParsedQuery, ranked: Iterable[Hit | tuple[str, float]]
    ) -> list[Hit]:
        """Hits (or `rank`'s pairs) with snippets from their best-matching sections."""
        parsed = _parse(query)
        matchers: dict[str, _Matcher] = {}
        hits = []
        for item in ranked:
            slug, score = (item.slug, item.score) if isinstance(item, Hit) else item
            rowid = self._rowids.get(slug)
            if rowid is None or parsed.empty:
                hits.append(Hit(slug, score))
                continue
            doc = self._docs[rowid]
            matcher = matchers.get(doc.key)
            if matcher is None:
                language = self._languages[doc.key]
                matcher = matchers[doc.key] = _Matcher(_stem_query(parsed, language), language)
            hits.append(Hit(slug, score, matcher.snippets(doc.sections)))
        return hits

    def _expression(self, parsed: ParsedQuery, keys: list[str]) -> str | None:
        """One MATCH expression: each language's posts matched with that language's stems.

        Languages whose stems are the same share a clause, so no word counts twice.
        """
        groups: dict[str, list[str]] = {}
        for key in keys:
            stemmed = _stem_query(parsed, self._languages[key]).expression()
            groups.setdefault(stemmed, []).append(key)
        clauses = [
            f"(lang : ({' OR '.join(map(_quote, group))}) AND {_TEXT} : ({stemmed}))"
            for stemmed, group in groups.items()
        ]
        return " OR ".join(clauses) or None


def _parse(query: str | ParsedQuery) -> ParsedQuery:
    return query if isinstance(query, ParsedQuery) else parse_query(query)


def _columns(post: Post, analysis: Analysis, language: _Language) -> tuple[str, ...]:
    """A post's title, description, terms, headings and body as space-separated stems."""
    names = [ref.name for ref in (*post.tags, *post.categories)]
    texts = (
        post.title,
        post.description,
        "\n".join(names),
        "\n".join(heading.text for heading in analysis.headings),
        "\n".join(section.text for section in analysis.sections),
    )
    return tuple(map(language.index_text, texts))


# Snippets


_PREFIX = "prefix"


class _Matcher:
    """Finds a stemmed query's words in original text and cuts marked snippets."""

    def __init__(self, stemmed: _Stemmed, language: _Language) -> None:
        self._language = language
        self._items: dict[str, str] = dict.fromkeys(stemmed.prefix_stems, _PREFIX)
        self._items.update({term: term for term in stemmed.terms})
        self._phrases = stemmed.phrases
        self._prefix = stemmed.prefix

    def snippets(self, sections: Sequence[Section]) -> tuple[Snippet, ...]:
        """Snippets of the sections matching most of the query, in that order.

        Sections are ranked on their whitespace-separated chunks (cached), and only the
        chosen ones are split into words with their positions.
        """
        stems = self._language.stems
        ranked = []
        for order, section in enumerate(sections):
            in_heading, _ = self._find(stems(section.heading.split()))
            in_text, marks = self._find(stems(section.text.split()))
            matched = in_heading | in_text
            if matched:
                ranked.append(((-len(matched), -len(marks), -len(in_heading), order), section))
        ranked.sort(key=lambda item: item[0])
        return tuple(self._snippet(section) for _, section in ranked[:MAX_SNIPPETS])

    def _snippet(self, section: Section) -> Snippet:
        text = unicodedata.normalize("NFC", " ".join(section.text.split()))
        spans = [match.span() for match in _WORD.finditer(text)]
        _, marks = self._find(self._language.stems(text[start:end] for start, end in spans))
        return Snippet(section.id, section.heading, _excerpt(text, spans, marks))

    def _find(self, tokens: list[tuple[str, ...]]) -> tuple[set[str], set[int]]:
        """The query items found (a term's stem, `prefix`, `"phrase n"`) and marked tokens."""
        present = set(chain.from_iterable(tokens))
        found = {stem: self._items[stem] for stem in present.intersection(self._items)}
        prefix = self._prefix
        if prefix is not None:
            found.update((stem, _PREFIX) for stem in present if stem.startswith(prefix))
        items = set(found.values())
        marked = found.keys()
        marks = (
            {i for i, token in enumerate(tokens) if not marked.isdisjoint(token)}
            if found
            else set()
        )
        if self._phrases:
            flat = [(stem, index) for index, token in enumerate(tokens) for stem in token]
            sequence = [stem for stem, _ in flat]
            for number, phrase in enumerate(self._phrases):
                for start in _occurrences(sequence, phrase):
                    items.add(f'"phrase {number}"')
                    marks.update(index for _, index in flat[start : start + len(phrase)])
        return items, marks


def _occurrences(stems: list[str], phrase: tuple[str, ...]) -> Iterator[int]:
    """Where `phrase` starts in `stems`."""
    size = len(phrase)
    first = phrase[0]
    start = 0
    while True:
        try:
            start = stems.index(first, start)
        except ValueError:
            return
        if tuple(stems[start : start + size]) == phrase:
            yield start
        start += 1


def _excerpt(text: str, spans: list[tuple[int, int]], marks: set[int]) -> str:
    """About SNIPPET_LENGTH characters around the first mark, escaped, marks in `<mark>`."""
    anchor, anchor_end = spans[min(marks)] if marks else (0, 0)
    start = max(0, min(anchor - SNIPPET_LEAD, len(text) - SNIPPET_LENGTH))
    if start > 0 and text[start - 1] != " ":
        space = text.find(" ", start, anchor)
        start = space + 1 if space >= 0 else anchor
    end = len(text)
    if end - start > SNIPPET_LENGTH:
        space = text.rfind(" ", start, start + SNIPPET_LENGTH)
        end = space if space >= anchor_end else max(start + SNIPPET_LENGTH, anchor_end)
    parts = ["…" if start > 0 else ""]
    position = start
    for index in sorted(marks):
        token_start, token_end = spans[index]
        if token_start < position or token_end > end:
            continue
        parts.append(html.escape(text[position:token_start]))
        parts.append(f"<mark>{html.escape(text[token_start:token_end])}</mark>")
        position = token_end
    parts.append(html.escape(text[position:end]))
    parts.append("…" if end < len(text) else "")
    return "".join(parts)
