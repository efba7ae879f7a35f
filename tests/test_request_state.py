"""Links for JSON bodies: the ones built with no request (webhooks) match a request's."""

from __future__ import annotations

from flask import Flask, url_for

from contentapi.web.request_state import RequestLinks, RouteLinks

BASE = "https://api.example.com/"


def test_route_links_match_request_links_for_every_kind(app: Flask) -> None:
    offline = RouteLinks(app, BASE)
    with app.test_request_context("/", base_url="https://api.example.com"):
        online = RequestLinks(BASE)
        for links in (offline, online):
            assert links.post("hola") == "https://api.example.com/api/v1/posts/hola"
            assert links.term("tags", "pan") == "https://api.example.com/api/v1/tags/pan"
            assert links.page("about") == "https://api.example.com/api/v1/pages/about"
            assert links.media("/media/a.png") == "https://api.example.com/media/a.png"


def test_request_links_build_what_url_for_builds_under_a_script_root(app: Flask) -> None:
    """Paths are built once per endpoint and values (not per request): the same URL as
    `url_for`, quoted alike, whatever script root the request came under."""
    base = "https://x.example.com/blog/"
    for _ in range(2):  # the second time from what the first built
        for root in ("", "/blog"):
            with app.test_request_context("/", base_url=f"https://x.example.com{root}"):
                links = RequestLinks(base)
                for slug in ("hola", "café-con leche", "a/b", "50%"):
                    path = url_for("posts.detail", slug=slug)[len(root) :]
                    assert links.post(slug) == base.rstrip("/") + path
                assert links.term("categories", "ñu") == (
                    base.rstrip("/")
                    + url_for("terms.term", kind="categories", slug="ñu")[len(root) :]
                )
