"""A search backend on tantivy (a Rust search library, through its Python bindings): an
optional dependency (`pip install contentapi[tantivy]`, `CONTENTAPI_SEARCH_BACKEND=tantivy`).

Posts are indexed exactly as for FTS5: text folded and stemmed here with each post's language,
one document per post with a field for each of title, description, terms, headings and body
(split on spaces by tantivy), and a `lang` field. Queries are built as query objects, never
parsed from user text: each word or phrase must match in some field (BM25 per field, fields
weighted as in FTS5), a prefix matches the index's words that start with it, excluded words
must not match. Ranking, counting and the page are done in Rust; snippets (for the page only)
are the shared ones.

Documents are stored in date order (newest first), so equal scores come out newest first.
`updated` writes to the same tantivy index and takes a new searcher: the old object keeps its
searcher, a snapshot that never sees the change. Until tantivy merges segments, removed posts
still count in its statistics.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Collection, Iterable

import tantivy

from contentapi.engine.model import Section
from contentapi.outputs.search import Entry, Hit, Results, Snippet
from contentapi.outputs.search.fts5 import _columns, _rowid
from contentapi.outputs.search.language import Language, Stemmed, language_key, stem_query
from contentapi.outputs.search.parse import ParsedQuery, QueryError, explain, parse
from contentapi.outputs.search.snippets import highlight

FIELDS = ("title", "description", "terms", "headings", "body")
WEIGHTS = (10.0, 4.0, 6.0, 4.0, 1.0)
MAX_TERMS = 256  # a prefix standing for more words is matched by a regular expression
HEAP = 50_000_000  # bytes tantivy's writer may buffer before it writes a segment
Occur = tantivy.Occur
Query = tantivy.Query


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    for name in FIELDS:
        builder.add_text_field(name, stored=False, tokenizer_name="spaces", index_option="position")
    builder.add_text_field("lang", stored=False, tokenizer_name="raw")
    builder.add_text_field("slug", stored=False, tokenizer_name="raw")
    builder.add_integer_field("row", stored=True, indexed=True, fast=True)
    return builder.build()


class _Doc:
    __slots__ = ("key", "lang", "sections", "slug")

    def __init__(self, slug: str, lang: str, key: str, sections: tuple[Section, ...]) -> None:
        self.slug, self.lang, self.key, self.sections = slug, lang, key, sections


class TantivyIndex:
    """Every post's text in an in-memory tantivy index; a searcher per object."""

    def __init__(
        self,
        index: tantivy.Index,
        searcher: tantivy.Searcher,
        docs: dict[int, _Doc],
        languages: dict[str, Language],
        default_lang: str,
        lock: threading.Lock,
    ) -> None:
        self._index = index
        self._schema = index.schema
        self._searcher = searcher
        self._docs = docs
        self._rowids = {doc.slug: rowid for rowid, doc in docs.items()}
        self._languages = languages
        self._default_lang = default_lang
        self._write_lock = lock  # one writer at a time on the shared tantivy index

    @classmethod
    def build(cls, entries: Iterable[Entry], default_lang: str = "en") -> TantivyIndex:
        """Index posts with their analyses; a post without `lang` is in `default_lang`."""
        index = tantivy.Index(_schema(), sort_by_field="row", sort_order=tantivy.Order.Asc)
        spaces = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build()
        index.register_tokenizer("spaces", spaces)
        empty = cls(index, index.searcher(), {}, {}, default_lang, threading.Lock())
        return empty._write(list(entries), (), {}, {})

    def updated(self, put: Iterable[Entry] = (), drop: Iterable[str] = ()) -> TantivyIndex:
        languages = {key: language.copy() for key, language in self._languages.items()}
        return self._write(list(put), tuple(drop), dict(self._docs), languages)

    def _write(
        self,
        put: list[Entry],
        drop: tuple[str, ...],
        docs: dict[int, _Doc],
        languages: dict[str, Language],
    ) -> TantivyIndex:
        rowids = {doc.slug: rowid for rowid, doc in docs.items()}
        with self._write_lock:
            writer = self._index.writer(heap_size=HEAP, num_threads=1)
            for slug in (*drop, *(post.slug for post, _ in put)):
                rowid = rowids.pop(slug, None)
                if rowid is not None:
                    del docs[rowid]
                    writer.delete_documents_by_term("slug", slug)
            for post, analysis in sorted(put, key=lambda item: _rowid(item[0], ())):
                key = language_key(post.lang, self._default_lang)
                language = languages.setdefault(key, Language(key))
                rowid = _rowid(post, docs)
                docs[rowid] = _Doc(
                    post.slug, (post.lang or self._default_lang).lower(), key, analysis.sections
                )
                rowids[post.slug] = rowid
                columns = dict(zip(FIELDS, _columns(post, analysis, language), strict=True))
                writer.add_document(
                    tantivy.Document(row=rowid, lang=key, slug=post.slug, **columns)
                )
            writer.commit()
            writer.wait_merging_threads()
            self._index.reload()
            searcher = self._index.searcher()
        for language in languages.values():
            language.finish()
        return TantivyIndex(
            self._index, searcher, docs, languages, self._default_lang, self._write_lock
        )

    def __len__(self) -> int:
        return len(self._docs)

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
        parsed = parse(query)
        built = None if parsed.empty else self._query(parsed)
        if built is None:
            return Results(0, ())
        try:
            return self._search(built, offset, limit, allowed)
        except ValueError as error:  # not expected: queries are built, never parsed
            raise QueryError("the query could not be searched for") from error

    def _search(
        self,
        built: tantivy.Query,
        offset: int,
        limit: int | None,
        allowed: Collection[str] | None,
    ) -> Results:
        searcher = self._searcher
        if allowed is None and limit is not None:
            found = searcher.search(built, limit, count=True, offset=offset)
            # tantivy's .pyi omits SearchResult.count, which search(count=True) sets.
            total = found.count  # type: ignore[attr-defined]
            rows = [(score, searcher.doc(address)["row"][0]) for score, address in found.hits]
        else:
            every = searcher.search(built, max(1, len(self._docs)), count=False)
            rows = [(score, searcher.doc(address)["row"][0]) for score, address in every.hits]
            if allowed is not None:
                rows = [row for row in rows if self._docs[row[1]].slug in allowed]
            total = len(rows)
            rows = rows[offset:] if limit is None else rows[offset : offset + limit]
        return Results(total, tuple(Hit(self._docs[rowid].slug, score) for score, rowid in rows))

    def highlight(self, query: str | ParsedQuery, hits: Iterable[Hit]) -> list[Hit]:
        def text_of(slug: str) -> tuple[str, tuple[Section, ...]] | None:
            rowid = self._rowids.get(slug)
            return None if rowid is None else (self._docs[rowid].key, self._docs[rowid].sections)

        pairs = ((hit.slug, hit.score) for hit in hits)
        return [
            Hit(slug, score, tuple(Snippet(*parts) for parts in snippets))
            for slug, score, snippets in highlight(parse(query), pairs, text_of, self._languages)
        ]

    def _query(self, parsed: ParsedQuery) -> tantivy.Query | None:
        """Each language's posts matched with that language's stems; languages whose stems
        are the same share a clause, and one clause for every language needs no filter."""
        groups: dict[Stemmed, list[str]] = {}
        for key, language in self._languages.items():
            groups.setdefault(stem_query(parsed, language), []).append(key)
        if not groups:
            return None
        if len(groups) == 1:
            return self._stemmed(*next(iter(groups.items())))
        clauses = []
        for stemmed, keys in groups.items():
            langs = [(Occur.Should, Query.term_query(self._schema, "lang", key)) for key in keys]
            matched = self._stemmed(stemmed, keys)
            both = [(Occur.Must, Query.boolean_query(langs)), (Occur.Must, matched)]
            clauses.append((Occur.Should, Query.boolean_query(both)))
        return Query.boolean_query(clauses)

    def _stemmed(self, stemmed: Stemmed, keys: list[str]) -> tantivy.Query:
        required = [self._anywhere((term,)) for term in stemmed.terms]
        required += [self._anywhere(phrase) for phrase in stemmed.phrases]
        if stemmed.prefix is not None:
            prefix = stemmed.prefix
            stems = set(stemmed.prefix_stems).union(
                *(self._languages[key].starting_with(prefix) for key in keys)
            )
            options = []
            for name, weight in zip(FIELDS, WEIGHTS, strict=True):
                if len(stems) <= MAX_TERMS:
                    alternatives = [Query.term_query(self._schema, name, stem) for stem in stems]
                else:  # a short prefix: an automaton over the field's words
                    alternatives = [Query.regex_query(self._schema, name, re.escape(prefix) + ".*")]
                    alternatives += [
                        Query.term_query(self._schema, name, stem) for stem in stemmed.prefix_stems
                    ]
                either = Query.boolean_query([(Occur.Should, q) for q in alternatives])
                options.append((Occur.Should, Query.boost_query(either, weight)))
            required.append(Query.boolean_query(options))
        clauses = [(Occur.Must, query) for query in required]
        clauses += [(Occur.MustNot, self._anywhere(item)) for item in stemmed.excluded]
        return Query.boolean_query(clauses)

    def _anywhere(self, words: tuple[str, ...]) -> tantivy.Query:
        """A word or phrase in any field, each field's BM25 weighted."""
        schema = self._schema
        fields = []
        for name, weight in zip(FIELDS, WEIGHTS, strict=True):
            if len(words) == 1:
                query = Query.term_query(schema, name, words[0])
            else:
                query = Query.phrase_query(schema, name, list(words))
            fields.append((Occur.Should, Query.boost_query(query, weight)))
        return Query.boolean_query(fields)
