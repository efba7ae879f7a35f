"""Feeds and sitemaps, each read back by a real parser or validated against its schema."""

from __future__ import annotations

import calendar
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import feedparser
import jsonschema
import pytest
from lxml import etree

from contentapi.engine.index import BuildOptions, newest_first, parse_source
from contentapi.engine.model import Post, SourceFile
from contentapi.outputs.feeds import (
    JSON_FEED_VERSION,
    FeedSite,
    SitemapEntry,
    atom,
    json_feed,
    lastmod_of,
    post_id,
    post_link,
    rss,
    sitemap,
    sitemap_entries,
    sitemap_index,
    sitemap_pages,
    term_link,
)

FIXTURES = Path(__file__).parent / "fixtures"
SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"

SITE = FeedSite(
    title="Cuaderno de cocina",
    description="Recetas, técnicas y algún desastre",
    site_url="https://blog.example.com/",
    permalink="/blog/{slug}",
    feed_url="https://api.example.com/feeds/rss.xml",
    language="es",
    author="Ana Pérez",
)


def make_post(path: str, front: str, body: str = "Texto.\n") -> Post:
    text = f"---\n{front.strip()}\n---\n{body}"
    parsed = parse_source(SourceFile(path, text.encode()), BuildOptions(timezone=ZoneInfo("UTC")))
    assert parsed.post is not None, parsed.issues
    return parsed.post


def html_of(post: Post) -> str:
    return f"<p>Cuerpo de <em>{post.slug}</em> &amp; más</p>"


def summary_of(post: Post) -> str:
    return post.description or f"Resumen de {post.slug}"


@pytest.fixture
def posts() -> tuple[Post, ...]:
    made = [
        make_post(
            "2024-01-10-pina.md",
            """
title: "Piña colada: ¿cómo se hace?"
date: 2024-01-10 09:15
categories: [Bebidas]
tags: [Verano, Cóctel]
description: Con piña de verdad.
author: José Núñez
""",
        ),
        make_post(
            "creme.md",
            """
title: Crème brûlée
date: 2024-03-02T18:00:00+02:00
updated: 2024-03-20T08:30:00+01:00
category: Postres
tags: [Clásicos]
""",
        ),
        make_post(
            "pan.md",
            """
title: Pan de masa madre
date: 2023-11-05
tags: [Pan]
""",
        ),
    ]
    return newest_first(made)


def utc_seconds(moment: datetime) -> int:
    return int(moment.timestamp())


def parsed_seconds(struct) -> int:
    return calendar.timegm(struct)


# --- permalinks ---------------------------------------------------------------------------


def test_feeds_permalink_placeholders_are_filled() -> None:
    post = make_post(
        "x.md", "title: Hola\ndate: 2024-03-05 23:30\ncategories: [Recetas Dulces, Otra]"
    )
    site = replace(SITE, permalink="/{year}/{month}/{day}/{category}/{slug}/")
    assert post_link(site, post) == "https://blog.example.com/2024/03/05/recetas-dulces/x/"
    assert post_link(SITE, post) == "https://blog.example.com/blog/x"


def test_feeds_permalink_date_is_the_posts_own_calendar_date() -> None:
    post = make_post("late.md", "title: Tarde\ndate: 2024-12-31T23:30:00-05:00")
    site = replace(SITE, permalink="/{year}/{month}/{day}/{slug}")
    assert post_link(site, post) == "https://blog.example.com/2024/12/31/late"


def test_feeds_permalink_without_category_drops_the_segment() -> None:
    post = make_post("solo.md", "title: Solo\ndate: 2024-01-01")
    site = replace(SITE, permalink="/{category}/{slug}/")
    assert post_link(site, post) == "https://blog.example.com/solo/"


def test_feeds_permalink_keeps_a_site_path_prefix() -> None:
    post = make_post("p.md", "title: P\ndate: 2024-01-01")
    site = replace(SITE, site_url="https://example.com/cocina", permalink="posts/{slug}.html")
    assert post_link(site, post) == "https://example.com/cocina/posts/p.html"
    assert term_link(site, "tag", "pan") == "https://example.com/cocina/tags/pan"


def test_feeds_permalink_may_be_an_absolute_url() -> None:
    post = make_post("p.md", "title: P\ndate: 2024-01-01")
    site = replace(SITE, permalink="https://cdn.example.org/{year}/{slug}")
    assert post_link(site, post) == "https://cdn.example.org/2024/p"


def test_feeds_site_rejects_unknown_placeholders_and_relative_urls() -> None:
    with pytest.raises(ValueError, match=r"\{title\}"):
        replace(SITE, permalink="/{title}")
    with pytest.raises(ValueError, match="tag_permalink"):
        replace(SITE, tag_permalink="/tags/{year}")
    with pytest.raises(ValueError, match="site_url"):
        replace(SITE, site_url="/blog/")
    with pytest.raises(ValueError, match="feed_url"):
        replace(SITE, feed_url="feeds/rss.xml")


# --- RSS ----------------------------------------------------------------------------------


def test_feeds_rss_parses_back_with_every_field(posts: tuple[Post, ...]) -> None:
    feed = feedparser.parse(rss(SITE, posts, html_of, summary_of))
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "rss20"
    assert feed.feed.title == "Cuaderno de cocina"
    assert feed.feed.link == "https://blog.example.com/"
    assert feed.feed.subtitle == "Recetas, técnicas y algún desastre"
    assert feed.feed.language == "es"
    self_links = [link.href for link in feed.feed.links if link.rel == "self"]
    assert self_links == [SITE.feed_url]

    assert [entry.title for entry in feed.entries] == [post.title for post in posts]
    assert feed.entries[1].title == "Piña colada: ¿cómo se hace?"
    for entry, post in zip(feed.entries, posts, strict=True):
        assert entry.link == post_link(SITE, post)
        assert entry.link.startswith("https://")
        assert entry.id == post_id(SITE, post)
        assert entry.guidislink is False
        assert parsed_seconds(entry.published_parsed) == utc_seconds(post.date)
        assert entry.summary == summary_of(post)
        assert entry.content[0].value == html_of(post)
        terms = [tag.term for tag in entry.tags]
        assert terms == [ref.name for ref in (*post.categories, *post.tags)]
    assert feed.entries[1].author == "José Núñez"
    assert feed.entries[0].author == "Ana Pérez"  # the site's author stands in


def test_feeds_rss_dates_are_rfc_822(posts: tuple[Post, ...]) -> None:
    root = etree.fromstring(rss(SITE, posts, html_of))
    pub_dates = root.xpath("//item/pubDate/text()")
    # Crème brûlée is dated 18:00 at +02:00: kept in its own offset, RFC 822 style.
    assert pub_dates[0] == "Sat, 02 Mar 2024 18:00:00 +0200"
    assert root.findtext("channel/lastBuildDate") == "Wed, 20 Mar 2024 08:30:00 +0100"


def test_feeds_rss_guid_is_a_tag_uri_not_a_permalink(posts: tuple[Post, ...]) -> None:
    root = etree.fromstring(rss(SITE, posts, html_of))
    guid = root.find("channel/item/guid")
    assert guid.get("isPermaLink") == "false"
    assert guid.text == "tag:blog.example.com,2024-03-02:creme"


def test_feeds_rss_description_defaults_to_the_posts_description(
    posts: tuple[Post, ...],
) -> None:
    feed = feedparser.parse(rss(SITE, posts, html_of))
    assert feed.entries[1].summary == "Con piña de verdad."


def test_feeds_rss_without_a_summary_still_has_content_encoded() -> None:
    post = make_post("bare.md", "title: Bare\ndate: 2024-05-01")
    item = etree.fromstring(rss(SITE, [post], html_of)).find("channel/item")
    encoded = item.findtext("{http://purl.org/rss/1.0/modules/content/}encoded")
    assert encoded == item.findtext("description") == html_of(post)


# --- Atom ---------------------------------------------------------------------------------


def test_feeds_atom_parses_back_with_every_field(posts: tuple[Post, ...]) -> None:
    site = replace(SITE, feed_url="https://api.example.com/feeds/atom.xml")
    feed = feedparser.parse(atom(site, posts, html_of, summary_of))
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert feed.feed.title == "Cuaderno de cocina"
    assert feed.feed.id == site.feed_url
    assert feed.feed.author == "Ana Pérez"
    assert feed.feed.language == "es"
    links = {link.rel: link.href for link in feed.feed.links}
    assert links == {"self": site.feed_url, "alternate": "https://blog.example.com/"}
    assert parsed_seconds(feed.feed.updated_parsed) == utc_seconds(posts[0].modified)

    assert [entry.title for entry in feed.entries] == [post.title for post in posts]
    for entry, post in zip(feed.entries, posts, strict=True):
        assert entry.link == post_link(site, post)
        assert entry.id == post_id(site, post)
        assert parsed_seconds(entry.published_parsed) == utc_seconds(post.date)
        assert parsed_seconds(entry.updated_parsed) == utc_seconds(post.updated or post.date)
        assert entry.content[0].type == "text/html"
        assert entry.content[0].value == html_of(post)
        assert entry.summary == summary_of(post)
        assert [tag.term for tag in entry.tags] == [
            ref.name for ref in (*post.categories, *post.tags)
        ]
    assert feed.entries[1].author == "José Núñez"


def test_feeds_atom_dates_are_rfc_3339(posts: tuple[Post, ...]) -> None:
    ns = {"a": "http://www.w3.org/2005/Atom"}
    root = etree.fromstring(atom(SITE, posts, html_of))
    entry = root.find("a:entry", ns)
    assert entry.findtext("a:published", namespaces=ns) == "2024-03-02T18:00:00+02:00"
    assert entry.findtext("a:updated", namespaces=ns) == "2024-03-20T08:30:00+01:00"
    # A post never updated is updated at its date.
    last = root.findall("a:entry", ns)[-1]
    assert last.findtext("a:updated", namespaces=ns) == "2023-11-05T00:00:00+00:00"


def test_feeds_atom_leaves_out_an_empty_summary() -> None:
    post = make_post("bare.md", "title: Bare\ndate: 2024-05-01")
    raw = atom(SITE, [post], html_of)
    assert b"<summary" not in raw
    assert feedparser.parse(raw).entries[0].content[0].value == html_of(post)


def test_feeds_atom_without_a_site_author_names_the_site(posts: tuple[Post, ...]) -> None:
    feed = feedparser.parse(atom(replace(SITE, author=None), posts, html_of))
    assert feed.feed.author == "Cuaderno de cocina"


# --- shared behaviour ---------------------------------------------------------------------


@pytest.mark.parametrize("build", [rss, atom])
def test_feeds_ids_are_unique_and_stable(build, posts: tuple[Post, ...]) -> None:
    first = build(SITE, posts, html_of)
    assert build(SITE, posts, html_of) == first  # no clock in the output
    ids = [entry.id for entry in feedparser.parse(first).entries]
    assert len(set(ids)) == len(ids) == len(posts)
    edited = [replace(posts[0], title="Otro título", digest="otro"), *posts[1:]]
    again = [entry.id for entry in feedparser.parse(build(SITE, edited, html_of)).entries]
    assert again == ids


@pytest.mark.parametrize("build", [rss, atom])
def test_feeds_order_is_the_callers_newest_first(build, posts: tuple[Post, ...]) -> None:
    entries = feedparser.parse(build(SITE, posts, html_of)).entries
    published = [parsed_seconds(entry.published_parsed) for entry in entries]
    assert published == sorted(published, reverse=True)


@pytest.mark.parametrize("build", [rss, atom])
def test_feeds_escape_ampersand_and_less_than_in_titles(build) -> None:
    post = make_post("amp.md", "title: 'Sal & pimienta <2024> \"ya\"'\ndate: 2024-05-01")
    raw = build(SITE, [post], html_of)
    assert b"Sal &amp; pimienta &lt;2024&gt;" in raw
    etree.fromstring(raw)  # well-formed
    entry = feedparser.parse(raw).entries[0]
    assert entry.title == 'Sal & pimienta <2024> "ya"'


@pytest.mark.parametrize("build", [rss, atom])
def test_feeds_drop_characters_xml_cannot_carry(build) -> None:
    post = make_post("ctl.md", "title: Limpio\ndate: 2024-05-01")
    raw = build(SITE, [replace(post, title="Con\x0bcontrol\x00")], html_of)
    assert feedparser.parse(raw).entries[0].title == "Concontrol"


@pytest.mark.parametrize("build", [rss, atom])
def test_feeds_relative_urls_in_html_become_absolute(build) -> None:
    post = make_post("rel.md", "title: Rel\ndate: 2024-05-01")

    def markup(_: Post) -> str:
        return (
            '<p><a href="#fn-1">1</a> <a href="../pan/">pan</a> '
            '<img src="/media/a%20b.png" alt=""> <a href="mailto:a@b.c">m</a> '
            '<a href="https://x.org/?a=1&amp;b=2">x</a></p>'
        )

    content = feedparser.parse(build(SITE, [post], markup)).entries[0].content[0].value
    assert 'href="https://blog.example.com/blog/rel#fn-1"' in content
    assert 'href="https://blog.example.com/pan/"' in content
    assert 'src="https://blog.example.com/media/a%20b.png"' in content
    assert 'href="mailto:a@b.c"' in content
    assert 'href="https://x.org/?a=1&amp;b=2"' in content


@pytest.mark.parametrize("build", [rss, atom])
def test_feeds_empty_feed_is_valid_and_dated_1970(build) -> None:
    feed = feedparser.parse(build(SITE, [], html_of))
    assert not feed.bozo
    assert feed.entries == []
    assert feed.feed.title == SITE.title
    moment = datetime(2025, 1, 1, tzinfo=UTC)
    assert b"2025" in build(SITE, [], html_of, updated=moment)
    assert b"1970" in build(SITE, [], html_of)


# --- JSON Feed ----------------------------------------------------------------------------

# The JSON Feed 1.1 rules (https://jsonfeed.org/version/1.1) that a reader relies on.
JSON_FEED_SCHEMA = {
    "type": "object",
    "required": ["version", "title", "items"],
    "properties": {
        "version": {"const": "https://jsonfeed.org/version/1.1"},
        "title": {"type": "string"},
        "home_page_url": {"type": "string", "pattern": "^https?://"},
        "feed_url": {"type": "string", "pattern": "^https?://"},
        "description": {"type": "string"},
        "language": {"type": "string"},
        "authors": {"$ref": "#/$defs/authors"},
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id"],
                "anyOf": [{"required": ["content_html"]}, {"required": ["content_text"]}],
                "properties": {
                    "id": {"type": "string", "minLength": 1},
                    "url": {"type": "string", "pattern": "^https?://"},
                    "title": {"type": "string"},
                    "content_html": {"type": "string"},
                    "content_text": {"type": "string"},
                    "summary": {"type": "string"},
                    "image": {"type": "string", "pattern": "^https?://"},
                    "date_published": {"type": "string"},
                    "date_modified": {"type": "string"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "authors": {"$ref": "#/$defs/authors"},
                    "language": {"type": "string"},
                },
            },
        },
    },
    "$defs": {
        "authors": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "minProperties": 1,
                "properties": {"name": {"type": "string"}},
            },
        }
    },
}


def test_feeds_json_feed_has_the_specs_fields_and_types(posts: tuple[Post, ...]) -> None:
    site = replace(SITE, feed_url="https://api.example.com/feeds/feed.json")
    feed = json.loads(json.dumps(json_feed(site, posts, html_of, summary_of)))
    jsonschema.validate(feed, JSON_FEED_SCHEMA)
    assert feed["version"] == JSON_FEED_VERSION
    assert feed["home_page_url"] == "https://blog.example.com/"
    assert feed["feed_url"] == site.feed_url
    assert feed["description"] == SITE.description
    assert feed["language"] == "es"
    assert feed["authors"] == [{"name": "Ana Pérez"}]
    items = feed["items"]
    assert [item["title"] for item in items] == [post.title for post in posts]
    assert len({item["id"] for item in items}) == len(items)
    for item, post in zip(items, posts, strict=True):
        assert item["id"] == post_id(site, post)
        assert item["url"] == post_link(site, post)
        assert item["content_html"] == html_of(post)
        assert item["summary"] == summary_of(post)
        assert datetime.fromisoformat(item["date_published"]) == post.date
        assert datetime.fromisoformat(item["date_modified"]) == post.modified
        assert datetime.fromisoformat(item["date_published"]).tzinfo is not None
        assert item["tags"] == [ref.name for ref in (*post.categories, *post.tags)]
    assert items[1]["authors"] == [{"name": "José Núñez"}]
    assert "authors" not in items[0]  # inherits the feed's
    assert all(value is not None for item in items for value in item.values())


def test_feeds_json_feed_image_is_the_absolute_cover(posts: tuple[Post, ...]) -> None:
    covers = {posts[0].slug: "https://api.example.com/media/creme.jpg", posts[1].slug: "/x.png"}
    feed = json_feed(SITE, posts, html_of, summary_of, image_of=lambda p: covers.get(p.slug))
    images = [item.get("image") for item in feed["items"]]
    assert images == ["https://api.example.com/media/creme.jpg", None, None]


def test_feeds_json_feed_leaves_out_empty_optional_fields() -> None:
    site = FeedSite(title="T", site_url="https://a.example/", feed_url="https://a.example/f.json")
    post = make_post("bare.md", "title: Bare\ndate: 2024-01-01\nlang: EN")
    feed = json_feed(site, [post], lambda _: "", lambda _: "")
    jsonschema.validate(feed, JSON_FEED_SCHEMA)
    assert set(feed) == {"version", "title", "home_page_url", "feed_url", "items"}
    item = feed["items"][0]
    assert set(item) == {
        "id",
        "url",
        "title",
        "content_html",
        "date_published",
        "date_modified",
        "language",
    }
    assert item["language"] == "en"
    assert json_feed(site, [], html_of, summary_of)["items"] == []


# --- sitemaps -----------------------------------------------------------------------------


def schema(name: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(FIXTURES / name)))


def assert_valid(document: bytes, name: str) -> etree._Element:
    assert document.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = etree.fromstring(document)
    validator = schema(name)
    assert validator.validate(root), validator.error_log
    return root


def test_feeds_sitemap_validates_against_the_xsd() -> None:
    entries = [
        ("https://blog.example.com/", datetime(2024, 3, 20, 8, 30, tzinfo=UTC)),
        SitemapEntry("https://blog.example.com/blog/pan", datetime(2023, 11, 5, tzinfo=UTC)),
        SitemapEntry("https://blog.example.com/tags/pan"),
    ]
    root = assert_valid(sitemap(entries), "sitemap.xsd")
    assert root.tag == f"{SITEMAP_NS}urlset"
    urls = root.findall(f"{SITEMAP_NS}url")
    assert [url.findtext(f"{SITEMAP_NS}loc") for url in urls] == [e[0] for e in entries]
    assert urls[0].findtext(f"{SITEMAP_NS}lastmod") == "2024-03-20T08:30:00+00:00"
    assert urls[2].find(f"{SITEMAP_NS}lastmod") is None


def test_feeds_sitemap_lastmod_keeps_the_offset() -> None:
    moment = datetime(2024, 3, 2, 18, 0, 5, 123456, tzinfo=timezone(timedelta(hours=2)))
    root = assert_valid(sitemap([("https://blog.example.com/x", moment)]), "sitemap.xsd")
    assert root.findtext(f".//{SITEMAP_NS}lastmod") == "2024-03-02T18:00:05+02:00"


def test_feeds_sitemap_escapes_and_encodes_locations() -> None:
    loc = "https://blog.example.com/buscar?q=pan&orden=<fecha>"
    raw = sitemap([(loc, None), ("https://blog.example.com/año nuevo", None)])
    root = assert_valid(raw, "sitemap.xsd")
    assert b"q=pan&amp;orden=%3Cfecha%3E" in raw
    locs = [el.text for el in root.iter(f"{SITEMAP_NS}loc")]
    assert locs == [
        "https://blog.example.com/buscar?q=pan&orden=%3Cfecha%3E",
        "https://blog.example.com/a%C3%B1o%20nuevo",
    ]


def test_feeds_sitemap_rejects_relative_locations_and_naive_dates() -> None:
    with pytest.raises(ValueError, match="absolute"):
        sitemap([("/blog/pan", None)])
    with pytest.raises(ValueError, match="timezone"):
        sitemap([("https://blog.example.com/", datetime(2024, 1, 1))])


def test_feeds_sitemap_pages_and_index_over_the_limit() -> None:
    base = datetime(2024, 1, 1, tzinfo=UTC)
    entries = [
        SitemapEntry(f"https://blog.example.com/blog/p{n}", base + timedelta(days=n))
        for n in range(5)
    ]
    pages = sitemap_pages(entries, per_file=2)
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [entry for page in pages for entry in page] == entries
    for page in pages:
        assert_valid(sitemap(page), "sitemap.xsd")
    urls = [
        (f"https://api.example.com/sitemap-{n}.xml", lastmod_of(page))
        for n, page in enumerate(pages, start=1)
    ]
    root = assert_valid(sitemap_index(urls), "siteindex.xsd")
    assert root.tag == f"{SITEMAP_NS}sitemapindex"
    sitemaps = root.findall(f"{SITEMAP_NS}sitemap")
    assert [s.findtext(f"{SITEMAP_NS}loc") for s in sitemaps] == [u for u, _ in urls]
    assert sitemaps[0].findtext(f"{SITEMAP_NS}lastmod") == "2024-01-02T00:00:00+00:00"
    # Plain URLs are enough for an index.
    assert_valid(sitemap_index(u for u, _ in urls), "siteindex.xsd")


def test_feeds_sitemap_pages_at_or_under_the_limit_is_one_page() -> None:
    entries = [SitemapEntry(f"https://blog.example.com/p{n}") for n in range(3)]
    assert sitemap_pages(entries, per_file=3) == [entries]
    assert sitemap_pages([]) == [[]]
    assert len(sitemap_pages(entries)) == 1
    with pytest.raises(ValueError, match="per_file"):
        sitemap_pages(entries, per_file=0)
    assert lastmod_of([]) is None


def test_feeds_sitemap_entries_cover_home_posts_and_terms(posts: tuple[Post, ...]) -> None:
    entries = sitemap_entries(SITE, posts)
    by_loc = dict(entries)
    assert entries[0] == SitemapEntry("https://blog.example.com/", posts[0].modified)
    assert [loc for loc, _ in entries[1:4]] == [post_link(SITE, post) for post in posts]
    assert by_loc["https://blog.example.com/categories/bebidas"] == posts[1].modified
    assert by_loc["https://blog.example.com/categories/postres"] == posts[0].modified
    tag_locs = [loc for loc, _ in entries if "/tags/" in loc]
    assert tag_locs == [
        f"https://blog.example.com/tags/{slug}" for slug in ("clasicos", "coctel", "pan", "verano")
    ]
    assert len(by_loc) == len(entries)
    assert_valid(sitemap(entries), "sitemap.xsd")


# --- front matter as the author meant it ------------------------------------------------------


ENTITIES = """
title: '#171 &#8211; Podcast &amp; más'
date: 2024-05-01
description: 'Episodio &#8220;especial&#8221; &hellip;'
author: 'Ana &#38; Luis'
tags: ['C&#43;&#43;', 'R&amp;D']
"""


@pytest.mark.parametrize("render", [rss, atom], ids=["rss", "atom"])
def test_feeds_entities_written_in_front_matter_read_back_as_characters(render) -> None:
    post = make_post("171.md", ENTITIES)
    raw = render(SITE, [post], html_of, summary_of)
    assert b"&amp;#" not in raw  # never escaped twice
    (entry,) = feedparser.parse(raw).entries
    assert entry.title == "#171 – Podcast & más"
    assert entry.summary == "Episodio “especial” …"
    assert entry.author == "Ana & Luis"
    assert [tag.term for tag in entry.tags] == ["C++", "R&D"]


def test_feeds_json_feed_entities_decoded() -> None:
    (item,) = json_feed(SITE, [make_post("171.md", ENTITIES)], html_of, summary_of)["items"]
    assert (item["title"], item["summary"]) == ("#171 – Podcast & más", "Episodio “especial” …")


def test_feeds_rss_description_is_text_never_markup() -> None:
    """Readers take RSS `<description>` as HTML: an excerpt about `<script>` or an `<img>` with
    `onerror` must reach them as those characters, not as live markup (issue 12, item 11)."""
    post = make_post("xss.md", "title: X\ndate: 2024-05-01")
    text = "Usa <script>alert(1)</script> y <img src=x onerror=alert(2)> & más"
    item = etree.fromstring(rss(SITE, [post], html_of, lambda _: text)).find("channel/item")
    assert item.findtext("description") == (
        "Usa &lt;script&gt;alert(1)&lt;/script&gt; y &lt;img src=x onerror=alert(2)&gt; &amp; más"
    )
    (entry,) = feedparser.parse(rss(SITE, [post], html_of, lambda _: text)).entries
    assert "<script" not in entry.summary and "<img" not in entry.summary
    assert "&lt;script&gt;" in entry.summary
    (atom_entry,) = feedparser.parse(atom(SITE, [post], html_of, lambda _: text)).entries
    assert atom_entry.summary == text  # Atom's summary is typed text: as it is
