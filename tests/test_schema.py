"""The front-matter schema: what a post may say, and what it is told when it says it wrong."""

from __future__ import annotations

import dataclasses
import json
import marshal
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from marshmallow import ValidationError

from contentapi.engine.index import BuildOptions, parse_source
from contentapi.engine.model import ContentIssue, FrozenMap, Post, SourceFile
from contentapi.engine.schema import FIELDS, SYNONYMS, FrontMatterSchema, json_safe

FIXTURES = Path(__file__).parent / "fixtures"
POSTS = FIXTURES / "posts"
SCHEMA = FrontMatterSchema(ZoneInfo("UTC"))
OPTIONS = BuildOptions(timezone=ZoneInfo("UTC"))


def load(**fields: Any) -> dict[str, Any]:
    return SCHEMA.load({"title": "Un título", "date": date(2024, 1, 1), **fields})


def errors(data: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(ValidationError) as caught:
        SCHEMA.load(data)
    return caught.value.messages  # type: ignore[return-value]


def fixture_issues(name: str) -> tuple[ContentIssue, ...]:
    parsed = parse_source(SourceFile(f"posts/{name}", (POSTS / name).read_bytes()), OPTIONS)
    assert parsed.post is None
    return parsed.issues


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"date": "2024-01-01"}, "title"),
        ({"title": "Sin fecha"}, "date"),
        ({"title": None, "date": "2024-01-01"}, "title"),
        ({"title": "x", "date": None}, "date"),
    ],
)
def test_schema_required_fields_are_named_in_error(data: dict[str, Any], field: str) -> None:
    messages = errors(data)
    assert list(messages) == [field]


def test_schema_both_required_fields_missing_are_both_reported() -> None:
    assert set(errors({})) == {"title", "date"}


@pytest.mark.parametrize("title", ["", "   "])
def test_schema_empty_title_is_error(title: str) -> None:
    messages = errors({"title": title, "date": "2024-01-01"})
    assert messages == {"title": ["must not be empty"]}


@pytest.mark.parametrize(
    ("name", "field", "line"),
    [
        ("missing-title.md", "title", None),
        ("missing-date.md", "date", None),
        ("empty-title.md", "title", 2),
        ("bad-date.md", "date", 3),
        ("category-and-categories.md", "categories", 5),
    ],
)
def test_schema_issue_from_file_names_field_and_line(
    name: str, field: str, line: int | None
) -> None:
    issues = fixture_issues(name)
    assert [(issue.path, issue.field, issue.line) for issue in issues] == [
        (f"posts/{name}", field, line)
    ]
    assert issues[0].severity == "error"
    assert issues[0].message


def test_schema_bad_date_message_explains_problem() -> None:
    (issue,) = fixture_issues("bad-date.md")
    assert "2023-02-30" in issue.message
    assert "not a real date" in issue.message


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ("python, flask,  apis ", ["python", "flask", "apis"]),
        ("solo", ["solo"]),
        ("a,,b, ,", ["a", "b"]),
        (["uno", " dos "], ["uno", "dos"]),
        ([2024, 3.5, True], ["2024", "3.5", "true"]),
        (None, []),
        (2024, ["2024"]),
    ],
)
def test_schema_tags_list_or_comma_string(tags: object, expected: list[str]) -> None:
    assert load(tags=tags)["tags"] == expected


def test_schema_empty_list_keys_in_file_are_empty_lists() -> None:
    # `tags:` with no value is YAML null; TextList turns None into [] on purpose.
    parsed = parse_source(
        SourceFile("empty-list-values.md", (POSTS / "empty-list-values.md").read_bytes()),
        OPTIONS,
    )
    assert parsed.issues == ()
    assert parsed.post is not None
    assert parsed.post.tags == ()
    assert parsed.post.aliases == ()


@pytest.mark.parametrize("tags", [[["anidada"]], [{"a": 1}], {"a": 1}])
def test_schema_tags_must_be_text_items(tags: object) -> None:
    messages = errors({"title": "x", "date": "2024-01-01", "tags": tags})
    assert list(messages) == ["tags"]


def test_schema_tags_comma_string_from_file() -> None:
    parsed = parse_source(
        SourceFile("categories-list.md", (POSTS / "categories-list.md").read_bytes()), OPTIONS
    )
    assert parsed.post is not None
    assert [tag.name for tag in parsed.post.tags] == ["recetas", "verano", "sin cocción"]
    assert [tag.slug for tag in parsed.post.tags] == ["recetas", "verano", "sin-coccion"]
    assert [c.name for c in parsed.post.categories] == ["Cocina", "Viajes"]


def test_schema_category_becomes_one_item_categories() -> None:
    data = load(category="Cocina")
    assert data["categories"] == ["Cocina"]
    assert "category" not in data


def test_schema_categories_list_kept_in_order() -> None:
    assert load(categories=["Viajes", "Cocina"])["categories"] == ["Viajes", "Cocina"]


def test_schema_no_category_is_empty_list() -> None:
    assert load()["categories"] == []


def test_schema_category_and_categories_together_is_error() -> None:
    messages = errors(
        {"title": "x", "date": "2024-01-01", "category": "Cocina", "categories": ["Viajes"]}
    )
    assert list(messages) == ["categories"]
    assert "not both" in messages["categories"][0]


def test_schema_unknown_keys_kept_in_extra_as_json() -> None:
    data = load(
        rating=4,
        published_on=date(2024, 1, 20),
        series={"name": "Pan", "since": date(2023, 11, 2), 3: [datetime(2023, 1, 1, 9, 30)]},
    )
    assert data["extra"] == {
        "rating": 4,
        "published_on": "2024-01-20",
        "series": {"name": "Pan", "since": "2023-11-02", "3": ["2023-01-01T09:30:00"]},
    }
    json.dumps(data["extra"])  # raises if anything in extra is not JSON


def test_schema_unknown_keys_from_file_are_json_safe() -> None:
    parsed = parse_source(
        SourceFile("extra-keys.md", (POSTS / "extra-keys.md").read_bytes()), OPTIONS
    )
    assert parsed.post is not None
    extra = dict(parsed.post.extra)
    assert extra == {
        "rating": 4,
        "published_on": "2024-01-20",
        "series": {"name": "Pan casero", "since": "2023-11-02"},
    }
    assert json.loads(json.dumps(extra)) == extra


def test_schema_extra_keys_keep_the_files_order_in_every_process() -> None:
    """`extra` is JSON a client sees: its keys in the order the author wrote them, the same
    in every process (string hashing, and so set order, changes from one to the next)."""
    keys = [f"key_{n}" for n in range(12)]
    script = (
        "import json, sys\n"
        "from zoneinfo import ZoneInfo\n"
        "from contentapi.engine.schema import FrontMatterSchema\n"
        "keys = sys.argv[1:]\n"
        "data = {'title': 't', 'date': '2024-01-01', **{key: 1 for key in keys}}\n"
        "print(json.dumps(list(FrontMatterSchema(ZoneInfo('UTC')).load(data)['extra'])))\n"
    )
    for seed in ("1", "2", "3"):
        done = subprocess.run(
            [sys.executable, "-c", script, *keys],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
            check=True,
        )
        assert json.loads(done.stdout) == keys


def test_schema_known_keys_not_in_extra() -> None:
    data = load(description="d", tags=["t"], draft=True)
    assert data["extra"] == {}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (float("nan"), None),
        (float("inf"), None),
        (float("-inf"), None),
        (b"bytes", "bytes"),
        ({1, 2}, [1, 2]),
        ((date(2020, 1, 1),), ["2020-01-01"]),
        (datetime(2020, 1, 1, tzinfo=UTC), "2020-01-01T00:00:00+00:00"),
    ],
)
def test_schema_json_safe_values(value: object, expected: object) -> None:
    assert json_safe(value) == expected


def test_schema_summary_used_when_description_missing() -> None:
    data = load(summary="El resumen.")
    assert data["description"] == "El resumen."
    assert data["summary"] == "El resumen."


def test_schema_description_wins_over_summary() -> None:
    data = load(description="La descripción.", summary="El resumen.")
    assert data["description"] == "La descripción."
    assert data["summary"] == "El resumen."


@pytest.mark.parametrize("key", ["summary", "excerpt"])
def test_schema_summary_or_excerpt_is_the_authors_excerpt_as_plain_text(key: str) -> None:
    post = parse_source(
        SourceFile(
            "a.md",
            f"---\ntitle: A\ndate: 2024-01-01\n{key}: |\n  Un **resumen** con "
            "<em>marcas</em> &amp; [enlace](https://x.org).\n\n  Segundo.\n---\nTexto.\n".encode(),
        ),
        OPTIONS,
    ).post
    assert post is not None
    assert post.summary == "Un resumen con marcas & enlace.\n\nSegundo."
    assert "extra" not in post.extra and key not in post.extra


@pytest.mark.parametrize(
    ("written", "seen"),
    [
        ("'#171 &#8211; Podcast &amp; más'", "#171 – Podcast & más"),
        ("'Comillas &#8220;curvas&#8221; y &hellip;'", "Comillas “curvas” y …"),
        ("'&#150; de Windows-1252'", "– de Windows-1252"),
        ('"Raya \\x96 en crudo"', "Raya – en crudo"),
        ('"Con \\x08control\\x00es"', "Con controles"),
        ("'Texto &amp;amp; doble'", "Texto &amp; doble"),  # decoded once, as written
    ],
)
def test_schema_plain_text_fields_decode_entities(written: str, seen: str) -> None:
    front = (
        f"title: {written}\ndate: 2024-01-01\ndescription: {written}\nauthor: {written}\n"
        f"tags: [{written}]\ncategory: {written}"
    )
    post = parse_source(SourceFile("a.md", f"---\n{front}\n---\nT.\n".encode()), OPTIONS).post
    assert post is not None
    assert (post.title, post.description, post.author) == (seen, seen, seen)
    assert [ref.name for ref in (*post.tags, *post.categories)] == [seen, seen]


def test_schema_a_title_of_only_control_characters_is_empty() -> None:
    parsed = parse_source(
        SourceFile("a.md", b'---\ntitle: "\\x08\\x00"\ndate: 2024-01-01\n---\nT.\n'), OPTIONS
    )
    assert parsed.post is None
    assert [(i.field, i.message) for i in parsed.issues] == [("title", "must not be empty")]


def test_schema_a_page_needs_no_date_a_post_does() -> None:
    assert "date" in FrontMatterSchema(ZoneInfo("UTC")).validate({"title": "A"})
    page = FrontMatterSchema(ZoneInfo("UTC"), page=True)
    assert page.validate({"title": "A"}) == {}
    assert page.load({"title": "A"})["date"] is None
    assert "date" in page.validate({"title": "A", "date": "ayer"})  # a date given must be one


def test_schema_cover_used_as_image() -> None:
    data = load(cover="images/portada.png")
    assert data["image"] == "images/portada.png"
    assert "cover" not in data


def test_schema_image_wins_over_cover() -> None:
    assert load(image="a.png", cover="b.png")["image"] == "a.png"


def test_schema_summary_and_cover_from_file() -> None:
    parsed = parse_source(
        SourceFile("extra-keys.md", (POSTS / "extra-keys.md").read_bytes()), OPTIONS
    )
    assert parsed.post is not None
    assert parsed.post.description == "Resumen tomado de summary."
    assert parsed.post.image == "images/portada.png"


@pytest.mark.parametrize(
    ("title", "expected"),
    [(2024, "2024"), (3.5, "3.5"), (True, "true"), (date(2024, 1, 1), "2024-01-01")],
)
def test_schema_scalar_title_kept_as_text(title: object, expected: str) -> None:
    assert load(title=title)["title"] == expected


def test_schema_title_mapping_is_error() -> None:
    messages = errors({"title": {"es": "Hola"}, "date": "2024-01-01"})
    assert list(messages) == ["title"]


def test_schema_defaults() -> None:
    data = load()
    assert data["draft"] is False
    assert data["tags"] == []
    assert data["aliases"] == []
    assert data["description"] == ""
    assert data["image"] is None
    assert data["updated"] is None


def test_schema_draft_true_is_bool() -> None:
    assert load(draft=True)["draft"] is True


def test_schema_dates_use_schema_time_zone() -> None:
    madrid = ZoneInfo("Europe/Madrid")
    front = {"title": "x", "date": "2024-07-01", "updated": "2024-07-02 10:00"}
    data = FrontMatterSchema(madrid).load(front)
    assert data["date"] == datetime(2024, 7, 1, tzinfo=madrid)
    assert data["updated"] == datetime(2024, 7, 2, 10, 0, tzinfo=madrid)


def test_schema_slug_without_letters_is_error_and_post_served_by_file_name() -> None:
    data = b"---\ntitle: Hola\ndate: 2024-01-01\nslug: '!!!'\n---\nText.\n"
    parsed = parse_source(SourceFile("hola.md", data), OPTIONS)
    assert parsed.post is not None
    assert parsed.post.slug == "hola"
    assert [(i.field, i.line, i.severity) for i in parsed.issues] == [("slug", 4, "error")]


# The field table


def test_schema_field_table_is_the_post_model() -> None:
    """Every table field is a `Post` attribute and the other way round (bar file facts)."""
    attributes = [f.name for f in dataclasses.fields(Post)]
    file_facts = {"path", "digest", "body_line"}
    assert file_facts | {field.name for field in FIELDS} == set(attributes)
    assert len({field.name for field in FIELDS}) == len(FIELDS)


def test_schema_field_table_front_matter_keys_are_validated() -> None:
    declared = set(SCHEMA.declared_fields)
    assert {field.name for field in FIELDS if field.front is not None} <= declared
    assert declared == {f.name for f in FIELDS if f.front is not None} | set(SYNONYMS)
    assert [f.name for f in FIELDS if f.front is None] == ["extra", "old_names", "page"]


def test_schema_field_table_values_round_trip_through_cache_and_json() -> None:
    post = parse_source(
        SourceFile("posts/real-shaped-es.md", (POSTS / "real-shaped-es.md").read_bytes()), OPTIONS
    ).post
    assert post is not None
    memo: dict = {}
    for field in FIELDS:
        value = getattr(post, field.name)
        stored = field.kind.store(value)
        assert marshal.loads(marshal.dumps(stored)) == stored, field.name  # plain data only
        assert field.kind.restore(stored, memo) == value, field.name
        json.dumps(field.kind.json(value))


def test_schema_field_table_makes_each_post_value() -> None:
    data = b"---\ntitle: Hola\ndate: 2024-01-01\nlang: ES\nauthor: ''\naliases: [Vieja]\n---\n"
    post = parse_source(SourceFile("hola.md", data), OPTIONS).post
    assert post is not None
    assert (post.lang, post.author, post.image, post.draft) == ("es", None, None, False)
    assert post.aliases == ("vieja",)
    assert isinstance(post.extra, FrozenMap)
