"""Feeds (RSS 2.0, Atom 1.0, JSON Feed 1.1) and the sitemap, pointing at the public site."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from flask import Blueprint, Response, abort, json

from contentapi.engine.model import Post
from contentapi.outputs.feeds import (
    SITEMAP_LIMIT,
    FeedSite,
    SitemapEntry,
    atom,
    json_feed,
    lastmod_of,
    rss,
    sitemap,
    sitemap_entries,
    sitemap_index,
    sitemap_pages,
)
from contentapi.outputs.query import Filters, published
from contentapi.outputs.serialize import cover, excerpt
from contentapi.web.headers import last_modified
from contentapi.web.params import FeedArgs
from contentapi.web.request_state import RequestState, current
from contentapi.web.routes import declare

bp = Blueprint("feeds", __name__)
API_PATTERNS = ("/posts/{slug}", "/categories/{slug}", "/tags/{slug}")  # under /api/v1


def _site(ctx: RequestState) -> FeedSite:
    """The public site from settings; without CONTENTAPI_SITE_URL, the API's own post URLs."""
    settings = ctx.settings
    if settings.site_url:
        site_url, patterns = (
            settings.site_url,
            (
                settings.permalink,
                settings.category_permalink,
                settings.tag_permalink,
            ),
        )
    else:
        site_url, patterns = ctx.url("meta.root"), API_PATTERNS
    return FeedSite(
        title=settings.site_title,
        site_url=site_url,
        feed_url=ctx.self_url(),
        permalink=patterns[0],
        category_permalink=patterns[1],
        tag_permalink=patterns[2],
        description=settings.site_description,
        language=settings.site_language or None,
        author=settings.site_author or None,
    )


def _feed_posts(ctx: RequestState) -> tuple[FeedSite, list[Post]]:
    """Published posts, newest first, optionally of one category or tag (404 if unknown)."""
    category = ctx.args["category"] or None
    tag = ctx.args["tag"] or None
    public = published(ctx.index, ctx.now)
    for kind, slug, kinds in (("category", category, "categories"), ("tag", tag, "tags")):
        # a term only drafts or scheduled posts use does not exist yet
        if slug and public.term(kinds, slug) is None:
            abort(404, description=f"No {kind} with slug {slug!r}.")
    posts = public.select(Filters(category=category, tags=(tag,) if tag else ()))
    shown = list(posts[: ctx.settings.feed_items])
    last_modified(shown)
    site = _site(ctx)
    term = ctx.index.category(category) if category else ctx.index.tag(tag) if tag else None
    if term is not None:
        site = replace(site, title=f"{site.title}: {term.name}")
    return site, shown


def _summary(ctx: RequestState) -> Callable[[Post], str]:
    return lambda post: excerpt(ctx.index, post)


def _xml(body: bytes, mimetype: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Type"] = f"{mimetype}; charset=utf-8"
    return response


@bp.get("/feeds/rss.xml", endpoint="rss")
@declare(cacheable=True, query=FeedArgs)
def rss_feed() -> Response:
    ctx = current()
    site, posts = _feed_posts(ctx)
    return _xml(rss(site, posts, ctx.html, _summary(ctx)), "application/rss+xml")


@bp.get("/feeds/atom.xml", endpoint="atom")
@declare(cacheable=True, query=FeedArgs)
def atom_feed() -> Response:
    ctx = current()
    site, posts = _feed_posts(ctx)
    return _xml(atom(site, posts, ctx.html, _summary(ctx)), "application/atom+xml")


@bp.get("/feeds/feed.json", endpoint="json")
@declare(cacheable=True, query=FeedArgs)
def json_feed_view() -> Response:
    ctx = current()
    site, posts = _feed_posts(ctx)

    def image(post: Post) -> str | None:
        return cover(ctx.index, post, ctx.links)

    body = json_feed(site, posts, ctx.html, _summary(ctx), image)
    response = Response(json.dumps(body, ensure_ascii=False) + "\n")
    response.headers["Content-Type"] = "application/feed+json; charset=utf-8"
    return response


def _sitemap_pages(ctx: RequestState) -> list[list[SitemapEntry]]:
    posts = published(ctx.index, ctx.now).posts
    last_modified(posts)
    return sitemap_pages(sitemap_entries(_site(ctx), posts), per_file=SITEMAP_LIMIT)


@bp.get("/sitemap.xml", endpoint="sitemap")
@declare(cacheable=True)
def sitemap_view() -> Response:
    """One sitemap, or past 50,000 URLs a sitemap index of `/sitemap-<n>.xml` files."""
    ctx = current()
    pages = _sitemap_pages(ctx)
    if len(pages) == 1:
        return _xml(sitemap(pages[0]), "application/xml")
    files = [
        (ctx.url("feeds.sitemap_page", number=number), lastmod_of(page))
        for number, page in enumerate(pages, start=1)
    ]
    return _xml(sitemap_index(files), "application/xml")


@bp.get("/sitemap-<int:number>.xml", endpoint="sitemap_page")
@declare(cacheable=True)
def sitemap_page(number: int) -> Response:
    ctx = current()
    pages = _sitemap_pages(ctx)
    if len(pages) == 1 or not 1 <= number <= len(pages):
        abort(404, description=f"No sitemap file {number}.")
    return _xml(sitemap(pages[number - 1]), "application/xml")
