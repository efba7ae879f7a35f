"""The default search backend: tantivy (a Rust search library, through its Python bindings).

Posts are indexed exactly as for FTS5: text folded and stemmed here with each post's language,
one document per post with a field for each of title, description, terms, headings and body
(split on spaces by tantivy), and a `lang` field. Queries are built as query objects, never
parsed from user text: each word or phrase must match in some field (BM25 per field, fields
weighted as in FTS5), a prefix matches the index's words that start with it, excluded words
must not match. Ranking the top of the page (block-max WAND, no score for most matches),
counting and the page are done in Rust; snippets (for the page only) are the shared ones.

An index lives in a folder of files: `save` puts a copy where every worker opens it
(`CONTENTAPI_SEARCH_CACHE`), read through the OS page cache; an index built and not saved
lives in a temporary folder removed with it. Documents are stored in date order (newest
first), so equal scores come out newest first. `updated` copies the folder (hard links: tantivy
never changes a segment file once written), writes the changes there and opens a new searcher:
the old object never sees them. Until tantivy merges segments, removed posts still count in
its statistics.
"""

from __future__ import annotations

import json
import marshal
import os
import re
import shutil
import tempfile
import weakref
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from typing import Any

import tantivy

from contentapi.outputs.search import (
    Entry,
    Hit,
    Results,
    Snippet,
    fts5,  # its columns and row ids, the same here
)
from contentapi.outputs.search.language import (
    LINK,
    Language,
    Stemmed,
    language_key,
    stem_query,
)
from contentapi.outputs.search.parse import ParsedQuery, QueryError, explain, parse
from contentapi.outputs.search.snippets import Prepared, highlight, prepare

FIELDS = ("title", "description", "terms", "headings", "body")
WEIGHTS = (10.0, 4.0, 6.0, 4.0, 1.0)
MAX_TERMS = 256  # a prefix standing for more words is matched by a regular expression
MAX_ADDRESSES = 1000  # hits whose place in the index is kept for their snippets
HEAP = 50_000_000  # bytes tantivy's writer may buffer before it writes a segment
# Of the folder `save` writes: a change makes older folders unreadable, so rebuilt. Snippet
# sources are stored with `marshal`, whose format is Python's own: its version is part of it.
FORMAT = f"2.{marshal.version}"
_SAVED = "contentapi.json"  # in a saved folder: the posts' slugs and languages, prefix words
Occur = tantivy.Occur
Query = tantivy.Query


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    for name in FIELDS:
        builder.add_text_field(name, stored=False, tokenizer_name="spaces", index_option="position")
    builder.add_text_field("lang", stored=False, tokenizer_name="raw")
    builder.add_text_field("slug", stored=False, tokenizer_name="raw")
    builder.add_integer_field("row", stored=True, indexed=True, fast=True)
    # What snippets need of a post (`snippets.prepare`, marshalled): read for the page shown.
    builder.add_bytes_field("snippets", stored=True)
    return builder.build()


class _Doc:
    __slots__ = ("key", "lang", "slug")

    def __init__(self, slug: str, lang: str, key: str) -> None:
        self.slug, self.lang, self.key = slug, lang, key


class _Folder:
    """A folder of tantivy files this process made: removed when nothing refers to it (by
    the process that made it, never by a forked child)."""

    def __init__(self, near: Path | None) -> None:
        parent = near if near is not None and os.access(near, os.W_OK) else None
        self.path = Path(tempfile.mkdtemp(prefix=".contentapi-tantivy-", dir=parent))
        pid = os.getpid()
        weakref.finalize(self, _remove_made, self.path, pid)


def _remove_made(path: Path, pid: int) -> None:
    if os.getpid() == pid:
        shutil.rmtree(path, ignore_errors=True)


def _copy_files(source: Path, target: Path) -> None:
    """The index files of `source` in `target` (a new folder): segment files are never
    changed once written, so they are hard links where the file system allows; the small
    files tantivy rewrites are copied; lock files are left out."""
    target.mkdir(exist_ok=True)
    for item in source.iterdir():
        if item.name.startswith(".tantivy-") and item.name.endswith(".lock"):
            continue
        if item.suffix == ".json" or not _linked(item, target / item.name):
            shutil.copy2(item, target / item.name)


def _linked(source: Path, target: Path) -> bool:
    try:
        os.link(source, target)
    except OSError:
        return False
    return True


class TantivyIndex:
    """Every post's text in a tantivy index in a folder (its files shared through the OS page
    cache by every process that opens it), never changed once built: `updated` writes a copy
    (hard links to the unchanged segments). Searching is safe from any thread."""

    def __init__(
        self,
        index: tantivy.Index,
        folder: Path,
        docs: dict[int, _Doc],
        languages: dict[str, Language],
        default_lang: str,
        owner: _Folder | None = None,
        entry_of: Callable[[str], Entry] | None = None,
    ) -> None:
        self._index = index
        self._folder = folder
        self._owner = owner  # keeps a folder this process made until this index is gone
        self._schema = index.schema
        self._searcher = index.searcher()
        self._docs = docs
        self._rowids = {doc.slug: rowid for rowid, doc in docs.items()}
        self._languages = languages
        self._default_lang = default_lang
        # Where the hits of the last pages ranked are, so their snippets need no look-up: a
        # memo of this index's one searcher (a dict: each get and update is atomic).
        self._addresses: dict[int, tantivy.DocAddress] = {}
        self._entry_of = entry_of

    @classmethod
    def build(cls, entries: Iterable[Entry], default_lang: str = "en") -> TantivyIndex:
        """Index posts with their analyses; a post without `lang` is in `default_lang`.
        The files go to a new temporary folder until `save` puts a copy where it is shared."""
        owner = _Folder(None)
        index = tantivy.Index(
            _schema(), path=str(owner.path), sort_by_field="row", sort_order=tantivy.Order.Asc
        )
        return _write(index, owner, list(entries), (), {}, {}, default_lang, None)

    def updated(self, put: Iterable[Entry] = (), drop: Iterable[str] = ()) -> TantivyIndex:
        """A copy of the index's files (hard links where it can) with `put` written over and
        `drop` taken out; this index is left as it is."""
        owner = _Folder(self._folder.parent if self._owner is None else None)
        _copy_files(self._folder, owner.path)
        index = tantivy.Index(_schema(), path=str(owner.path), reuse=True)
        languages = {key: language.copy() for key, language in self._languages.items()}
        return _write(
            index,
            owner,
            list(put),
            tuple(drop),
            dict(self._docs),
            languages,
            self._default_lang,
            self._entry_of,
        )

    def save(self, path: Path) -> None:
        """Write the index to a new folder at `path` that `load` opens (in any process)."""
        _copy_files(self._folder, path)
        saved = {
            "format": FORMAT,
            "default_lang": self._default_lang,
            "docs": [[rowid, d.slug, d.lang, d.key] for rowid, d in self._docs.items()],
            "words": {key: language.saved() for key, language in self._languages.items()},
        }
        (path / _SAVED).write_text(json.dumps(saved, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(
        cls, path: Path, default_lang: str, entry_of: Callable[[str], Entry]
    ) -> TantivyIndex | None:
        """The index `save` wrote, read through the OS page cache; None for a folder that is
        missing, unreadable, of another format or language (build anew). `entry_of(slug)`
        gives the post and analysis a document was made from (for snippets)."""
        try:
            saved = json.loads((path / _SAVED).read_text(encoding="utf-8"))
            if saved.get("format") != FORMAT or saved.get("default_lang") != default_lang:
                return None
            index = tantivy.Index.open(str(path))
            index.config_reader(reload_policy="Manual")
            docs = {rowid: _Doc(slug, lang, key) for rowid, slug, lang, key in saved["docs"]}
            languages = {
                key: Language.restored(key, map(tuple, pairs))
                for key, pairs in saved["words"].items()
            }
            loaded = cls(index, path, docs, languages, default_lang, None, entry_of)
            if loaded._searcher.num_docs != len(docs):
                return None
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return loaded

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
            rows = self._rows(found.hits)
        else:
            every = searcher.search(built, max(1, len(self._docs)), count=False)
            rows = self._rows(every.hits)
            if allowed is not None:
                rows = [row for row in rows if self._docs[row[1]].slug in allowed]
            total = len(rows)
            rows = rows[offset:] if limit is None else rows[offset : offset + limit]
        if len(rows) <= MAX_ADDRESSES:  # a page: its snippets are read next
            addresses = self._addresses
            if len(addresses) + len(rows) > MAX_ADDRESSES:
                addresses.clear()
            addresses.update((rowid, address) for _, rowid, address in rows)
        docs = self._docs
        return Results(total, tuple(Hit(docs[rowid].slug, score) for score, rowid, _ in rows))

    def _rows(
        self, hits: list[tuple[Any, tantivy.DocAddress]]
    ) -> list[tuple[float, int, tantivy.DocAddress]]:
        """(score, row id, address) of each hit: the row ids read from their fast field at
        once."""
        if not hits:
            return []
        addresses = [address for _, address in hits]
        rows = self._searcher.fast_field_values("row", addresses)
        return [
            (float(score), int(row or 0), address)
            for (score, address), row in zip(hits, rows, strict=True)
        ]

    def highlight(self, query: str | ParsedQuery, hits: Iterable[Hit]) -> list[Hit]:
        """The hits with snippets, made from what the index stored for each post (its
        sections' text and stems): no post is read or stemmed anew."""
        hits = list(hits)
        parsed = parse(query)
        rowids = [self._rowids.get(hit.slug) for hit in hits]
        stored = {} if parsed.empty else self._stored([r for r in rowids if r is not None])

        def text_of(slug: str) -> tuple[str, Prepared] | None:
            rowid = self._rowids.get(slug)
            if rowid is None or rowid not in stored:
                return None
            return self._docs[rowid].key, stored[rowid]

        pairs = ((hit.slug, hit.score) for hit in hits)
        return [
            Hit(slug, score, tuple(Snippet(*parts) for parts in snippets))
            for slug, score, snippets in highlight(parsed, pairs, text_of, self._languages)
        ]

    def _stored(self, rowids: list[int]) -> dict[int, Prepared]:
        """The snippet sources of the posts of `rowids`, by row id, from the index's store."""
        if not rowids:
            return {}
        searcher = self._searcher
        known = self._addresses
        places = [(rowid, place) for rowid in rowids if (place := known.get(rowid)) is not None]
        if len(places) < len(rowids):  # not on a page this index ranked lately: looked up
            query = Query.term_set_query(self._schema, "row", rowids)
            places = [
                (rowid, address)
                for _, rowid, address in self._rows(searcher.search(query, len(rowids)).hits)
            ]
        found: dict[int, Prepared] = {}
        for rowid, address in places:
            data = searcher.doc(address).get_first("snippets")
            if isinstance(data, bytes):
                found[rowid] = marshal.loads(data)  # noqa: S302 - our index's own data
        return found

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


def _write(
    index: tantivy.Index,
    owner: _Folder,
    put: list[Entry],
    drop: tuple[str, ...],
    docs: dict[int, _Doc],
    languages: dict[str, Language],
    default_lang: str,
    entry_of: Callable[[str], Entry] | None,
) -> TantivyIndex:
    """`index` (in `owner`'s folder) with `put` written (replacing posts of the same slug)
    and `drop` taken out, committed and merged, as a new TantivyIndex."""
    index.register_tokenizer(
        "spaces", tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).build()
    )
    rowids = {doc.slug: rowid for rowid, doc in docs.items()}
    writer = index.writer(heap_size=HEAP, num_threads=1)
    for slug in (*drop, *(post.slug for post, _ in put)):
        rowid = rowids.pop(slug, None)
        if rowid is not None:
            del docs[rowid]
            writer.delete_documents_by_term("slug", slug)
    for post, analysis in sorted(put, key=lambda item: fts5._rowid(item[0], ())):
        key = language_key(post.lang, default_lang)
        language = languages.get(key) or languages.setdefault(key, Language(key))
        rowid = fts5._rowid(post, docs)
        docs[rowid] = _Doc(post.slug, (post.lang or default_lang).lower(), key)
        rowids[post.slug] = rowid
        prepared = prepare(analysis.sections, language)
        # The body's stems are its sections' stem lines (whitespace apart: the same words)
        body = " ".join(section[4] for section in prepared).replace(LINK, " ")
        columns = dict(zip(FIELDS, fts5._columns(post, analysis, language, body), strict=True))
        snippets = marshal.dumps(prepared)
        writer.add_document(
            tantivy.Document(row=rowid, lang=key, slug=post.slug, snippets=snippets, **columns)
        )
    writer.commit()
    writer.wait_merging_threads()
    index.config_reader(reload_policy="Manual")
    index.reload()
    for language in languages.values():
        language.finish()
    return TantivyIndex(index, owner.path, docs, languages, default_lang, owner, entry_of)
