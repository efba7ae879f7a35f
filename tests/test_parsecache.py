"""The parse cache: restarts reuse parse results by content hash, and never wrong ones."""

from __future__ import annotations

from contentapi.engine import parsecache
from contentapi.engine.loader import build_options, load_index, parse_cache_file, read_sources
from contentapi.settings import Settings


def _settings(content_dir, cache_dir, **extra):
    env = {
        "CONTENTAPI_CONTENT_DIR": str(content_dir),
        "CONTENTAPI_PARSE_CACHE": str(cache_dir),
        **{f"CONTENTAPI_{k.upper()}": v for k, v in extra.items()},
    }
    return Settings.from_env(env)


def test_parsecache_restart_reuses_results_and_gives_the_same_index(
    write_post, content_dir, tmp_path
):
    write_post(
        "2024-01-01-uno.md",
        title="Uno",
        tags="[a, b]",
        category="Cocina",
        body="# Uno\n\n## Año\n\nTexto.",
        extra_key="kept",
    )
    write_post("bad.md", text="---\ntitle: Sin fecha\n---\nx\n")
    settings = _settings(content_dir, tmp_path / "cache")
    first = load_index(settings)
    assert parse_cache_file(settings).exists()
    cached = parsecache.read(
        parse_cache_file(settings), build_options(settings), read_sources(content_dir)
    )
    assert set(cached) == {"2024-01-01-uno.md", "bad.md"}
    second = load_index(settings)
    assert second.version == first.version
    assert second.posts == first.posts
    assert [p.body for p in second.posts] == [p.body for p in first.posts]
    assert second.issues == first.issues
    assert dict(second.posts[0].extra) == {"extra_key": "kept"}


def test_parsecache_changed_file_is_parsed_again(write_post, content_dir, tmp_path):
    write_post("a.md", title="Antes")
    settings = _settings(content_dir, tmp_path / "cache")
    load_index(settings)
    write_post("a.md", title="Después")
    assert load_index(settings).posts[0].title == "Después"


def test_parsecache_ignored_when_settings_differ(write_post, content_dir, tmp_path):
    write_post("a.md", title="A", date="2024-01-01 10:00")
    load_index(_settings(content_dir, tmp_path / "cache", timezone="UTC"))
    madrid = load_index(_settings(content_dir, tmp_path / "cache", timezone="Europe/Madrid"))
    assert madrid.posts[0].date.isoformat() == "2024-01-01T10:00:00+01:00"


def test_parsecache_corrupt_or_unwritable_cache_only_slows_start(write_post, content_dir, tmp_path):
    write_post("a.md", title="A")
    settings = _settings(content_dir, tmp_path / "cache")
    load_index(settings)
    parse_cache_file(settings).write_bytes(b"not a cache")
    assert [p.title for p in load_index(settings).posts] == ["A"]
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("x")
    assert [p.title for p in load_index(_settings(content_dir, blocked)).posts] == ["A"]


def test_parsecache_off_writes_nothing(write_post, content_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home-cache"))
    write_post("a.md", title="A")
    settings = _settings(content_dir, "off")
    assert parse_cache_file(settings) is None
    load_index(settings)
    assert not (tmp_path / "home-cache").exists()
    auto = _settings(content_dir, "auto")
    load_index(auto)
    assert parse_cache_file(auto).parent == tmp_path / "home-cache" / "contentapi"
    assert parse_cache_file(auto).exists()
