"""contentapi.web.headers: the Host check, stable compressed bodies under strong ETags,
Cache-Control for tokens and probes, one Vary, and 404s that all look alike."""

from __future__ import annotations

import gzip

import brotli
import pytest
from conftest import assert_problem
from flask.testing import FlaskClient

PREVIEW = "preview-token-0123456789"
ADMIN = "admin-token-0123456789"
FEEDS = ["/feeds/atom.xml", "/feeds/feed.json", "/feeds/rss.xml", "/sitemap.xml", "/api/v1/posts"]


@pytest.fixture
def site(write_post):
    write_post("a.md", title="A", date="2024-01-01", body="Texto largo. " * 200)
    write_post("b.md", title="B", date="2024-01-02")


# Host


@pytest.mark.parametrize("host", ["a b", "x:abc", "x:99999", "bad/host", "a\tb"])
@pytest.mark.parametrize("url", FEEDS)
def test_headers_malformed_host_is_a_400_naming_host(site, make_client, host, url):
    response = make_client().get(url, headers={"Host": host})
    body = assert_problem(response, 400, "Host")
    assert response.headers["Cache-Control"] == "no-store"
    assert body["detail"] == "The Host header is not accepted."


def test_headers_trusted_hosts_refuse_every_other_host(site, make_client):
    client = make_client(trusted_hosts="api.example.com,.example.org")
    for host in ["api.example.com", "api.example.com:8443", "example.org", "www.example.org"]:
        assert client.get("/api/v1/posts", headers={"Host": host}).status_code == 200, host
    for host in ["evil.example", "api.example.com.evil.example", "localhost"]:
        response = client.get("/api/v1/posts", headers={"Host": host})
        body = assert_problem(response, 400, "Host")
        assert "CONTENTAPI_TRUSTED_HOSTS" in body["errors"][0]["message"]


def test_headers_any_well_formed_host_without_trusted_hosts(site, make_client):
    response = make_client().get("/api/v1/posts", headers={"Host": "api.example.net:8080"})
    assert response.status_code == 200
    assert response.get_json()["links"]["self"].startswith("http://api.example.net:8080/")


def _double_slash(client: FlaskClient, host: str):
    return client.get(
        "/",
        environ_overrides={"PATH_INFO": "//api/v1//posts", "QUERY_STRING": "page=2"},
        headers={"Host": host},
    )


def test_headers_slash_redirect_points_at_the_base_url(site, make_app):
    client = FlaskClient(make_app(base_url="https://api.example.com"))
    response = _double_slash(client, "evil.example")
    assert response.status_code == 308
    assert response.headers["Location"] == "https://api.example.com/api/v1/posts?page=2"


def test_headers_slash_redirect_without_base_url_stays_on_the_host(site, make_app):
    client = FlaskClient(make_app())
    response = _double_slash(client, "api.example.net")
    assert response.headers["Location"] == "http://api.example.net/api/v1/posts?page=2"


# Compression and strong ETags


def _at(monkeypatch, seconds: float) -> None:
    monkeypatch.setattr(gzip.time, "time", lambda: seconds)


def test_headers_gzip_body_is_the_same_bytes_at_any_time(site, make_client, monkeypatch):
    client = make_client()
    gz = {"Accept-Encoding": "gzip"}
    _at(monkeypatch, 1_700_000_000)
    first = client.get("/api/v1/posts/a", headers=gz)
    _at(monkeypatch, 1_700_000_007)
    second = client.get("/api/v1/posts/a", headers=gz)
    assert first.headers["Content-Encoding"] == "gzip"
    assert first.headers["ETag"] == second.headers["ETag"]
    assert first.data == second.data
    assert first.data[4:8] == b"\0\0\0\0"  # RFC 1952: no modification time
    assert gzip.decompress(first.data) == client.get("/api/v1/posts/a").data


def test_headers_strong_etag_is_exact_per_encoding(site, make_client):
    client = make_client()
    answers = {
        encoding: client.get("/api/v1/posts/a", headers={"Accept-Encoding": encoding})
        for encoding in ("identity", "gzip", "br")
    }
    etags = {encoding: answer.headers["ETag"] for encoding, answer in answers.items()}
    assert len(set(etags.values())) == 3
    assert etags["gzip"] == etags["identity"][:-1] + ':gzip"'
    assert brotli.decompress(answers["br"].data) == answers["identity"].data
    for encoding, etag in etags.items():
        headers = {"Accept-Encoding": encoding, "If-None-Match": etag}
        assert client.get("/api/v1/posts/a", headers=headers).status_code == 304, encoding
    other = {"Accept-Encoding": "gzip", "If-None-Match": etags["identity"]}
    assert client.get("/api/v1/posts/a", headers=other).status_code == 200


# Cache-Control and Vary


def test_headers_wrong_preview_token_is_never_public(site, make_client):
    client = make_client(preview_token=PREVIEW)
    for authorization in ["Bearer wrong-token-0123456789", "Bearer ", f"Basic {PREVIEW}"]:
        response = client.get("/api/v1/posts", headers={"Authorization": authorization})
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "private, no-store"
        assert "Authorization" in response.headers["Vary"]
    assert client.get("/api/v1/posts").headers["Cache-Control"].startswith("public")


def test_headers_probes_are_never_stored(site, make_client):
    client = make_client()
    for url in ["/healthz", "/readyz"]:
        assert client.get(url).headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("origins", ["*", "https://app.example"])
def test_headers_vary_is_sent_once(site, make_client, origins):
    client = make_client(cors_origins=origins)
    for headers in [{}, {"Origin": "https://app.example"}, {"Accept-Encoding": "gzip"}]:
        response = client.get("/api/v1/posts/a", headers=headers)
        values = response.headers.getlist("Vary")
        assert len(values) == 1, values
        names = [name.strip().lower() for name in values[0].split(",")]
        assert sorted(names) == ["accept-encoding", "origin"]


def _shape(response) -> dict:
    """What headers say about a response, without the per-request Date and length."""
    return {
        name: value
        for name, value in response.headers.items()
        if name not in {"Date", "Content-Length"}
    }


@pytest.mark.parametrize("headers", [{}, {"Authorization": f"Bearer {ADMIN}"}])
def test_headers_hidden_admin_404_looks_like_any_404(site, make_client, headers):
    client = make_client()
    unknown = client.get("/api/v1/nothing-here", headers=headers)
    for url in ["/api/v1/admin/diagnostics", "/api/v1/admin/diagnostics?cb=1"]:
        hidden = client.get(url, headers=headers)
        assert hidden.status_code == unknown.status_code == 404
        assert _shape(hidden) == _shape(unknown)


def test_headers_content_version_is_the_roots_version_on_answers_from_the_content(
    site, make_client
):
    client = make_client()
    version = client.get("/api/v1").get_json()["version"]
    for url in (
        "/api/v1",
        "/api/v1/posts",
        "/api/v1/posts?per_page=1",  # a miss, then the same from the cache
        "/api/v1/posts?per_page=1",
        "/api/v1/search?q=a",
        "/feeds/rss.xml",
        "/api/v1/tags",
        "/api/v1/posts/no-such-post",
    ):
        response = client.get(url)
        assert response.headers["X-Content-Version"] == version, url
    assert "X-Content-Version" not in client.get("/healthz").headers
    assert "X-Content-Version" not in client.get("/no/such/route").headers


@pytest.mark.parametrize("encoding", ["br", "gzip", "identity"])
def test_headers_unconditional_answers_carry_date_and_length_as_make_conditional_would(
    site, make_client, encoding
):
    """A request with no conditional header skips the validator parsing, not its headers."""
    client = make_client()
    for _ in range(2):  # a miss, then a hit
        response = client.get("/api/v1/posts", headers={"Accept-Encoding": encoding})
        assert response.status_code == 200
        assert response.headers["Date"]
        assert int(response.headers["Content-Length"]) == len(response.get_data())
        again = client.get(
            "/api/v1/posts",
            headers={"Accept-Encoding": encoding, "If-None-Match": response.headers["ETag"]},
        )
        assert again.status_code == 304 and again.headers["Date"]
