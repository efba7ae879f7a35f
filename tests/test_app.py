"""The app factory: settings, extension state and startup behaviour."""

from __future__ import annotations

import pytest

from contentapi import create_app
from contentapi.service.store import ContentError
from contentapi.settings import ConfigError


def test_app_factory_takes_test_config(write_post, content_dir):
    write_post("a.md", title="A")
    app = create_app({"TESTING": True, "CONTENTAPI_CONTENT_DIR": str(content_dir)})
    assert app.testing
    store = app.extensions["contentapi"]
    assert [post.slug for post in store.index.posts] == ["a"]


def test_app_factory_reads_environment(monkeypatch, write_post, content_dir):
    write_post("a.md", title="A")
    monkeypatch.setenv("CONTENTAPI_CONTENT_DIR", str(content_dir))
    monkeypatch.setenv("CONTENTAPI_SITE_TITLE", "Desde el entorno")
    body = create_app().test_client().get("/api/v1").get_json()
    assert body["title"] == "Desde el entorno"


def test_app_bad_setting_stops_startup(monkeypatch, content_dir):
    monkeypatch.setenv("CONTENTAPI_CONTENT_DIR", str(content_dir))
    monkeypatch.setenv("CONTENTAPI_PER_PAGE_TYPO", "1")
    monkeypatch.setenv("CONTENTAPI_MAX_PER_PAGE", "lots")
    with pytest.raises(ConfigError, match="CONTENTAPI_MAX_PER_PAGE"):
        create_app()


def test_app_invalid_post_does_not_take_the_others_down(write_post, make_client, caplog):
    write_post("good.md", title="Good")
    write_post("bad.md", text="---\ntitle: Bad\ndate: not a date\n---\nBody\n")
    client = make_client()
    assert [p["slug"] for p in client.get("/api/v1/posts").get_json()["data"]] == ["good"]
    assert "bad.md:3: error: date:" in caplog.text


def test_app_strict_mode_refuses_invalid_posts(write_post, make_app):
    write_post("good.md", title="Good")
    write_post("bad.md", text="---\ntitle: Bad\n---\nNo date.\n")
    with pytest.raises(ContentError, match=r"bad\.md"):
        make_app(strict="true")


def test_app_json_is_utf8_with_trailing_newline(write_post, make_client):
    write_post("a.md", title='"Año nuevo: ¿qué leer?"')
    response = make_client().get("/api/v1/posts/a")
    raw = response.get_data()
    assert "Año nuevo: ¿qué leer?".encode() in raw
    assert raw.endswith(b"\n")
