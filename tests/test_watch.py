"""Live content: edits on disk while the app runs are served once the watcher settles."""

from __future__ import annotations

import shutil
import time

import click
import pytest
from conftest import post_text

from contentapi import create_app
from contentapi.engine import loader
from contentapi.service.watch import Watcher, _ignored


def _eventually(check, timeout=8.0):
    """Poll until `check()` is truthy; the watcher debounces, so changes land in ~0.3 s."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


@pytest.fixture
def live(write_post, make_app):
    write_post("a.md", title="A", date="2024-01-01")
    write_post("b.md", title="B", date="2024-01-02")
    app = make_app(watch="true")
    yield app, app.test_client()
    app.extensions["contentapi"].watcher.stop()


def _titles(client):
    return sorted(p["title"] for p in client.get("/api/v1/posts").get_json()["data"])


def test_watch_change_add_delete(live, write_post, content_dir):
    _, client = live
    write_post("a.md", title="A editado", date="2024-01-01")
    assert _eventually(lambda: _titles(client) == ["A editado", "B"])
    write_post("sub/c.md", title="C", date="2024-01-03")
    assert _eventually(lambda: _titles(client) == ["A editado", "B", "C"])
    (content_dir / "b.md").unlink()
    assert _eventually(lambda: _titles(client) == ["A editado", "C"])
    (content_dir / "sub" / "c.md").rename(content_dir / "moved.md")
    assert _eventually(lambda: client.get("/api/v1/posts/moved").status_code == 200)


def test_watch_broken_file_keeps_its_last_good_version(live, write_post):
    app, client = live
    write_post("a.md", text="---\ntitle: A\ndate: not a date\n---\nRoto.\n")
    write_post("new-broken.md", text="---\ntitle: [unclosed\n---\n")
    store = app.extensions["contentapi"]
    assert _eventually(lambda: any(i.path == "new-broken.md" for i in store.index.issues))
    assert _titles(client) == ["A", "B"]  # `a` still served as it was; the new file is not
    errors = {(i.path, i.severity) for i in store.index.issues}
    assert ("a.md", "error") in errors and ("new-broken.md", "error") in errors
    write_post("a.md", title="A arreglado", date="2024-01-01")
    assert _eventually(lambda: _titles(client) == ["A arreglado", "B"])


def test_watch_strict_mode_keeps_the_whole_previous_index(write_post, make_app):
    write_post("a.md", title="A")
    app = make_app(watch="true", strict="true")
    store = app.extensions["contentapi"]
    try:
        version = store.index.version
        write_post("b.md", title="B")
        assert _eventually(lambda: store.index.version != version)
        good = store.index.version
        write_post("c.md", text="---\ntitle: C\n---\nsin fecha\n")
        write_post("a.md", title="A cambiado")
        time.sleep(1.0)
        assert store.index.version == good
        assert sorted(p.title for p in store.index.posts) == ["A", "B"]  # not "A cambiado"
    finally:
        store.watcher.stop()


def test_watch_debounces_a_burst_into_few_reloads(write_post, make_app):
    write_post("a.md", title="A")
    app = make_app(watch="true")
    store = app.extensions["contentapi"]
    try:
        for number in range(60):
            write_post(f"burst/p{number}.md", title=f"P{number}")
        assert _eventually(lambda: len(store.index.posts) == 61)
        time.sleep(0.5)
        assert 1 <= store.watcher.reloads <= 5
    finally:
        store.watcher.stop()


def test_watch_ignores_hidden_and_swap_files(tmp_path):
    root = tmp_path
    assert _ignored(root / ".git" / "index", root)
    assert _ignored(root / "posts" / ".a.md.swp", root)
    assert _ignored(root / "posts" / "a.md~", root)
    assert _ignored(root / "_drafts" / "a.md", root)
    assert not _ignored(root / "posts" / "a.md", root)
    assert _ignored(tmp_path.parent / "elsewhere.md", root)


def test_watch_shortcode_templates_count_as_content(tmp_path):
    assert not _ignored(tmp_path / "_shortcodes" / "nota.html", tmp_path)
    assert _ignored(tmp_path / "_shortcodes" / ".nota.html.swp", tmp_path)
    assert _ignored(tmp_path / "posts" / "_shortcodes" / "nota.html", tmp_path)


def test_watch_auto_is_on_only_under_flask_run(write_post, make_app):
    write_post("a.md", title="A")
    assert make_app().extensions["contentapi"].watcher is None
    for command, watching in [("check", False), ("run", True)]:
        with click.Context(click.Command(command), info_name=command):
            app = make_app()
        watcher = app.extensions["contentapi"].watcher
        assert isinstance(watcher, Watcher) is watching, command
        if watcher:
            watcher.stop()


def _release(folder, *titles):
    folder.mkdir(parents=True)
    for title in titles:
        (folder / f"{title.lower()}.md").write_text(post_text(title=title), encoding="utf-8")
    return folder


def test_watch_follows_a_folder_deleted_and_made_again(live, content_dir):
    _, client = live
    shutil.rmtree(content_dir)
    _release(content_dir, "Nuevo")  # e.g. `rm -rf content && git clone ... content`
    assert _eventually(lambda: _titles(client) == ["Nuevo"])
    (content_dir / "otro.md").write_text(post_text(title="Otro"), encoding="utf-8")
    assert _eventually(lambda: _titles(client) == ["Nuevo", "Otro"])  # the new folder is watched


def test_watch_follows_a_symlink_switched_to_a_new_release(tmp_path):
    first = _release(tmp_path / "releases" / "1", "Uno")
    second = _release(tmp_path / "releases" / "2", "Dos")
    current = tmp_path / "current"
    try:
        current.symlink_to(first, target_is_directory=True)
    except OSError:
        pytest.skip("symlinks not permitted here")
    app = create_app(
        {"TESTING": True, "CONTENTAPI_CONTENT_DIR": str(current), "CONTENTAPI_WATCH": "true"}
        | {"CONTENTAPI_PARSE_CACHE": "off"}
    )
    client = app.test_client()
    try:
        assert _titles(client) == ["Uno"]
        switch = tmp_path / "current.new"  # `ln -sfn releases/2 current`, atomically
        switch.symlink_to(second, target_is_directory=True)
        switch.replace(current)
        assert _eventually(lambda: _titles(client) == ["Dos"])
        (second / "tres.md").write_text(post_text(title="Tres"), encoding="utf-8")
        assert _eventually(lambda: _titles(client) == ["Dos", "Tres"])
        (first / "uno.md").write_text(post_text(title="Uno editado"), encoding="utf-8")
        time.sleep(1.0)
        assert _titles(client) == ["Dos", "Tres"]  # the old release no longer counts
    finally:
        app.extensions["contentapi"].watcher.stop()


def test_watch_an_edit_reads_only_the_written_file_and_patches_the_index(
    live, write_post, monkeypatch
):
    app, client = live
    store = app.extensions["contentapi"]
    before = store.index
    scans = []
    read_sources = loader.read_sources
    monkeypatch.setattr(
        loader, "read_sources", lambda *a, **k: scans.append(1) or read_sources(*a, **k)
    )
    write_post("a.md", title="A editado", date="2024-01-01")
    assert _eventually(lambda: _titles(client) == ["A editado", "B"])
    assert scans == []  # the folder was not scanned: the write's events named the file
    patch = store.index.patched_from(before)
    assert patch is not None
    assert [(old.title, new.title) for old, new in patch.pairs] == [("A", "A editado")]
    write_post("b.md", title="B", date="2023-12-01")  # the order changes: built in full
    assert _eventually(lambda: client.get("/api/v1/posts").get_json()["data"][0]["slug"] == "a")
    assert store.index.patch is None


def test_watch_an_edit_whose_event_was_lost_is_found_by_the_later_scan(
    write_post, make_app, content_dir
):
    write_post("a.md", title="A", date="2024-01-01")
    write_post("b.md", title="B", date="2024-01-02")
    app = make_app()
    store = app.extensions["contentapi"]
    watcher = Watcher(store, quiet=0.05, verify=0.3).start()
    try:
        watcher._observer.unschedule_all()  # from here on, events are lost
        write_post("a.md", title="A editado", date="2024-01-01")
        write_post("b.md", title="B editado", date="2024-01-02")
        watcher.poke("a.md")  # one event of the two arrived
        assert _eventually(lambda: store.index.by_slug["a"].title == "A editado")
        assert _eventually(lambda: store.index.by_slug["b"].title == "B editado")
    finally:
        watcher.stop()


def test_watch_other_events_make_a_full_scan(write_post, make_app, content_dir):
    write_post("a.md", title="A", date="2024-01-01")
    app = make_app()
    store = app.extensions["contentapi"]
    watcher = Watcher(store, quiet=0.05).start()
    try:
        watcher._observer.unschedule_all()
        write_post("a.md", title="A editado", date="2024-01-01")
        write_post("c.md", title="C", date="2024-01-03")
        watcher.poke("a.md")
        watcher.poke()  # an event that is not a post file's write: c.md created
        assert _eventually(lambda: "c" in store.index.by_slug)
        assert store.index.by_slug["a"].title == "A editado"
    finally:
        watcher.stop()


def test_watch_after_a_refused_reload_the_next_edit_scans_the_folder(write_post, make_app):
    write_post("a.md", title="A", date="2024-01-01")
    write_post("b.md", title="B", date="2024-01-02")
    app = make_app(strict="true")
    store = app.extensions["contentapi"]
    watcher = Watcher(store, quiet=0.05, verify=60).start()
    try:
        watcher._observer.unschedule_all()
        write_post("a.md", text="---\ntitle: A\ndate: not a date\n---\nRoto.\n")
        watcher.poke("a.md")
        assert _eventually(lambda: watcher._edited is None)  # refused: strict
        write_post("b.md", title="B editado", date="2024-01-02")
        watcher.poke("b.md")
        time.sleep(0.5)
        # a.md is still broken: the whole reload is refused again, b's edit is not served alone
        assert store.index.by_slug["b"].title == "B"
        write_post("a.md", title="A arreglado", date="2024-01-01")
        watcher.poke("a.md")
        assert _eventually(lambda: store.index.by_slug["b"].title == "B editado")
        assert store.index.by_slug["a"].title == "A arreglado"
    finally:
        watcher.stop()
