"""Prebuilt answers: each post's default detail, stored finished by the builder, is served from
the store exactly as the view would answer it, and never once anything it shows has changed."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import clear_response_cache

from contentapi.service.builder import build
from contentapi.service.store import store_of
from contentapi.settings import Settings
from contentapi.web import prebuilt
from contentapi.web.compression import decompress

BASE = "https://api.example.com/"
REAL_POST = Path("/work/shared/examples/real-post-es.md")
BR = {"Accept-Encoding": "br, gzip"}
GZIP = {"Accept-Encoding": "gzip"}


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "store" / "artifacts.sqlite"


@pytest.fixture
def site(write_post):
    """Six posts sharing tags and a category (so each has neighbours and related posts), an
    image one of them shows, and a category spelled two ways (the most used spelling wins)."""
    for i in range(6):
        body = f"# Parte {i}\n\nTexto {i} con acentos: ñandú, canción.\n"
        if i == 2:
            body += "\n![foto](/images/f2.png)\n"
        category = "viajes" if i == 5 else "Viajes"
        write_post(
            f"p{i}.md",
            title=f"Post {i}",
            date=f"2024-01-0{i + 1}",
            body=body,
            categories=f"[{category}]",
            tags="[uno, dos]" if i % 2 else "[uno]",
        )
    write_post("images/f2.png", text="png")
    return [f"p{i}" for i in range(6)]


@pytest.fixture
def served(make_app, site, store_path, monkeypatch):
    """An app over `site` with a base URL, its store filled (artifacts, then answers), and a
    record of what each request got from the prebuilt answers."""
    app = make_app(store_path=str(store_path), base_url=BASE)
    fill(app)
    found: list[Any] = []
    real = prebuilt.find

    def recording(*args: Any, **kwargs: Any) -> Any:
        entry = real(*args, **kwargs)
        found.append(entry)
        return entry

    monkeypatch.setattr(prebuilt, "find", recording)
    app.config["found"] = found
    return app


def fill(app) -> prebuilt.FillReport | None:
    content = store_of(app)
    assert content.artifacts is not None
    build(content.index, content.artifacts, jobs=1)
    return prebuilt.fill(app, content, content.index)


def get(app, path: str, headers: dict[str, str] | None = None, method: str = "GET") -> Any:
    """One request with an empty response cache: what a worker that never saw it answers."""
    clear_response_cache(app)
    return app.test_client().open(path, method=method, headers=headers or BR)


def live(app, path: str, headers: dict[str, str] | None = None, method: str = "GET") -> Any:
    """The same request answered as if nothing were prebuilt (the view, then the hooks)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(prebuilt, "find", lambda *args, **kwargs: None)
        return get(app, path, headers, method)


def from_store(app, path: str, headers: dict[str, str] | None = None, method: str = "GET") -> Any:
    """The request, asserting it was answered from a prebuilt answer."""
    found = app.config["found"]
    found.clear()
    response = get(app, path, headers, method)
    assert [entry is not None for entry in found] == [True], f"{path} was not prebuilt"
    return response


def data(response: Any) -> Any:
    """The JSON a response carries, whatever its coding."""
    coding = response.headers.get("Content-Encoding", "identity")
    return json.loads(decompress(response.get_data(), coding))


def same(one: Any, other: Any) -> None:
    """The same status, bytes and headers (but the Date; in any order)."""
    assert one.status_code == other.status_code
    assert one.get_data() == other.get_data()
    assert sorted(h for h in one.headers if h[0] != "Date") == sorted(
        h for h in other.headers if h[0] != "Date"
    )


# --- the same answer, from one row -----------------------------------------------------------


@pytest.mark.parametrize("headers", [BR, GZIP], ids=["br", "gzip"])
def test_prebuilt_answer_is_the_live_answer_byte_for_byte(served, site, headers):
    for slug in site:
        path = f"/api/v1/posts/{slug}"
        answer = from_store(served, path, headers)
        same(answer, live(served, path, headers))
        assert answer.headers["Content-Encoding"] == headers["Accept-Encoding"].split(",")[0]
        assert answer.headers["X-Content-Version"]
        assert data(answer)["url"] == f"{BASE}api/v1/posts/{slug}"


def test_prebuilt_head_and_conditional_requests(served, site):
    path = f"/api/v1/posts/{site[2]}"
    answer = from_store(served, path)
    etag = answer.headers["ETag"]
    assert etag.endswith(':br"')
    head = from_store(served, path, method="HEAD")
    assert head.status_code == 200 and head.get_data() == b""
    assert head.headers["ETag"] == etag
    not_modified = from_store(served, path, {**BR, "If-None-Match": etag})
    assert not_modified.status_code == 304 and not_modified.get_data() == b""
    changed = from_store(served, path, {**BR, "If-None-Match": '"other"'})
    assert changed.status_code == 200
    since = answer.headers["Last-Modified"]
    assert from_store(served, path, {**BR, "If-Modified-Since": since}).status_code == 304


def test_prebuilt_the_real_post(make_app, write_post, store_path, monkeypatch):
    if not REAL_POST.exists():
        pytest.skip("the shared example post is not here")
    write_post("2019/real.md", text=REAL_POST.read_text(encoding="utf-8"))
    write_post("other.md", title="Otro", date="2018-01-01", body="Otro texto.")
    app = make_app(store_path=str(store_path), base_url=BASE)
    report = fill(app)
    assert report is not None and report.built == 2
    slug = next(p.slug for p in store_of(app).index.posts if p.path == "2019/real.md")
    path = f"/api/v1/posts/{slug}"
    answer = get(app, path)
    same(answer, live(app, path))


def test_prebuilt_only_the_default_public_answer(served, site):
    """A query, preview, or a client taking neither br nor gzip is answered as ever."""
    found = served.config["found"]
    found.clear()
    for path, headers in [
        (f"/api/v1/posts/{site[1]}?formats=html,markdown", BR),
        (f"/api/v1/posts/{site[1]}?pretty=1", BR),
        (f"/api/v1/posts/{site[1]}", {"Accept-Encoding": "identity"}),
        ("/api/v1/posts/no-such-post", BR),
    ]:
        response = get(served, path, headers)
        same(response, live(served, path, headers))
    assert not any(found)


def test_prebuilt_never_for_preview(make_app, site, store_path, monkeypatch):
    token = "preview-token-0123456789"
    app = make_app(store_path=str(store_path), base_url=BASE, preview_token=token)
    fill(app)
    calls: list[Any] = []
    monkeypatch.setattr(prebuilt, "find", lambda *a, **k: calls.append(a))
    response = get(app, f"/api/v1/posts/{site[1]}", {**BR, "Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert data(response)["status"] == "published"
    assert response.headers["Cache-Control"].startswith("private")
    assert calls == []


def test_prebuilt_nothing_without_a_base_url_or_a_store(make_app, site, store_path):
    assert fill(make_app(store_path=str(store_path))) is None
    content = store_of(make_app(store_path="off", base_url=BASE))
    assert prebuilt.fill(make_app(store_path="off", base_url=BASE), content, content.index) is None


def test_prebuilt_a_second_fill_finds_everything_stored(served, site):
    content = store_of(served)
    assert prebuilt.fill(served, content, content.index) is None  # recorded as complete
    database = prebuilt.database(content)
    assert database is not None
    with database.exclusive(what="answers"):
        report = prebuilt.fill_part(served, content, content.index)
    assert report is not None and (report.missing, report.built) == (0, 0)


# --- never stale --------------------------------------------------------------------------------


def edited(app, write_post, path: str, **fields: Any) -> None:
    """Rewrite one post file and reload (no refill: the old answers are still stored)."""
    write_post(path, **fields)
    store_of(app).reload()


@pytest.mark.parametrize(
    ("changed", "fields", "seen"),
    [
        ("p2.md", {"title": "Edited 2"}, "Edited 2"),  # the post itself
        ("p1.md", {"title": "Older edited"}, "Older edited"),  # its older neighbour
        ("p3.md", {"title": "Newer edited", "tags": "[dos]"}, "Newer edited"),  # newer
        ("p0.md", {"title": "Related edited", "tags": "[uno]"}, "Related edited"),  # related
    ],
    ids=["itself", "older", "newer", "related"],
)
def test_prebuilt_an_edit_to_what_an_answer_shows_changes_it(
    served, site, write_post, changed, fields, seen
):
    path = "/api/v1/posts/p2"
    before = from_store(served, path)
    number = int(changed[1])
    write_defaults = {
        "date": f"2024-01-0{number + 1}",
        "body": f"# Parte {number}\n\nTexto {number} con acentos: ñandú, canción.\n",
        "categories": "[Viajes]",
        "tags": "[uno, dos]" if number % 2 else "[uno]",
    }
    edited(served, write_post, changed, **{**write_defaults, **fields})
    after = get(served, path)
    same(after, live(served, path))
    assert seen in json.dumps(data(after), ensure_ascii=False)
    assert after.headers["ETag"] != before.headers["ETag"]
    fill(served)  # the builder stores the new answer; the others are kept
    same(from_store(served, path), live(served, path))


def test_prebuilt_an_unrelated_edit_keeps_the_answer(served, site, write_post):
    before = from_store(served, "/api/v1/posts/p0")
    write_post("far.md", title="Far away", date="2023-01-01", body="Nothing shared.")
    store_of(served).reload()
    report = fill(served)
    assert report is not None and report.missing <= 2  # itself, and the post it is next to
    same(from_store(served, "/api/v1/posts/p5"), live(served, "/api/v1/posts/p5"))
    assert get(served, "/api/v1/posts/p2").headers["ETag"] != before.headers["ETag"]


def test_prebuilt_a_term_renamed_elsewhere_changes_the_answer(served, site, write_post):
    """p2's file is unchanged, but its category's shown name follows the most used spelling."""
    path = "/api/v1/posts/p2"
    assert data(from_store(served, path))["category"]["name"] == "Viajes"
    for i in (0, 1, 3, 4):
        tags = "[uno, dos]" if i % 2 else "[uno]"
        body = f"# Parte {i}\n\nTexto {i} con acentos: ñandú, canción.\n"
        write_post(
            f"p{i}.md",
            title=f"Post {i}",
            date=f"2024-01-0{i + 1}",
            body=body,
            categories="[viajes]",
            tags=tags,
        )
    store_of(served).reload()
    after = get(served, path)
    assert data(after)["category"]["name"] == "viajes"
    same(after, live(served, path))


def test_prebuilt_an_image_added_changes_the_answer(served, site, write_post, content_dir):
    """What an answer's artifacts looked up in the folder is checked on every read."""
    path = "/api/v1/posts/p2"
    shown = data(from_store(served, path))["images"]
    assert shown[0]["url"] == f"{BASE}media/images/f2.png"
    (content_dir / "images" / "f2.png").unlink()
    store_of(served).reload()
    after = get(served, path)
    same(after, live(served, path))
    assert data(after)["images"][0]["url"] != shown[0]["url"]


@pytest.mark.parametrize(
    "change",
    [{"base_url": "https://other.example.com/"}, {"words_per_minute": 3}],
    ids=["base-url", "setting"],
)
def test_prebuilt_another_base_url_or_setting_is_another_answer(
    served, site, make_app, store_path, change
):
    other = make_app(store_path=str(store_path), **{"base_url": BASE, **change})
    other.config["found"] = served.config["found"]
    path = f"/api/v1/posts/{site[3]}"
    response = get(other, path)
    same(response, live(other, path))
    assert get(served, path).get_data() != response.get_data()
    fill(other)
    same(from_store(other, path), live(other, path))
    same(from_store(served, path), live(served, path))


def test_prebuilt_a_setting_that_shows_nothing_keeps_the_answers(
    served, site, make_app, store_path
):
    other = make_app(store_path=str(store_path), base_url=BASE, cache_max_age=5, log_format="json")
    other.config["found"] = served.config["found"]
    path = f"/api/v1/posts/{site[3]}"
    answer = from_store(other, path)
    assert answer.headers["Cache-Control"].startswith("public, max-age=5,")


def test_prebuilt_a_scheduled_post_going_public(make_app, site, write_post, store_path):
    write_post("later.md", title="Later", date="2030-01-01", body="Soon.", categories="[Viajes]")
    app = make_app(store_path=str(store_path), base_url=BASE)
    content = store_of(app)
    content.clock = lambda: datetime(2026, 1, 1, tzinfo=UTC)
    fill(app)
    newest = "/api/v1/posts/p5"
    assert data(get(app, newest))["next"] is None
    assert get(app, "/api/v1/posts/later").status_code == 404
    content.clock = lambda: datetime(2031, 1, 1, tzinfo=UTC)
    after = get(app, newest)
    assert data(after)["next"]["slug"] == "later"
    same(after, live(app, newest))
    assert get(app, "/api/v1/posts/later").status_code == 200


# --- the store is only a cache ------------------------------------------------------------------


def test_prebuilt_a_damaged_or_deleted_store_costs_only_a_rebuild(served, site, store_path):
    import sqlite3

    path = f"/api/v1/posts/{site[1]}"
    expected = live(served, path)
    with sqlite3.connect(store_path) as connection:
        connection.execute("UPDATE answer SET body = x'00' || body")
    same(get(served, path), expected)
    with sqlite3.connect(store_path) as connection:
        connection.execute("UPDATE answer SET head = '[200, 5]', crc = 0")
    same(get(served, path), expected)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{store_path}{suffix}").unlink(missing_ok=True)
    same(get(served, path), expected)
    store_path.write_bytes(b"garbage" * 1000)
    same(get(served, path), expected)
    report = fill(served)
    assert report is not None and report.built == len(site)
    same(from_store(served, path), expected)


def test_prebuilt_a_row_of_another_key_is_a_miss(served, site, store_path):
    """A row moved under another key fails its checksum: never another post's answer."""
    import sqlite3

    with sqlite3.connect(store_path) as connection:
        rows = connection.execute("SELECT key FROM answer WHERE coding = 'br'").fetchall()
        first, second = rows[0][0], rows[1][0]
        connection.execute("DELETE FROM answer WHERE key = ?", (second,))
        connection.execute(
            "UPDATE answer SET key = ? WHERE key = ? AND coding = 'br'", (second, first)
        )
    for slug in site:
        path = f"/api/v1/posts/{slug}"
        same(get(served, path), live(served, path))


def test_prebuilt_filled_by_a_process_of_its_own(make_app, site, store_path):
    """What a served app does after each artifact fill: a child process stores the answers."""
    app = make_app(store_path=str(store_path), base_url=BASE)
    content = store_of(app)
    assert content.artifacts is not None
    build(content.index, content.artifacts, jobs=1)
    prebuilt.fill_elsewhere(content, content.index)
    database = prebuilt.database(content)
    assert database is not None
    keys = [
        prebuilt.answer_key(content.index, shown, post, context)
        for shown in [prebuilt.published(content.index, content.clock())]
        for context in [prebuilt.context_fingerprint(content.settings, BASE)]
        for post in shown.posts
    ]
    assert database.answer_keys(keys) == set(keys)


def test_prebuilt_every_setting_is_decided():
    """A new setting must say whether answers can show it (`prebuilt.SETTINGS`)."""
    names = {field.name for field in dataclasses.fields(Settings)}
    assert set(prebuilt.SETTINGS) == names


def test_prebuilt_cli_build_stores_the_answers_too(make_app, site, store_path):
    """`flask content build` in CI: with a base URL, a server started on its store answers
    every detail from it."""
    app = make_app(store_path=str(store_path), base_url=BASE)
    result = app.test_cli_runner().invoke(args=["content", "build", "--jobs", "1"])
    assert result.exit_code == 0, result.output
    assert "every post's default detail answer is stored" in result.output
    served = make_app(store_path=str(store_path), base_url=BASE)
    found: list[Any] = []
    served.config["found"] = found
    with pytest.MonkeyPatch.context() as patch:
        real = prebuilt.find
        patch.setattr(prebuilt, "find", lambda *a, **k: found.append(real(*a, **k)) or found[-1])
        for slug in site:
            from_store(served, f"/api/v1/posts/{slug}")
    no_base = make_app(store_path=str(store_path))
    result = no_base.test_cli_runner().invoke(args=["content", "build", "--jobs", "1"])
    assert result.exit_code == 0 and "detail answer" not in result.output


def test_prebuilt_a_request_finds_its_answer_by_pointer(served, site, store_path, monkeypatch):
    """After a fill, a request reads its answer through the pointer of this version and
    moment, without working out what the post shows."""
    monkeypatch.setattr(
        prebuilt, "answer_key", lambda *a: pytest.fail("the key was worked out on a request")
    )
    for slug in site:
        path = f"/api/v1/posts/{slug}"
        same(from_store(served, path), live(served, path))


def test_prebuilt_a_damaged_or_swapped_pointer_is_a_miss(served, site, store_path):
    """A pointer moved to another post's slug, or damaged, never serves another post."""
    import sqlite3

    with sqlite3.connect(store_path) as connection:
        rows = connection.execute("SELECT slug, answer FROM pointer ORDER BY slug").fetchall()
        (first, _), (second, second_answer) = rows[0], rows[1]
        connection.execute("UPDATE pointer SET answer = ? WHERE slug = ?", (second_answer, first))
        connection.execute("UPDATE pointer SET crc = crc + 1 WHERE slug = ?", (second,))
    for slug in site:
        path = f"/api/v1/posts/{slug}"
        same(get(served, path), live(served, path))


def test_prebuilt_pointers_of_an_older_version_are_not_followed(served, site, write_post):
    """After an edit, before any fill, no pointer is of the new version: keys are worked out."""
    write_post("far.md", title="Far away", date="2023-01-01", body="Nothing shared.")
    store_of(served).reload()
    for slug in site:
        path = f"/api/v1/posts/{slug}"
        same(get(served, path), live(served, path))
    fill(served)
    import sqlite3

    with sqlite3.connect(store_of(served).settings.store_path) as connection:
        markers = {marker for (marker,) in connection.execute("SELECT marker FROM pointer")}
    assert len(markers) == 1  # the older version's were pruned


# --- the refill after an edit -------------------------------------------------------------------


@pytest.fixture
def settled(monkeypatch):
    """Files written just now count as settled: an edit is read alone (and patches)."""
    from contentapi.engine import loader

    monkeypatch.setattr(loader, "SETTLE_NS", 0)


def many(write_post, count: int, category, tags) -> list[str]:
    """`count` posts, newest last, with the category and tags each function gives its
    number: the paths, in order."""
    start = datetime(2020, 1, 1, tzinfo=UTC)
    paths = []
    for i in range(count):
        paths.append(f"m{i:03d}.md")
        write_post(
            paths[-1],
            title=f"Muchos {i}",
            date=f"{start.date().fromordinal(start.date().toordinal() + i).isoformat()}",
            body=f"Texto {i}: canción.\n",
            categories=f"[{category(i)}]",
            tags=f"[{', '.join(tags(i))}]",
        )
    return paths


def all_keys(content, index) -> dict[str, str]:
    """Every visible post's key, worked out from nothing (as a full fill does)."""
    work = prebuilt._fresh_memos(index, len(index.posts))
    shown = prebuilt.published(work, content.clock())
    context = prebuilt.context_fingerprint(content.settings, BASE)
    return {post.slug: prebuilt.answer_key(work, shown, post, context) for post in shown.posts}


def test_prebuilt_affected_holds_every_answer_an_edit_changes(make_app, write_post, settled):
    """The bound a refill works with is sound: after an edit `patch_index` applies, every key
    that differs is one of `affected`'s posts, though far fewer than all are (one category
    of 400 posts, so the related window bounds it, and tags of every spread)."""
    count = 400
    paths = many(
        write_post, count, lambda i: "Todo", lambda i: [f"t{i % 3}", f"u{i // 7 % 4}", "común"]
    )
    app = make_app(store_path="off", base_url=BASE)
    content = store_of(app)
    before = all_keys(content, content.index)
    beyond: set[str] = set()
    for victim in (0, 1, 57, 200, 301, count - 1):
        path = paths[victim]
        text = (store_of(app).settings.content_dir / path).read_text(encoding="utf-8")
        write_post(path, text=text.replace(f"Texto {victim}:", f"Editado {victim}:"))
        previous = content.index
        content.reload()
        index = content.index
        assert index.patched_from(previous) is not None
        after = all_keys(content, index)
        assert after.keys() == before.keys()
        changed = {slug for slug in after if after[slug] != before[slug]}
        shown = prebuilt.published(index, content.clock())
        edited_post = index.by_slug[previous.posts[count - 1 - victim].slug]
        bound = {shown.posts[at].slug for at in prebuilt.affected(shown, [edited_post])}
        assert edited_post.slug in changed
        older, newer = shown.neighbours(edited_post)
        beyond |= changed - {edited_post.slug, *(p.slug for p in (older, newer) if p)}
        assert changed <= bound
        assert len(bound) < count
        before = after
    assert beyond  # keys of posts it is related to changed too, not only its neighbours'


@pytest.fixture
def blocks(make_app, write_post, store_path, settled):
    """120 posts in blocks of 30 (a category and tags each), filled; and the edited post."""
    paths = many(write_post, 120, lambda i: f"c{i // 30}", lambda i: [f"t{i // 30}-{i % 2}"])
    app = make_app(store_path=str(store_path), base_url=BASE)
    fill(app)
    return app, paths


def test_prebuilt_refill_after_an_edit_keys_few_posts(blocks, write_post, monkeypatch):
    """After an edit, the serving process works out the keys of the answers that can show
    the edit (not every post's), builds those missing, carries every other pointer over,
    starts no process; every pointer then names what a full fill names."""
    app, paths = blocks
    content = store_of(app)
    text = (content.settings.content_dir / paths[60]).read_text(encoding="utf-8")
    write_post(paths[60], text=text.replace("Texto 60", "Texto editado 60"))
    previous = content.index
    content.reload()
    index = content.index
    assert index.patched_from(previous) is not None
    assert content.artifacts is not None
    build(index, content.artifacts, jobs=1, previous=previous)
    keyed: list[str] = []
    real_key = prebuilt.answer_key

    def counting(index, shown, post, context):
        keyed.append(post.slug)
        return real_key(index, shown, post, context)

    monkeypatch.setattr(prebuilt, "answer_key", counting)
    monkeypatch.setattr(prebuilt, "ProcessPoolExecutor", lambda *a, **k: pytest.fail("a child"))
    assert prebuilt.fill_elsewhere(content, index, app=app) is True
    monkeypatch.undo()

    shown = prebuilt.published(index, content.clock())
    edited_post = next(post for post in index.posts if post.path == paths[60])
    showing = {  # the answers that show the edited post
        post.slug
        for post in shown.posts
        if edited_post.slug in {p.slug for p in prebuilt.shown_posts(shown, post) if p}
    }
    assert len(keyed) == len(set(keyed)) and set(keyed) == showing
    assert {shown.positions[slug] for slug in showing} <= prebuilt.affected(shown, [edited_post])
    assert edited_post.slug in keyed and len(keyed) <= 12 < len(index.posts)

    marker = prebuilt._marker(content, index)
    assert marker is not None
    db, mark = marker
    assert db.filled(mark)
    import sqlite3

    with sqlite3.connect(content.settings.store_path) as connection:
        rows = connection.execute("SELECT slug, answer, marker FROM pointer").fetchall()
    assert {marker for _, _, marker in rows} == {mark}  # the older version's were pruned
    assert {slug: answer for slug, answer, _ in rows} == all_keys(content, index)

    found: list[Any] = []
    real_find = prebuilt.find
    monkeypatch.setattr(
        prebuilt, "find", lambda *a, **k: found.append(real_find(*a, **k)) or found[-1]
    )
    monkeypatch.setattr(prebuilt, "answer_key", lambda *a: pytest.fail("a key on a request"))
    app.config["found"] = found
    older, newer = shown.neighbours(edited_post)
    assert older is not None and newer is not None
    for post in (edited_post, older, newer, *shown.related(edited_post), index.posts[0]):
        path = f"/api/v1/posts/{post.slug}"
        same(from_store(app, path), live(app, path))
    assert "Texto editado 60" in json.dumps(data(get(app, f"/api/v1/posts/{edited_post.slug}")))


def test_prebuilt_refill_only_after_a_patch_of_a_filled_version(blocks, write_post):
    """An edit that moves a post (a tag changed), or one after a version never filled, is
    left to the full fill."""
    app, paths = blocks
    content = store_of(app)
    text = (content.settings.content_dir / paths[10]).read_text(encoding="utf-8")
    write_post(paths[10], text=text.replace("t0-0", "t3-1"))
    previous = content.index
    content.reload()
    assert content.index.patched_from(previous) is None
    assert prebuilt.refill(app, content, content.index) is None
    other = (content.settings.content_dir / paths[20]).read_text(encoding="utf-8")
    write_post(paths[20], text=other.replace("Texto 20", "Otro texto"))
    content.reload()
    assert content.index.patch is not None  # of a version whose answers were never stored
    assert prebuilt.refill(app, content, content.index) is None


def test_prebuilt_a_post_from_the_parse_cache_has_the_key_of_one_read_again(make_app, site):
    """The parse cache gives dates a fixed offset where a file read again has a ZoneInfo:
    the same moment, the same answer, so the same stamp (a refill finds what a child stored)."""
    from datetime import timezone

    content = store_of(make_app(store_path="off", base_url=BASE))
    index = content.index
    post = index.posts[0]
    assert post.date is not None
    cached = dataclasses.replace(post, date=post.date.astimezone(timezone(post.date.utcoffset())))
    assert repr(cached) != repr(post)
    assert prebuilt.post_stamp(index, cached) == prebuilt.post_stamp(
        dataclasses.replace(index, _memo={}), post
    )
    later = dataclasses.replace(post, date=post.date.replace(minute=1))
    assert prebuilt.post_stamp(dataclasses.replace(index, _memo={}), later) != prebuilt.post_stamp(
        index, post
    )


def test_prebuilt_refill_leaves_much_to_build_to_the_full_fill(blocks, write_post, monkeypatch):
    """More answers missing than a worker builds itself: nothing is recorded, so the full
    fill (a child process) does it; a post not shown is in no related list; stale answers
    go."""
    app, paths = blocks
    content = store_of(app)
    text = (content.settings.content_dir / paths[60]).read_text(encoding="utf-8")
    write_post(paths[60], text=text.replace("Texto 60", "Texto nuevo 60"))
    content.reload()
    assert content.artifacts is not None
    build(content.index, content.artifacts, jobs=1)
    monkeypatch.setattr(prebuilt, "REFILL_MOST", 0)
    assert prebuilt.refill(app, content, content.index) is None
    marker = prebuilt._marker(content, content.index)
    assert marker is not None and not marker[0].filled(marker[1])
    monkeypatch.undo()
    fill(app)
    post = next(post for post in content.index.posts if post.path == paths[61])
    assert (
        prebuilt.published(content.index, content.clock()).related_to(
            dataclasses.replace(post, slug="not-shown")
        )
        == set()
    )
    monkeypatch.setattr(prebuilt.ArtifactDB, "answer_count", lambda self: 10**6)
    text = (content.settings.content_dir / paths[62]).read_text(encoding="utf-8")
    write_post(paths[62], text=text.replace("Texto 62", "Texto nuevo 62"))
    content.reload()
    build(content.index, content.artifacts, jobs=1)
    report = prebuilt.refill(app, content, content.index)
    assert report is not None and report.built >= 1
    db = prebuilt.database(content)
    assert db is not None
    import sqlite3

    with sqlite3.connect(content.settings.store_path) as connection:
        stored = {key for (key,) in connection.execute("SELECT DISTINCT key FROM answer")}
    assert stored == set(all_keys(content, content.index).values())  # the stale ones went
