"""Slugs: transliterated lowercase ASCII with hyphens, from titles and file names."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import pytest

from contentapi.engine.index import BuildOptions, parse_source
from contentapi.engine.model import SourceFile
from contentapi.engine.slugs import (
    alias_key,
    fallback_slug,
    old_names,
    post_slug,
    slug_from_path,
    slugify,
)

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Cómo funcionan los Modelos de Lenguaje de Gran Escala (LLMs)",
            "como-funcionan-los-modelos-de-lenguaje-de-gran-escala-llms",
        ),
        ("año", "ano"),
        ("¿Qué son los embeddings?", "que-son-los-embeddings"),
        ("Pingüino  y   cigüeña", "pinguino-y-ciguena"),
        ("Straße", "strasse"),
        ("  --Hola--  ", "hola"),
        ("Python 3.12", "python-3-12"),
    ],
)
def test_slugs_slugify_transliterates_to_ascii(text: str, expected: str) -> None:
    assert slugify(text) == expected


@pytest.mark.parametrize("text", ["!!!", "", "   ", "¿?"])
def test_slugs_slugify_may_be_empty_without_letters(text: str) -> None:
    assert slugify(text) == ""


def test_slugs_slugify_caps_length_at_word_boundary() -> None:
    slug = slugify("palabra " * 60)
    assert len(slug) <= 200
    assert slug.endswith("palabra")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("2023-07-15-hola-mundo.md", "hola-mundo"),
        ("posts/2023/2023-07-15-hola-mundo.md", "hola-mundo"),
        ("2023-7-5_hola-mundo.md", "hola-mundo"),
        ("gazpacho-andaluz.markdown", "gazpacho-andaluz"),
        ("recetas/Gazpacho Andaluz.MARKDOWN", "gazpacho-andaluz"),
        ("a/b/c/Año Nuevo.md", "ano-nuevo"),
        ("posts/notas.v2.md", "notas-v2"),
        # A name that is only a date keeps the date rather than becoming empty.
        ("2023-07-15.md", "2023-07-15"),
    ],
)
def test_slugs_slug_from_path(path: str, expected: str) -> None:
    assert slug_from_path(path) == expected


def test_slugs_fallback_slug_is_slug_when_text_has_letters() -> None:
    assert fallback_slug("Hola Mundo") == "hola-mundo"


@pytest.mark.parametrize("text", ["!!!", "", "¿?", "🎉🎉"])
def test_slugs_fallback_slug_is_never_empty(text: str) -> None:
    slug = fallback_slug(text)
    assert SLUG.match(slug)
    assert slug.startswith("post-")
    assert fallback_slug(text) == slug


def test_slugs_fallback_slug_differs_for_different_text() -> None:
    assert fallback_slug("!!!") != fallback_slug("???")


@pytest.mark.parametrize(
    ("path", "front", "expected"),
    [
        ("posts/2023-07-15-hola-mundo.md", "title: Otro título", "hola-mundo"),
        ("posts/!!!.md", "title: Título de respaldo", "titulo-de-respaldo"),
        ("posts/x.md", "title: Otro\nslug: Mi Slug Propio", "mi-slug-propio"),
    ],
)
def test_slugs_post_slug_from_slug_field_then_file_name_then_title(
    path: str, front: str, expected: str
) -> None:
    data = f"---\n{front}\ndate: 2024-01-01\n---\nText.\n".encode()
    parsed = parse_source(SourceFile(path, data), BuildOptions(timezone=ZoneInfo("UTC")))
    assert parsed.post is not None
    assert parsed.post.slug == expected


def test_slugs_post_slug_never_empty() -> None:
    data = b"---\ntitle: '!!!'\ndate: 2024-01-01\n---\nText.\n"
    parsed = parse_source(SourceFile("!!!.md", data), BuildOptions(timezone=ZoneInfo("UTC")))
    assert parsed.post is not None
    assert SLUG.match(parsed.post.slug)


# keeping old URLs alive


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("%c2%bfes-bueno-el-open-source", "es-bueno-el-open-source"),  # WordPress's `¿`
        ("%C2%BFES-BUENO", "es-bueno"),
        ("%f0%9f%8e%84-feliz-navidad", "feliz-navidad"),  # an encoded emoji is dropped
        ("gin_television", "gin_television"),  # already URL-safe: kept as written
        ("mi-post_2", "mi-post_2"),
        ("Gin_Television", "gin-television"),
        ("Introducción a Svelte", "introduccion-a-svelte"),
        ("100% natural", "100-natural"),
        ("%%%", ""),
    ],
)
def test_slugs_post_slug(written: str, expected: str) -> None:
    assert post_slug(written) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("posts/introducción-a-svelte.md", "introduccion-a-svelte"),
        ("_posts/2013-11-11-gin_television.markdown", "gin_television"),
        ("%c2%bfes-bueno.md", "es-bueno"),
    ],
)
def test_slugs_slug_from_path_decodes_and_keeps_url_safe_names(path: str, expected: str) -> None:
    assert slug_from_path(path) == expected


def test_slugs_old_names_cover_what_old_urls_said() -> None:
    names = old_names("_posts/2013-11-11-%c2%bfes-bueno.md", "%c2%bfes-bueno-el-open-source")
    assert set(names) == {
        "2013-11-11-%c2%bfes-bueno",
        "2013-11-11-¿es-bueno",
        "2013-11-11-c2-bfes-bueno",
        "%c2%bfes-bueno",
        "¿es-bueno",
        "c2-bfes-bueno",
        "%c2%bfes-bueno-el-open-source",
        "¿es-bueno-el-open-source",
        "c2-bfes-bueno-el-open-source",  # what this API served before it decoded them
    }


@pytest.mark.parametrize(
    "requested",
    [
        "Introducción-a-Svelte",
        "introducci%C3%B3n-a-svelte",
        "INTRODUCCIÓN-A-SVELTE",
        "introduccio\u0301n-a-svelte",  # decomposed, as macOS writes file names
    ],
)
def test_slugs_alias_key_meets_every_spelling(requested: str) -> None:
    assert alias_key(requested) == "introducción-a-svelte"
