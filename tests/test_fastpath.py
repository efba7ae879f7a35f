"""The short way: a stored default detail is answered before Flask, exactly as Flask would
answer it, and every other request is left to Flask."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from conftest import clear_response_cache

from contentapi.service.builder import build
from contentapi.service.store import store_of
from contentapi.web import fastpath, prebuilt
from contentapi.web.fastpath import fast_path_of

BASE = "https://api.example.com/"
BR = {"Accept-Encoding": "br, gzip"}


@pytest.fixture
def site(write_post) -> list[str]:
    for i in range(4):
        write_post(
            f"p{i}.md",
            title=f"Entrada {i}",
            date=f"2024-02-0{i + 1}",
            body=f"Texto {i}: ñandú y canción.\n\n![foto](/images/f.png)\n",
            tags="[uno, dos]",
        )
    write_post("images/f.png", text="png")
    write_post("caf\u00e9.md", title="Café", date="2024-02-09", body="Con acento.\n")
    return ["p0", "p1", "p2", "p3", "cafe"]


@pytest.fixture
def served(make_app, site, tmp_path: Path):
    """An app over `site` with a base URL and its store filled, artifacts then answers."""
    app = make_app(store_path=str(tmp_path / "store" / "a.sqlite"), base_url=BASE)
    content = store_of(app)
    assert content.artifacts is not None
    build(content.index, content.artifacts, jobs=1)
    report = prebuilt.fill(app, content, content.index)
    assert report is not None and report.complete
    return app


def fast(app: Any) -> fastpath.FastPath:
    found = fast_path_of(app)
    assert found is not None
    return found


def both(app: Any, path: str, headers: dict[str, str], method: str = "GET") -> tuple[Any, Any]:
    """The request answered with the short way in place, then by Flask alone; and how many
    requests the short way answered."""
    short = fast(app)
    clear_response_cache(app)
    with_it = app.test_client().open(path, method=method, headers=headers)
    clear_response_cache(app)
    app.wsgi_app = short.inner
    try:
        without = app.test_client().open(path, method=method, headers=headers)
    finally:
        app.wsgi_app = short
    return with_it, without


def same(one: Any, other: Any) -> None:
    """The same status, bytes and headers (but the Date; in any order)."""
    assert one.status_code == other.status_code
    assert one.get_data() == other.get_data()
    assert sorted(h for h in one.headers if h[0] != "Date") == sorted(
        h for h in other.headers if h[0] != "Date"
    )


@pytest.mark.parametrize(
    "headers",
    [
        BR,
        {"Accept-Encoding": "gzip"},
        {"Accept-Encoding": "gzip;q=0.5, br;q=0.2"},
        {**BR, "Origin": "https://app.example.org"},
    ],
    ids=["br", "gzip", "gzip-preferred", "origin"],
)
def test_fastpath_answers_a_stored_detail_as_flask_would(served, site, headers):
    short = fast(served)
    assert short.enabled
    for slug in site:
        before = short.answered
        with_it, without = both(served, f"/api/v1/posts/{slug}", headers)
        assert short.answered == before + 1, slug
        assert with_it.status_code == 200
        same(with_it, without)


@pytest.mark.parametrize(
    ("path", "headers", "method"),
    [
        ("/api/v1/posts/p1", BR, "HEAD"),
        ("/api/v1/posts/p1?fields=title", BR, "GET"),
        ("/api/v1/posts/p1", {**BR, "Authorization": "Bearer wrong"}, "GET"),
        ("/api/v1/posts/p1", {**BR, "If-None-Match": "*"}, "GET"),
        ("/api/v1/posts/p1", {**BR, "If-Modified-Since": "Tue, 01 Dec 2099 00:00:00 GMT"}, "GET"),
        ("/api/v1/posts/p1", {**BR, "Range": "bytes=0-10"}, "GET"),
        ("/api/v1/posts/p1", {"Accept-Encoding": "identity"}, "GET"),
        ("/api/v1/posts/p1", {}, "GET"),
        ("/api/v1/posts/p1/", BR, "GET"),
        ("/api/v1/posts/nope", BR, "GET"),
        ("/api/v1/posts/caf%C3%A9", BR, "GET"),  # the raw slug: a 301 to `cafe`
        ("/api/v1/posts/caf%E9", BR, "GET"),  # not UTF-8
        ("/api/v1/posts", BR, "GET"),
        ("/api/v1/posts/p1", {**BR, "Host": "bad host"}, "GET"),
    ],
    ids=[
        "head",
        "query",
        "authorization",
        "if-none-match",
        "if-modified-since",
        "range",
        "identity",
        "no-accept-encoding",
        "trailing-slash",
        "unknown",
        "alias",
        "latin-1",
        "list",
        "bad-host",
    ],
)
def test_fastpath_leaves_every_other_request_to_flask(served, path, headers, method):
    short = fast(served)
    before = short.answered
    with_it, without = both(served, path, headers, method)
    assert short.answered == before
    same(with_it, without)


def test_fastpath_logs_one_access_line_as_flask_does(served, caplog):
    caplog.set_level(logging.INFO, logger="contentapi.access")
    clear_response_cache(served)
    served.test_client().get("/api/v1/posts/p2", headers=BR)
    short = fast(served)
    served.wsgi_app = short.inner
    try:
        served.test_client().get("/api/v1/posts/p2", headers=BR)
    finally:
        served.wsgi_app = short
    lines = [r for r in caplog.records if r.name == "contentapi.access"]
    assert [r.getMessage().rsplit(" ", 1)[0] for r in lines] == ["GET /api/v1/posts/p2 200"] * 2
    keys = ("event", "method", "path", "status")
    assert {k: getattr(lines[0], k) for k in keys} == {k: getattr(lines[1], k) for k in keys}


def test_fastpath_serves_the_new_answer_after_an_edit(served, write_post):
    """An edit makes a new index version: the pointer of the old one is never followed."""
    old = served.test_client().get("/api/v1/posts/p1", headers=BR)
    write_post("p1.md", title="Entrada editada", date="2024-02-02", body="Nuevo.\n", tags="[uno]")
    content = store_of(served)
    content.reload()
    with_it, without = both(served, "/api/v1/posts/p1", BR)
    assert with_it.get_data() != old.get_data()
    same(with_it, without)
    fill_report = prebuilt.fill(served, content, content.index)
    assert fill_report is not None
    short = fast(served)
    before = short.answered
    with_it, without = both(served, "/api/v1/posts/p1", BR)
    assert short.answered == before + 1
    same(with_it, without)


def test_fastpath_stays_out_with_a_cors_allow_list(make_app, site, tmp_path):
    app = make_app(
        store_path=str(tmp_path / "a.sqlite"),
        base_url=BASE,
        cors_origins=("https://app.example.org",),
    )
    assert not fast(app).enabled


def test_fastpath_stays_out_when_another_route_shares_the_prefix(served):
    served.add_url_rule("/api/v1/posts/feed.json", "feed_json", lambda: "{}")
    assert not fastpath.install(served, store_of(served)).enabled


def test_fastpath_honours_trusted_hosts(make_app, site, tmp_path):
    """With CONTENTAPI_TRUSTED_HOSTS, a listed Host is answered the short way and any other
    gets Flask's 400 naming `Host`."""
    app = make_app(
        store_path=str(tmp_path / "store" / "a.sqlite"),
        base_url=BASE,
        trusted_hosts=("api.example.com",),
    )
    content = store_of(app)
    assert content.artifacts is not None
    build(content.index, content.artifacts, jobs=1)
    assert prebuilt.fill(app, content, content.index) is not None
    short = fast(app)
    listed, _ = both(app, "/api/v1/posts/p1", {**BR, "Host": "api.example.com"})
    assert (listed.status_code, short.answered) == (200, 1)
    other, without = both(app, "/api/v1/posts/p1", {**BR, "Host": "evil.example"})
    assert short.answered == 1
    assert other.status_code == 400 and "Host" in other.get_data(as_text=True)
    same(other, without)
