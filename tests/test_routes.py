"""contentapi.web.routes: every route declares its facts where it is registered, and they hold."""

from __future__ import annotations

import pytest
from conftest import ROOT, assert_problem
from flask import Flask

from contentapi import create_app
from contentapi.web import params, routes
from contentapi.web.params import QueryArgs
from contentapi.web.routes import RouteFacts, declare, facts_of

# The endpoints whose answers the shared response cache keeps (the old hidden CACHEABLE set).
CACHEABLE = {
    "meta.root",
    "meta.archive",
    "posts.index",
    "posts.detail",
    "pages.index",
    "pages.detail",
    "search.search",
    "terms.terms",
    "terms.term",
    "feeds.rss",
    "feeds.atom",
    "feeds.json",
    "feeds.sitemap",
    "feeds.sitemap_page",
}
# One URL per GET endpoint that the bundled content answers.
URLS = {
    "meta.root": "/api/v1",
    "meta.archive": "/api/v1/archive",
    "meta.highlight_css": "/api/v1/highlight.css",
    "meta.media": "/media/images/blog/embeddings-espacio.png",
    "meta.openapi": "/openapi.yaml",
    "posts.index": "/api/v1/posts?per_page=2",
    "posts.detail": "/api/v1/posts/que-son-los-embeddings?formats=plaintext",
    "pages.index": "/api/v1/pages",
    "pages.detail": "/api/v1/pages/about?formats=markdown",
    "search.search": "/api/v1/search?q=flask",
    "terms.terms": "/api/v1/tags",
    "terms.term": "/api/v1/tags/python?sort=title",
    "feeds.rss": "/feeds/rss.xml?tag=python",
    "feeds.atom": "/feeds/atom.xml",
    "feeds.json": "/feeds/feed.json?category=cocina",
    "feeds.sitemap": "/sitemap.xml",
    "feeds.sitemap_page": "/sitemap-1.xml",
    "changes.changes": "/api/v1/changes",
    "changes.stream": "/api/v1/changes/stream",
    "admin.diagnostics": "/api/v1/admin/diagnostics",
    "health.healthz": "/healthz",
    "health.readyz": "/readyz",
    "docs.show": "/docs/swagger-ui.css",
}


def undeclared(app: Flask) -> list[str]:
    """GET routes whose view declares nothing."""
    return sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if "GET" in (rule.methods or set()) and facts_of(app, rule.endpoint) is None
    )


def get_endpoints(app: Flask) -> set[str]:
    return {rule.endpoint for rule in app.url_map.iter_rules() if "GET" in (rule.methods or set())}


def test_routes_every_get_route_is_declared(bundled_app):
    assert undeclared(bundled_app) == []


def test_routes_an_undeclared_route_is_found(bundled_app):
    @bundled_app.get("/forgotten")
    def forgotten() -> str:
        return "no facts"

    @bundled_app.get("/remembered")
    @declare(cacheable=False)
    def remembered() -> str:
        return "facts"

    assert undeclared(bundled_app) == ["/forgotten"]


def test_routes_cacheable_endpoints_are_the_public_content(bundled_app):
    declared = {
        endpoint
        for endpoint in get_endpoints(bundled_app)
        if (facts := facts_of(bundled_app, endpoint)) and facts.cacheable
    }
    assert declared == CACHEABLE


def test_routes_http_cache_of_probes_and_admin(bundled_app):
    for endpoint in ("health.healthz", "health.readyz"):
        assert facts_of(bundled_app, endpoint).http_cache == "no-store"
    for endpoint in ("admin.diagnostics", "admin.reload"):
        assert facts_of(bundled_app, endpoint).http_cache == "private"


def test_routes_the_query_is_parsed_once_with_what_the_route_declares(monkeypatch):
    """The parameters the cache key is built from are the ones the view reads: each request's
    query is parsed once, with the schema its route declares, and the view reads that."""
    app = create_app(
        {
            "TESTING": True,
            "CONTENTAPI_CONTENT_DIR": str(ROOT / "content"),
            "CONTENTAPI_PARSE_CACHE": "off",
            "CONTENTAPI_CACHE_TYPE": "NullCache",
            "CONTENTAPI_ADMIN_TOKEN": "admin-token-0123456789",
        }
    )
    assert set(URLS) == get_endpoints(app)
    seen: list[type] = []
    original = params.parser.parse

    def recording(schema, *args, **kwargs):
        seen.append(type(schema))
        return original(schema, *args, **kwargs)

    monkeypatch.setattr(params.parser, "parse", recording)
    client = app.test_client()
    for endpoint, url in URLS.items():
        seen.clear()
        params._parsed.cache_clear()  # each query string is parsed once per process
        response = client.get(url, headers={"Authorization": "Bearer admin-token-0123456789"})
        assert response.status_code in {200, 404}, (url, response.status_code)
        declared = facts_of(app, endpoint).query
        assert seen == [declared], (url, seen, declared)


@pytest.mark.parametrize(
    ("url", "parameter"),
    [
        ("/api/v1/posts?perpage=5", "perpage"),
        ("/feeds/rss.xml?cb=1", "cb"),
        ("/api/v1?utm_source=x", "utm_source"),
        ("/healthz?x=1", "x"),
        ("/api/v1/posts/que-son-los-embeddings?format=html", "format"),
    ],
)
def test_routes_unknown_parameter_is_a_400_naming_it(bundled_app, url, parameter):
    body = assert_problem(bundled_app.test_client().get(url), 400, parameter)
    assert [error["parameter"] for error in body["errors"]] == [parameter]


def test_routes_pretty_is_accepted_everywhere(bundled_app):
    client = bundled_app.test_client()
    for url in ["/api/v1?pretty=1", "/feeds/rss.xml?pretty=1", "/healthz?pretty=no"]:
        assert client.get(url).status_code == 200, url


def test_routes_declare_keeps_the_view_and_records_the_facts():
    def view() -> str:
        return "x"

    assert declare(cacheable=True, http_cache="no-store")(view) is view
    assert routes.facts_of(Flask(__name__), None) is None
    assert view.route_facts == RouteFacts(True, QueryArgs, "no-store")
