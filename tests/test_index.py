"""The index: files to an immutable snapshot, with every problem collected rather than raised."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from contentapi.engine import index as index_module
from contentapi.engine.assets import AssetMap
from contentapi.engine.index import (
    BuildOptions,
    Index,
    build_index,
    changed_posts,
    derive,
    parse_source,
    patch_index,
    unpack,
)
from contentapi.engine.loader import build_options, read_sources
from contentapi.engine.model import ImageFacts, ImageFile, ImageTable, Post, SourceFile, Sources
from contentapi.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures"
POSTS = FIXTURES / "posts"
CORPUS = FIXTURES / "corpus"
OPTIONS = BuildOptions(timezone=ZoneInfo("UTC"))
BUILT_AT = datetime(2024, 6, 1, tzinfo=UTC)
CORPUS_SLUGS = {"hola-mundo", "apis-sin-servidor", "gazpacho", "notas-de-versiones", "empezar"}


def fixture_source(name: str, path: str | None = None) -> SourceFile:
    return SourceFile(path or f"posts/{name}", (POSTS / name).read_bytes())


def source(path: str, front: str, body: str = "Texto.\n") -> SourceFile:
    return SourceFile(path, f"---\n{front}\n---\n\n{body}".encode())


def build(*files: SourceFile, assets: frozenset[str] = frozenset(), **options: object) -> Index:
    build_opts = replace(OPTIONS, **options)  # type: ignore[arg-type]
    return build_index(Sources(files, assets), build_opts, BUILT_AT)


BODIES: dict[tuple[str, str], str] = {}  # the bodies of the posts parsed_post made


def parsed_post(name: str, path: str | None = None, options: BuildOptions = OPTIONS) -> Post:
    result = parse_source(fixture_source(name, path), options)
    assert result.issues == ()
    assert result.post is not None
    BODIES[result.path, result.digest] = unpack(result.packed)
    return result.post


def body(post: Post) -> str:
    """The body parsing cut for a post parsed_post made."""
    return BODIES[post.path, post.digest]


# parse_source


@pytest.mark.parametrize(
    ("name", "field", "line", "fragment"),
    [
        ("unterminated.md", None, 1, "not closed"),
        ("no-front-matter.md", None, 1, "no front matter"),
        ("invalid-yaml.md", None, 4, "not valid YAML"),
        ("list-front-matter.md", None, 2, "mapping"),
        ("invalid-utf8.latin1", None, 6, "UTF-8"),
        ("missing-title.md", "title", None, "required"),
        ("missing-date.md", "date", None, "required"),
        ("empty-title.md", "title", 2, "empty"),
        ("bad-date.md", "date", 3, "not a real date"),
        ("bad-date-unquoted.md", "date", 3, "2023-02-30"),
        ("category-and-categories.md", "categories", 5, "not both"),
    ],
)
def test_index_parse_source_turns_bad_files_into_issues(
    name: str, field: str | None, line: int | None, fragment: str
) -> None:
    result = parse_source(fixture_source(name), OPTIONS)
    assert result.post is None
    assert len(result.issues) == 1
    issue = result.issues[0]
    assert (issue.path, issue.field, issue.line, issue.severity) == (
        f"posts/{name}",
        field,
        line,
        "error",
    )
    assert fragment in issue.message


def test_index_parse_source_tag_without_letters_is_left_out_with_a_warning() -> None:
    result = parse_source(source("a.md", "title: A\ndate: 2024-01-01\ntags: [ok, '!!!']"), OPTIONS)
    assert result.post is not None
    assert [ref.slug for ref in result.post.tags] == ["ok"]
    assert [(i.field, i.severity, "!!!" in i.message) for i in result.issues] == [
        ("tags", "warning", True)
    ]


def test_index_parse_source_reads_post_fields() -> None:
    post = parsed_post("categories-list.md", "recetas/varias.md")
    assert post.slug == "varias"
    assert post.directory == "recetas"
    assert post.title == "Varias categorías"
    assert post.date == datetime(2024, 1, 13, tzinfo=ZoneInfo("UTC"))
    assert post.draft is False


# build_index: errors are collected


def test_index_invalid_files_reported_and_valid_posts_kept() -> None:
    corpus = read_sources(CORPUS)
    extra = fixture_source("missing-title.md", "extra/missing-title.md")
    index = build_index(Sources((*corpus.files, extra), corpus.assets), OPTIONS, BUILT_AT)
    assert [(i.path, i.field, i.severity) for i in index.issues] == [
        ("broken/sin-fecha.md", "date", "error"),
        ("extra/missing-title.md", "title", "error"),
    ]
    assert all(issue.message for issue in index.issues)
    assert {post.slug for post in index.posts} == CORPUS_SLUGS
    assert set(index.by_slug) == CORPUS_SLUGS


@pytest.mark.parametrize("reverse", [False, True])
def test_index_duplicate_slug_both_served_newer_gets_its_date(reverse: bool) -> None:
    files = [
        source("z/hola.md", "title: Primero\ndate: 2020-01-01"),
        source("b/2024-05-01-hola.md", "title: Segundo\ndate: 2024-05-01"),
    ]
    index = build(*(reversed(files) if reverse else files))
    assert index.by_slug["hola"].path == "z/hola.md"
    assert index.by_slug["hola-2024-05-01"].path == "b/2024-05-01-hola.md"
    assert [p.slug for p in index.posts] == ["hola-2024-05-01", "hola"]
    (issue,) = index.issues
    assert (issue.path, issue.field, issue.severity) == ("b/2024-05-01-hola.md", "slug", "error")
    assert "z/hola.md" in issue.message
    assert "'hola-2024-05-01'" in issue.message


def test_index_duplicate_slug_from_slug_field() -> None:
    index = build(
        source("a.md", "title: A\ndate: 2024-01-01\nslug: Mismo"),
        source("b.md", "title: B\ndate: 2024-01-02\nslug: mismo"),
    )
    assert index.by_slug["mismo"].path == "a.md"
    assert index.by_slug["mismo-2024-01-02"].path == "b.md"
    assert [(i.path, "a.md" in i.message) for i in index.issues] == [("b.md", True)]


def test_index_three_posts_on_one_slug_and_one_day_get_numbers() -> None:
    index = build(
        source("a.md", "title: A\ndate: 2024-01-01\nslug: mismo"),
        source("b.md", "title: B\ndate: 2024-01-02\nslug: mismo"),
        source("c.md", "title: C\ndate: 2024-01-02\nslug: mismo"),
        source("d.md", "title: D\ndate: 2023-01-01\nslug: mismo-2024-01-02"),
    )
    assert {slug: post.path for slug, post in index.by_slug.items()} == {
        "mismo": "a.md",
        "mismo-2024-01-02": "d.md",  # its own slug: a qualified one never takes it
        "mismo-2024-01-02-2": "b.md",
        "mismo-2024-01-02-3": "c.md",
    }
    assert [i.path for i in index.issues] == ["b.md", "c.md"]


def test_index_aliases_map_to_slug() -> None:
    front = "title: Nuevo\ndate: 2024-01-01\naliases: [Viejo Nombre, viejo, '/%c2%bfotro/']"
    index = build(source("nuevo.md", front))
    assert dict(index.aliases) == {"viejo": "nuevo", "viejo-nombre": "nuevo", "otro": "nuevo"}
    assert index.issues == ()


def test_index_alias_colliding_with_slug_names_both_files() -> None:
    index = build(
        source("a/viejo.md", "title: Viejo\ndate: 2023-01-01"),
        source("b/nuevo.md", "title: Nuevo\ndate: 2024-01-01\naliases: [viejo]"),
    )
    (issue,) = index.issues
    assert (issue.path, issue.field) == ("b/nuevo.md", "aliases")
    assert "a/viejo.md" in issue.message
    assert index.by_slug["viejo"].path == "a/viejo.md"
    assert index.by_slug["nuevo"].path == "b/nuevo.md"  # still served, without the alias
    assert "viejo" not in index.aliases


def test_index_alias_colliding_with_alias_names_both_files() -> None:
    index = build(
        source("a.md", "title: A\ndate: 2023-01-01\naliases: [antiguo]"),
        source("b.md", "title: B\ndate: 2024-01-01\naliases: [antiguo]"),
    )
    (issue,) = index.issues
    assert (issue.path, issue.field) == ("b.md", "aliases")
    assert "a.md" in issue.message
    assert dict(index.aliases) == {"antiguo": "a"}


def test_index_old_names_of_a_file_lead_to_its_post() -> None:
    index = build(
        source("posts/introducción-a-svelte.md", "title: Svelte\ndate: 2021-03-01"),
        source("_posts/2019-05-02-%c2%bfes-bueno.md", "title: ¿Es bueno?\ndate: 2019-05-02"),
    )
    assert index.issues == ()
    assert set(index.by_slug) == {"introduccion-a-svelte", "es-bueno"}
    for old, slug in [
        ("introducción-a-svelte", "introduccion-a-svelte"),
        ("Introducción-A-Svelte", "introduccion-a-svelte"),
        ("introducci%C3%B3n-a-svelte", "introduccion-a-svelte"),  # encoded twice on the way
        ("2019-05-02-¿es-bueno", "es-bueno"),
        ("¿es-bueno", "es-bueno"),
        ("c2-bfes-bueno", "es-bueno"),  # what this API served before it decoded names
        ("ES-BUENO", "es-bueno"),
    ]:
        assert index.canonical_slug(old) == slug, old
    assert index.canonical_slug("es-bueno") is None  # a slug is served, not redirected
    assert index.canonical_slug("otra-cosa") is None


def test_index_slug_field_as_written_and_its_old_forms() -> None:
    index = build(
        source("a.md", "title: A\ndate: 2019-01-01\nslug: '%c2%bfes-bueno-el-open-source'"),
        source("b.md", "title: B\ndate: 2019-01-02\nslug: gin_television"),
        source("gin-television.md", "title: C\ndate: 2019-01-03"),
    )
    assert index.issues == ()
    assert {slug: post.path for slug, post in index.by_slug.items()} == {
        "es-bueno-el-open-source": "a.md",
        "gin_television": "b.md",  # URL-safe as written: kept, and no clash with the next
        "gin-television": "gin-television.md",
    }
    for old in ["%c2%bfes-bueno-el-open-source", "¿es-bueno-el-open-source"]:
        assert index.canonical_slug(old) == "es-bueno-el-open-source"
    assert index.canonical_slug("c2-bfes-bueno-el-open-source") == "es-bueno-el-open-source"
    assert index.canonical_slug("Gin_Television") == "gin_television"


def test_index_old_names_never_take_a_slug_or_written_alias() -> None:
    index = build(
        source("2019-01-01-receta.md", "title: A\ndate: 2019-01-01\nslug: pan"),
        source("receta.md", "title: B\ndate: 2020-01-01"),
        source("c.md", "title: C\ndate: 2021-01-01\naliases: [Pan-Viejo]"),
        source("pan-viejo.md", "title: D\ndate: 2018-01-01\nslug: pan-nuevo"),
    )
    assert index.issues == ()
    assert index.canonical_slug("receta") is None  # B's slug: served, not a redirect
    assert index.aliases["pan-viejo"] == "c"  # written alias beats D's file name
    assert index.canonical_slug("2019-01-01-receta") == "pan"


def test_index_a_clash_keeps_both_posts_reachable_by_old_names() -> None:
    index = build(
        source("2013-11-11-satisfacción.md", "title: Nueva\ndate: 2013-11-11"),
        source("2010-02-01-satisfacción.md", "title: Vieja\ndate: 2010-02-01"),
    )
    assert index.by_slug["satisfaccion"].title == "Vieja"
    assert index.by_slug["satisfaccion-2013-11-11"].title == "Nueva"
    assert index.canonical_slug("2013-11-11-satisfacción") == "satisfaccion-2013-11-11"
    assert index.canonical_slug("2010-02-01-satisfacción") == "satisfaccion"
    (issue,) = index.issues
    assert issue.path == "2013-11-11-satisfacción.md"
    assert "2010-02-01-satisfacción.md" in issue.message


# terms


def test_index_category_spellings_merge_into_one_term() -> None:
    index = build_index(read_sources(CORPUS), OPTIONS, BUILT_AT)
    assert [(t.slug, t.name) for t in index.categories] == [
        ("cocina", "Cocina"),
        ("desarrollo-web", "Desarrollo web"),
    ]
    term = index.category("desarrollo-web")
    assert term is not None
    assert {p.slug for p in term.posts} == {
        "hola-mundo",
        "apis-sin-servidor",
        "notas-de-versiones",
        "empezar",
    }
    # Every post refers to the term by its one display name.
    assert {p.category.name for p in term.posts if p.category} == {"Desarrollo web"}


def test_index_category_merge_ignores_accents() -> None:
    index = build(
        source("a.md", "title: A\ndate: 2024-01-01\ncategory: Programación"),
        source("b.md", "title: B\ndate: 2024-01-02\ncategory: programacion"),
        source("c.md", "title: C\ndate: 2024-01-03\ncategory: Programación"),
    )
    assert [(t.slug, t.name, len(t.posts)) for t in index.categories] == [
        ("programacion", "Programación", 3)
    ]


def test_index_term_name_tie_goes_to_first_path() -> None:
    index = build(
        source("b.md", "title: B\ndate: 2024-01-01\ntags: [Python]"),
        source("a.md", "title: A\ndate: 2024-01-02\ntags: [python]"),
    )
    assert [(t.slug, t.name) for t in index.tags] == [("python", "python")]


def test_index_tags_merge_and_list_posts_newest_first() -> None:
    index = build_index(read_sources(CORPUS), OPTIONS, BUILT_AT)
    tag = index.tag("primeros-pasos")
    assert tag is not None
    assert tag.name == "primeros pasos"
    assert [p.slug for p in tag.posts] == ["apis-sin-servidor", "hola-mundo"]
    assert index.tag("no-existe") is None


# order


CORPUS_ORDER = ["notas-de-versiones", "apis-sin-servidor", "gazpacho", "hola-mundo", "empezar"]


def test_index_posts_newest_first_ties_by_slug() -> None:
    index = build_index(read_sources(CORPUS), OPTIONS, BUILT_AT)
    assert [p.slug for p in index.posts] == CORPUS_ORDER


def test_index_order_does_not_depend_on_input_order() -> None:
    corpus = read_sources(CORPUS)
    shuffled = Sources(tuple(reversed(corpus.files)), corpus.assets)
    assert [p.slug for p in build_index(shuffled, OPTIONS, BUILT_AT).posts] == CORPUS_ORDER


def test_index_same_date_posts_sorted_by_slug() -> None:
    index = build(
        source("c.md", "title: C\ndate: 2024-01-01"),
        source("a.md", "title: A\ndate: '2024-01-01'"),
        source("b.md", "title: B\ndate: 2024-01-01 00:00:00"),
    )
    assert [p.slug for p in index.posts] == ["a", "b", "c"]


# version and incremental builds


def corpus_index(**options: object) -> Index:
    return build_index(read_sources(CORPUS), replace(OPTIONS, **options), BUILT_AT)  # type: ignore[arg-type]


def test_index_version_equal_for_identical_input() -> None:
    first = build_index(read_sources(CORPUS), OPTIONS, BUILT_AT)
    second = build_index(read_sources(CORPUS), OPTIONS, datetime(2030, 1, 1, tzinfo=UTC))
    assert first.version == second.version


def test_index_version_changes_when_file_bytes_change() -> None:
    corpus = read_sources(CORPUS)
    changed = tuple(
        replace(f, data=f.data + b"\n") if f.path.endswith("gazpacho.markdown") else f
        for f in corpus.files
    )
    before = build_index(corpus, OPTIONS, BUILT_AT).version
    after = build_index(Sources(changed, corpus.assets), OPTIONS, BUILT_AT).version
    assert before != after


def test_index_version_changes_when_file_added() -> None:
    corpus = read_sources(CORPUS)
    more = Sources((*corpus.files, source("nuevo.md", "title: N\ndate: 2024-01-01")), corpus.assets)
    assert (
        build_index(corpus, OPTIONS, BUILT_AT).version
        != build_index(more, OPTIONS, BUILT_AT).version
    )


def test_index_version_changes_when_asset_added() -> None:
    corpus = read_sources(CORPUS)
    more = Sources(corpus.files, corpus.assets | {"images/otra.png"})
    assert (
        build_index(corpus, OPTIONS, BUILT_AT).version
        != build_index(more, OPTIONS, BUILT_AT).version
    )


@pytest.mark.parametrize(
    "change",
    [
        {"timezone": ZoneInfo("Europe/Madrid")},
        {"strip_title_heading": False},
        {"words_per_minute": 250},
        {"excerpt_length": 120},
        {"asset_base_url": "https://cdn.example.com/"},
        {"raw_html": "escape"},
        {"iframe_hosts": ("www.youtube.com",)},
    ],
)
def test_index_version_changes_when_option_changes(change: dict[str, object]) -> None:
    assert corpus_index().version != corpus_index(**change).version


def test_index_incremental_build_reuses_unchanged_files() -> None:
    corpus = read_sources(CORPUS)
    first = build_index(corpus, OPTIONS, BUILT_AT)
    changed_path = "posts/2024/recetas/gazpacho.markdown"
    files = tuple(
        replace(f, data=f.data.replace(b"Gazpacho", b"Salmorejo")) if f.path == changed_path else f
        for f in corpus.files
    )
    second = build_index(Sources(files, corpus.assets), OPTIONS, BUILT_AT, previous=first)
    for path, parsed in second.parsed.items():
        if path == changed_path:
            assert parsed is not first.parsed[path]
        else:
            assert parsed is first.parsed[path]
    assert second.by_slug["gazpacho"].title == "Salmorejo rápido"
    assert second.version != first.version


def test_index_incremental_build_equals_full_build() -> None:
    corpus = read_sources(CORPUS)
    first = build_index(corpus, OPTIONS, BUILT_AT)
    files = (*corpus.files[1:], source("nuevo.md", "title: Nuevo\ndate: 2025-01-01"))
    sources = Sources(files, corpus.assets)
    incremental = build_index(sources, OPTIONS, BUILT_AT, previous=first)
    full = build_index(sources, OPTIONS, BUILT_AT)
    assert incremental.posts == full.posts
    assert incremental.issues == full.issues
    assert incremental.version == full.version
    assert corpus.files[0].path not in incremental.parsed


def test_index_incremental_build_reparses_when_options_change() -> None:
    corpus = read_sources(CORPUS)
    first = build_index(corpus, OPTIONS, BUILT_AT)
    madrid = replace(OPTIONS, timezone=ZoneInfo("Europe/Madrid"))
    second = build_index(corpus, madrid, BUILT_AT, previous=first)
    assert all(second.parsed[p] is not first.parsed[p] for p in first.parsed)
    before, after = first.by_slug["hola-mundo"].date, second.by_slug["hola-mundo"].date
    assert before.utcoffset() != after.utcoffset()


def test_index_incremental_build_recomputes_derived_for_changed_post() -> None:
    files = [source("a.md", "title: A\ndate: 2024-01-01", "Primer texto.\n")]
    first = build(*files)
    assert first.derived(first.by_slug["a"]).analysis.excerpt == "Primer texto."
    changed = source("a.md", "title: A\ndate: 2024-01-01", "Texto cambiado.\n")
    second = build_index(Sources((changed,)), OPTIONS, BUILT_AT, previous=first)
    assert second.derived(second.by_slug["a"]).analysis.excerpt == "Texto cambiado."


# title heading


def test_index_leading_h1_equal_to_title_is_stripped() -> None:
    post = parsed_post("title-h1.md")
    assert "# Cómo hornear" not in body(post)
    assert body(post).strip() == "Primer párrafo del cuerpo."


def test_index_leading_h1_different_from_title_is_kept() -> None:
    post = parsed_post("title-h1-differs.md")
    assert body(post).lstrip().startswith("# Receta completa\n")


def test_index_leading_h1_kept_when_option_off() -> None:
    post = parsed_post("title-h1.md", options=replace(OPTIONS, strip_title_heading=False))
    assert body(post).lstrip().startswith("# Cómo hornear pan de **masa madre**")


# derive


def test_index_derive_excerpt_is_first_paragraph_not_description() -> None:
    post = parsed_post("real-shaped-es.md")
    derived = derive(post, body(post), OPTIONS, AssetMap())
    assert post.description.startswith("Una guía sin fórmulas")
    assert derived.analysis.excerpt.startswith("Un modelo de lenguaje predice")


def test_index_derive_cover_is_front_matter_image_first() -> None:
    post = parsed_post("extra-keys.md", "posts/extra-keys.md")
    derived = derive(post, body(post), OPTIONS, AssetMap(frozenset({"posts/images/portada.png"})))
    assert derived.cover == "/media/posts/images/portada.png"
    assert derived.issues == ()


def test_index_derive_cover_falls_back_to_first_body_image() -> None:
    post = parsed_post("images.md", "posts/2024/images.md")
    derived = derive(
        post, body(post), OPTIONS, AssetMap(frozenset({"posts/2024/images/horno.png"}))
    )
    assert derived.cover == "/media/posts/2024/images/horno.png"


def test_index_derive_cover_none_without_images() -> None:
    post = parsed_post("title-h1.md")
    assert derive(post, body(post), OPTIONS, AssetMap()).cover is None


def test_index_derive_missing_images_warn_with_field() -> None:
    body_post = parsed_post("images.md", "posts/2024/images.md")
    warnings = derive(body_post, body(body_post), OPTIONS, AssetMap()).issues
    assert [(w.path, w.field, w.severity) for w in warnings] == [
        ("posts/2024/images.md", "body", "warning")
    ] * 3
    written = ["'images/horno.png'", "'/images/blog/cabecera.jpg'", "'images/miga.png'"]
    assert all(url in w.message for url, w in zip(written, warnings, strict=True))

    cover_post = parsed_post("extra-keys.md", "posts/extra-keys.md")
    (warning,) = derive(cover_post, body(cover_post), OPTIONS, AssetMap()).issues
    assert (warning.field, warning.severity) == ("image", "warning")
    assert "images/portada.png" in warning.message


def test_index_derive_existing_images_resolve_to_media() -> None:
    post = parsed_post("images.md", "posts/2024/images.md")
    files = {
        "posts/2024/images/horno.png",
        "images/blog/cabecera.jpg",
        "posts/2024/images/miga.png",
    }
    assets = AssetMap(frozenset(files))
    derived = derive(post, body(post), OPTIONS, assets)
    assert derived.issues == ()
    assert [i.url for i in derived.images] == [
        "/media/posts/2024/images/horno.png",
        "/media/images/blog/cabecera.jpg",
        "https://cdn.example.org/foto.jpg",
        "/media/posts/2024/images/miga.png",
    ]


def test_index_derive_asset_base_url_makes_missing_images_absolute() -> None:
    post = parsed_post("images.md", "posts/2024/images.md")
    derived = derive(post, body(post), OPTIONS, AssetMap(base_url="https://cdn.example.com/"))
    assert derived.issues == ()
    assert [i.url for i in derived.images] == [
        "https://cdn.example.com/posts/2024/images/horno.png",
        "https://cdn.example.com/images/blog/cabecera.jpg",
        "https://cdn.example.org/foto.jpg",
        "https://cdn.example.com/posts/2024/images/miga.png",
    ]


def test_index_corpus_image_in_assets_resolves_without_warning() -> None:
    index = build_index(read_sources(CORPUS), OPTIONS, BUILT_AT)
    derived = index.derived(index.by_slug["hola-mundo"])
    assert derived.cover == "/media/images/pixel.png"
    assert derived.issues == ()
    assert index.derived(index.by_slug["hola-mundo"]) is derived


def test_index_all_issues_include_image_warnings() -> None:
    images = fixture_source("images.md", "posts/2024/images.md")
    index = build(images, fixture_source("bad-date.md"))
    issues = index.all_issues()
    assert [(i.path, i.severity) for i in issues] == [
        ("posts/2024/images.md", "warning"),
        ("posts/2024/images.md", "warning"),
        ("posts/2024/images.md", "warning"),
        ("posts/bad-date.md", "error"),
    ]


# a post shaped like a real one


def test_index_real_shaped_post_without_asset_base_url() -> None:
    index = build(fixture_source("real-shaped-es.md", "blog/2023/real-shaped-es.md"))
    assert index.issues == ()
    (post,) = index.posts
    assert post.slug == "real-shaped-es"
    assert post.title == "Cómo funcionan los Modelos de Lenguaje de Gran Escala (LLMs)"
    assert post.category is not None
    assert (post.category.name, post.category.slug) == (
        "Inteligencia Artificial",
        "inteligencia-artificial",
    )
    assert post.date == datetime(2023, 7, 15, tzinfo=UTC)
    assert post.date.utcoffset() == UTC.utcoffset(None)
    assert not index.body(post).lstrip().startswith("# ")
    assert "# Cómo funcionan" not in index.body(post)

    derived = index.derived(post)
    assert derived.analysis.toc[0].as_dict()["id"] == "introduccion"
    assert derived.analysis.toc[0].text == "Introducción"
    (warning,) = derived.issues
    assert (warning.field, warning.severity) == ("body", "warning")
    assert "/images/blog/header.jpg" in warning.message
    assert derived.cover == "/images/blog/header.jpg"


def test_index_real_shaped_post_with_asset_base_url_setting() -> None:
    settings = Settings.from_env({"CONTENTAPI_ASSET_BASE_URL": "https://cdn.example.com"})
    options = build_options(settings)
    sources = Sources((fixture_source("real-shaped-es.md", "blog/2023/real-shaped-es.md"),))
    index = build_index(sources, options, BUILT_AT)
    derived = index.derived(index.by_slug["real-shaped-es"])
    assert derived.issues == ()
    assert [i.url for i in derived.images] == ["https://cdn.example.com/images/blog/header.jpg"]
    assert derived.cover == "https://cdn.example.com/images/blog/header.jpg"


# Shortcodes, body lines and the URL policy (issue 10)


def test_index_body_line_is_the_file_line_the_served_body_starts_on() -> None:
    text = "---\ntitle: Faro\ndate: 2024-01-01\n---\n\n\n# Faro\n\nPrimera línea.\n"
    parsed = parse_source(SourceFile("faro.md", text.encode()), OPTIONS)
    post = parsed.post
    assert post is not None
    assert unpack(parsed.packed) == "Primera línea.\n"
    assert text.splitlines()[post.body_line - 1] == "Primera línea."


def test_index_shortcode_warnings_name_the_file_line() -> None:
    body = "# Título\n\nTexto.\n\n{{< desconocido >}}\n\n{% assign x = 1 %}\n"
    file = source("a.md", "title: Título\ndate: 2024-01-01", body)
    index = build(file)
    lines = file.data.decode().splitlines()
    expected = [lines.index("{{< desconocido >}}") + 1, lines.index("{% assign x = 1 %}") + 1]
    warnings = [(w.path, w.line, w.field) for w in index.derived(index.posts[0]).issues]
    assert warnings == [("a.md", line, "body") for line in expected]


def test_index_shortcode_images_count_in_images_and_cover_and_are_checked() -> None:
    body = '{{< figure src="img/uno.png" alt="Uno" >}}\n\n{% img /img/falta.png Falta %}\n'
    index = build(
        source("posts/a.md", "title: A\ndate: 2024-01-01", body),
        assets=frozenset({"posts/img/uno.png"}),
    )
    derived = index.derived(index.posts[0])
    assert [image.url for image in derived.images] == ["/media/posts/img/uno.png", "/img/falta.png"]
    assert derived.cover == "/media/posts/img/uno.png"
    assert [w.message for w in derived.issues] == [
        "image '/img/falta.png' is not in the content folder"
    ]


@pytest.mark.parametrize(
    ("front", "field", "line"),
    [
        ("cover: file:///I:/blog/portada.png", "cover", 4),
        ("image: javascript:alert(1)", "image", 4),
        ("image: 'data:text/html;base64,PHNjcmlwdD4='", "image", 4),
        ("cover: C:\\fotos\\portada.jpg", "cover", 4),
    ],
)
def test_index_cover_urls_follow_the_url_policy(front: str, field: str, line: int) -> None:
    result = parse_source(
        source("a.md", f"title: A\ndate: 2024-01-01\n{front}", "![Faro](faro.png)\n"), OPTIONS
    )
    assert result.post is not None and result.post.image is None
    [warning] = result.issues
    assert (warning.field, warning.line, warning.severity) == (field, line, "warning")
    index = build(source("a.md", f"title: A\ndate: 2024-01-01\n{front}", "![Faro](faro.png)\n"))
    assert index.derived(index.posts[0]).cover == "faro.png"  # the body's first image
    assert warning in index.issues


def test_index_cover_data_image_is_kept() -> None:
    front = "title: A\ndate: 2024-01-01\nimage: 'data:image/png;base64,iVBORw0KGgo='"
    result = parse_source(source("a.md", front), OPTIONS)
    assert result.post is not None and result.post.image == "data:image/png;base64,iVBORw0KGgo="
    assert result.issues == ()


def test_index_images_follow_the_url_policy_with_one_warning_each() -> None:
    body = (
        '![a](javascript:alert(1))\n\n<img src="file:///I:/x.png">\n\n'
        '<img src="data:image/svg+xml;base64,PHN2Zz4=" alt="svg">\n\n![b](https://example.org/b.png)\n'
    )
    file = source("a.md", "title: A\ndate: 2024-01-01", body)
    index = build(file)
    derived = index.derived(index.posts[0])
    assert [image.url for image in derived.images] == [
        "data:image/svg+xml;base64,PHN2Zz4=",
        "https://example.org/b.png",
    ]
    lines = file.data.decode().splitlines()
    expected = [
        lines.index("![a](javascript:alert(1))") + 1,
        lines.index('<img src="file:///I:/x.png">') + 1,
    ]
    assert sorted(w.line or 0 for w in derived.issues) == expected


def test_index_links_to_posts_and_missing_refs() -> None:
    body = '[b]({{< ref "b.md" >}}) [c]({{< ref "c.md" >}})\n'
    index = build(
        source("a.md", "title: A\ndate: 2024-01-01", body),
        source("b.md", "title: B\ndate: 2024-01-02"),
    )
    assert dict(index.assets.posts) == {"a.md": "a", "b.md": "b"}
    [warning] = index.derived(index.by_slug["a"]).issues
    assert "'c.md' names no post" in warning.message
    assert warning.line == 6  # ---, title, date, ---, blank line, then the body


def test_index_shortcode_templates_are_part_of_the_version() -> None:
    post = source("a.md", "title: A\ndate: 2024-01-01", "{{< caja >}}\n")

    def with_template(text: str) -> Index:
        sources = Sources(
            (post,), frozenset(), (SourceFile("_shortcodes/caja.html", text.encode()),)
        )
        return build_index(sources, OPTIONS, BUILT_AT)

    one, same, two = with_template("<b>1</b>"), with_template("<b>1</b>"), with_template("<b>2</b>")
    assert one.version == same.version != two.version
    assert one.shortcodes == same.shortcodes != two.shortcodes


def test_index_unusable_template_is_a_warning_of_the_index() -> None:
    sources = Sources((), frozenset(), (SourceFile("_shortcodes/roto.html", b"{% if %}"),))
    [issue] = build_index(sources, OPTIONS, BUILT_AT).issues
    assert (issue.path, issue.severity) == ("_shortcodes/roto.html", "warning")


def test_index_reload_recomputes_derived_values_when_a_template_changes() -> None:
    post = source("a.md", "title: A\ndate: 2024-01-01", "{{< caja >}}\n")
    first = build_index(Sources((post,)), OPTIONS, BUILT_AT)
    assert len(first.derived(first.posts[0]).issues) == 1  # unknown shortcode
    sources = Sources((post,), frozenset(), (SourceFile("_shortcodes/caja.html", b"<b>x</b>"),))
    second = build_index(sources, OPTIONS, BUILT_AT, previous=first)
    assert second.derived(second.posts[0]).issues == ()


# pages


@pytest.mark.parametrize(
    ("path", "front", "page"),
    [
        ("about.md", "title: A\ntype: page", True),
        ("about.md", "title: A\nlayout: Page", True),
        ("pages/about.md", "title: A", True),
        ("blog/pages/about.md", "title: A", True),
        ("about.md", "title: A\ndate: 2024-01-01\nlayout: post", False),
        ("pages.md", "title: A\ndate: 2024-01-01", False),
    ],
)
def test_index_what_makes_a_page(path: str, front: str, page: bool) -> None:
    parsed = parse_source(source(path, front), OPTIONS)
    assert parsed.post is not None, parsed.issues
    assert parsed.post.page is page


def test_index_page_types_and_folders_are_settings() -> None:
    options = replace(OPTIONS, page_types=("static",), page_folders=("paginas",))
    assert parse_source(source("paginas/a.md", "title: A"), options).post.page
    assert parse_source(source("b.md", "title: B\ntype: static"), options).post.page
    refused = parse_source(source("pages/c.md", "title: C"), options)
    assert refused.post is None and refused.issues[0].field == "date"


def test_index_pages_are_apart_from_posts() -> None:
    index = build(
        source("pages/sobre-mi.md", "title: Sobre mí"),
        source("pages/aviso.md", "title: Aviso legal\ndate: 2020-01-01\ntags: [legal]"),
        source("sobre-mi.md", "title: Un post\ndate: 2024-01-01"),
    )
    assert index.issues == ()
    assert [p.slug for p in index.posts] == ["sobre-mi"]
    assert [p.slug for p in index.pages] == ["aviso", "sobre-mi"]  # by title
    assert index.pages_by_slug["sobre-mi"].date is None
    assert index.tags == () and index.publications == (datetime(2024, 1, 1, tzinfo=UTC),)
    assert index.derived(index.pages_by_slug["sobre-mi"]).analysis.plaintext == "Texto."


def test_index_two_pages_on_one_slug_are_both_served() -> None:
    index = build(source("pages/a/x.md", "title: A"), source("pages/b/x.md", "title: B"))
    assert sorted(index.pages_by_slug) == ["x", "x-2"]
    (issue,) = index.issues
    assert issue.path == "pages/b/x.md" and "pages/a/x.md" in issue.message


# files without front matter


def test_index_no_front_matter_title_from_h1_date_from_file_name() -> None:
    text = b"# Mi *primer* post\n\nHola.\n"
    parsed = parse_source(SourceFile("_posts/2013-11-11-primero.md", text), OPTIONS)
    post = parsed.post
    assert post is not None, parsed.issues
    assert (post.slug, post.title, post.date) == (
        "primero",
        "Mi primer post",
        datetime(2013, 11, 11, tzinfo=ZoneInfo("UTC")),
    )
    assert unpack(parsed.packed) == "Hola.\n"  # the H1 was the title


def test_index_no_front_matter_page_needs_only_its_h1() -> None:
    post = parse_source(SourceFile("pages/contacto.md", b"# Contacto\n\nEscribe.\n"), OPTIONS).post
    assert post is not None and post.page and post.date is None and post.title == "Contacto"


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("2013-11-11-sin-titulo.md", b"Hola sin titulo.\n"),
        ("sin-fecha.md", b"# Con titulo\n\nPero sin fecha.\n"),
        ("2013-11-11-h2.md", b"## Un H2 no es un titulo\n"),
    ],
)
def test_index_no_front_matter_without_both_is_the_clear_error(path: str, text: bytes) -> None:
    parsed = parse_source(SourceFile(path, text), OPTIONS)
    assert parsed.post is None
    (issue,) = parsed.issues
    assert (issue.line, issue.message) == (1, "no front matter: a post starts with a line `---`")


# image facts


def _image(path: str, width: int, height: int, problem: str | None = None) -> ImageFile:
    facts = ImageFacts(width, height, f"data:image/png;base64,{width}x{height}")
    return ImageFile(path, 10, 1, f"digest-{path}-{width}", facts, problem)


def test_index_derive_images_and_cover_carry_facts_of_content_files() -> None:
    post = parsed_post("images.md", "posts/2024/images.md")
    files = {"posts/2024/images/horno.png": _image("posts/2024/images/horno.png", 800, 600)}
    assets = AssetMap(frozenset(files), images=ImageTable(files))
    derived = derive(post, body(post), OPTIONS, assets)
    by_url = {image.url: image.facts for image in derived.images}
    assert (
        by_url["/media/posts/2024/images/horno.png"] == files["posts/2024/images/horno.png"].facts
    )
    assert by_url["https://cdn.example.org/foto.jpg"] is None  # remote: never fetched
    assert derived.cover_image is not None
    assert derived.cover_image.url == derived.cover == "/media/posts/2024/images/horno.png"
    assert derived.cover_image.facts is not None
    assert derived.cover_image.facts.width == 800


def test_index_front_matter_cover_carries_facts() -> None:
    post = parsed_post("extra-keys.md", "posts/extra-keys.md")
    files = {"posts/images/portada.png": _image("posts/images/portada.png", 1200, 630)}
    derived = derive(
        post, body(post), OPTIONS, AssetMap(frozenset(files), images=ImageTable(files))
    )
    assert derived.cover_image is not None
    assert (derived.cover_image.url, derived.cover_image.alt) == (
        "/media/posts/images/portada.png",
        "",
    )
    assert derived.cover_image.facts == files["posts/images/portada.png"].facts


def test_index_image_problems_are_warnings_and_image_bytes_change_the_version() -> None:
    post = source("a.md", "title: A\ndate: 2024-01-01")
    broken = ImageFile("bad.png", 3, 1, "x", None, "is not a readable image")
    first = build_index(
        Sources((post,), frozenset({"a.png", "bad.png"}), images=(_image("a.png", 10, 10), broken)),
        OPTIONS,
        BUILT_AT,
    )
    assert [(i.path, i.field, i.severity, i.message) for i in first.issues] == [
        ("bad.png", None, "warning", "is not a readable image")
    ]
    assert first.assets.images.facts("a.png") == _image("a.png", 10, 10).facts
    second = build_index(
        Sources((post,), frozenset({"a.png", "bad.png"}), images=(_image("a.png", 11, 10), broken)),
        OPTIONS,
        BUILT_AT,
    )
    assert second.version != first.version


def test_index_broken_edit_keeps_the_last_valid_post_and_its_body() -> None:
    good = source("a.md", "title: Uno\ndate: 2024-01-01", "Cuerpo *válido*.\n")
    first = build(good)
    broken = SourceFile("a.md", b"---\ntitle: [sin cerrar\n---\nOtro cuerpo.\n")
    second = build_index(Sources((broken,)), OPTIONS, BUILT_AT, previous=first)
    (post,) = second.posts
    assert post.title == "Uno"
    assert second.body(post) == "Cuerpo *válido*.\n"
    assert "serving the last valid version" in " ".join(i.message for i in second.issues)


def test_index_body_of_a_post_from_another_index_is_refused() -> None:
    first = build(source("a.md", "title: Uno\ndate: 2024-01-01", "Uno.\n"))
    second = build(source("a.md", "title: Uno\ndate: 2024-01-01", "Dos.\n"))
    with pytest.raises(KeyError):
        second.body(first.posts[0])  # another digest: never the other version's body


def test_index_changed_posts_are_those_parsed_anew_while_inputs_stay() -> None:
    a = source("a.md", "title: A\ndate: 2024-01-01", "Uno.\n")
    b = source("b.md", "title: B\ndate: 2024-01-02", "Dos.\n")
    first = build(a, b)
    edited = source("b.md", "title: B\ndate: 2024-01-02", "Dos, editado.\n")
    second = build_index(Sources((a, edited)), OPTIONS, BUILT_AT, previous=first)
    assert [post.path for post in changed_posts(first, second)] == ["b.md"]
    assert changed_posts(second, second) == ()


def test_index_changed_posts_is_every_post_when_an_input_changed() -> None:
    a = source("a.md", "title: A\ndate: 2024-01-01", "Uno.\n")
    first = build(a)
    with_asset = build_index(Sources((a,), frozenset({"x.png"})), OPTIONS, BUILT_AT, previous=first)
    assert changed_posts(first, with_asset) is None
    other_options = build_index(
        Sources((a,)), replace(OPTIONS, words_per_minute=100), BUILT_AT, previous=first
    )
    assert changed_posts(first, other_options) is None


# patch_index: an edit that keeps where a post is listed patches the previous index


def _stamped(path: str, text: str, tick: int) -> SourceFile:
    return SourceFile(path, text.encode(), (tick, tick, len(text), hash(path) % 1000))


PATCH_CORPUS = {
    "a.md": "---\ntitle: Uno\ndate: 2024-01-01\ncategories: [Viajes]\ntags: [Sevilla, mar]\n"
    "aliases: [/viejo/uno/]\n---\n\nUno.\n",
    "b.md": "---\ntitle: Dos\ndate: 2024-01-02\ncategories: [viajes]\ntags: [sevilla]\n"
    "---\n\nDos.\n",
    "c.md": "---\ntitle: Tres\ndate: 2024-01-02\ntags: [mar, '!!!']\n---\n\nTres.\n",
    "d.md": "---\ntitle: Borrador\ndate: 2024-01-03\ndraft: true\ntags: [mar]\n---\n\nCuatro.\n",
    "e.md": "---\ntitle: Futuro\ndate: 2030-01-01\ncategories: [Viajes]\n---\n\nCinco.\n",
    "f.md": "---\ntitle: Uno otra vez\ndate: 2024-02-01\nslug: a\n---\n\nSeis.\n",
    "g.md": "---\ntitle: Roto\ndate: no es una fecha\n---\n\nSiete.\n",
    "pages/sobre.md": "---\ntitle: Sobre\n---\n\nPágina.\n",
    "h.md": "---\ntitle: Ocho\ndate: 2024-01-06\naliases: [b]\n---\n\nOcho.\n",  # refused
}


def _patch_pair(
    edits: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> tuple[Index, Index, Index, Index]:
    """The index of PATCH_CORPUS; the index after `edits` made from it as a reload makes it
    (the files not edited are not read again); the same with patching turned off; and the
    same files built from nothing."""
    first_files = [_stamped(path, text, 1) for path, text in PATCH_CORPUS.items()]
    first = build_index(Sources(tuple(first_files)), OPTIONS, BUILT_AT)
    again = []
    for file in first_files:
        if file.path in edits:
            again.append(_stamped(file.path, edits[file.path], 2))
        else:
            assert file.stamp is not None
            again.append(SourceFile.unchanged(file.path, file.stamp, file.digest))
    reloaded = build_index(Sources(tuple(again)), OPTIONS, BUILT_AT, previous=first)
    with monkeypatch.context() as patched:
        patched.setattr(index_module, "patch_index", lambda *args, **kwargs: None)
        built = build_index(Sources(tuple(again)), OPTIONS, BUILT_AT, previous=first)
    texts = {**PATCH_CORPUS, **edits}
    fresh = build_index(
        Sources(tuple(_stamped(f.path, texts[f.path], 2 if f.path in edits else 1) for f in again)),
        OPTIONS,
        BUILT_AT,
    )
    return first, reloaded, built, fresh


def _assert_same_index(patched: Index, built: Index) -> None:
    """Every field a view, a feed, the artifact store or the next reload reads."""
    assert patched.version == built.version
    assert patched.posts == built.posts
    assert dict(patched.by_slug) == dict(built.by_slug)
    assert dict(patched.aliases) == dict(built.aliases)
    assert patched.categories == built.categories
    assert patched.tags == built.tags
    assert patched.issues == built.issues
    assert dict(patched.parsed) == dict(built.parsed)
    assert list(patched.parsed) == list(built.parsed)  # the version hashes them in order
    assert [r.packed for r in patched.parsed.values()] == [r.packed for r in built.parsed.values()]
    assert patched.publications == built.publications
    assert patched.pages == built.pages
    assert dict(patched.pages_by_slug) == dict(built.pages_by_slug)
    assert dict(patched.page_aliases) == dict(built.page_aliases)
    assert patched.assets == built.assets
    assert dict(patched.files) == dict(built.files)
    assert dict(patched.stamps()) == dict(built.stamps())
    for post in patched.posts:
        assert patched.body(post) == built.body(post)
        assert patched.derived(post) == built.derived(post)


@pytest.mark.parametrize(
    ("path", "old", "new", "patched"),
    [
        ("a.md", "title: Uno", "title: Uno, editado", True),  # a title
        ("b.md", "Dos.", "Dos, con *más* texto.\n\n![x](x.png)", True),  # the body, a warning more
        ("c.md", "title: Tres", "title: Tres\ndescription: Nueva", True),  # a field added
        ("d.md", "Cuatro.", "Cuatro, aún borrador.", True),  # a draft
        ("e.md", "Cinco.", "Cinco, programado.", True),  # a scheduled post
        ("f.md", "Seis.", "Seis, editado.", False),  # the one that lost slug `a`: renamed, so built
        ("a.md", "date: 2024-01-01", "date: 2024-01-01\nupdated: 2024-03-01", True),  # modified
        ("g.md", "no es una fecha", "2024-01-05", False),  # an invalid post made valid: built
        ("a.md", "date: 2024-01-01", "date: 2024-01-09", False),  # the order changes: built
        ("b.md", "[sevilla]", "[sevilla, nueva]", False),  # a term added: built
        ("c.md", "title: Tres", "title: Tres\nslug: otro", False),  # the slug changes: built
        ("a.md", "title: Uno", "title: [roto", True),  # broken: the last valid post stays
        ("pages/sobre.md", "Página.", "Página editada.", False),  # a page: built
    ],
)
def test_patch_index_equals_the_index_built_in_full(
    path: str, old: str, new: str, patched: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert old in PATCH_CORPUS[path]
    edited = PATCH_CORPUS[path].replace(old, new, 1)
    first, reloaded, built, fresh = _patch_pair({path: edited}, monkeypatch)
    assert (reloaded.patched_from(first) is not None) == patched
    _assert_same_index(reloaded, built)
    assert reloaded.version != first.version
    if "[roto" not in edited:  # built from nothing, a broken file has no last valid version
        _assert_same_index(reloaded, fresh)


def test_patch_index_replaces_only_the_edited_post_and_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, reloaded, _, _ = _patch_pair(
        {
            "a.md": PATCH_CORPUS["a.md"].replace("Uno.", "Uno, editado."),
            "c.md": PATCH_CORPUS["c.md"].replace("Tres.", "Tres, editado."),
        },
        monkeypatch,
    )
    patch = reloaded.patched_from(first)
    assert patch is not None
    assert [(old.path, new.path) for old, new in patch.pairs] == [
        ("c.md", "c.md"),
        ("a.md", "a.md"),
    ]
    assert [post.path for post in changed_posts(first, reloaded) or ()] == ["c.md", "a.md"]
    kept = {post.path: post for post in first.posts}
    for post in reloaded.posts:  # every other post is the previous index's own object
        assert (post is kept[post.path]) == (post.path not in {"a.md", "c.md"})
    assert reloaded.aliases is first.aliases and reloaded.publications is first.publications


@pytest.mark.parametrize(
    "edits",
    [
        {"a.md": PATCH_CORPUS["a.md"].replace("date: 2024-01-01", "date: 2024-01-09")},
        {"b.md": PATCH_CORPUS["b.md"].replace("[viajes]", "[Otra]")},
        {"c.md": PATCH_CORPUS["c.md"].replace("title: Tres", "title: Tres\ndraft: true")},
        {"f.md": PATCH_CORPUS["f.md"].replace("Seis.", "Seis, editado.")},
        {"g.md": PATCH_CORPUS["g.md"].replace("no es una fecha", "2024-01-05")},
        {"pages/sobre.md": PATCH_CORPUS["pages/sobre.md"].replace("Página.", "Otra.")},
        {"h.md": PATCH_CORPUS["h.md"].replace("Ocho.", "Ocho, editado.")},  # its alias clashes
    ],
)
def test_patch_index_leaves_edits_that_move_a_post_to_a_full_build(
    edits: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, reloaded, built, fresh = _patch_pair(edits, monkeypatch)
    assert reloaded.patched_from(first) is None
    _assert_same_index(reloaded, built)
    _assert_same_index(reloaded, fresh)


def test_patch_index_keeps_the_terms_spelled_as_the_index_spells_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    edits = {"b.md": PATCH_CORPUS["b.md"].replace("Dos.", "Otro.")}
    first, reloaded, _, fresh = _patch_pair(edits, monkeypatch)
    assert reloaded.patched_from(first) is not None
    post = reloaded.by_slug["b"]
    assert [ref.name for ref in post.categories] == ["Viajes"]  # written `viajes`
    assert post == fresh.by_slug["b"]


def test_patch_index_refuses_a_file_the_previous_index_did_not_have() -> None:
    first = build(source("a.md", "title: A\ndate: 2024-01-01"))
    new = source("b.md", "title: B\ndate: 2024-01-02")
    assert patch_index(first, [new], OPTIONS, BUILT_AT) is None
    edited = source("a.md", "title: A2\ndate: 2024-01-01")
    assert patch_index(first, [edited], replace(OPTIONS, words_per_minute=9), BUILT_AT) is None
    patched = patch_index(first, [edited], OPTIONS, BUILT_AT)
    assert patched is not None and patched.by_slug["a"].title == "A2"


def test_index_fresh_results_are_taken_instead_of_parsing() -> None:
    """What the loader's pool parsed for these bytes is used as is."""
    a = source("a.md", "title: Uno\ndate: 2024-01-01")
    made = parse_source(a, OPTIONS)
    index = build_index(Sources((a,)), OPTIONS, BUILT_AT, fresh={"a.md": made})
    assert index.parsed["a.md"] is made


def test_index_fresh_result_for_other_bytes_is_not_used() -> None:
    old = parse_source(source("a.md", "title: Viejo\ndate: 2024-01-01"), OPTIONS)
    index = build_index(
        Sources((source("a.md", "title: Nuevo\ndate: 2024-01-01"),)),
        OPTIONS,
        BUILT_AT,
        fresh={"a.md": old},
    )
    assert [post.title for post in index.posts] == ["Nuevo"]


def test_index_fresh_broken_edit_still_keeps_the_last_valid_post() -> None:
    first = build(source("a.md", "title: Uno\ndate: 2024-01-01", "Cuerpo.\n"))
    broken = SourceFile("a.md", b"---\ntitle: [sin cerrar\n---\nOtro cuerpo.\n")
    fresh = {"a.md": parse_source(broken, OPTIONS)}
    second = build_index(Sources((broken,)), OPTIONS, BUILT_AT, previous=first, fresh=fresh)
    assert [post.title for post in second.posts] == ["Uno"]
    assert "serving the last valid version" in " ".join(i.message for i in second.issues)
