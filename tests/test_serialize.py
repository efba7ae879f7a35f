"""contentapi.outputs.serialize: a post's JSON from index, Links and plain values, no request."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from conftest import post_text

from contentapi.engine.index import BuildOptions, Index, build_index
from contentapi.engine.model import Post, SourceFile, Sources
from contentapi.engine.schema import FIELDS
from contentapi.outputs.query import Page, TermCount, count_terms
from contentapi.outputs.serialize import (
    DERIVED,
    SUMMARY_FIELDS,
    change,
    cover,
    detail,
    envelope,
    excerpt,
    page_detail,
    page_summary,
    pagination_links,
    summary,
    term_count,
)

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
PNG = "images/foto.png"


@dataclass(frozen=True)
class StaticLinks:
    """A Links with made-up routes: the serializers must use whatever it says."""

    base_url: str = "https://api.example.org/v9/"

    def post(self, slug: str) -> str:
        return f"{self.base_url}p/{slug}"

    def term(self, kind: str, slug: str) -> str:
        return f"{self.base_url}{kind}/{slug}"

    def media(self, url: str) -> str:
        return self.base_url + url.lstrip("/") if url.startswith("/media/") else url


LINKS = StaticLinks()


def _index() -> Index:
    files = (
        SourceFile(
            "pan.md",
            post_text(
                title="Pan de masa madre",
                date="2024-01-02",
                category="Cocina",
                tags="[pan, Horno]",
                lang="ES",
                author="Lucía",
                aliases="[old-pan]",
                mood="feliz",
                body=f"Primer párrafo del pan.\n\n![foto](/{PNG})\n\n## Horno\n\nCaliente.",
            ).encode(),
        ),
        SourceFile(
            "gazpacho.md",
            post_text(
                title="Gazpacho",
                date="2024-01-01",
                description="Frío.",
                updated="2024-03-01",
                image="https://cdn.example.com/g.jpg",
            ).encode(),
        ),
        SourceFile("later.md", post_text(title="Luego", date="2024-12-01").encode()),
    )
    index = build_index(
        Sources(files, frozenset({PNG})), BuildOptions(timezone=ZoneInfo("UTC")), NOW
    )
    assert not index.issues, index.issues
    return index


INDEX = _index()


def _post(slug: str):
    return INDEX.by_slug[slug]


def test_serialize_summary_needs_no_request_and_uses_the_links_given() -> None:
    body = summary(INDEX, _post("pan"), LINKS, now=NOW)
    assert list(body) == list(SUMMARY_FIELDS)
    assert body["url"] == "https://api.example.org/v9/p/pan"
    assert body["cover"] == "https://api.example.org/v9/media/images/foto.png"
    assert body["date"] == "2024-01-02T00:00:00+00:00"
    assert body["updated"] is None
    assert body["category"] == {"name": "Cocina", "slug": "cocina"}
    assert body["tags"] == [{"name": "pan", "slug": "pan"}, {"name": "Horno", "slug": "horno"}]
    assert body["description"] == ""
    assert body["excerpt"] == "Primer párrafo del pan."
    assert body["lang"] == "es"
    assert body["author"] == "Lucía"
    assert body["extra"] == {"mood": "feliz"}
    assert "aliases" not in body and "draft" not in body and "image" not in body
    json.dumps(body)  # plain JSON values only


def test_serialize_summary_values_as_written_and_absolute_cover_unchanged() -> None:
    body = summary(INDEX, _post("gazpacho"), LINKS, now=NOW)
    assert body["updated"] == "2024-03-01T00:00:00+00:00"
    assert body["excerpt"] == body["description"] == "Frío."
    assert body["cover"] == "https://cdn.example.com/g.jpg"
    assert body["category"] is None and body["categories"] == []


def test_serialize_summary_only_keeps_a_subset_and_preview_adds_status() -> None:
    post = _post("later")
    assert summary(INDEX, post, LINKS, now=NOW, only=["slug", "title"]) == {
        "slug": "later",
        "title": "Luego",
    }
    shown = summary(INDEX, post, LINKS, now=NOW, preview=True, only=["slug"])
    assert shown == {"slug": "later", "status": "scheduled"}
    assert summary(INDEX, post, LINKS, now=datetime(2025, 1, 1, tzinfo=UTC), preview=True)[
        "status"
    ] == ("published")


def test_serialize_summary_fields_follow_the_field_table() -> None:
    shown = [field.name for field in FIELDS if field.shown == "summary"]
    assert [name for name in SUMMARY_FIELDS if name in shown] == shown
    for item in DERIVED:  # each derived value sits after its field (or after its siblings)
        at = SUMMARY_FIELDS.index(item.name)
        assert SUMMARY_FIELDS.index(item.after) < at
        between = SUMMARY_FIELDS[SUMMARY_FIELDS.index(item.after) + 1 : at]
        assert all(name in {d.name for d in DERIVED} for name in between)
    assert len(set(SUMMARY_FIELDS)) == len(SUMMARY_FIELDS)


def test_serialize_detail_adds_bodies_contents_detail_fields_and_neighbours() -> None:
    pan, gazpacho = _post("pan"), _post("gazpacho")
    body = detail(
        INDEX,
        pan,
        LINKS,
        html=lambda post: f"<p>{post.slug}</p>",
        blocks=lambda post: [],
        formats=["html", "plaintext"],
        neighbours=(gazpacho, None),
        related=[gazpacho],
        now=NOW,
    )
    assert list(body) == [
        *SUMMARY_FIELDS,
        "html",
        "plaintext",
        "toc",
        "images",
        "aliases",
        "prev",
        "next",
        "related",
    ]
    assert body["html"] == "<p>pan</p>"
    assert body["images"] == [
        {
            "url": LINKS.media("/media/" + PNG),
            "alt": "foto",
            "width": None,
            "height": None,
            "placeholder": None,
        }
    ]
    assert body["toc"] == [{"id": "horno", "text": "Horno", "level": 2, "children": []}]
    assert body["aliases"] == ["old-pan"]
    assert body["prev"] == summary(INDEX, gazpacho, LINKS, now=NOW)
    assert body["next"] is None
    assert body["related"] == [body["prev"]]


def test_serialize_detail_in_preview_marks_every_summary() -> None:
    body = detail(
        INDEX,
        _post("later"),
        LINKS,
        html=lambda post: "",
        blocks=lambda post: [],
        formats=["markdown"],
        neighbours=(_post("pan"), None),
        related=[],
        now=NOW,
        preview=True,
    )
    assert body["status"] == "scheduled"
    assert body["prev"]["status"] == "published"
    assert body["markdown"] == "Some text.\n"
    assert "html" not in body


def test_serialize_feed_helpers_excerpt_and_cover() -> None:
    assert excerpt(INDEX, _post("pan")) == "Primer párrafo del pan."
    assert excerpt(INDEX, _post("gazpacho")) == "Frío."
    assert cover(INDEX, _post("later"), LINKS) is None


def test_serialize_term_count_and_change() -> None:
    (cocina,) = count_terms(INDEX.categories, NOW)
    assert term_count("categories", cocina, LINKS) == {
        "name": "Cocina",
        "slug": "cocina",
        "count": 1,
        "latest": "2024-01-02T00:00:00+00:00",
        "url": "https://api.example.org/v9/categories/cocina",
    }
    assert isinstance(cocina, TermCount)
    assert change(_post("gazpacho"), LINKS) == {
        "slug": "gazpacho",
        "url": "https://api.example.org/v9/p/gazpacho",
        "modified": "2024-03-01T00:00:00+00:00",
    }


def test_serialize_pagination_links_and_envelope() -> None:
    page = Page(items=INDEX.posts[1:2], page=2, per_page=1, total=3)
    links = pagination_links(page, lambda number: f"u?page={number}")
    assert links == {
        "self": "u?page=2",
        "first": "u?page=1",
        "last": "u?page=3",
        "next": "u?page=3",
        "prev": "u?page=1",
    }
    body = envelope(page, [{"slug": "x"}], links)
    assert body["meta"]["pagination"] == {
        "page": 2,
        "per_page": 1,
        "total": 3,
        "pages": 3,
        "next": 3,
        "prev": 1,
    }
    assert list(body) == ["data", "meta", "links"]


def test_serialize_imports_without_flask() -> None:
    code = (
        "import sys, contentapi.outputs.serialize;"
        "print('flask' in sys.modules, 'werkzeug' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False"]


def test_serialize_summary_is_what_the_api_serves(client) -> None:
    """The views use these functions: a listing's item is the summary with the app's links."""
    item = client.get("/api/v1/posts?per_page=1").get_json()["data"][0]
    assert list(item) == list(SUMMARY_FIELDS)
    assert item["url"].endswith(f"/api/v1/posts/{item['slug']}")


def test_serialize_excerpt_is_the_authors_then_the_more_cut_then_the_description() -> None:
    def post(front: str, body: str) -> tuple[Index, object]:
        text = f"---\ntitle: T\ndate: 2024-01-01\n{front}\n---\n{body}"
        index = build_index(
            Sources((SourceFile("t.md", text.encode()),)), BuildOptions(timezone=UTC), NOW
        )
        return index, index.by_slug["t"]

    body = "Primero.\n\n<!--more-->\n\nResto.\n"
    assert excerpt(*post("excerpt: 'Mío &amp; *suyo*'\ndescription: D", body)) == "Mío & suyo"
    assert excerpt(*post("summary: Resumen\ndescription: D", body)) == "Resumen"
    assert excerpt(*post("description: D", body)) == "Primero."  # the author's cut
    assert excerpt(*post("description: D", "Primero.\n")) == "D"
    assert excerpt(*post("", "[mp3](https://x.org/a.mp3)\n\nPrimero.\n")) == "Primero."


def test_serialize_page_summary_and_detail() -> None:
    text = "---\ntitle: Sobre mí\ntype: page\n---\nHola.\n\n## Contacto\n\nAquí.\n"
    index = build_index(
        Sources((SourceFile("about.md", text.encode()),)), BuildOptions(timezone=UTC), NOW
    )
    (page,) = index.pages

    class PageLinks(StaticLinks):
        def page(self, slug: str) -> str:
            return f"{self.base_url}pg/{slug}"

    links = PageLinks()
    listed = page_summary(index, page, links, now=NOW)
    assert (listed["url"], listed["date"], listed["excerpt"]) == (
        "https://api.example.org/v9/pg/about",
        None,
        "Hola.",
    )
    whole = page_detail(
        index,
        page,
        links,
        html=lambda p: "<p>x</p>",
        blocks=lambda p: [],
        formats=["html"],
        now=NOW,
    )
    assert whole["html"] == "<p>x</p>" and whole["toc"][0]["id"] == "contacto"
    assert not {"prev", "next", "related"} & set(whole)


def test_serialize_detail_blocks_only_when_asked_with_their_version() -> None:
    pan = _post("pan")
    built: list[str] = []

    def blocks(post: Post) -> list[dict[str, object]]:
        built.append(post.slug)
        return [{"type": "rule"}]

    def shown(formats: list[str]) -> dict[str, object]:
        return detail(
            INDEX,
            pan,
            LINKS,
            html=lambda post: "",
            blocks=blocks,
            formats=formats,
            neighbours=(None, None),
            related=[],
            now=NOW,
        )

    body = shown(["html"])
    assert "blocks" not in body and "blocks_version" not in body
    assert built == []  # not asked for: not built
    body = shown(["blocks"])
    assert (body["blocks_version"], body["blocks"]) == (1, [{"type": "rule"}])
    assert list(body).index("blocks") < list(body).index("toc")
    assert built == ["pan"]


def test_serialize_cover_image_carries_the_cover_and_its_alt() -> None:
    body = summary(INDEX, _post("pan"), LINKS, now=NOW)
    assert body["cover_image"] == {
        "url": body["cover"],
        "alt": "foto",
        "width": None,  # the test index has no image facts
        "height": None,
        "placeholder": None,
    }
    assert summary(INDEX, _post("later"), LINKS, now=NOW)["cover_image"] is None


def test_summary_each_call_gets_its_own_dict_and_the_links_it_was_asked_with():
    """Summaries are kept per index (the same posts show in many listings): a caller adding
    keys to one never changes the next, and other links give other URLs."""
    index = _index()
    post = index.by_slug["pan"]
    first = summary(index, post, LINKS, now=NOW)
    expected = json.loads(json.dumps(first))
    first["score"] = 1.0
    first["url"] = "changed"
    again = summary(index, post, LINKS, now=NOW)
    assert again == expected and again is not first
    other = summary(index, post, StaticLinks("https://other.example/"), now=NOW)
    assert other["url"] == "https://other.example/p/pan"
    assert summary(index, post, LINKS, now=NOW, preview=True)["status"] == "published"
    assert "status" not in summary(index, post, LINKS, now=NOW)
    assert summary(index, post, LINKS, now=NOW, only=["slug"]) == {"slug": post.slug}
