"""The parse cache: restarts reuse parse results by content hash, and never wrong ones."""

from __future__ import annotations

import marshal
from pathlib import Path

import PIL.Image
import pytest

from contentapi.engine import images, loader, parsecache
from contentapi.engine.loader import build_options, load_index, parse_cache_file, read_sources
from contentapi.engine.schema import FIELDS, OPTIONAL_TEXT, Field
from contentapi.settings import Settings


def _settings(content_dir, cache_dir, **extra):
    env = {
        "CONTENTAPI_CONTENT_DIR": str(content_dir),
        "CONTENTAPI_PARSE_CACHE": str(cache_dir),
        **{f"CONTENTAPI_{k.upper()}": v for k, v in extra.items()},
    }
    return Settings.from_env(env)


def _cached(settings, sources):
    """What the parse cache gives for `sources`."""
    rows = parsecache.read(parse_cache_file(settings), build_options(settings))
    return parsecache.results(rows, sources)


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
    cached = _cached(settings, read_sources(content_dir))
    assert set(cached) == {"2024-01-01-uno.md", "bad.md"}
    second = load_index(settings)
    assert second.version == first.version
    assert second.posts == first.posts
    assert [second.body(p) for p in second.posts] == [first.body(p) for p in first.posts]
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


def test_parsecache_stores_posts_by_field_name(write_post, content_dir, tmp_path):
    write_post("a.md", title="A", tags="[x]")
    settings = _settings(content_dir, tmp_path / "cache")
    load_index(settings)
    _, rows = marshal.loads(parse_cache_file(settings).read_bytes())
    ((path, _, _, row, issues, _, _),) = rows
    assert path == "a.md" and issues == []
    assert list(row) == [field.name for field in FIELDS]
    assert row["title"] == "A" and row["tags"] == [("x", "x")]


def test_parsecache_a_changed_field_table_makes_the_cache_unread_not_a_crash(
    write_post, content_dir, tmp_path, monkeypatch
):
    """What forgetting a manual format bump used to do: rows one field short at startup."""
    write_post("a.md", title="A")
    settings = _settings(content_dir, tmp_path / "cache")
    load_index(settings)
    sources = read_sources(content_dir)
    assert _cached(settings, sources)
    extra_field = Field("mood", OPTIONAL_TEXT, None)
    monkeypatch.setattr(parsecache, "FIELDS", (*FIELDS, extra_field))
    assert _cached(settings, sources) == {}


def test_parsecache_rows_not_in_this_shape_are_ignored(write_post, content_dir, tmp_path):
    write_post("a.md", title="A")
    settings = _settings(content_dir, tmp_path / "cache")
    load_index(settings)
    file = parse_cache_file(settings)
    stamp, rows = marshal.loads(file.read_bytes())
    for broken in (
        [(path, digest, st, {k: v for k, v in row.items() if k != "date"}, *rest)
         for path, digest, st, row, *rest in rows],
        [(path, digest, st, tuple(row.values()), *rest) for path, digest, st, row, *rest in rows],
        [(path, digest) for path, digest, *_ in rows],
    ):  # fmt: skip
        file.write_bytes(marshal.dumps((stamp, broken)))
        assert _cached(settings, read_sources(content_dir)) == {}
        assert [post.title for post in load_index(settings).posts] == ["A"]


def test_parsecache_keeps_body_lines_and_url_policy_warnings(write_post, content_dir, tmp_path):
    write_post(
        "a.md",
        text="---\ntitle: Faro\ndate: 2024-01-01\ncover: file:///I:/x.png\n---\n\n# Faro\n\nUno.\n",
    )
    settings = _settings(content_dir, tmp_path / "cache")
    first = load_index(settings)
    second = load_index(settings)  # from the cache
    assert second.posts[0].body_line == first.posts[0].body_line == 9
    assert second.posts[0].image is None
    assert second.issues == first.issues
    assert [(i.field, i.severity) for i in second.issues] == [("cover", "warning")]


def test_parsecache_image_facts_survive_a_restart(write_post, content_dir, tmp_path, monkeypatch):
    PIL.Image.new("RGB", (30, 20)).save(content_dir / "a.png")
    write_post("uno.md", title="Uno", body="![a](a.png)")
    settings = _settings(content_dir, tmp_path / "cache")
    first = load_index(settings)
    stored = parsecache.read_images(parse_cache_file(settings))
    assert set(stored) == {"a.png"}
    assert stored["a.png"] == first.assets.images["a.png"]
    monkeypatch.setattr(images, "describe", lambda *args: pytest.fail("decoded again"))
    second = load_index(settings)  # a restart: no previous index
    assert second.assets.images == first.assets.images
    assert second.version == first.version


def test_parsecache_unreadable_image_cache_is_only_slower(write_post, content_dir, tmp_path):
    PIL.Image.new("RGB", (30, 20)).save(content_dir / "a.png")
    write_post("uno.md", title="Uno")
    settings = _settings(content_dir, tmp_path / "cache")
    first = load_index(settings)
    parsecache.image_cache_file(parse_cache_file(settings)).write_bytes(b"garbage")
    assert parsecache.read_images(parse_cache_file(settings)) == {}
    assert load_index(settings).assets.images == first.assets.images


def test_parsecache_restart_reads_no_unchanged_file(write_post, content_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(loader, "SETTLE_NS", 0)  # files written just now count as settled
    write_post("a.md", title="A", body="# A\n\nCuerpo con *énfasis*.")
    write_post("b.md", title="B")
    settings = _settings(content_dir, tmp_path / "cache")
    first = load_index(settings)
    write_post("b.md", title="B, editada")
    read: list[str] = []
    real = loader._read_at_most
    monkeypatch.setattr(
        loader, "_read_at_most", lambda path, limit: read.append(path) or real(path, limit)
    )
    second = load_index(settings)
    assert [Path(path).name for path in read] == ["b.md"]
    a = second.by_slug["a"]
    assert second.body(a) == first.body(first.by_slug["a"]) == "Cuerpo con *énfasis*.\n"
    assert second.by_slug["b"].title == "B, editada"


def test_parsecache_stamped_file_without_a_usable_row_is_read(
    write_post, content_dir, tmp_path, monkeypatch
):
    monkeypatch.setattr(loader, "SETTLE_NS", 0)
    write_post("a.md", title="A")
    settings = _settings(content_dir, tmp_path / "cache")
    load_index(settings)
    file = parse_cache_file(settings)
    stamp, rows = marshal.loads(file.read_bytes())
    file.write_bytes(marshal.dumps((stamp, [(*row[:3], "not fields", *row[4:]) for row in rows])))
    assert [post.title for post in load_index(settings).posts] == ["A"]
