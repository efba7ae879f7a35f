"""HTTP behaviour: conditional requests, cache headers, shared cache, CORS, compression,
JSON formatting, security headers and preview."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta

import brotli
import pytest
from conftest import assert_problem

TOKEN = "preview-token-0123456789"
ENDPOINTS = [
    "/api/v1",
    "/api/v1/posts",
    "/api/v1/posts/a",
    "/api/v1/categories",
    "/api/v1/categories/cocina",
    "/api/v1/tags",
    "/api/v1/tags/pan",
    "/api/v1/archive",
]


@pytest.fixture
def site(write_post):
    write_post(
        "a.md",
        title="A",
        date="2024-01-01",
        updated="2024-05-01",
        category="Cocina",
        tags="[pan]",
        body="Texto " * 300,
    )
    write_post("b.md", title="B", date="2024-02-01", category="Cocina", tags="[pan]")
    write_post(
        "draft.md",
        title="Borrador",
        date="2024-03-01",
        draft="true",
        category="Secreta",
        tags="[oculto]",
    )
    write_post("later.md", title="Luego", date="2999-01-01", category="Futuro", tags="[pan]")


@pytest.mark.parametrize("url", ENDPOINTS)
def test_http_conditional_get_round_trip(site, make_client, url):
    client = make_client()
    first = client.get(url)
    assert first.status_code == 200
    etag = first.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert first.headers["Last-Modified"]
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    since = client.get(url, headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert since.status_code == 304
    assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200


def test_http_last_modified_is_newest_shown(site, make_client):
    client = make_client()
    assert client.get("/api/v1/posts/b").headers["Last-Modified"] == (
        "Wed, 01 May 2024 00:00:00 GMT"  # its neighbour and related post `a` was updated then
    )
    assert (
        client.get("/api/v1/posts?sort=date&per_page=1&page=2").headers["Last-Modified"]
        == "Thu, 01 Feb 2024 00:00:00 GMT"
    )


def test_http_head_works_wherever_get_does(site, make_client):
    client = make_client()
    for url in ENDPOINTS:
        got, head = client.get(url), client.head(url)
        assert head.status_code == 200
        assert head.data == b""
        assert head.headers["ETag"] == got.headers["ETag"]


def test_http_etag_changes_with_the_body_only(site, write_post, make_app):
    app = make_app()
    client = app.test_client()
    before = client.get("/api/v1/posts").headers["ETag"]
    assert client.get("/api/v1/posts").headers["ETag"] == before
    app.extensions["contentapi"].reload()
    assert client.get("/api/v1/posts").headers["ETag"] == before
    write_post("c.md", title="C", date="2024-04-01")
    app.extensions["contentapi"].reload()
    after = client.get("/api/v1/posts")
    assert after.headers["ETag"] != before
    assert "c" in [item["slug"] for item in after.get_json()["data"]]


def test_http_cache_control_and_vary(site, make_client):
    client = make_client(cache_max_age="120", cache_stale_while_revalidate="600")
    response = client.get("/api/v1/posts")
    assert response.headers["Cache-Control"] == "public, max-age=120, stale-while-revalidate=600"
    vary = {part.strip() for part in response.headers["Vary"].split(",")}
    assert {"Accept-Encoding", "Origin"} <= vary


def test_http_server_cache_never_serves_an_old_version(site, write_post, make_app):
    app = make_app()
    client = app.test_client()
    assert client.get("/api/v1/posts/a").get_json()["title"] == "A"
    write_post("a.md", title="A editado", date="2024-01-01", category="Cocina", tags="[pan]")
    assert client.get("/api/v1/posts/a").get_json()["title"] == "A"  # served from the cache
    app.extensions["contentapi"].reload()
    assert client.get("/api/v1/posts/a").get_json()["title"] == "A editado"


def test_http_server_cache_does_not_outlive_the_next_publication(write_post, make_app):
    publish = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    write_post("now.md", title="Now", date="2024-01-01")
    write_post("soon.md", title="Soon", date=publish.isoformat())
    app = make_app()
    store = app.extensions["contentapi"]
    store.clock = lambda: publish - timedelta(seconds=1)
    client = app.test_client()
    assert [p["slug"] for p in client.get("/api/v1/posts").get_json()["data"]] == ["now"]
    store.clock = lambda: publish
    assert [p["slug"] for p in client.get("/api/v1/posts").get_json()["data"]] == [
        "soon",
        "now",
    ]


def test_http_cache_timeout_is_capped_by_the_next_publication(write_post, make_app, monkeypatch):
    publish = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    write_post("soon.md", title="Soon", date=publish.isoformat())
    write_post("now.md", title="Now", date="2024-01-01")
    app = make_app(cache_timeout="300")
    app.extensions["contentapi"].clock = lambda: publish - timedelta(seconds=42)
    from contentapi.web.response_cache import cache

    stored = {}
    with app.app_context():
        real_set = cache.set
        monkeypatch.setattr(
            cache, "set", lambda key, value, timeout: stored.update({key: timeout}) or True
        )
        app.test_client().get("/api/v1/posts")
        monkeypatch.setattr(cache, "set", real_set)
    assert list(stored.values()) == [42]


def test_http_cors_on_success_not_modified_and_errors(site, make_client):
    client = make_client()
    origin = {"Origin": "https://app.example"}
    ok = client.get("/api/v1/posts", headers=origin)
    assert ok.headers["Access-Control-Allow-Origin"] in {"*", "https://app.example"}
    exposed = {h.strip() for h in ok.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"ETag", "Link", "X-Total-Count"} <= exposed
    not_modified = client.get(
        "/api/v1/posts", headers={**origin, "If-None-Match": ok.headers["ETag"]}
    )
    assert not_modified.status_code == 304
    assert "Access-Control-Allow-Origin" in not_modified.headers
    missing = client.get("/api/v1/posts/nope", headers=origin)
    assert missing.status_code == 404
    assert "Access-Control-Allow-Origin" in missing.headers


def test_http_cors_preflight_and_configured_origins(site, make_client):
    client = make_client(cors_origins="https://allowed.example")
    preflight = client.options(
        "/api/v1/posts",
        headers={
            "Origin": "https://allowed.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "Authorization",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://allowed.example"
    assert "GET" in preflight.headers["Access-Control-Allow-Methods"]
    other = client.get("/api/v1/posts", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


@pytest.mark.parametrize(
    ("encoding", "decode"), [("gzip", gzip.decompress), ("br", brotli.decompress)]
)
def test_http_compressed_body_decodes_to_the_same_json(site, make_client, encoding, decode):
    client = make_client()
    plain = client.get("/api/v1/posts/a")
    packed = client.get("/api/v1/posts/a", headers={"Accept-Encoding": encoding})
    assert packed.headers["Content-Encoding"] == encoding
    assert len(packed.data) < len(plain.data)
    assert json.loads(decode(packed.data)) == plain.get_json()


def test_http_small_responses_are_not_compressed(site, make_client):
    response = make_client().get("/healthz", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in response.headers


def test_http_json_is_pleasant_in_curl(site, make_client):
    client = make_client()
    compact = client.get("/api/v1")
    assert compact.headers["Content-Type"] == "application/json; charset=utf-8"
    assert compact.data.endswith(b"}\n") and b"\n" not in compact.data[:-1]
    pretty = client.get("/api/v1?pretty=1")
    assert pretty.data.startswith(b'{\n  "title"')
    assert json.loads(pretty.data) == compact.get_json()
    write_text = client.get("/api/v1/posts/a?formats=plaintext").get_data(as_text=True)
    assert "\\u" not in write_text


def test_http_security_headers(site, make_client):
    client = make_client()
    for url in ["/api/v1/posts", "/api/v1/posts/nope", "/docs/"]:
        response = client.get(url)
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"]
        assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    docs_policy = client.get("/docs/").headers["Content-Security-Policy"]
    assert "script-src 'self' 'sha256-" in docs_policy
    assert "unsafe-eval" not in docs_policy and "script-src 'self' 'unsafe-inline'" not in (
        docs_policy
    )


def test_http_preview_shows_drafts_and_scheduled_posts_privately(site, make_client):
    client = make_client(preview_token=TOKEN)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    listed = client.get("/api/v1/posts", headers=auth)
    statuses = {item["slug"]: item["status"] for item in listed.get_json()["data"]}
    assert statuses == {"a": "published", "b": "published", "draft": "draft", "later": "scheduled"}
    assert listed.headers["Cache-Control"] == "private, no-store"
    assert client.get("/api/v1/posts/draft", headers=auth).get_json()["status"] == "draft"
    assert client.get("/api/v1/categories/secreta", headers=auth).status_code == 200
    assert client.get("/api/v1", headers=auth).get_json()["counts"]["posts"] == 4
    sparse = client.get("/api/v1/posts?fields=slug&sort=date", headers=auth).get_json()
    assert sparse["data"][0] == {"slug": "a", "status": "published"}


def test_http_preview_never_leaks_without_the_right_token(site, make_client):
    client = make_client(preview_token=TOKEN)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    client.get("/api/v1/posts", headers=auth)  # a preview response must not be cached
    for headers in [
        {},
        {"Authorization": "Bearer wrong-token-0123456789"},
        {"Authorization": TOKEN},
    ]:
        listed = client.get("/api/v1/posts", headers=headers).get_json()
        assert [item["slug"] for item in listed["data"]] == ["b", "a"]
        assert "status" not in listed["data"][0]
        assert client.get("/api/v1", headers=headers).get_json()["counts"]["posts"] == 2
        assert_problem(client.get("/api/v1/posts/draft", headers=headers), 404)
        assert_problem(client.get("/api/v1/posts/later", headers=headers), 404)
        assert_problem(client.get("/api/v1/categories/secreta", headers=headers), 404)
        tags = [t["slug"] for t in client.get("/api/v1/tags", headers=headers).get_json()["data"]]
        assert tags == ["pan"]


def test_http_preview_off_without_a_configured_token(site, make_client):
    client = make_client()
    response = client.get("/api/v1/posts/draft", headers={"Authorization": "Bearer "})
    assert_problem(response, 404)
