"""contentapi.web.response_cache: unambiguous keys, a byte-bounded in-process backend, and
nothing stored that a client could use to fill or poison it."""

from __future__ import annotations

import time

import pytest
from flask.testing import FlaskClient

from contentapi.web import response_cache
from contentapi.web.response_cache import ByteBoundedCache, footprint

TOKEN = "preview-token-0123456789"


def _backend(app):
    return app.extensions["cache"][response_cache.cache]


# ByteBoundedCache


def test_byte_bounded_cache_keeps_at_most_max_bytes_dropping_the_least_recently_used():
    cache = ByteBoundedCache(max_bytes=3_000)
    for number in range(10):
        assert cache.set(f"k{number}", b"x" * 500)
        assert cache.size <= 3_000
    kept = [f"k{number}" for number in range(10) if cache.has(f"k{number}")]
    assert kept == ["k5", "k6", "k7", "k8", "k9"]
    assert cache.get("k5") == b"x" * 500  # now the most recently used
    cache.set("k10", b"y" * 500)
    assert cache.has("k5") and not cache.has("k6")


def test_byte_bounded_cache_refuses_a_value_larger_than_the_bound():
    cache = ByteBoundedCache(max_bytes=1_000)
    cache.set("small", b"s")
    assert cache.set("huge", b"h" * 2_000) is False
    assert cache.get("huge") is None
    assert cache.get("small") == b"s"


def test_byte_bounded_cache_replacing_a_key_counts_it_once():
    cache = ByteBoundedCache(max_bytes=10_000)
    cache.set("a", b"1" * 100)
    cache.set("a", b"2" * 300)
    assert cache.size == footprint("a") + footprint(b"2" * 300)
    assert cache.delete("a") and cache.size == 0
    assert cache.delete("a") is False


def test_byte_bounded_cache_entries_expire(monkeypatch):
    cache = ByteBoundedCache(max_bytes=10_000, default_timeout=300)
    now = time.monotonic()
    monkeypatch.setattr(response_cache.time, "monotonic", lambda: now)
    cache.set("short", "v", timeout=5)
    cache.set("default", "v")
    monkeypatch.setattr(response_cache.time, "monotonic", lambda: now + 6)
    assert cache.get("short") is None
    assert cache.get("default") == "v"
    assert cache.add("default", "w") is False
    assert cache.add("short", "w") is True and cache.get("short") == "w"
    cache.clear()
    assert cache.size == 0 and cache.get("default") is None


def test_footprint_counts_bodies_headers_and_keys():
    body = b"b" * 1_000
    entry = (200, (("Content-Type", "application/json"), ("ETag", '"abc"')), body)
    assert footprint(entry) > len(body) + len("application/json")
    assert footprint(entry) < len(body) + 1_000


# Keys and what is stored, through the app


@pytest.fixture
def site(write_post):
    write_post("a.md", title="A", date="2024-01-01", tags="[masa-madre, fermentacion]")
    write_post("b.md", title="B", date="2024-01-02", tags="[masa-madre]")
    write_post("c.md", title="C", date="2024-01-03")


def _total(client, url) -> int:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["meta"]["pagination"]["total"]


def test_response_cache_encoded_parameters_never_share_a_key(site, make_client):
    client = make_client()
    assert _total(client, "/api/v1/posts?tag=fermentacion%26tag%3Dmasa-madre") == 0
    assert _total(client, "/api/v1/posts?tag=masa-madre&tag=fermentacion") == 1
    assert _total(client, "/api/v1/posts?tag=fermentacion%26tag%3Dmasa-madre") == 0
    assert _total(client, "/api/v1/posts?tag=a%3Db") == 0
    assert _total(client, "/api/v1/posts?tag=a=b") == 0
    assert _total(client, "/api/v1/posts?tag=masa-madre") == 2


def test_response_cache_key_is_of_the_parsed_query_with_defaults(site, make_app):
    """Equivalent queries (order, defaults spelled out) share one entry; others do not."""
    app = make_app()
    client = app.test_client()
    backend = _backend(app)
    client.get("/api/v1/posts?tag=masa-madre&sort=title")
    client.get("/api/v1/posts?sort=title&tag=masa-madre")
    client.get("/api/v1/posts?sort=title&tag=masa-madre&page=1&per_page=10")
    assert len(backend._entries) == 1
    client.get("/api/v1/posts?sort=title&tag=masa-madre&page=2")
    client.get("/api/v1/posts?sort=title&tag=masa-madre&pretty=1")
    assert len(backend._entries) == 3


def test_response_cache_page_two_is_never_page_one(site, make_client):
    client = make_client()
    response = client.get("/api/v1/posts?page%3D2%26per_page=1")
    assert response.status_code == 400
    page = client.get("/api/v1/posts?page=2&per_page=1").get_json()
    assert page["meta"]["pagination"]["page"] == 2
    assert [item["slug"] for item in page["data"]] == ["b"]


def test_response_cache_unknown_parameters_store_nothing(site, make_app):
    app = make_app()
    client = FlaskClient(app)
    for number in range(50):
        assert client.get(f"/feeds/rss.xml?cb={number}").status_code == 400
        assert client.get(f"/api/v1/posts?perpage={number}").status_code == 400
    assert len(_backend(app)._entries) == 0


def test_response_cache_is_bounded_in_bytes(site, make_app, monkeypatch):
    """Distinct valid URLs (pages past the end) cannot grow a worker past the bound."""
    app = make_app(cache_max_bytes="20000")
    client = FlaskClient(app)  # 200 requests: the contract is checked elsewhere
    backend = _backend(app)
    for number in range(1, 201):
        assert client.get(f"/api/v1/posts?page={number}").status_code == 200
        assert backend.size <= 20_000
    assert 0 < len(backend._entries) < 200
    stored = []
    monkeypatch.setattr(backend, "set", lambda *args, **kwargs: stored.append(args[0]))
    assert client.get("/api/v1/posts?page=200").status_code == 200
    assert stored == []  # the latest page was still there: served, not stored again
    assert client.get("/api/v1/posts?page=1").status_code == 200
    assert len(stored) == 1  # the first was dropped long ago


def test_response_cache_default_bound_is_the_setting(make_app, write_post):
    write_post("a.md", title="A")
    assert _backend(make_app()).max_bytes == 64 * 1024 * 1024


def test_response_cache_preview_answers_are_never_stored(site, make_app):
    app = make_app(preview_token=TOKEN)
    client = app.test_client()
    client.get("/api/v1/posts", headers={"Authorization": f"Bearer {TOKEN}"})
    assert len(_backend(app)._entries) == 0
    client.get("/api/v1/posts")
    assert len(_backend(app)._entries) == 1


def test_response_cache_serves_a_stored_answer_with_its_headers(site, make_app):
    app = make_app()
    client = app.test_client()
    first = client.get("/api/v1/posts?per_page=1")
    stored = next(iter(_backend(app)._entries.values()))[2]
    status, headers, body = stored
    assert status == 200 and body == first.data
    assert {name.lower() for name, _ in headers} >= {"etag", "link", "x-total-count"}
    assert "cache-control" not in {name.lower() for name, _ in headers}
    again = client.get("/api/v1/posts?per_page=1")
    assert again.data == first.data
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["Link"] == first.headers["Link"]
