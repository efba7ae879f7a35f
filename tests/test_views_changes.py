"""`/api/v1/changes`: an offline-first client downloads only what changed since its token."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta

from conftest import assert_problem


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
