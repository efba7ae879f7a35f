"""`/api/v1/pages` and `/api/v1/pages/<page>` through the contract-checking client."""

from __future__ import annotations

import pytest
from conftest import assert_problem

ABOUT = (
    "---\ntitle: Sobre mí\ntype: page\n---\n\n"
    "# Sobre mí\n\nEscribo sobre pan.\n\n## Contacto\n\nAquí.\n"
)


@pytest.fixture
def site(write_post):
    write_post("posts/a.md", title="Un post", date="2024-01-01", tags="[pan]")
    write_post("about.md", text=ABOUT)
    write_post("pages/newsletter.md", text="---\ntitle: Boletín\n---\nSuscríbete.\n")
    write_post("misc/contacto.md", title="Contacto", layout="Page", date="2024-02-01")
    write_post("pages/borrador.md", title="Borrador", draft="true")


def test_pages_list_every_published_page_by_title(site, make_client):
    client = make_client()
    body = client.get("/api/v1/pages").get_json()
    assert [(p["slug"], p["title"], p["date"]) for p in body["data"]] == [
        ("newsletter", "Boletín", None),
        ("contacto", "Contacto", "2024-02-01T00:00:00+00:00"),
        ("about", "Sobre mí", None),
    ]
    assert body["data"][0]["url"] == "http://localhost/api/v1/pages/newsletter"


def test_pages_are_never_posts(site, make_client):
    client = make_client()
    assert [p["slug"] for p in client.get("/api/v1/posts").get_json()["data"]] == ["a"]
    assert client.get("/api/v1").get_json()["counts"] == {"posts": 1, "categories": 0, "tags": 1}
    assert client.get("/api/v1/search?q=suscribete").get_json()["data"] == []
    assert client.get("/api/v1/posts/about").status_code == 404
    for url in ("/feeds/rss.xml", "/feeds/atom.xml", "/sitemap.xml"):
        text = client.get(url).get_data(as_text=True)
        assert "newsletter" not in text and "Sobre m" not in text, url
    archive = client.get("/api/v1/archive").get_json()["data"]
    assert [year["count"] for year in archive] == [1]


def test_pages_detail_html_toc_and_formats(site, make_client):
    page = make_client().get("/api/v1/pages/about?formats=html,markdown,plaintext").get_json()
    assert page["title"] == "Sobre mí" and page["date"] is None
    assert page["html"].startswith("<p>Escribo sobre pan.</p>")  # the H1 title is not repeated
    assert page["markdown"].startswith("Escribo sobre pan.")
    assert page["plaintext"] == "Escribo sobre pan.\n\nContacto\n\nAquí."
    assert page["toc"] == [{"id": "contacto", "text": "Contacto", "level": 2, "children": []}]
    assert page["excerpt"] == "Escribo sobre pan."
    assert "prev" not in page and "related" not in page


def test_pages_detail_has_an_etag_and_answers_304(site, make_client):
    client = make_client()
    first = client.get("/api/v1/pages/newsletter")
    assert first.headers["ETag"]
    again = client.get("/api/v1/pages/newsletter", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_pages_old_names_redirect_and_unknown_is_404(site, write_post, make_client):
    write_post("pages/Quiénes-Somos.md", title="Quiénes somos")
    client = make_client()
    response = client.get("/api/v1/pages/Qui%C3%A9nes-Somos?formats=markdown")
    assert response.status_code == 301
    assert response.headers["Location"] == (
        "http://localhost/api/v1/pages/quienes-somos?formats=markdown"
    )
    body = assert_problem(client.get("/api/v1/pages/nada"), 404)
    assert "nada" in body["detail"]
    assert_problem(client.get("/api/v1/pages/borrador"), 404)  # a draft outside preview


def test_pages_drafts_show_in_preview(site, make_client):
    client = make_client(preview_token="p" * 16)
    auth = {"Authorization": "Bearer " + "p" * 16}
    listed = client.get("/api/v1/pages", headers=auth).get_json()["data"]
    assert {p["slug"]: p["status"] for p in listed}["borrador"] == "draft"
    assert client.get("/api/v1/pages/borrador", headers=auth).status_code == 200


def test_pages_page_and_post_may_share_a_slug(write_post, make_client):
    write_post("posts/about.md", title="Un post llamado about")
    write_post("pages/about.md", title="La página")
    client = make_client()
    assert client.get("/api/v1/posts/about").get_json()["title"] == "Un post llamado about"
    assert client.get("/api/v1/pages/about").get_json()["title"] == "La página"


def test_pages_export_writes_every_published_page(site, make_app, tmp_path):
    result = make_app().test_cli_runner().invoke(args=["content", "export", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    written = {
        p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.json")
    }
    assert {
        "api/v1/pages/index.json",
        "api/v1/pages/about/index.json",
        "api/v1/pages/newsletter/index.json",
        "api/v1/pages/contacto/index.json",
    } <= written
    assert "api/v1/pages/borrador/index.json" not in written
