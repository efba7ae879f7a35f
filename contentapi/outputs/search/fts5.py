"""The default search backend: SQLite FTS5 over text folded and stemmed here, one row per post.

Each post is one row of an in-memory FTS5 table, with columns for its title, description, terms
(tags and categories), headings and body, ranked by FTS5's weighted BM25 (the table's `rank`).
The text is folded (lowercase, accents removed: `Respiración` -> `respiracion`) and stemmed with
the Snowball stemmer of the post's language (`modelos` -> `model`) before FTS5 sees it, so FTS5
only splits on spaces.

User queries never reach FTS5 as written: `parse_query` reads words, `"phrases"` and `-excluded`
words, and the MATCH expression is built from quoted tokens only. A query is stemmed once per
language in the index and each language's posts (an indexed `lang` column) are matched with
that language's stems, all in one query.

A page costs SQLite's ranking of the matches (`ORDER BY rank LIMIT`, in C), a `count(*)` for the
total, and snippets for the page's posts only. Row ids follow the date, newest first, so equal
scores come out newest first and a post added later takes its place among the others.
"""

from __future__ import annotations

import sqlite3
import threading
import zlib
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

from contentapi.engine.model import Analysis, Post
from contentapi.outputs.search import Entry, Hit, Results, Snippet
from contentapi.outputs.search.language import Language, Stemmed, language_key, stem_query
from contentapi.outputs.search.parse import ParsedQuery, QueryError, explain, parse
from contentapi.outputs.search.snippets import Prepared, highlight, prepare

# bm25 weights of the columns: lang (never ranked), title, description, terms, headings, body.
WEIGHTS = (0.0, 10.0, 4.0, 6.0, 4.0, 1.0)
# Prefix indexes for the first letters typed: `ru` and `run` find their words' doclists at once.
PREFIXES = "2 3"


@dataclass(frozen=True)
class _Doc:
    """What a hit needs besides its score: slug, language, and the post and analysis it was
    indexed from (its sections for snippets; its text to take its row out again, as a
    contentless table needs). An index opened from a file asks `entry_of` for those."""

    slug: str
    lang: str
    key: str
    entry: Entry | None = None


_TEXT = "{title description terms headings body}"
_SCHEMA = (
    "CREATE VIRTUAL TABLE fts USING fts5(lang, title, description, terms, headings, body, "
    f"content='', detail=full, prefix='{PREFIXES}', tokenize='unicode61 remove_diacritics 0')"
)
_RANK = "INSERT INTO fts(fts, rank) VALUES ('rank', ?)"
_INSERT = (
    "INSERT INTO fts(rowid, lang, title, description, terms, headings, body) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_DELETE = (
    "INSERT INTO fts(fts, rowid, lang, title, description, terms, headings, body) "
    "VALUES ('delete', ?, ?, ?, ?, ?, ?, ?)"
)
_UNSAVED = "DROP TABLE IF EXISTS docs; DROP TABLE IF EXISTS words; DROP TABLE IF EXISTS meta;"
_SAVED = _UNSAVED + (
    "CREATE TABLE docs(rowid INTEGER PRIMARY KEY, slug TEXT, lang TEXT, key TEXT);"
    "CREATE TABLE words(key TEXT, word TEXT, stem TEXT);"
    "CREATE TABLE meta(name TEXT PRIMARY KEY, value TEXT);"
)
_COUNT = "SELECT count(*) FROM fts WHERE fts MATCH ?"
_PAGE = "SELECT rowid, rank FROM fts WHERE fts MATCH ? ORDER BY rank LIMIT ? OFFSET ?"
_ALL = "SELECT rowid, rank FROM fts WHERE fts MATCH ? ORDER BY rank"
_NEWEST = 2**38  # seconds since 1970 beyond year 9999: row ids stay positive
FORMAT = "1"  # of the file `save` writes: a change makes older files unreadable, so rebuilt
MMAP = 1 << 30  # bytes of a saved file read through the OS page cache, shared by processes


def _rowid(post: Post, taken: Collection[int]) -> int:
    """A row id that orders posts newest first: the date, then a hash of the slug (probing on
    the rare clash), so a post keeps its place whatever else is indexed."""
    seconds = int(post.post_date.timestamp())
    rowid = (_NEWEST - seconds) << 16 | zlib.crc32(post.slug.encode()) & 0xFFFF
    while rowid in taken:
        rowid += 1
    return rowid


class Fts5Index:
    """Every post's text in an FTS5 table, in memory or in a file many processes read; never
    changed once built (`updated` copies it). Reads are safe from any thread: the one
    connection is used under a lock."""

    def __init__(
        self,
        connection: sqlite3.Connection,
        docs: dict[int, _Doc],
        languages: dict[str, Language],
        default_lang: str,
        entry_of: Callable[[str], Entry] | None = None,
    ) -> None:
        self._connection = connection
        self._docs = docs
        self._languages = languages
        self._default_lang = default_lang
        self._entry_of = entry_of
        self._rowids = {doc.slug: rowid for rowid, doc in docs.items()}
        self._lock = threading.Lock()

    @classmethod
    def build(cls, entries: Iterable[Entry], default_lang: str = "en") -> Fts5Index:
        """Index posts with their analyses; a post without `lang` is in `default_lang`."""
        connection = sqlite3.connect(":memory:", check_same_thread=False)
        with connection:
            connection.execute(_SCHEMA)
            connection.execute(_RANK, (f"bm25({', '.join(map(str, WEIGHTS))})",))
        index = cls(connection, {}, {}, default_lang)
        index._write(list(entries), ())
        with connection:
            connection.execute("INSERT INTO fts(fts) VALUES ('optimize')")
        return index

    def save(self, path: Path) -> None:
        """Write the index to a new SQLite file that `load` opens (in any process)."""
        target = sqlite3.connect(path)
        try:
            with self._lock:
                self._connection.backup(target)
            with target:
                target.executescript(_SAVED)
                target.executemany(
                    "INSERT INTO docs VALUES (?, ?, ?, ?)",
                    ((rowid, d.slug, d.lang, d.key) for rowid, d in self._docs.items()),
                )
                target.executemany(
                    "INSERT INTO words VALUES (?, ?, ?)",
                    (
                        (key, word, stem)
                        for key, language in self._languages.items()
                        for word, stem in language.saved()
                    ),
                )
                target.executemany(
                    "INSERT INTO meta VALUES (?, ?)",
                    (("format", FORMAT), ("default_lang", self._default_lang)),
                )
        finally:
            target.close()

    @classmethod
    def load(
        cls, path: Path, default_lang: str, entry_of: Callable[[str], Entry]
    ) -> Fts5Index | None:
        """The index `save` wrote, read-only and shared through the OS page cache; None for
        a file that is missing, unreadable, of another format or language (build anew).
        `entry_of(slug)` gives the post and analysis a row was made from."""
        try:
            connection = sqlite3.connect(
                f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False
            )
        except sqlite3.Error:
            return None
        try:
            connection.execute(f"PRAGMA mmap_size = {MMAP}")
            meta = dict(connection.execute("SELECT name, value FROM meta").fetchall())
            if meta.get("format") != FORMAT or meta.get("default_lang") != default_lang:
                raise sqlite3.DatabaseError("another format")
            docs = {
                rowid: _Doc(slug, lang, key)
                for rowid, slug, lang, key in connection.execute("SELECT * FROM docs")
            }
            saved: dict[str, list[tuple[str, str]]] = {
                key: [] for key in {d.key for d in docs.values()}
            }
            for key, word, stem in connection.execute("SELECT key, word, stem FROM words"):
                saved.setdefault(key, []).append((word, stem))
            connection.execute(_COUNT, ('"contentapi"',)).fetchone()  # the table answers
        except sqlite3.Error:
            connection.close()
            return None
        languages = {key: Language.restored(key, pairs) for key, pairs in saved.items()}
        return cls(connection, docs, languages, default_lang, entry_of)

    def updated(self, put: Iterable[Entry] = (), drop: Iterable[str] = ()) -> Fts5Index:
        """A copy of the table (SQLite's backup: pages copied, nothing re-indexed) in memory,
        with `put` written over and `drop` taken out."""
        connection = sqlite3.connect(":memory:", check_same_thread=False)
        with self._lock:
            self._connection.backup(connection)
        with connection:
            connection.executescript(_UNSAVED)
        languages = {key: language.copy() for key, language in self._languages.items()}
        docs = dict(self._docs)
        index = Fts5Index(connection, docs, languages, self._default_lang, self._entry_of)
        index._write(list(put), tuple(drop))
        return index

    def _entry(self, doc: _Doc) -> Entry:
        if doc.entry is not None:
            return doc.entry
        assert self._entry_of is not None, "an index opened from a file knows entry_of"
        return self._entry_of(doc.slug)

    def _write(self, put: list[Entry], drop: tuple[str, ...]) -> None:
        """Insert `put` (replacing posts of the same slug) and delete `drop`; while building."""
        docs, languages = self._docs, self._languages
        gone = [self._rowids.get(slug) for slug in (*drop, *(post.slug for post, _ in put))]
        rows_out = []
        for rowid in dict.fromkeys(rowid for rowid in gone if rowid is not None):
            doc = docs.pop(rowid)
            del self._rowids[doc.slug]
            post, analysis = self._entry(doc)
            rows_out.append((rowid, doc.key, *_columns(post, analysis, languages[doc.key])))
        added = []
        for post, analysis in put:
            lang = (post.lang or self._default_lang).lower()
            key = language_key(post.lang, self._default_lang)
            rowid = _rowid(post, docs)
            docs[rowid] = _Doc(post.slug, lang, key, (post, analysis))
            self._rowids[post.slug] = rowid
            added.append((rowid, post, analysis))
        for key in {docs[rowid].key for rowid, _, _ in added} - languages.keys():
            languages[key] = Language(key)
        rows_in = (
            (rowid, docs[rowid].key, *_columns(post, analysis, languages[docs[rowid].key]))
            for rowid, post, analysis in sorted(added, key=lambda item: item[0])
        )
        with self._connection:
            self._connection.executemany(_DELETE, rows_out)
            self._connection.executemany(_INSERT, rows_in)
        for language in languages.values():
            language.finish()

    def __len__(self) -> int:
        return len(self._docs)

    def database_size(self) -> int:
        """Bytes of the SQLite database: the FTS5 index, not the Python side."""
        with self._lock:
            pages = self._connection.execute("PRAGMA page_count").fetchone()[0]
            size = self._connection.execute("PRAGMA page_size").fetchone()[0]
        return int(pages * size)

    def explain(self, query: str) -> str | None:
        return explain(query)

    def search(
        self,
        query: str | ParsedQuery,
        *,
        offset: int = 0,
        limit: int | None = 10,
        allowed: Collection[str] | None = None,
    ) -> Results:
        """Best first, then newest: SQLite ranks (minus bm25, so higher is better) and counts.

        Without `allowed`, only the page's rows leave SQLite; with it, every match is ranked
        and filtered here (the caller narrowed the posts: a category, a date range).
        """
        parsed = parse(query)
        expression = None if parsed.empty else self._expression(parsed)
        if expression is None:
            return Results(0, ())
        docs = self._docs
        try:
            with self._lock:
                if allowed is None:
                    total = self._connection.execute(_COUNT, (expression,)).fetchone()[0]
                    rows = self._connection.execute(
                        _PAGE, (expression, -1 if limit is None else limit, offset)
                    ).fetchall()
                else:
                    rows = self._connection.execute(_ALL, (expression,)).fetchall()
        except sqlite3.Error as exc:  # not expected: every token is quoted
            raise QueryError("the query could not be searched for") from exc
        if allowed is not None:
            rows = [row for row in rows if docs[row[0]].slug in allowed]
            total = len(rows)
            rows = rows[offset:] if limit is None else rows[offset : offset + limit]
        return Results(total, tuple(Hit(docs[rowid].slug, -score) for rowid, score in rows))

    def highlight(self, query: str | ParsedQuery, hits: Iterable[Hit]) -> list[Hit]:
        """The hits with snippets from their best-matching sections."""

        def text_of(slug: str) -> tuple[str, Prepared] | None:
            rowid = self._rowids.get(slug)
            if rowid is None:
                return None
            doc = self._docs[rowid]
            return doc.key, prepare(self._entry(doc)[1].sections, self._languages[doc.key])

        pairs = ((hit.slug, hit.score) for hit in hits)
        return [
            Hit(slug, score, tuple(Snippet(*parts) for parts in snippets))
            for slug, score, snippets in highlight(parse(query), pairs, text_of, self._languages)
        ]

    def _expression(self, parsed: ParsedQuery) -> str | None:
        """One MATCH expression: each language's posts matched with that language's stems.

        Languages whose stems are the same share a clause, so no word counts twice; a clause
        for every language of the index needs no `lang` filter at all.
        """
        groups: dict[str, list[str]] = {}
        for key, language in self._languages.items():
            stemmed = _match(stem_query(parsed, language))
            groups.setdefault(stemmed, []).append(key)
        if len(groups) == 1:
            return f"{_TEXT} : ({next(iter(groups))})"
        clauses = [
            f"(lang : ({' OR '.join(map(_quote, group))}) AND {_TEXT} : ({stemmed}))"
            for stemmed, group in groups.items()
        ]
        return " OR ".join(clauses) or None


def _quote(token: str) -> str:
    return '"' + token.replace('"', '""') + '"'


def _match(stemmed: Stemmed) -> str:
    """The FTS5 MATCH expression: every token quoted, so no query text is syntax."""
    required = [_quote(term) for term in stemmed.terms]
    required += [_quote(" ".join(phrase)) for phrase in stemmed.phrases]
    if stemmed.prefix is not None:
        options = [_quote(stem) for stem in stemmed.prefix_stems]
        required.append("(" + " OR ".join([*options, _quote(stemmed.prefix) + "*"]) + ")")
    expression = " AND ".join(required)
    if stemmed.excluded:
        excluded = " OR ".join(_quote(" ".join(item)) for item in stemmed.excluded)
        expression = f"({expression}) NOT ({excluded})"
    return expression


def _columns(
    post: Post, analysis: Analysis, language: Language, body: str | None = None
) -> tuple[str, ...]:
    """A post's title, description, terms, headings and body as space-separated stems; `body`
    is the body's stems when the caller has them already."""
    names = [ref.name for ref in (*post.tags, *post.categories)]
    texts = (
        post.title,
        post.description,
        "\n".join(names),
        "\n".join(heading.text for heading in analysis.headings),
    )
    if body is None:
        body = language.index_text("\n".join(section.text for section in analysis.sections))
    return (*map(language.index_text, texts), body)
