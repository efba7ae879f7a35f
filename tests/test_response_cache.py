"""contentapi.web.response_cache: unambiguous keys, a byte-bounded in-process backend, and
nothing stored that a client could use to fill or poison it."""

from __future__ import annotations

import functools
import gzip
import time
import zlib

import brotli
import pytest
import werkzeug.wrappers.response
from flask.testing import FlaskClient

from contentapi.web import response_cache
from contentapi.web.response_cache import ByteBoundedCache, footprint
from contentapi.web.views import listing, posts

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


# Responses as bytes: a hit is a lookup and a write


@pytest.fixture
def long_site(write_post):
    """Posts long enough that every answer is compressed."""
    for day in range(1, 4):
        write_post(
            f"p{day}.md",
            title=f"Pan {day}",
            date=f"2024-01-0{day}",
            tags="[masa-madre, fermentacion]",
            body="Harina, agua y sal; paciencia y horno caliente. " * 60,
        )


URLS = ["/api/v1/posts?per_page=2&tag=masa-madre", "/api/v1/posts/p2"]
CODINGS = {"br": brotli.decompress, "gzip": gzip.decompress, "identity": lambda data: data}


class Calls:
    """Counts what a request costs: the view, the serializers, JSON, compression, ETags."""

    def __init__(self, app, monkeypatch) -> None:
        self.counts: dict[str, int] = {}
        for endpoint in ("posts.index", "posts.detail"):
            app.view_functions[endpoint] = self._counted(endpoint, app.view_functions[endpoint])
        for name, owner, attribute in [
            ("summary", listing, "summary"),
            ("detail", posts, "detail"),
            ("json", app.json, "dumps"),
            ("br", brotli, "compress"),
            ("gzip", zlib, "compress"),  # gzip is deflate in its own frame
            ("etag", werkzeug.wrappers.response, "generate_etag"),
        ]:
            monkeypatch.setattr(owner, attribute, self._counted(name, getattr(owner, attribute)))

    def _counted(self, name, function):
        @functools.wraps(function)  # keeps the view's route facts
        def counted(*args, **kwargs):
            self.counts[name] = self.counts.get(name, 0) + 1
            return function(*args, **kwargs)

        return counted

    def take(self) -> dict[str, int]:
        counts, self.counts = self.counts, {}
        return counts


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("coding", list(CODINGS))
def test_response_cache_hit_runs_no_view_serializer_compressor_or_etag_hash(
    long_site, make_app, monkeypatch, url, coding
):
    app = make_app()
    client = app.test_client()
    calls = Calls(app, monkeypatch)
    headers = {"Accept-Encoding": coding}
    first = client.get(url, headers=headers)
    made = calls.take()
    view = "posts.index" if "?" in url else "posts.detail"
    assert made[view] == 1 and made["json"] == 1 and made["etag"] == 1
    assert made.get("summary", 0) + made.get("detail", 0) >= 1
    assert made.get(coding, 0) == (0 if coding == "identity" else 1)
    for _ in range(3):
        again = client.get(url, headers=headers)
        assert calls.take() == {}
        assert again.data == first.data
        assert again.headers["ETag"] == first.headers["ETag"]
        assert again.headers.get("Content-Encoding") == first.headers.get("Content-Encoding")
    assert (
        client.get(url, headers={**headers, "If-None-Match": first.headers["ETag"]}).status_code
        == 304
    )
    assert calls.take() == {}


@pytest.mark.parametrize("url", URLS)
def test_response_cache_each_coding_its_own_stable_bytes_and_etag(
    long_site, make_app, monkeypatch, url
):
    """The first coding asked runs the view; each other one is made once from what is stored
    (no view, no JSON), and is byte for byte what a fresh worker would send for it."""
    app = make_app()
    client = app.test_client()
    calls = Calls(app, monkeypatch)
    answers = {}
    for number, coding in enumerate(["gzip", "br", "identity"]):
        answers[coding] = client.get(url, headers={"Accept-Encoding": coding})
        made = calls.take()
        assert (made.get("json", 0), made.get("etag", 0)) == ((1, 1) if number == 0 else (0, 0))
        assert made.get(coding, 0) == (0 if coding == "identity" else 1)
    plain = answers["identity"].data
    etags = {coding: answer.headers["ETag"] for coding, answer in answers.items()}
    assert len(set(etags.values())) == 3
    for coding, decode in CODINGS.items():
        answer = answers[coding]
        assert decode(answer.data) == plain
        assert answer.headers.get("Content-Encoding", "identity") == coding
        assert etags[coding] == (
            etags["identity"] if coding == "identity" else etags["identity"][:-1] + f':{coding}"'
        )
        again = client.get(url, headers={"Accept-Encoding": coding})
        assert (again.data, again.headers["ETag"]) == (answer.data, etags[coding])
    assert calls.take() == {}
    assert len(_backend(app)._entries) == 3
    for coding, answer in answers.items():  # another worker, where this coding is a miss
        fresh = make_app().test_client().get(url, headers={"Accept-Encoding": coding})
        assert (fresh.data, fresh.headers["ETag"]) == (answer.data, etags[coding])


def test_response_cache_entry_is_the_answer_as_sent(long_site, make_app):
    app = make_app()
    sent = app.test_client().get(URLS[0], headers={"Accept-Encoding": "br, gzip"})
    [(status, headers, body)] = [entry[2] for entry in _backend(app)._entries.values()]
    assert (status, body) == (200, sent.data)
    stored = dict(headers)
    assert stored["Content-Encoding"] == "br" and stored["ETag"] == sent.headers["ETag"]
    assert {"Vary", "Cache-Control", "Content-Length", "Date"}.isdisjoint(stored)


def test_response_cache_small_answers_stay_plain_in_every_coding(site, make_app):
    app = make_app()
    client = app.test_client()
    plain = client.get("/api/v1/tags")
    for coding in ["br", "gzip"]:
        answer = client.get("/api/v1/tags", headers={"Accept-Encoding": coding})
        assert "Content-Encoding" not in answer.headers
        assert (answer.data, answer.headers["ETag"]) == (plain.data, plain.headers["ETag"])


# Links from the canonical query


SPELLINGS = [
    "/api/v1/posts?tag=masa-madre,fermentacion&per_page=1",
    "/api/v1/posts?per_page=1&tag=fermentacion&tag=masa-madre",
    "/api/v1/posts?tag=fermentacion,masa-madre,masa-madre&per_page=1&page=1&pretty=no",
]


@pytest.mark.parametrize("first", SPELLINGS)
def test_response_cache_links_never_depend_on_the_spelling_cached_first(site, make_app, first):
    app = make_app()
    client = app.test_client()
    answers = [client.get(url) for url in [first, *SPELLINGS]]
    assert len(_backend(app)._entries) == 1
    assert {answer.data for answer in answers} == {answers[0].data}
    links = answers[0].get_json()["links"]
    canonical = "http://localhost/api/v1/posts?per_page=1&tag=fermentacion,masa-madre"
    assert links == {
        "self": canonical,
        "first": canonical,
        "last": canonical,
        "next": None,
        "prev": None,
    }
    assert answers[0].headers["Link"] == ", ".join(
        f'<{canonical}>; rel="{rel}"' for rel in ["self", "first", "last"]
    )


def test_response_cache_feed_self_url_is_the_canonical_query(site, make_app):
    app = make_app()
    client = app.test_client()
    first = client.get("/feeds/feed.json?pretty=0&tag=masa-madre")
    second = client.get("/feeds/feed.json?tag=masa-madre")
    assert first.data == second.data
    assert first.get_json()["feed_url"] == "http://localhost/feeds/feed.json?tag=masa-madre"


def test_response_cache_redis_holds_each_coding_once_for_every_worker(
    long_site, make_app, monkeypatch, redis_url
):
    """Two workers on one Redis: what one stored, the other serves with no view, JSON,
    compression or ETag, and a coding neither has sent yet is made once from it."""
    import redis

    first = make_app(cache_type="RedisCache", cache_redis_url=redis_url)
    second = make_app(cache_type="RedisCache", cache_redis_url=redis_url)
    url, br = URLS[1], {"Accept-Encoding": "br"}
    sent = first.test_client().get(url, headers=br)
    calls = Calls(second, monkeypatch)
    client = second.test_client()
    again = client.get(url, headers=br)
    assert calls.take() == {}
    assert (again.data, again.headers["ETag"]) == (sent.data, sent.headers["ETag"])
    gz = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert calls.take() == {"gzip": 1}
    assert gzip.decompress(gz.data) == brotli.decompress(sent.data)
    assert first.test_client().get(url, headers={"Accept-Encoding": "gzip"}).data == gz.data
    assert calls.take() == {}
    version = second.extensions["contentapi"].index.version
    keys = redis.Redis.from_url(redis_url).keys(f"*contentapi:{version}:*")
    assert sorted(key.decode().rsplit(":", 1)[1] for key in keys) == ["br", "gzip"]


def test_response_cache_a_reload_mid_request_never_pairs_versions(site, write_post, make_app):
    """The watcher swaps the index between the cache's lookup and the view: the answer, its
    `X-Content-Version` and the key it is stored under all stay of the version the request
    started with, and the next request gets the new version."""
    app = make_app()
    client = app.test_client()
    store = app.extensions["contentapi"]
    old = client.get("/api/v1").get_json()["version"]
    armed = [True]

    def reload_between_lookup_and_view() -> None:
        if armed.pop() if armed else False:
            write_post("a.md", title="Edited", date="2024-01-01")
            store.reload()

    app.before_request_funcs.setdefault(None, []).append(reload_between_lookup_and_view)
    during = client.get("/api/v1/posts/a")
    assert during.get_json()["title"] == "A"
    assert during.headers["X-Content-Version"] == old
    after = client.get("/api/v1/posts/a")
    assert after.get_json()["title"] == "Edited"
    new = client.get("/api/v1").get_json()["version"]
    assert new != old
    assert after.headers["X-Content-Version"] == new
