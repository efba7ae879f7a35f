"""Feeds and the sitemap as served: parsed back by real parsers, pointing at the public site."""

from __future__ import annotations

import feedparser
import pytest
from conftest import ROOT, assert_problem
from lxml import etree

from contentapi.web.views import feeds as feed_views

SITE = {"site_url": "https://blog.example.com", "permalink": "/blog/{year}/{slug}"}


@pytest.fixture
def site(write_post):
    write_post(
        "a.md",
        title='"Año nuevo: ¿qué leer?"',
        date="2024-01-01",
        category="Libros",
        tags="[lectura]",
        description="Lista de libros.",
        body="Texto con **negrita**.",
    )
    write_post("b.md", title="Second & <last>", date="2024-02-01", category="Cocina", tags="[pan]")
    write_post("draft.md", title="Borrador", date="2024-03-01", draft="true", category="Cocina")
    write_post("later.md", title="Luego", date="2999-01-01", category="Cocina")
    write_post("secret.md", title="Secreto", date="2024-01-05", draft="true", category="Secreta")


@pytest.mark.parametrize("path", ["/feeds/rss.xml", "/feeds/atom.xml"])
def test_feeds_xml_feeds_parse_and_point_at_the_site(site, make_client, path):
    response = make_client(**SITE).get(path)
    assert response.status_code == 200
    feed = feedparser.parse(response.data)
    assert not feed.bozo, feed.get("bozo_exception")
    assert [entry.title for entry in feed.entries] == ["Second & <last>", "Año nuevo: ¿qué leer?"]
    first = feed.entries[1]
    assert first.link == "https://blog.example.com/blog/2024/a"
    assert "<strong>negrita</strong>" in first.content[0].value
    assert first.published_parsed[:3] == (2024, 1, 1)
    assert len({entry.id for entry in feed.entries}) == 2


def test_feeds_media_types(site, make_client):
    client = make_client(**SITE)
    assert client.get("/feeds/rss.xml").headers["Content-Type"] == (
        "application/rss+xml; charset=utf-8"
    )
    assert client.get("/feeds/atom.xml").headers["Content-Type"] == (
        "application/atom+xml; charset=utf-8"
    )
    assert client.get("/feeds/feed.json").headers["Content-Type"] == (
        "application/feed+json; charset=utf-8"
    )


def test_feeds_json_feed_has_the_required_fields(site, make_client):
    feed = make_client(**SITE).get("/feeds/feed.json").get_json()
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert feed["title"]
    assert [item["url"] for item in feed["items"]] == [
        "https://blog.example.com/blog/2024/b",
        "https://blog.example.com/blog/2024/a",
    ]
    for item in feed["items"]:
        assert item["id"] and item["content_html"]
        assert item["date_published"].startswith("2024-")


def test_feeds_filter_by_category_and_tag(site, make_client):
    client = make_client(**SITE)
    titles = [e.title for e in feedparser.parse(client.get("/feeds/rss.xml?tag=pan").data).entries]
    assert titles == ["Second & <last>"]
    atom = feedparser.parse(client.get("/feeds/atom.xml?category=libros").data)
    assert [e.title for e in atom.entries] == ["Año nuevo: ¿qué leer?"]
    assert "Libros" in atom.feed.title
    assert_problem(client.get("/feeds/rss.xml?category=nope"), 404)
    # A category only a draft uses does not exist yet, not even as an empty feed.
    assert_problem(client.get("/feeds/atom.xml?category=secreta"), 404)
    assert_problem(client.get("/feeds/feed.json?tag=nope"), 404)


def test_feeds_item_count_is_configurable(write_post, make_client):
    for day in range(1, 6):
        write_post(f"p{day}.md", title=f"P{day}", date=f"2024-01-0{day}")
    feed = make_client(feed_items="3", **SITE).get("/feeds/feed.json").get_json()
    assert [item["title"] for item in feed["items"]] == ["P5", "P4", "P3"]


def test_feeds_without_a_site_url_link_to_the_api(site, make_client):
    feed = make_client().get("/feeds/feed.json").get_json()
    assert feed["items"][0]["url"] == "http://localhost/api/v1/posts/b"


def test_feeds_conditional_get(site, make_client):
    client = make_client(**SITE)
    first = client.get("/feeds/atom.xml")
    assert (
        client.get("/feeds/atom.xml", headers={"If-None-Match": first.headers["ETag"]}).status_code
        == 304
    )


def _schema(name: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(ROOT / "tests" / "fixtures" / name)))


def test_sitemap_lists_published_posts_and_terms_and_validates(site, make_client):
    response = make_client(**SITE).get("/sitemap.xml")
    assert response.headers["Content-Type"] == "application/xml; charset=utf-8"
    document = etree.fromstring(response.data)
    _schema("sitemap.xsd").assertValid(document)
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    locs = document.xpath("//s:loc/text()", namespaces=ns)
    assert "https://blog.example.com/blog/2024/a" in locs
    assert "https://blog.example.com/categories/cocina" in locs
    assert "https://blog.example.com/tags/lectura" in locs
    assert not any("draft" in loc or "later" in loc for loc in locs)
    lastmods = document.xpath(
        "//s:url[s:loc='https://blog.example.com/blog/2024/a']/s:lastmod", namespaces=ns
    )
    assert lastmods[0].text.startswith("2024-01-01")


def test_sitemap_becomes_an_index_past_the_limit(site, make_client, monkeypatch):
    monkeypatch.setattr(feed_views, "SITEMAP_LIMIT", 3)
    client = make_client(**SITE)
    index = etree.fromstring(client.get("/sitemap.xml").data)
    _schema("siteindex.xsd").assertValid(index)
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    files = index.xpath("//s:sitemap/s:loc/text()", namespaces=ns)
    assert files == [f"http://localhost/sitemap-{n}.xml" for n in (1, 2, 3)]
    urls = []
    for number in (1, 2, 3):
        page = etree.fromstring(client.get(f"/sitemap-{number}.xml").data)
        _schema("sitemap.xsd").assertValid(page)
        urls += page.xpath("//s:loc/text()", namespaces=ns)
    # The home page, 2 posts, 2 categories and 2 tags: 7 URLs in files of at most 3.
    assert len(urls) == len(set(urls)) == 7
    assert_problem(client.get("/sitemap-4.xml"), 404)
