"""Links for JSON bodies: the ones built with no request (webhooks) match a request's."""

from __future__ import annotations

from flask import Flask

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
