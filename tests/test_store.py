"""contentapi.service.store: building, reloading and swapping the index; strict mode; HTML cache."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from contentapi.engine import artifacts
from contentapi.service import store as store_module
from contentapi.service.store import (
    MOMENT,
    ContentError,
    ContentStore,
    NotReady,
    ReloadSignal,
    runtime_folder,
    store_of,
)
from contentapi.settings import Settings

BAD_DATE = "---\ntitle: Bad\ndate: not a date\n---\nBody.\n"


def _store(content_dir, **settings: str) -> ContentStore:
    overrides = {f"CONTENTAPI_{key.upper()}": value for key, value in settings.items()}
    return ContentStore(
        Settings.from_env({}, {"CONTENTAPI_CONTENT_DIR": str(content_dir), **overrides})
    )


def test_store_not_ready_before_first_build(content_dir):
    store = _store(content_dir)
    assert not store.ready
    with pytest.raises(NotReady):
        store.index  # noqa: B018


def test_store_first_reload_builds_the_index(write_post, content_dir):
    write_post("a.md", title="A")
    store = _store(content_dir)
    result = store.reload()
    assert store.ready
    assert result.previous is None
    assert result.index is store.index
    assert result.version == store.index.version
    assert [post.slug for post in store.index.posts] == ["a"]


def test_store_reload_swaps_in_a_new_index_after_an_edit(write_post, content_dir):
    write_post("a.md", title="Before")
    store = _store(content_dir)
    first = store.reload()
    old_index = store.index
    write_post("a.md", title="After")
    second = store.reload()
    assert second.previous == first.version
    assert second.version != first.version
    assert store.index is second.index
    assert store.index is not old_index
    assert store.index.by_slug["a"].title == "After"
    assert old_index.by_slug["a"].title == "Before"


def test_store_reload_sees_added_and_removed_files(write_post, content_dir):
    write_post("a.md", title="A")
    store = _store(content_dir)
    first = store.reload().version
    added = write_post("b.md", title="B", date="2024-01-02")
    second = store.reload().version
    assert [post.slug for post in store.index.posts] == ["b", "a"]
    added.unlink()
    third = store.reload().version
    assert [post.slug for post in store.index.posts] == ["a"]
    assert second != first
    assert third == first  # the version is a function of the content, not of time


def test_store_reload_without_changes_keeps_the_version(write_post, content_dir):
    write_post("a.md", title="A")
    store = _store(content_dir)
    first = store.reload()
    second = store.reload()
    assert second.version == first.version
    assert second.previous == first.version


def test_store_reload_if_changed_reloads_only_after_a_change(write_post, content_dir, monkeypatch):
    monkeypatch.setattr("contentapi.engine.loader.SETTLE_NS", 0)
    write_post("a.md", title="A")
    store = _store(content_dir)
    first = store.reload()
    time.sleep(0.05)  # file times are coarse: the edit below must not share their tick
    assert store.reload_if_changed() is None
    assert store.index is first.index
    write_post("a.md", title="A, edited")
    changed = store.reload_if_changed()
    assert changed is not None and changed.changes.updated == ("a",)
    assert store.index.posts[0].title == "A, edited"


def test_store_reload_reuses_parsed_results_of_unchanged_files(write_post, content_dir):
    write_post("a.md", title="A")
    write_post("b.md", title="B")
    store = _store(content_dir)
    before = store.reload().index
    write_post("b.md", title="B edited")
    after = store.reload().index
    assert after.parsed["a.md"] is before.parsed["a.md"]
    assert after.parsed["b.md"] is not before.parsed["b.md"]
    assert after.by_slug["b"].title == "B edited"


def test_store_non_strict_reload_serves_the_valid_posts(write_post, content_dir):
    write_post("good.md", title="Good")
    store = _store(content_dir)
    store.reload()
    write_post("bad.md", text=BAD_DATE)
    store.reload()
    assert [post.slug for post in store.index.posts] == ["good"]
    assert [issue.path for issue in store.index.issues] == ["bad.md"]


def test_store_reload_survives_an_impossible_calendar_date(write_post, content_dir):
    write_post("good.md", title="Good")
    write_post("feb.md", text="---\ntitle: Leap\ndate: 2023-02-29\n---\nBody.\n")
    store = _store(content_dir)
    store.reload()
    assert [post.slug for post in store.index.posts] == ["good"]
    assert [(issue.path, issue.field) for issue in store.index.issues] == [("feb.md", "date")]


def test_store_strict_startup_refuses_invalid_posts(write_post, make_app):
    write_post("good.md", title="Good")
    write_post("bad.md", text=BAD_DATE)
    write_post("notitle.md", text="---\ndate: 2024-01-01\n---\nBody.\n")
    with pytest.raises(ContentError) as caught:
        make_app(strict="true")
    assert {issue.path for issue in caught.value.issues} == {"bad.md", "notitle.md"}
    assert "bad.md:3: error: date:" in str(caught.value)
    assert "notitle.md" in str(caught.value)


def test_store_strict_reload_keeps_the_old_index_and_raises(write_post, make_app):
    write_post("good.md", title="Good")
    store = make_app(strict="true").extensions["contentapi"]
    index = store.index
    write_post("bad.md", text=BAD_DATE)
    write_post("good.md", title="Good, edited")
    with pytest.raises(ContentError, match=r"bad\.md"):
        store.reload()
    assert store.index is index
    assert store.index.by_slug["good"].title == "Good"
    write_post("bad.md", title="Fixed")
    store.reload()
    assert sorted(store.index.by_slug) == ["bad", "good"]


def test_store_html_renders_the_post(write_post, content_dir):
    write_post("a.md", title="A", body="Hello **world**.")
    store = _store(content_dir)
    index = store.reload().index
    html = store.html(index, index.by_slug["a"], "http://localhost/")
    assert "<strong>world</strong>" in html


def test_store_html_is_cached_for_the_same_inputs(write_post, content_dir):
    write_post("a.md", title="A", body="Hello **world**.")
    store = _store(content_dir, store_path="off")  # the in-memory cache (the store: test_builder)
    index = store.reload().index
    post = index.by_slug["a"]
    first = store.html(index, post, "http://localhost/")
    assert store.html(index, post, "http://localhost/") is first
    unchanged = store.reload().index
    assert store.html(unchanged, unchanged.by_slug["a"], "http://localhost/") is first


def test_store_html_follows_an_edited_body(write_post, content_dir):
    write_post("a.md", title="A", body="Old text.")
    store = _store(content_dir)
    index = store.reload().index
    assert "Old text." in store.html(index, index.by_slug["a"], "http://localhost/")
    write_post("a.md", title="A", body="New text.")
    index = store.reload().index
    html = store.html(index, index.by_slug["a"], "http://localhost/")
    assert "New text." in html
    assert "Old text." not in html


def test_store_html_without_cache_still_renders(write_post, content_dir):
    write_post("a.md", title="A", body="Hello **world**.")
    store = _store(content_dir, render_cache_size="0")
    index = store.reload().index
    assert "<strong>world</strong>" in store.html(index, index.by_slug["a"], "http://localhost/")


def _listed(client) -> list[str]:
    response = client.get("/api/v1/posts")
    assert response.status_code == 200
    return [item["slug"] for item in response.get_json()["data"]]


@pytest.mark.filterwarnings("ignore:Flask-Caching:UserWarning")
def test_store_clock_decides_visibility_without_a_restart(write_post, make_client):
    scheduled = datetime.now(UTC) + timedelta(days=2)
    write_post("live.md", title="Live", date="2024-01-01")
    write_post("soon.md", title="Soon", date=scheduled.isoformat())
    client = make_client(cache_type="NullCache")  # the store alone, no response cache
    store = client.application.extensions["contentapi"]
    assert _listed(client) == ["live"]
    store.clock = lambda: scheduled + timedelta(minutes=1)
    assert _listed(client) == ["soon", "live"]
    store.clock = lambda: scheduled - timedelta(minutes=1)
    assert _listed(client) == ["live"]


def test_store_clock_is_honoured_by_the_response_cache(write_post, make_client):
    scheduled = datetime.now(UTC) + timedelta(days=2)
    write_post("live.md", title="Live", date="2024-01-01")
    write_post("soon.md", title="Soon", date=scheduled.isoformat())
    client = make_client()  # default settings: SimpleCache in front of the views
    store = client.application.extensions["contentapi"]
    store.clock = lambda: scheduled - timedelta(seconds=1)
    assert _listed(client) == ["live"]
    store.clock = lambda: scheduled
    assert _listed(client) == ["soon", "live"]


def test_store_now_is_the_clock_unless_the_request_fixes_the_moment(content_dir):
    store = _store(content_dir)
    store.clock = lambda: datetime(2024, 1, 1, tzinfo=UTC)
    fixed = datetime(2030, 5, 5, tzinfo=UTC)
    assert store.now({}) == datetime(2024, 1, 1, tzinfo=UTC)
    assert store.now({MOMENT: fixed}) == fixed
    assert store.now({MOMENT: "2030-05-05"}) == datetime(2024, 1, 1, tzinfo=UTC)  # not a moment
    assert store.now({"HTTP_CONTENTAPI_MOMENT": fixed}) == datetime(2024, 1, 1, tzinfo=UTC)


def test_store_of_is_the_store_an_app_serves(make_app):
    app = make_app()
    store = store_of(app)
    assert isinstance(store, ContentStore)
    assert store is app.extensions["contentapi"]


# The reload signal between processes serving one content folder


def _pair(content_dir, tmp_path):
    """Two stores over one folder and one runtime folder: two workers."""
    runtime = str(tmp_path / "runtime")
    first = _store(content_dir, runtime_dir=runtime)
    second = _store(content_dir, runtime_dir=runtime)
    first.reload()
    second.reload()
    return first, second


def test_store_reload_everywhere_reaches_the_other_store(write_post, content_dir, tmp_path):
    write_post("a.md", title="Before")
    first, second = _pair(content_dir, tmp_path)
    assert second.catch_up() is False  # nothing asked yet
    write_post("a.md", title="After")
    first.reload_everywhere()
    assert first.catch_up() is False  # it reloaded already
    assert second.index.by_slug["a"].title == "Before"
    assert second.catch_up() is True
    assert second.index.by_slug["a"].title == "After"
    assert second.catch_up() is False  # once per request for each reload asked


def test_store_catch_up_costs_one_stat_when_nothing_was_asked(write_post, content_dir, tmp_path):
    write_post("a.md", title="A")
    first, _ = _pair(content_dir, tmp_path)
    calls = []
    stamp = first.signal.stamp
    first.signal.stamp = lambda: calls.append(1) or stamp()
    first.reload = lambda: pytest.fail("no reload without a request")
    for _ in range(5):
        first.catch_up()
    assert len(calls) == 5


def test_store_reload_signal_is_a_new_stamp_each_time(tmp_path):
    signal = ReloadSignal(tmp_path / "run")
    assert signal.stamp() is None
    stamps = {signal.post() for _ in range(3)}
    assert len(stamps) == 3
    assert signal.stamp() in stamps
    assert (tmp_path / "run").stat().st_mode & 0o777 == 0o700


def test_store_workers_lists_running_processes_only(write_post, content_dir, tmp_path):
    write_post("a.md", title="A")
    first, _ = _pair(content_dir, tmp_path)
    folder = first.signal.folder / "workers"
    first.catch_up()
    gone = folder / "999999999.json"
    gone.write_text('{"pid": 999999999, "version": "old", "built_at": "2024-01-01T00:00:00"}')
    workers = first.workers()
    assert [(w.version, w.current) for w in workers] == [(first.index.version, True)]
    assert not gone.exists()


def test_store_runtime_folder_auto_is_private_and_per_content_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    one = runtime_folder(Settings.from_env({}, {"CONTENTAPI_CONTENT_DIR": "a"}))
    two = runtime_folder(Settings.from_env({}, {"CONTENTAPI_CONTENT_DIR": "b"}))
    assert one.parent == two.parent == tmp_path / f"contentapi-{os.getuid()}"
    assert one != two
    chosen = Settings.from_env({}, {"CONTENTAPI_RUNTIME_DIR": str(tmp_path / "x")})
    assert runtime_folder(chosen) == tmp_path / "x"


def test_store_strict_refusal_asks_no_other_worker(write_post, content_dir, tmp_path):
    write_post("a.md", title="A")
    runtime = str(tmp_path / "runtime")
    first = _store(content_dir, runtime_dir=runtime, strict="true")
    first.reload()
    write_post("bad.md", text=BAD_DATE)
    with pytest.raises(ContentError):
        first.reload_everywhere()
    assert first.signal.stamp() is None


# Search indexes: separate for preview, kept in files one process builds and every worker reads


def _hits(store: ContentStore, query: str, preview: bool = False) -> list[tuple[str, float]]:
    found = store.search(store.index, store.clock(), preview).search(query, limit=None)
    return [(hit.slug, hit.score) for hit in found.hits]


def _search_site(write_post) -> None:
    for n in range(6):
        write_post(f"p{n}.md", title=f"Pan {n}", date=f"2024-01-0{n + 1}", body="Masa y horno.")
    write_post("draft.md", title="Pan secreto", draft="true", body="Masa, masa.")


ENGINES = {"fts5": "fts5-*.sqlite", "tantivy": "tantivy-*.tantivy"}  # and their saved files


def _engine_class(engine: str):  # type: ignore[no-untyped-def]
    from contentapi.outputs.search.fts5 import Fts5Index
    from contentapi.outputs.search.tantivy_engine import TantivyIndex

    return {"fts5": Fts5Index, "tantivy": TantivyIndex}[engine]


@pytest.mark.parametrize("engine", ENGINES)
def test_store_search_file_is_built_once_and_read_by_another_worker(
    write_post, content_dir, tmp_path, monkeypatch, engine
):
    _search_site(write_post)
    folder = tmp_path / "search"
    builds: list[int] = []
    engine_class = _engine_class(engine)
    build = engine_class.build.__func__

    def counted(cls, entries, default_lang="en"):
        items = list(entries)
        builds.append(len(items))
        return build(cls, items, default_lang)

    monkeypatch.setattr(engine_class, "build", classmethod(counted))
    first, second = (
        _store(content_dir, search_cache=str(folder), search_backend=engine) for _ in range(2)
    )
    first.reload(), second.reload()
    expected = _hits(first, "masa")
    assert builds == [6]  # the public posts only: the draft is not in it
    assert _hits(second, "masa") == expected and builds == [6]  # read from the file
    assert len(list(folder.glob(ENGINES[engine]))) == 1
    assert _hits(second, "masa", preview=True)[0][0] == "draft"
    assert builds == [6, 7]  # preview: its own index, with the draft


@pytest.mark.parametrize("engine", ENGINES)
def test_store_search_file_that_is_unreadable_is_built_again(
    write_post, content_dir, tmp_path, engine
):
    _search_site(write_post)
    folder = tmp_path / "search"
    store = _store(content_dir, search_cache=str(folder), search_backend=engine)
    store.reload()
    expected = _hits(store, "horno")
    (path,) = folder.glob(ENGINES[engine])
    for part in path.iterdir() if path.is_dir() else [path]:
        part.write_bytes(b"not an index at all" * 100)
    again = _store(content_dir, search_cache=str(folder), search_backend=engine)
    again.reload()
    assert _hits(again, "horno") == expected
    (path,) = folder.glob(ENGINES[engine])
    assert _hits(_loaded(content_dir, folder, engine), "horno") == expected  # a good one again


def _loaded(content_dir, folder, engine: str) -> ContentStore:
    store = _store(content_dir, search_cache=str(folder), search_backend=engine)
    store.reload()
    return store


def test_store_search_keeps_answering_when_its_files_are_deleted(write_post, content_dir, tmp_path):
    import shutil

    _search_site(write_post)
    folder = tmp_path / "search"
    store = _store(content_dir, search_cache=str(folder))
    store.reload()
    expected = _hits(store, "horno")
    shutil.rmtree(folder)
    assert _hits(store, "horno") == expected  # the open file lives on until it is closed
    write_post("p9.md", title="Horno nuevo", date="2024-02-01")
    store.reload()
    assert _hits(store, "horno")[0][0] == "p9"


def test_store_search_updates_a_copy_for_an_edit_and_off_keeps_no_file(
    write_post, content_dir, tmp_path, caplog
):
    _search_site(write_post)
    store = _store(content_dir, search_cache="off")
    store.reload()
    assert [slug for slug, _ in _hits(store, "horno")][:1] == ["p5"]
    write_post("p0.md", title="Pan 0", date="2024-01-01", body="Masa y leña.")
    store.reload()
    assert "p0" not in {slug for slug, _ in _hits(store, "horno")}
    assert "p0" in {slug for slug, _ in _hits(store, "leña")}
    assert not (tmp_path / "search").exists()


class _Work:
    """Counts the per-file work a process does: parses, analyses, renders, posts indexed for
    search (built or written into a copy)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from collections import Counter

        from contentapi.engine import artifacts, index
        from contentapi.outputs.search.fts5 import Fts5Index
        from contentapi.outputs.search.tantivy_engine import TantivyIndex
        from contentapi.service import builder, store

        self.done: Counter[str] = Counter()
        for module, name, label in (
            (index, "parse_source", "parsed"),
            (index, "derive", "analysed"),
            (artifacts, "render_html", "rendered"),
            (store, "render_html", "rendered"),
        ):
            monkeypatch.setattr(module, name, self._counted(getattr(module, name), label))
        for engine_class in (Fts5Index, TantivyIndex):
            self._count_search(monkeypatch, engine_class)
        monkeypatch.setattr(builder, "cores", lambda: 1)  # the fill runs here, where it is counted

    def _count_search(self, monkeypatch, engine_class) -> None:  # type: ignore[no-untyped-def]
        build, updated = engine_class.build.__func__, engine_class.updated

        def counted_build(cls, entries, default_lang="en"):  # type: ignore[no-untyped-def]
            items = list(entries)
            self.done["indexed"] += len(items)
            return build(cls, items, default_lang)

        def counted_update(search, put=(), drop=()):  # type: ignore[no-untyped-def]
            items = list(put)
            self.done["indexed"] += len(items)
            return updated(search, items, drop)

        monkeypatch.setattr(engine_class, "build", classmethod(counted_build))
        monkeypatch.setattr(engine_class, "updated", counted_update)

    def _counted(self, function, label):  # type: ignore[no-untyped-def]
        def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
            self.done[label] += 1
            return function(*args, **kwargs)

        return counted

    def take(self) -> dict[str, int]:
        done = dict(self.done)
        self.done.clear()
        return done


def _serve_everything(store: ContentStore) -> None:
    """What a crawler makes a worker do: every post's analysis and HTML, and a search."""
    index = store.index
    for post in index.posts:
        index.derived(post)
        store.html(index, post, "http://localhost/")
    store.search(index, store.clock()).search("palabra", limit=None)


def _settle(store: ContentStore) -> None:
    """Wait for the background work a reload started (the fill and the search index)."""
    import threading

    for thread in threading.enumerate():
        if thread.name == "contentapi-warm-up":
            thread.join(timeout=60)


@pytest.mark.parametrize("shared", [True, False], ids=["store-and-search-files", "in-memory"])
def test_store_edit_of_one_file_redoes_only_that_file_in_every_worker(
    write_post, content_dir, tmp_path, monkeypatch, shared
):
    posts = 150
    for n in range(posts):
        write_post(
            f"p{n}.md",
            title=f"Post {n}",
            date="2024-01-01",
            tags=f"[t{n % 7}]",
            body=f"Palabra {n}.",
        )
    files = (
        {"store_path": str(tmp_path / "artifacts.sqlite"), "search_cache": str(tmp_path / "s")}
        if shared
        else {"store_path": "off", "search_cache": "off"}
    )
    settings = {"runtime_dir": str(tmp_path / "runtime"), "parse_cache": "off", **files}
    work = _Work(monkeypatch)
    first, second = _store(content_dir, **settings), _store(content_dir, **settings)
    for worker in (first, second):
        worker.reload()
        worker.warm_up().join()
        _serve_everything(worker)
    started = work.take()
    assert started["parsed"] == 2 * posts  # each process read the folder once
    assert started["rendered"] == (posts if shared else 2 * posts)

    write_post("p5.md", title="Edited", date="2024-01-01", tags="[t5]", body="Palabra nueva.")
    first.reload_everywhere()
    first.warm_up().join()
    assert second.catch_up()
    _settle(second)
    for worker in (first, second):
        _serve_everything(worker)
        assert worker.index.by_slug["p5"].title == "Edited"
    done = work.take()
    # One file changed: one parse per worker, and with the shared files one analysis, one
    # render and one search row for both; in memory, one of each per worker. Nothing else.
    assert done == (
        {"parsed": 2, "analysed": 1, "rendered": 1, "indexed": 1}
        if shared
        else {"parsed": 2, "analysed": 2, "rendered": 2, "indexed": 2}
    )


def test_store_blocks_are_built_once_and_shared_through_the_artifact_store(
    write_post, content_dir, monkeypatch
):
    write_post("a.md", title="A", body="## Hi\n\nText.")
    store = _store(content_dir)
    store.reload()
    post = store.index.by_slug["a"]
    first = store.blocks(store.index, post, "http://x/")
    assert first[0] == {
        "type": "heading",
        "level": 2,
        "id": "hi",
        "children": [{"type": "text", "text": "Hi", "marks": []}],
    }

    # Another process (a new store over the same folder) reads it, built once, for any host.
    def fail(*args: object) -> None:
        pytest.fail("built again")

    monkeypatch.setattr(artifacts, "render_blocks", fail)
    monkeypatch.setattr(store_module, "render_blocks", fail)
    other = _store(content_dir)
    other.reload()
    again = other.blocks(other.index, other.index.by_slug["a"], "https://api.example.com/")
    assert again == first


def test_store_blocks_without_an_artifact_store_are_kept_in_memory(write_post, content_dir):
    write_post("a.md", title="A", body="Text.")
    store = _store(content_dir, store_path="off")
    store.reload()
    post = store.index.by_slug["a"]
    assert store.blocks(store.index, post, "http://x/") is store.blocks(
        store.index, post, "http://x/"
    )


def test_store_listeners_hear_every_reload_and_cannot_break_it(write_post, content_dir):
    write_post("a.md", title="A")
    store = _store(content_dir)
    heard = []
    store.listeners.append(lambda result: heard.append((result.previous, result.version)))
    store.listeners.insert(0, lambda result: 1 / 0)
    first = store.reload()
    write_post("a.md", title="A, edited")
    second = store.reload()
    assert heard == [(None, first.version), (first.version, second.version)]
    assert second.at is not None


def test_store_wait_for_change_wakes_on_a_reload(write_post, content_dir):
    write_post("a.md", title="A")
    store = _store(content_dir)
    store.reload()
    version = store.index.version
    started = time.monotonic()
    assert store.wait_for_change(version, 0.1).version == version  # timed out
    assert time.monotonic() - started >= 0.09
    write_post("a.md", title="A, edited")
    threading.Timer(0.1, store.reload).start()
    started = time.monotonic()
    changed = store.wait_for_change(version, 10)
    assert changed.version != version
    assert time.monotonic() - started < 5


def test_store_later_runs_cache_writes_in_order_after_the_delay() -> None:
    from contentapi.service.store import _Later

    done: list[tuple[int, float]] = []
    later = _Later(0.2)
    started = time.monotonic()
    later(lambda: done.append((1, time.monotonic() - started)))
    later(lambda: done.append((2, time.monotonic() - started)))
    assert done == []  # a reload never waits for the write
    deadline = time.monotonic() + 5
    while len(done) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [number for number, _ in done] == [1, 2]
    assert all(seconds >= 0.2 for _, seconds in done)
