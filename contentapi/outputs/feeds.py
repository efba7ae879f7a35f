"""Feeds (RSS 2.0, Atom 1.0, JSON Feed 1.1) and sitemaps: pure functions of posts and settings.

Nothing here reads files, the clock or the request: the caller passes posts already filtered
(visible), ordered newest first and limited, plus callables giving each post's rendered HTML and
summary. The output depends on nothing else, so equal inputs give byte-equal feeds (and ETags).
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

from feedgen.feed import FeedGenerator

from contentapi.engine.assets import HTML_URL
from contentapi.engine.model import Post, TermRef
from contentapi.settings import PLACEHOLDER, POST_PLACEHOLDERS, TERM_PLACEHOLDERS, is_http_url

JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
SITEMAP_LIMIT = 50_000
GENERATOR = "contentapi"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

PERMALINK_FIELDS = frozenset(POST_PLACEHOLDERS)
TERM_FIELDS = frozenset(TERM_PLACEHOLDERS)
# Characters XML 1.0 cannot carry at all; lxml refuses them, so they are dropped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Already-encoded text stays as it is; only what may not appear in a URI is percent-encoded.
_URI_SAFE = "!#$%&'()*+,/:;=?@[]~"

HtmlOf = Callable[[Post], str]
TextOf = Callable[[Post], str]
ImageOf = Callable[[Post], str | None]


@dataclass(frozen=True)
class FeedSite:
    """The public site the feeds describe, and where the feed itself is served.

    `permalink` is a path (or absolute URL) pattern with `{slug}`, `{year}`, `{month}`, `{day}`
    and `{category}` placeholders, joined under `site_url`. `category_permalink` and
    `tag_permalink` do the same for term pages (`{slug}` only); they feed `sitemap_entries`.
    """

    title: str
    site_url: str
    feed_url: str
    permalink: str = "/{slug}"
    description: str = ""
    language: str | None = None
    author: str | None = None
    category_permalink: str = "/categories/{slug}"
    tag_permalink: str = "/tags/{slug}"

    def __post_init__(self) -> None:
        for name in ("site_url", "feed_url"):
            if not is_http_url(getattr(self, name)):
                raise ValueError(f"{name} must be an absolute http(s) URL")
        _check_pattern("permalink", self.permalink, PERMALINK_FIELDS)
        _check_pattern("category_permalink", self.category_permalink, TERM_FIELDS)
        _check_pattern("tag_permalink", self.tag_permalink, TERM_FIELDS)

    @property
    def host(self) -> str:
        return (urlsplit(self.site_url).hostname or "").lower()


class SitemapEntry(NamedTuple):
    """One `<url>` (or `<sitemap>`): an absolute location and when it last changed, if known."""

    loc: str
    lastmod: datetime | None = None


def _check_pattern(name: str, pattern: str, allowed: frozenset[str]) -> None:
    unknown = sorted(set(PLACEHOLDER.findall(pattern)) - allowed)
    if unknown:
        known = ", ".join("{" + field + "}" for field in sorted(allowed))
        raise ValueError(f"{name}: unknown placeholder {{{unknown[0]}}}; use {known}")


def _expand(site: FeedSite, pattern: str, values: dict[str, str]) -> str:
    """A pattern with its placeholders filled, as an absolute URL under the site."""
    path = PLACEHOLDER.sub(lambda match: quote(values[match.group(1)], safe=""), pattern)
    if is_http_url(path):
        return path
    # An empty value (no category) drops its segment rather than leaving `//` in the path.
    path = re.sub(r"/{2,}", "/", "/" + path.lstrip("/"))
    return site.site_url.rstrip("/") + path


def post_link(site: FeedSite, post: Post) -> str:
    """The post's public URL: the permalink pattern filled in and joined under `site_url`.

    Date parts are the post's own calendar date (as written, in its time zone) zero-padded;
    `{category}` is the first category's slug, and its segment is dropped when there is none.
    """
    category = post.category
    values = {
        "slug": post.slug,
        "year": f"{post.post_date.year:04d}",
        "month": f"{post.post_date.month:02d}",
        "day": f"{post.post_date.day:02d}",
        "category": category.slug if category else "",
    }
    return _expand(site, site.permalink, values)


def term_link(site: FeedSite, kind: Literal["category", "tag"], slug: str) -> str:
    """The public URL of a category or tag page."""
    pattern = site.category_permalink if kind == "category" else site.tag_permalink
    return _expand(site, pattern, {"slug": slug})


def post_id(site: FeedSite, post: Post) -> str:
    """A stable, unique id (RFC 4151 tag URI): `tag:<site host>,<post date>:<slug>`.

    It does not change when the title, body, permalink pattern or update date changes.
    """
    return f"tag:{site.host},{post.post_date.date().isoformat()}:{post.slug}"


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("", text)


def _absolute_html(markup: str, base: str) -> str:
    """Relative `href`, `src` and `poster` URLs in HTML resolved against `base`.

    Feed readers show the HTML away from the site, so footnote anchors and relative links must
    point at the post's public page. Absolute URLs (and `mailto:` and the like) are unchanged.
    """

    def swap(match: re.Match[str]) -> str:
        url = html.unescape(match.group(3)).strip()
        if urlsplit(url).scheme:
            return match.group(0)
        quote_char = match.group(2)
        resolved = html.escape(urljoin(base, url), quote=True)
        return f"{match.group(1)}={quote_char}{resolved}{quote_char}"

    return HTML_URL.sub(swap, markup)


def _terms(post: Post) -> list[TermRef]:
    """Categories then tags, each name once."""
    seen: dict[str, TermRef] = {}
    for ref in (*post.categories, *post.tags):
        seen.setdefault(ref.name, ref)
    return list(seen.values())


def _description(post: Post) -> str:
    return post.description


def _feed_updated(posts: Sequence[Post], updated: datetime | None) -> datetime:
    if updated is not None:
        return updated
    return max((post.modified for post in posts), default=EPOCH)


def _generator(
    site: FeedSite,
    posts: Sequence[Post],
    html_of: HtmlOf,
    summary_of: TextOf,
    updated: datetime | None,
    self_type: str,
) -> FeedGenerator:
    generator = FeedGenerator()
    generator.load_extension("dc", atom=False, rss=True)
    generator.id(site.feed_url)
    generator.title(_xml_text(site.title))
    generator.description(_xml_text(site.description or site.title))
    # feedgen takes the RSS channel's <link> from the last link added: the site, not the feed.
    generator.link(href=site.feed_url, rel="self", type=self_type)
    generator.link(href=site.site_url, rel="alternate", type="text/html")
    generator.author(name=_xml_text(site.author or site.title))
    generator.generator(GENERATOR)
    generator.updated(_feed_updated(posts, updated))
    if site.language:
        generator.language(site.language)
    for post in posts:
        link = post_link(site, post)
        entry = generator.add_entry(order="append")
        entry.guid(post_id(site, post), permalink=False)
        entry.title(_xml_text(post.title))
        entry.link(href=link, rel="alternate", type="text/html")
        entry.published(post.date)
        entry.updated(post.modified)
        content = _xml_text(_absolute_html(html_of(post), link))
        summary = _xml_text(summary_of(post))
        if summary:
            entry.summary(summary)  # Atom: `<summary type="text">`
            # RSS readers take `<description>` as HTML: the plain text is escaped for it, so
            # `<script>` in an excerpt reads as text and never becomes markup.
            entry.description(html.escape(summary, quote=False))
        else:
            # Without a summary feedgen would put the HTML in RSS <description> and leave out
            # <content:encoded>; with the HTML as description too, both are there.
            entry.description(content)
        entry.content(content, type="html")
        if post.author:
            entry.author(name=_xml_text(post.author))
        creator = post.author or site.author
        if creator:
            entry.dc.dc_creator(_xml_text(creator))
        for ref in _terms(post):
            entry.category(term=_xml_text(ref.name))
    return generator


def rss(
    site: FeedSite,
    posts: Sequence[Post],
    html_of: HtmlOf,
    summary_of: TextOf = _description,
    *,
    updated: datetime | None = None,
) -> bytes:
    """RSS 2.0: `description` is the summary as HTML-escaped text (the HTML when empty),
    `content:encoded` the HTML.

    Each item has an absolute `link`, a `guid` (isPermaLink="false") from `post_id`, an RFC 822
    `pubDate`, `dc:creator` (the post's author, else the site's) and a `category` per category
    and tag. `lastBuildDate` is `updated`, by default the newest post change (1970 when empty).
    """
    generator = _generator(site, posts, html_of, summary_of, updated, "application/rss+xml")
    xml: bytes = generator.rss_str(pretty=True, encoding="UTF-8", xml_declaration=True)
    return xml


def atom(
    site: FeedSite,
    posts: Sequence[Post],
    html_of: HtmlOf,
    summary_of: TextOf = _description,
    *,
    updated: datetime | None = None,
) -> bytes:
    """Atom 1.0: `content type="html"` is the full HTML, `summary` the summary (when not empty).

    Entries carry the `post_id` tag URI as `id`, RFC 3339 `published` (the date) and `updated`
    (the update date, else the date), an alternate link to the permalink and a `category` per
    category and tag. The feed's author is the site's author (else its title); an entry names its
    own author when the post has one. The feed's `id` is `feed_url`.
    """
    generator = _generator(site, posts, html_of, summary_of, updated, "application/atom+xml")
    xml: bytes = generator.atom_str(pretty=True, encoding="UTF-8", xml_declaration=True)
    return xml


def _rfc3339(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("feed dates must be timezone-aware")
    return moment.isoformat(timespec="seconds")


def json_feed(
    site: FeedSite,
    posts: Sequence[Post],
    html_of: HtmlOf,
    summary_of: TextOf,
    image_of: ImageOf | None = None,
) -> dict[str, Any]:
    """JSON Feed 1.1 as a dict ready for `json.dumps`; optional fields are left out, not null.

    `image_of(post)` gives the post's cover as an absolute URL (a relative one is left out:
    it could not load in a reader).
    """
    feed: dict[str, Any] = {
        "version": JSON_FEED_VERSION,
        "title": site.title,
        "home_page_url": site.site_url,
        "feed_url": site.feed_url,
    }
    if site.description:
        feed["description"] = site.description
    if site.language:
        feed["language"] = site.language
    if site.author:
        feed["authors"] = [{"name": site.author}]
    items = []
    for post in posts:
        link = post_link(site, post)
        item: dict[str, Any] = {
            "id": post_id(site, post),
            "url": link,
            "title": post.title,
            "content_html": _absolute_html(html_of(post), link),
        }
        summary = summary_of(post)
        if summary:
            item["summary"] = summary
        image = image_of(post) if image_of else None
        if image and is_http_url(image):
            item["image"] = image
        item["date_published"] = _rfc3339(post.post_date)
        item["date_modified"] = _rfc3339(post.modified)
        tags = [ref.name for ref in _terms(post)]
        if tags:
            item["tags"] = tags
        if post.author:
            item["authors"] = [{"name": post.author}]
        if post.lang:
            item["language"] = post.lang
        items.append(item)
    feed["items"] = items
    return feed


def _uri(url: str) -> str:
    """A URL with anything a URI may not contain (spaces, non-ASCII) percent-encoded."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if not netloc.isascii():
        netloc = netloc.encode("idna").decode("ascii")
    return urlunsplit(
        (
            parts.scheme,
            netloc,
            quote(parts.path, safe=_URI_SAFE),
            quote(parts.query, safe=_URI_SAFE),
            quote(parts.fragment, safe=_URI_SAFE),
        )
    )


def _w3c(moment: datetime) -> str:
    """W3C Datetime (the sitemap's `lastmod`): seconds and the offset."""
    if moment.tzinfo is None:
        raise ValueError("lastmod must be timezone-aware")
    return moment.isoformat(timespec="seconds")


def _entry(item: str | tuple[str, datetime | None]) -> SitemapEntry:
    return SitemapEntry(item) if isinstance(item, str) else SitemapEntry(*item)


def _sitemap_xml(root_tag: str, item_tag: str, items: Iterable[Any]) -> bytes:
    root = ET.Element(root_tag, xmlns=SITEMAP_NS)
    for item in items:
        loc, lastmod = _entry(item)
        if not is_http_url(loc):
            raise ValueError(f"sitemap locations must be absolute URLs, not {loc!r}")
        element = ET.SubElement(root, item_tag)
        ET.SubElement(element, "loc").text = _xml_text(_uri(loc))
        if lastmod is not None:
            ET.SubElement(element, "lastmod").text = _w3c(lastmod)
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body.encode("utf-8") + b"\n"


def sitemap(entries: Iterable[SitemapEntry | tuple[str, datetime | None]]) -> bytes:
    """A sitemaps.org 0.9 `<urlset>`: `loc` per entry, `lastmod` (W3C Datetime) when known.

    At most `SITEMAP_LIMIT` entries belong in one file (see `sitemap_pages`). With no entries
    the document is well-formed but the schema wants at least one `<url>`: list the home page.
    """
    return _sitemap_xml("urlset", "url", entries)


def sitemap_index(
    sitemap_urls: Iterable[str | SitemapEntry | tuple[str, datetime | None]],
) -> bytes:
    """A sitemaps.org 0.9 `<sitemapindex>`: one `<sitemap>` per URL (with `lastmod` if given)."""
    return _sitemap_xml("sitemapindex", "sitemap", sitemap_urls)


def sitemap_pages(
    entries: Iterable[SitemapEntry | tuple[str, datetime | None]],
    per_file: int = SITEMAP_LIMIT,
) -> list[list[SitemapEntry]]:
    """Entries cut into files of at most `per_file`; always at least one (maybe empty) page.

    One page: serve it as `/sitemap.xml`. More: serve `sitemap_index` of the page URLs as
    `/sitemap.xml` and page n (from 1) as `/sitemap-<n>.xml`.
    """
    if per_file < 1:
        raise ValueError("per_file must be 1 or more")
    items = [_entry(item) for item in entries]
    pages = [items[start : start + per_file] for start in range(0, len(items), per_file)]
    return pages or [[]]


def lastmod_of(page: Iterable[SitemapEntry]) -> datetime | None:
    """The newest `lastmod` in a page: the `lastmod` of its `<sitemap>` in the index."""
    return max((entry.lastmod for entry in page if entry.lastmod is not None), default=None)


def sitemap_entries(site: FeedSite, posts: Iterable[Post]) -> list[SitemapEntry]:
    """The home page, every post, and every category and tag page that has one of the posts.

    Pass the visible posts only: a term appears only if a visible post has it, and its
    `lastmod` is the newest change among those posts. Order: home, posts as given, categories,
    tags (each by slug).
    """
    posts = tuple(posts)
    home = SitemapEntry(site.site_url, max((p.modified for p in posts), default=None))
    entries = [home]
    entries += [SitemapEntry(post_link(site, post), post.modified) for post in posts]
    kinds: tuple[tuple[Literal["category", "tag"], str], ...] = (
        ("category", "categories"),
        ("tag", "tags"),
    )
    for kind, attr in kinds:
        latest: dict[str, datetime] = {}
        for post in posts:
            for ref in getattr(post, attr):
                if ref.slug not in latest or post.modified > latest[ref.slug]:
                    latest[ref.slug] = post.modified
        entries += [
            SitemapEntry(term_link(site, kind, slug), latest[slug]) for slug in sorted(latest)
        ]
    return entries
