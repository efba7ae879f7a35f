"""`/api/v1/changes`: an offline-first client downloads only what changed since its token."""

from __future__ import annotations

import functools
import json
import time
from datetime import UTC, datetime, timedelta

from conftest import assert_problem
from flask.testing import FlaskClient

from contentapi.web.views import changes as changes_views


def _slugs(items):
    return [item["slug"] for item in items]


def test_changes_first_sync_lists_everything_visible(write_post, make_client):
    write_post("a.md", title="A")
    write_post("draft.md", title="D", draft="true")
    body = make_client().get("/api/v1/changes").get_json()
    assert body["reset"] is True
    assert _slugs(body["added"]) == ["a"]
    assert body["added"][0]["url"] == "http://localhost/api/v1/posts/a"
    assert body["updated"] == [] and body["removed"] == []


def test_changes_after_reload_added_updated_removed(write_post, content_dir, make_app):
    write_post("keep.md", title="Keep")
    write_post("edit.md", title="Edit")
    write_post("gone.md", title="Gone")
    app = make_app()
    client = app.test_client()
    token = client.get("/api/v1/changes").get_json()["token"]
    write_post("edit.md", title="Edited")
    write_post("new.md", title="New")
    (content_dir / "gone.md").unlink()
    app.extensions["contentapi"].reload()
    body = client.get(f"/api/v1/changes?since={token}").get_json()
    assert body["reset"] is False
    assert _slugs(body["added"]) == ["new"]
    assert _slugs(body["updated"]) == ["edit"]
    assert body["removed"] == ["gone"]
    again = client.get(f"/api/v1/changes?since={body['token']}").get_json()
    assert again["added"] == again["updated"] == again["removed"] == []


def test_changes_scheduled_post_is_added_when_it_goes_public(write_post, make_app):
    publish = datetime(2030, 6, 1, tzinfo=UTC)
    write_post("now.md", title="Now")
    write_post("soon.md", title="Soon", date=publish.isoformat())
    app = make_app()
    store = app.extensions["contentapi"]
    store.clock = lambda: publish - timedelta(hours=1)
    client = app.test_client()
    token = client.get("/api/v1/changes").get_json()["token"]
    store.clock = lambda: publish + timedelta(hours=1)
    body = client.get(f"/api/v1/changes?since={token}").get_json()
    assert _slugs(body["added"]) == ["soon"]


def test_changes_token_is_stable_until_content_or_visibility_changes(write_post, make_app):
    publish = datetime(2030, 6, 1, tzinfo=UTC)
    write_post("now.md", title="Now")
    write_post("soon.md", title="Soon", date=publish.isoformat())
    app = make_app()
    store = app.extensions["contentapi"]
    client = app.test_client()
    tokens = []
    for moment in (publish - timedelta(hours=2), publish - timedelta(seconds=1)):
        store.clock = lambda moment=moment: moment
        tokens.append(client.get("/api/v1/changes").get_json()["token"])
    assert tokens[0] == tokens[1]  # a client polling every second gets one token, one ETag
    store.clock = lambda: publish + timedelta(seconds=1)
    after = client.get(f"/api/v1/changes?since={tokens[0]}").get_json()
    assert after["token"] != tokens[0]
    assert _slugs(after["added"]) == ["soon"]


def test_changes_drafting_a_post_removes_it(write_post, make_app):
    write_post("a.md", title="A")
    app = make_app()
    client = app.test_client()
    token = client.get("/api/v1/changes").get_json()["token"]
    write_post("a.md", title="A", draft="true")
    app.extensions["contentapi"].reload()
    assert client.get(f"/api/v1/changes?since={token}").get_json()["removed"] == ["a"]


def test_changes_unknown_token_asks_for_a_full_resync(write_post, make_client):
    write_post("a.md", title="A")
    body = make_client().get("/api/v1/changes?since=0123456789abcdef.1700000000").get_json()
    assert body["reset"] is True
    assert _slugs(body["added"]) == ["a"]


def test_changes_malformed_token_is_a_400(write_post, make_client):
    write_post("a.md", title="A")
    for token in ["yesterday", "abc.1", "0123456789abcdef", "0123456789abcdef.x"]:
        assert_problem(make_client().get(f"/api/v1/changes?since={token}"), 400, "since")


def _scheduled_site(write_post, make_app):
    """A public post and one scheduled a day after the store's clock."""
    now = datetime(2030, 6, 1, tzinfo=UTC)
    write_post("now.md", title="Now")
    write_post("soon.md", title="Soon", date=(now + timedelta(days=1)).isoformat())
    app = make_app()
    app.extensions["contentapi"].clock = lambda: now
    return app, now


def test_changes_token_time_chosen_by_the_client_is_not_believed(write_post, make_app):
    app, _ = _scheduled_site(write_post, make_app)
    client = app.test_client()
    version = client.get("/api/v1/changes").get_json()["token"].split(".")[0]
    for moment in ["253402300799", "1924992000", "1"]:  # year 9999, 2031, 1970
        body = client.get(f"/api/v1/changes?since={version}.{moment}").get_json()
        assert body["reset"] is True
        assert body["removed"] == [] and body["updated"] == []
        assert _slugs(body["added"]) == ["now"]  # never a word about the scheduled post


def test_changes_tampered_token_is_not_believed(write_post, make_app):
    app, now = _scheduled_site(write_post, make_app)
    client = app.test_client()
    token = client.get("/api/v1/changes").get_json()["token"]
    version, seconds, signature = token.split(".")
    assert int(seconds) <= int(now.timestamp())  # a moment already passed, signed
    later = int(seconds) + 3 * 86400
    forged = client.get(f"/api/v1/changes?since={version}.{later}.{signature}").get_json()
    assert forged["reset"] is True and forged["removed"] == []
    honest = client.get(f"/api/v1/changes?since={token}").get_json()
    assert honest["reset"] is False


def test_changes_token_of_another_deployment_asks_for_a_resync(write_post, make_app):
    write_post("a.md", title="A")
    token = make_app(secret_key="one-secret-key-0123456789").test_client().get("/api/v1/changes")
    other = make_app(secret_key="another-secret-key-0123456789").test_client()
    body = other.get(f"/api/v1/changes?since={token.get_json()['token']}").get_json()
    assert body["reset"] is True


def test_changes_year_ten_thousand_is_not_a_500(write_post, make_client):
    write_post("a.md", title="A")
    client = make_client()
    version = client.get("/api/v1/changes").get_json()["token"].split(".")[0]
    for since in [f"{version}.253402300800", f"{version}.999999999999", f"{version}.0"]:
        response = client.get(f"/api/v1/changes?since={since}")
        assert response.status_code == 200, since
        assert response.get_json()["reset"] is True


def test_changes_without_a_secret_key_tokens_last_for_this_app(write_post, make_app):
    write_post("a.md", title="A")
    client = make_app(secret_key="").test_client()
    token = client.get("/api/v1/changes").get_json()["token"]
    assert client.get(f"/api/v1/changes?since={token}").get_json()["reset"] is False
    other = make_app(secret_key="").test_client()
    assert other.get(f"/api/v1/changes?since={token}").get_json()["reset"] is True


def test_changes_since_a_token_does_the_same_python_work_at_200_and_2000_posts(tmp_path):
    """The diff since a token is made once per version, moment and token: a sync costs the
    posts it lists, not every post (it made a snapshot of all of them on each request)."""
    from conftest import post_text
    from test_views_posts import _python_steps, _site

    steps = {}
    for count in (200, 2000):
        folder = tmp_path / str(count)
        client = _site(folder, count)
        token = client.get("/api/v1/changes").get_json()["token"]
        (folder / "p00001.md").write_text(post_text(title="Edited", date="2020-01-01T01:00"))
        (folder / "new.md").write_text(post_text(title="New", date="2020-02-01"))
        client.application.extensions["contentapi"].reload()
        url = f"/api/v1/changes?since={token}"
        first = client.get(url).get_json()
        assert (_slugs(first["added"]), _slugs(first["updated"])) == (["new"], ["p00001"])
        steps[count] = _python_steps(functools.partial(client.get, url))
    (ours, every), (ours_10x, every_10x) = steps[200], steps[2000]
    assert ours_10x == ours
    assert every_10x < every * 1.05


# --- /api/v1/changes/stream -----------------------------------------------------------------


def _stream(app, url="/api/v1/changes/stream", headers=None, threaded=True):
    """The stream's chunks, read one at a time as a browser would (with a client that does
    not read the whole body to check it, as the ContractClient does)."""
    client = FlaskClient(app, app.response_class)
    response = client.get(
        url,
        headers=headers or {},
        buffered=False,
        environ_overrides={"wsgi.multithread": threaded},
    )
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-store"
    assert "ETag" not in response.headers
    return response, (chunk.decode() for chunk in response.response)


def _event(chunk: str) -> tuple[str, dict]:
    fields = dict(line.split(": ", 1) for line in chunk.strip().split("\n"))
    assert fields["event"] == "change"
    return fields["id"], json.loads(fields["data"])


def test_changes_stream_sends_an_event_on_each_new_version(write_post, content_dir, make_app):
    write_post("a.md", title="A")
    app = make_app(changes_stream_seconds="5")
    client = app.test_client()
    response, chunks = _stream(app)
    assert next(chunks) == "retry: 3000\n\n"
    token = next(chunks).removeprefix("id: ").strip()
    version = client.get("/api/v1/changes").get_json()["token"].split(".")[0]
    assert token.startswith(f"{version}.")
    write_post("b.md", title="B")
    app.extensions["contentapi"].reload()
    event_id, payload = _event(next(chunks))
    assert payload["since"] == token
    assert [item["slug"] for item in payload["added"]] == ["b"]
    assert payload["added"][0]["url"] == "http://localhost/api/v1/posts/b"
    assert event_id == payload["token"]
    (content_dir / "a.md").unlink()
    app.extensions["contentapi"].reload()
    _, payload = _event(next(chunks))
    assert payload["removed"] == ["a"]
    response.close()


def test_changes_stream_heartbeats_and_ends_after_its_lifetime(write_post, make_app, monkeypatch):
    monkeypatch.setattr(changes_views, "HEARTBEAT", 0.05)
    monkeypatch.setattr(changes_views, "POLL", 0.05)
    write_post("a.md", title="A")
    app = make_app(changes_stream_seconds="1")
    started = time.monotonic()
    response, chunks = _stream(app)
    rest = list(chunks)
    assert 0.9 < time.monotonic() - started < 5
    assert rest[2:] and set(rest[2:]) == {": heartbeat\n\n"}
    response.close()


def test_changes_stream_resumes_from_last_event_id(write_post, make_app):
    write_post("a.md", title="A")
    app = make_app(changes_stream_seconds="1")
    client = app.test_client()
    token = client.get("/api/v1/changes").get_json()["token"]
    write_post("a.md", title="A, edited")
    app.extensions["contentapi"].reload()
    response, chunks = _stream(app, headers={"Last-Event-ID": token})
    next(chunks)
    _, missed = _event(next(chunks))
    assert (missed["since"], missed["reset"]) == (token, False)
    assert [item["slug"] for item in missed["updated"]] == ["a"]
    response.close()
    forgotten = "0123456789abcdef.1700000000"
    response, chunks = _stream(app, headers={"Last-Event-ID": forgotten})
    next(chunks)
    _, everything = _event(next(chunks))
    assert everything["reset"] is True
    assert [item["slug"] for item in everything["added"]] == ["a"]
    response.close()


def test_changes_stream_on_a_single_threaded_server_answers_at_once(write_post, make_app):
    """A sync worker is never held: the stream closes after its first messages."""
    write_post("a.md", title="A")
    app = make_app(changes_stream_seconds="300")
    token = app.test_client().get("/api/v1/changes").get_json()["token"]
    started = time.monotonic()
    response, chunks = _stream(app, threaded=False)
    retry, ident = list(chunks)
    assert retry == "retry: 3000\n\n"
    assert ident.startswith(f"id: {token.split('.')[0]}.")  # the current version
    assert time.monotonic() - started < 2
    response.close()


def test_changes_stream_bad_last_event_id_is_a_400_naming_it(write_post, make_client):
    write_post("a.md", title="A")
    client = make_client()
    response = client.get("/api/v1/changes/stream", headers={"Last-Event-ID": "yesterday"})
    assert_problem(response, 400, "Last-Event-ID")
    assert_problem(client.get("/api/v1/changes/stream?since=nope"), 400, "since")


def test_changes_stream_hears_an_admin_reload_made_on_another_worker(
    write_post, make_app, tmp_path
):
    """Two apps over one folder and runtime folder stand for two gunicorn workers, watcher
    off: the stream on the second hears the reload asked of the first."""
    write_post("a.md", title="A")
    settings = {
        "admin_token": "admin-token-0123456789",
        "watch": "false",
        "runtime_dir": str(tmp_path / "run"),
        "changes_stream_seconds": "10",
    }
    first, second = make_app(**settings), make_app(**settings)
    response, chunks = _stream(second)
    next(chunks), next(chunks)
    write_post("a.md", title="A, edited")
    admin = {"Authorization": "Bearer admin-token-0123456789"}
    reloaded = first.test_client().post("/api/v1/admin/reload", headers=admin).get_json()
    started = time.monotonic()
    _, payload = _event(next(chunks))
    assert time.monotonic() - started < 5
    assert payload["token"].startswith(reloaded["version"])
    assert [item["slug"] for item in payload["updated"]] == ["a"]
    response.close()


def test_changes_stream_says_nothing_of_a_draft_edit(write_post, make_app, monkeypatch):
    monkeypatch.setattr(changes_views, "HEARTBEAT", 0.05)
    monkeypatch.setattr(changes_views, "POLL", 0.05)
    write_post("a.md", title="A")
    write_post("draft.md", title="D", draft="true")
    app = make_app(changes_stream_seconds="5")
    response, chunks = _stream(app)
    next(chunks), next(chunks)
    write_post("draft.md", title="D, edited", draft="true")
    app.extensions["contentapi"].reload()
    assert next(chunks) == ": heartbeat\n\n"  # no event for what no client can see
    write_post("a.md", title="A, edited")
    app.extensions["contentapi"].reload()
    chunk = next(chunks)
    while chunk == ": heartbeat\n\n":
        chunk = next(chunks)
    _, payload = _event(chunk)
    assert [item["slug"] for item in payload["updated"]] == ["a"]
    response.close()
