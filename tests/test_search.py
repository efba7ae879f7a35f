"""contentapi.outputs.search: folding, stemming per language, ranking, query syntax, snippets."""

from __future__ import annotations

import json
import sqlite3
import threading
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contentapi.engine.analysis import analyse
from contentapi.engine.index import BuildOptions, parse_source, unpack
from contentapi.engine.model import Analysis, Post, SourceFile
from contentapi.outputs.search import (
    MAX_QUERY_LENGTH,
    Hit,
    ParsedQuery,
    QueryError,
    SearchIndex,
    backend,
    parse_query,
)
from contentapi.outputs.search.fts5 import Fts5Index

OPTIONS = BuildOptions(timezone=ZoneInfo("UTC"))

# Posts that match nothing the tests look for: with a handful of posts, bm25 gives a word in
# more than half of them no weight, so every index here has these too.
FILLER = [
    {"slug": f"filler-{n}", "title": f"Notas varias {n}", "body": "Texto sin relación.\n"}
    for n in range(8)
]


def entry(
    slug: str,
    title: str,
    body: str,
    *,
    lang: str | None = "es",
    date: str = "2024-01-01",
    tags: tuple[str, ...] = (),
    description: str = "",
) -> tuple[Post, Analysis]:
    """A post parsed from front matter and Markdown as the loader would, with its analysis."""
    front = {"title": title, "date": date, "tags": list(tags), "description": description}
    if lang is not None:
        front["lang"] = lang
    lines = "\n".join(f"{key}: {json.dumps(value)}" for key, value in front.items())
    source = SourceFile(f"{slug}.md", f"---\n{lines}\n---\n{body}".encode())
    parsed = parse_source(source, OPTIONS)
    assert parsed.post is not None
    return parsed.post, analyse(unpack(parsed.packed))


def index(*posts: dict, default_lang: str = "en", engine: str = "fts5") -> SearchIndex:
    """A search index of `posts` and FILLER, built by a backend named in BACKENDS."""
    return backend(engine)([entry(**fields) for fields in (*posts, *FILLER)], default_lang)


ENGINES = ["fts5", "tantivy"]


def find(search: SearchIndex, query: str, **options) -> list[Hit]:
    """Every hit, best first, with snippets: a page as long as the results."""
    return search.highlight(query, search.search(query, limit=None, **options).hits)


def slugs(hits: list[Hit]) -> list[str]:
    return [hit.slug for hit in hits]


@pytest.fixture(scope="module", params=ENGINES)
def blog(request) -> SearchIndex:
    """A small bilingual blog, in each backend: every test using it runs for both."""
    return index(
        {
            "slug": "respiracion",
            "title": "Técnicas de respiración",
            "body": (
                "Una introducción breve.\n\n"
                "## Búsqueda de calma\n\n"
                "La búsqueda de calma empieza con la Respiración lenta.\n\n"
                "## Modelos mentales\n\n"
                "Tres modelos sencillos para practicar.\n"
            ),
            "date": "2024-03-01",
            "tags": ("salud",),
        },
        {
            "slug": "sin-acentos",
            "title": "Notas de campo",
            "body": "## Resumen\n\nLa busqueda y la respiracion, escritas sin acentos.\n",
            "date": "2024-02-01",
        },
        {
            "slug": "running",
            "title": "Running in the morning",
            "body": "I run every day.\n\n## Machine learning\n\nMachine learning models.\n",
            "lang": "en",
            "date": "2024-01-15",
        },
        {
            "slug": "learning-machine",
            "title": "A learning machine",
            "body": "The learning of a machine is slow.\n",
            "lang": "en",
            "date": "2024-01-10",
        },
        {
            "slug": "modelo",
            "title": "Un modelo",
            "body": "Solo un modelo de datos.\n",
            "date": "2023-12-01",
        },
        engine=request.param,
    )


# Accents, case and word forms


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("busqueda", {"respiracion", "sin-acentos"}),
        ("búsqueda", {"respiracion", "sin-acentos"}),
        ("respiracion", {"respiracion", "sin-acentos"}),
        ("Respiración", {"respiracion", "sin-acentos"}),
    ],
)
def test_search_is_accent_insensitive_both_ways(blog, query, expected):
    assert set(slugs(find(blog, query + " "))) == expected


@pytest.mark.parametrize("query", ["RESPIRACIÓN ", "rEsPiRaCiOn ", "Búsqueda "])
def test_search_is_case_insensitive(blog, query):
    assert "respiracion" in slugs(find(blog, query))


def test_search_stems_spanish_plurals(blog):
    assert set(slugs(find(blog, "modelos "))) == {"respiracion", "modelo"}
    assert set(slugs(find(blog, "modelo "))) == {"respiracion", "modelo"}


def test_search_stems_english_word_forms(blog):
    assert slugs(find(blog, "run ")) == ["running"]
    assert slugs(find(blog, "runs ")) == ["running"]


@pytest.mark.parametrize("engine", ENGINES)
def test_search_stems_each_post_in_its_own_language(engine):
    search = index(
        {"slug": "en", "title": "Notes", "body": "Running late.\n", "lang": "en"},
        {"slug": "es", "title": "Notas", "body": "Running, dicen.\n", "lang": "es"},
        engine=engine,
    )
    # English stems `running` to `run`; Spanish leaves it as it is.
    assert slugs(find(search, "run ")) == ["en"]
    assert set(slugs(find(search, "running "))) == {"en", "es"}


@pytest.mark.parametrize(("default_lang", "found"), [("es", ["sin-lang"]), ("en", [])])
def test_search_uses_the_default_language_for_posts_without_lang(default_lang, found):
    post = {"slug": "sin-lang", "title": "Notas", "body": "Quiero correr.\n", "lang": None}
    search = index(post, default_lang=default_lang)
    # Spanish stems `corriendo` and `correr` alike; English does not.
    assert slugs(find(search, "corriendo ")) == found


def test_search_language_tags_with_a_region_use_the_language_stemmer():
    search = index({"slug": "mx", "title": "Notas", "body": "Los modelos.\n", "lang": "es-MX"})
    assert slugs(find(search, "modelo ")) == ["mx"]


# Ranking


@pytest.mark.parametrize("engine", ENGINES)
def test_search_ranks_a_title_match_above_a_body_only_match(engine):
    search = index(
        {"slug": "body", "title": "Otra cosa", "body": "Habla de fermentación.\n"},
        {"slug": "title", "title": "Fermentación", "body": "Texto.\n", "date": "2020-01-01"},
        engine=engine,
    )
    hits = find(search, "fermentacion ")
    assert slugs(hits) == ["title", "body"]
    assert hits[0].score > hits[1].score > 0


@pytest.mark.parametrize("engine", ENGINES)
def test_search_ranks_a_heading_match_above_a_body_only_match(engine):
    search = index(
        {"slug": "body", "title": "Uno", "body": "## Otra\n\nHabla de harina aquí.\n"},
        {"slug": "heading", "title": "Dos", "body": "## Harina\n\nTexto.\n", "date": "2020-01-01"},
        engine=engine,
    )
    assert slugs(find(search, "harina ")) == ["heading", "body"]


@pytest.mark.parametrize("engine", ENGINES)
def test_search_finds_tags_and_description(engine):
    search = index(
        {"slug": "tagged", "title": "Uno", "body": "Texto.\n", "tags": ("Senderismo",)},
        {"slug": "described", "title": "Dos", "body": "Texto.\n", "description": "Senderismo."},
        engine=engine,
    )
    assert set(slugs(find(search, "senderismo "))) == {"tagged", "described"}


@pytest.mark.parametrize("engine", ENGINES)
def test_search_orders_equal_scores_newest_first(engine):
    same = {"title": "Pan", "body": "Masa madre.\n"}
    search = index(
        {"slug": "old", "date": "2020-01-01", **same},
        {"slug": "new", "date": "2024-01-01", **same},
        {"slug": "mid", "date": "2022-01-01", **same},
        engine=engine,
    )
    assert slugs(find(search, "pan ")) == ["new", "mid", "old"]


@pytest.mark.parametrize("engine", ENGINES)
def test_search_needs_every_word_but_not_in_the_same_section(engine):
    search = index(
        {"slug": "both", "title": "Uno", "body": "## A\n\nHarina.\n\n## B\n\nHorno.\n"},
        {"slug": "one", "title": "Dos", "body": "Harina.\n"},
        engine=engine,
    )
    assert slugs(find(search, "harina horno ")) == ["both"]


# Query syntax


@pytest.mark.parametrize(("query", "found"), [("respir", "respiracion"), ("mode", "modelo")])
def test_search_matches_the_last_term_as_a_prefix(blog, query, found):
    assert found in slugs(find(blog, query))


@pytest.mark.parametrize("engine", ENGINES)
def test_search_prefix_finds_words_whose_stem_is_shorter_than_the_prefix(engine):
    search = index(
        {"slug": "en", "title": "Notes", "body": "Running late.\n", "lang": "en"}, engine=engine
    )
    # `running` is stored as its stem `run`, which does not start with `runni`.
    assert slugs(find(search, "runni")) == ["en"]


def test_search_prefix_applies_only_to_the_last_term_while_typing(blog):
    assert slugs(find(blog, "mode")) != []
    assert slugs(find(blog, "mode ")) == []
    assert slugs(find(blog, "mode calma")) == []


def test_search_phrase_matches_only_adjacent_words(blog):
    assert slugs(find(blog, '"machine learning"')) == ["running"]
    assert set(slugs(find(blog, "machine learning"))) == {"running", "learning-machine"}


def test_search_unclosed_phrase_runs_to_the_end(blog):
    assert slugs(find(blog, '"machine learning')) == ["running"]


def test_search_minus_excludes_a_term(blog):
    assert set(slugs(find(blog, "respiracion "))) == {"respiracion", "sin-acentos"}
    assert slugs(find(blog, "respiracion -modelos")) == ["sin-acentos"]
    assert slugs(find(blog, 'machine -"machine learning"')) == ["learning-machine"]


def test_search_parse_query_reads_terms_phrases_exclusions_and_prefix():
    parsed = parse_query('Búsqueda "Machine Learning" -Modelos resp')
    assert parsed == ParsedQuery(
        terms=("busqueda", "resp"),
        phrases=(("machine", "learning"),),
        excluded=(("modelos",),),
        prefix=True,
    )
    assert not parse_query("resp ").prefix
    assert not parse_query("resp.").prefix
    assert parse_query("machine-learning") == ParsedQuery(phrases=(("machine", "learning"),))


def test_search_operator_words_are_plain_words(blog):
    assert parse_query("AND OR NOT NEAR") == ParsedQuery(("and", "or", "not", "near"), prefix=True)
    assert parse_query("title:x") == ParsedQuery(phrases=(("title", "x"),))
    assert slugs(find(blog, "in the ")) == ["running"]


def test_search_only_exclusions_is_a_query_error(blog):
    with pytest.raises(QueryError, match="only excludes"):
        find(blog, "-modelos")


def test_search_too_long_query_is_a_query_error(blog):
    with pytest.raises(QueryError, match="longer than"):
        find(blog, "a" * (MAX_QUERY_LENGTH + 1))


@pytest.mark.parametrize(
    "query",
    [
        "",
        "   ",
        "a" * 1000,
        ("respiración " * 100)[:1000],
        " ".join(["palabra"] * 200)[:1000],
        "?!.,;:()[]{}<>",
        '"',
        '""',
        '"modelos',
        'modelos"',
        '"a" "b',
        "NEAR(",
        "NEAR(modelos respiración, 2)",
        "*",
        "modelo*",
        "^modelo",
        "AND",
        "OR",
        "NOT",
        "modelos AND respiración",
        "modelos OR",
        "title:modelos",
        "{title body}:modelos",
        "-",
        "--",
        "- -",
        "+",
        "modelos -",
        "\x00",
        "'; DROP TABLE fts; --",
        "l\u0301",
        "\u200b",
    ],
)
def test_search_bad_queries_give_an_empty_result_or_query_error(blog, query):
    try:
        hits = find(blog, query)
    except QueryError as error:
        assert error.message
    else:
        assert isinstance(hits, list)


def test_search_empty_queries_find_nothing(blog):
    assert find(blog, "") == []
    assert find(blog, "?!.,") == []
    assert parse_query("  ").empty


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=60))
def test_search_stem_line_has_one_chunk_per_run_of_non_space(text):
    from contentapi.outputs.search.language import LINK, Language

    for language in (Language("spanish"), Language("plain")):
        expected = [LINK.join(language.chunk_stems(chunk)) for chunk in text.split()]
        indexing = language.stem_line(text)
        language.finish()  # at query time: through the bounded cache
        for line in (indexing, language.stem_line(text)):
            assert (line.split(" ") if text.split() else []) == expected


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=60))
def test_search_never_raises_anything_but_query_error(blog, query):
    try:
        result = find(blog, query)
    except QueryError:
        return
    except sqlite3.Error as error:  # pragma: no cover - the failure being looked for
        pytest.fail(f"{query!r} reached SQLite: {error}")
    assert all(isinstance(hit, Hit) for hit in result)


# Snippets


def test_search_snippet_marks_the_original_accented_word(blog):
    (hit,) = find(blog, "respiracion -acentos")
    texts = [snippet.html for snippet in hit.snippets]
    assert any("<mark>Respiración</mark>" in text for text in texts)


def test_search_snippet_carries_the_section_id_and_heading(blog):
    (hit,) = find(blog, "calma ")
    (snippet,) = hit.snippets
    assert (snippet.section_id, snippet.heading) == ("busqueda-de-calma", "Búsqueda de calma")
    assert "<mark>calma</mark>" in snippet.html


@pytest.mark.parametrize("engine", ENGINES)
def test_search_snippet_sections_best_first_at_most_three(engine):
    body = "".join(f"## Parte {n}\n\nHarina{' y sal' * (n == 3)}.\n\n" for n in range(1, 6))
    search = index({"slug": "pan", "title": "Pan", "body": body}, engine=engine)
    (hit,) = find(search, "harina sal ")
    assert [s.section_id for s in hit.snippets] == ["parte-3", "parte-1", "parte-2"]


def test_search_snippet_of_the_text_before_any_heading_has_an_empty_id(blog):
    (hit,) = find(blog, "introduccion ")
    assert hit.snippets[0].section_id == ""


def test_search_snippet_escapes_html_in_the_text():
    search = index({"slug": "code", "title": "Uno", "body": "Si a < b & c entonces modelos.\n"})
    (hit,) = find(search, "modelos ")
    assert hit.snippets[0].html == "Si a &lt; b &amp; c entonces <mark>modelos</mark>."


def test_search_snippet_is_an_excerpt_around_the_first_match():
    before = " ".join(f"antes{n}" for n in range(60))
    after = " ".join(f"despues{n}" for n in range(60))
    search = index({"slug": "long", "title": "Uno", "body": f"{before} fermentación {after}\n"})
    (hit,) = find(search, "fermentacion ")
    html = hit.snippets[0].html
    assert html.startswith("…") and html.endswith("…")
    assert "<mark>fermentación</mark>" in html
    assert len(html.replace("<mark>", "").replace("</mark>", "")) <= 170


def test_search_snippet_marks_phrase_words_only_where_adjacent(blog):
    (hit,) = find(blog, '"machine learning"')
    assert hit.snippets[0].html == "<mark>Machine</mark> <mark>learning</mark> models."


def test_search_snippet_marks_prefix_matches(blog):
    hit = next(hit for hit in find(blog, "respir") if hit.slug == "sin-acentos")
    assert "<mark>respiracion</mark>" in hit.snippets[0].html


@pytest.mark.parametrize("engine", ENGINES)
def test_search_snippet_prefix_counts_words_other_than_the_terms(engine):
    body = "## Uno\n\nMasa sola.\n\n## Dos\n\nMasa y madre.\n"
    search = index({"slug": "pan", "title": "Pan", "body": body}, engine=engine)
    (hit,) = find(search, "masa ma")  # `masa` is the term; only `madre` is the prefix's
    assert [s.section_id for s in hit.snippets] == ["dos", "uno"]
    assert hit.snippets[0].html == "<mark>Masa</mark> y <mark>madre</mark>."


@pytest.mark.parametrize("engine", ENGINES)
def test_search_snippet_marks_a_word_inside_a_hyphenated_one(engine):
    body = "Un modelo de machine-learning y más.\n"
    search = index({"slug": "ml", "title": "Uno", "body": body, "lang": "en"}, engine=engine)
    (hit,) = find(search, "learning ")
    assert hit.snippets[0].html == "Un modelo de machine-<mark>learning</mark> y más."


@pytest.mark.parametrize("engine", ENGINES)
def test_search_snippet_phrase_matches_across_punctuation_alone(engine):
    body = "Sobre machine — learning hoy.\n"
    search = index({"slug": "ml", "title": "Uno", "body": body, "lang": "en"}, engine=engine)
    (hit,) = find(search, '"machine learning"')
    assert hit.snippets[0].html == "Sobre <mark>machine</mark> — <mark>learning</mark> hoy."


@pytest.mark.parametrize("engine", ENGINES)
def test_search_snippet_of_decomposed_accents_marks_the_composed_word(engine):
    body = "La respiracio\u0301n lenta.\n"  # as some editors save it (NFD)
    search = index({"slug": "nfd", "title": "Uno", "body": body}, engine=engine)
    (hit,) = find(search, "respiracion ")
    assert hit.snippets[0].html == "La <mark>respiración</mark> lenta."


@pytest.mark.parametrize("engine", ENGINES)
def test_search_snippet_prefix_marks_only_words_that_start_with_it(engine):
    body = "Un animal, toma y masa.\n"  # `ma` inside `animal` and `toma` first
    search = index({"slug": "c", "title": "Uno", "body": body}, engine=engine)
    (hit,) = find(search, "ma")
    assert hit.snippets[0].html == "Un animal, toma y <mark>masa</mark>."


@pytest.mark.parametrize("engine", ENGINES)
def test_search_snippet_of_a_phrase_far_into_a_long_section(engine):
    before = " ".join(f"antes{n}" for n in range(80))
    after = " ".join(f"despues{n}" for n in range(80))
    body = f"{before} machine learning, machine y learning {after}\n"
    search = index({"slug": "ml", "title": "Uno", "body": body, "lang": "en"}, engine=engine)
    (hit,) = find(search, '"machine learning"')
    html = hit.snippets[0].html
    assert html.startswith("…antes") and html.endswith("…")
    assert "<mark>machine</mark> <mark>learning</mark>, machine y learning despues0" in html


def test_search_tantivy_snippets_come_from_the_index_not_the_posts(tmp_path):
    from contentapi.outputs.search.tantivy_engine import TantivyIndex

    def unread(slug: str) -> tuple[Post, Analysis]:
        raise AssertionError(f"{slug} was read again")

    posts = [entry(**fields) for fields in FILLER]
    posts.append(entry("pan", "Pan", "## Masa\n\nLa masa madre fermenta despacio.\n"))
    saved = tmp_path / "tantivy-x.tantivy"
    TantivyIndex.build(posts, "en").save(saved)
    loaded = TantivyIndex.load(saved, "en", unread)
    assert loaded is not None
    (unranked,) = loaded.highlight("fermenta", [Hit("pan", 1.0)])  # a hit it never ranked
    assert unranked.snippets[0].section_id == "masa"
    (hit,) = find(loaded, "fermenta")
    assert hit.snippets == unranked.snippets
    assert hit.snippets[0].section_id == "masa"
    assert "<mark>fermenta</mark>" in hit.snippets[0].html
    newer = loaded.updated([entry("pan", "Pan", "Otra masa, sin fermentar.\n")])
    assert find(newer, "fermenta")[0].snippets[0].html == "Otra masa, sin <mark>fermentar</mark>."


@pytest.mark.parametrize("engine", ENGINES)
def test_search_title_only_match_has_no_snippets(engine):
    search = index({"slug": "t", "title": "Fermentación", "body": "Texto.\n"}, engine=engine)
    (hit,) = find(search, "fermentacion ")
    assert hit.snippets == ()


# Filters, pages and threads


def test_search_filters_by_allowed_slugs(blog):
    assert slugs(find(blog, "machine ", allowed={"running"})) == ["running"]
    results = blog.search("respiracion ", allowed={"sin-acentos", "modelo"})
    assert (results.total, slugs(results.hits)) == (1, ["sin-acentos"])


def test_search_pages_agree_with_the_whole_list_and_count_every_match(blog):
    full = find(blog, "modelo OR learning")  # `or` is a word: matches nothing here
    assert full == []
    every = blog.search("machine", limit=None)
    assert every.total == len(every.hits) == 2
    first, second = blog.search("machine", limit=1), blog.search("machine", offset=1, limit=1)
    assert first.total == second.total == 2
    assert first.hits + second.hits == every.hits
    assert blog.search("machine", offset=5, limit=1) == type(every)(2, ())
    assert blog.search("machine", offset=1, limit=1, allowed={"running", "learning-machine"}) == (
        second
    )


def test_search_highlight_adds_snippets_to_the_hits_it_is_given(blog):
    page = blog.search("modelos ", limit=1)
    assert page.hits[0].snippets == ()
    (hit,) = blog.highlight("modelos ", page.hits)
    assert (hit.slug, hit.score) == (page.hits[0].slug, page.hits[0].score)
    assert hit.snippets


def test_search_explain_says_why_a_query_is_refused(blog):
    assert blog.explain("modelos") is None
    assert "only excludes" in blog.explain("-modelos")
    assert "longer than" in blog.explain("a" * (MAX_QUERY_LENGTH + 1))


def test_search_backend_factory_builds_the_default_backend():
    built = backend("fts5")([entry("uno", "Uno", "Harina.\n")], "es")
    assert len(built) == 1
    assert slugs(find(built, "harina")) == ["uno"]


# Updates: a copy with posts added, replaced or removed, equal to a fresh build


def test_search_updated_equals_a_build_of_the_same_posts():
    old = {"slug": "old", "title": "Pan", "body": "Masa madre.\n", "date": "2020-01-01"}
    new = {"slug": "new", "title": "Pan nuevo", "body": "Masa y horno.\n", "date": "2024-01-01"}
    edited = {**old, "body": "Horno de leña.\n"}
    first = index(old)
    second = first.updated([entry(**new)])
    assert slugs(find(first, "pan")) == ["old"]  # the original is unchanged
    assert find(second, "pan") == find(index(old, new), "pan")
    third = second.updated([entry(**edited)], drop=["new"])
    fresh = index(edited)
    for query in ("pan", "horno", "masa", "leña"):
        assert find(third, query) == find(fresh, query), query
    assert len(third) == len(fresh)


def test_search_scores_do_not_depend_on_posts_left_out():
    """FTS5's statistics forget a removed row at once (tantivy's only after a merge: the
    store never puts a draft in the public index in the first place)."""
    engine = "fts5"
    public = {"slug": "public", "title": "Pan", "body": "Masa madre y horno.\n"}
    draft = {"slug": "draft", "title": "Borrador", "body": "Masa, masa, horno.\n"}
    without = find(index(public, engine=engine), "masa")
    assert find(index(public, draft, engine=engine).updated(drop=["draft"]), "masa") == without


def test_search_is_safe_from_several_threads(blog):
    expected = {query: find(blog, query) for query in ("modelos ", "respir", '"machine learning"')}
    failures: list[str] = []

    def work() -> None:
        for _ in range(30):
            for query, hits in expected.items():
                if find(blog, query) != hits:
                    failures.append(query)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


# refresh(): update the last index when little changed, build anew otherwise


def test_search_refresh_updates_a_copy_for_a_few_changes_and_rebuilds_for_many():
    from dataclasses import replace

    from contentapi.outputs.search import refresh

    posts = [entry(f"p{n}", f"Pan {n}", "Masa.\n", date=f"2024-01-{n + 1:02d}") for n in range(20)]
    analyses = {post.slug: analysis for post, analysis in posts}
    built: list[int] = []

    def build(entries):
        items = list(entries)
        built.append(len(items))
        return Fts5Index.build(items)

    first = refresh(None, [post for post, _ in posts], lambda p: analyses[p.slug], build)
    assert built == [20] and len(first.index) == 20
    same = refresh(first, [post for post, _ in posts], lambda p: analyses[p.slug], build)
    assert same is first
    edited = replace(posts[0][0], title="Harina nueva")
    fewer = [edited, *(post for post, _ in posts[1:19])]
    second = refresh(first, fewer, lambda p: analyses[p.slug], build)
    assert built == [20]  # a copy of the first, with one post replaced and one dropped
    assert slugs(find(second.index, "harina")) == ["p0"] and len(second.index) == 19
    assert slugs(find(first.index, "harina")) == []
    third = refresh(second, fewer[:5], lambda p: analyses[p.slug], build)
    assert built == [20, 5] and len(third.index) == 5


def test_search_backends_are_the_settings_choices():
    from contentapi.outputs.search import BACKENDS
    from contentapi.settings import SEARCH_BACKENDS

    assert set(BACKENDS) == set(SEARCH_BACKENDS)
    for name in BACKENDS:
        assert callable(backend(name))


def test_search_tantivy_updated_finds_what_a_build_finds():
    old = {"slug": "old", "title": "Pan", "body": "Masa madre.\n", "date": "2020-01-01"}
    new = {"slug": "new", "title": "Pan nuevo", "body": "Masa y horno.\n", "date": "2024-01-01"}
    edited = {**old, "body": "Horno de leña.\n"}
    first = index(old, engine="tantivy")
    second = first.updated([entry(**new)])
    assert slugs(find(first, "pan")) == ["old"]  # the original's searcher never sees the change
    assert slugs(find(second, "pan")) == slugs(find(index(old, new, engine="tantivy"), "pan"))
    assert set(slugs(find(second, "pan"))) == {"old", "new"}
    third = second.updated([entry(**edited)], drop=["new"])
    for query in ("pan", "horno", "masa", "leña"):
        assert slugs(find(third, query)) == slugs(find(index(edited, engine="tantivy"), query))
    assert len(third) == len(index(edited, engine="tantivy"))


def test_search_tantivy_snippets_of_pages_beyond_the_places_it_keeps(monkeypatch):
    from contentapi.outputs.search import tantivy_engine

    monkeypatch.setattr(tantivy_engine, "MAX_ADDRESSES", 2)
    posts = [{"slug": f"p{n}", "title": f"Pan {n}", "body": f"Masa {n}.\n"} for n in range(3)]
    search = index(*posts, engine="tantivy")
    for query in ("pan", "masa", "pan masa"):
        page = search.search(query, limit=2)
        shown = search.highlight(query, page.hits)
        assert [hit.slug for hit in shown] == [hit.slug for hit in page.hits]
        assert all(hit.snippets for hit in shown if query != "pan")


def test_search_tantivy_saved_folder_is_opened_updated_and_left_as_it_was(tmp_path):
    import gc

    from contentapi.outputs.search.tantivy_engine import TantivyIndex

    posts = [entry(**fields) for fields in FILLER]
    posts.append(entry("old", "Pan", "Masa madre, ver [receta](#r).\n"))
    by_slug = {post.slug: (post, analysis) for post, analysis in posts}
    built = TantivyIndex.build(posts, "en")
    saved = tmp_path / "search" / "tantivy-x.tantivy"
    saved.parent.mkdir()
    built.save(saved)
    assert TantivyIndex.load(saved, "es", by_slug.__getitem__) is None  # another language
    loaded = TantivyIndex.load(saved, "en", by_slug.__getitem__)
    assert loaded is not None and len(loaded) == len(built)
    assert find(loaded, "mas") == find(built, "mas")  # prefixes and snippets, from the file
    assert find(loaded, "masa")[0].snippets[0].html.startswith("<mark>Masa</mark>")

    files = {path.name: path.stat().st_mtime_ns for path in saved.iterdir()}
    newer = loaded.updated([entry("new", "Pan nuevo", "Horno.\n", date="2024-02-01")], ["old"])
    assert slugs(find(newer, "pan")) == ["new"]
    assert slugs(find(loaded, "pan")) == ["old"]  # the saved folder is unchanged
    assert {path.name: path.stat().st_mtime_ns for path in saved.iterdir()} == files
    copies = [path for path in saved.parent.iterdir() if path != saved]
    assert copies  # the copy was made beside the saved folder (hard links to its segments)
    del newer
    gc.collect()
    assert [path for path in saved.parent.iterdir() if path != saved] == []  # and removed


def test_search_backend_that_is_not_installed_says_what_to_install(monkeypatch):
    import contentapi.outputs.search as search

    monkeypatch.setitem(
        search.BACKENDS, "missing", "contentapi.outputs.search.not_there:Index.build"
    )
    with pytest.raises(ImportError, match=r"pip install 'contentapi\[missing\]'"):
        backend("missing")
