"""Admin routes: reload and diagnostics behind a bearer token, absent without one."""

from __future__ import annotations

import base64
import json

from conftest import assert_problem, free_port

TOKEN = "admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_admin_routes_do_not_exist_without_a_token(write_post, make_client):
    write_post("a.md", title="A")
    client = make_client()
    assert_problem(client.post("/api/v1/admin/reload", headers=AUTH), 404)
    missing = assert_problem(client.get("/api/v1/admin/diagnostics"), 404)
    unknown = assert_problem(client.get("/api/v1/nothing-here"), 404)
    assert missing["detail"] == unknown["detail"]


def test_admin_wrong_method_without_a_token_is_still_404(write_post, make_client):
    write_post("a.md", title="A")
    client = make_client()
    assert_problem(client.get("/api/v1/admin/reload"), 404)
    assert "Allow" not in client.delete("/api/v1/admin/diagnostics").headers
    configured = make_client(admin_token=TOKEN)
    assert configured.get("/api/v1/admin/reload", headers=AUTH).status_code == 405


def test_admin_responses_are_never_cached(write_post, make_client):
    write_post("a.md", title="A")
    response = make_client(admin_token=TOKEN).get("/api/v1/admin/diagnostics", headers=AUTH)
    assert response.headers["Cache-Control"] == "private, no-store"
    assert "Authorization" in response.headers["Vary"]


def test_admin_wrong_or_missing_token_is_401(write_post, make_client):
    write_post("a.md", title="A")
    client = make_client(admin_token=TOKEN)
    for headers in [{}, {"Authorization": "Bearer nope"}, {"Authorization": TOKEN}]:
        response = client.post("/api/v1/admin/reload", headers=headers)
        assert_problem(response, 401)
        assert response.headers["WWW-Authenticate"].lower().startswith("bearer")


def test_admin_reload_answers_with_the_new_version_and_what_changed(
    write_post, content_dir, make_client
):
    write_post("a.md", title="A")
    write_post("b.md", title="B")
    client = make_client(admin_token=TOKEN)
    before = client.get("/api/v1/admin/diagnostics", headers=AUTH).get_json()["version"]
    public = client.get("/api/v1").get_json()["version"]
    write_post("a.md", title="A2")
    write_post("c.md", title="C")
    (content_dir / "b.md").unlink()
    body = client.post("/api/v1/admin/reload", headers=AUTH).get_json()
    assert body["reloaded"] is True
    assert body["previous"] == before and body["version"] != before
    assert (body["added"], body["updated"], body["removed"]) == (["c"], ["a"], ["b"])
    diagnostics = client.get("/api/v1/admin/diagnostics", headers=AUTH).get_json()
    assert diagnostics["version"] == body["version"]
    assert client.get("/api/v1").get_json()["version"] != public


def test_admin_reload_in_strict_mode_refuses_and_keeps_serving(write_post, make_client):
    write_post("a.md", title="A")
    client = make_client(admin_token=TOKEN, strict="true")
    version = client.get("/api/v1").get_json()["version"]
    write_post("bad.md", text="---\ntitle: Bad\n---\n")
    body = assert_problem(client.post("/api/v1/admin/reload", headers=AUTH), 409)
    assert body["issues"][0]["path"] == "bad.md"
    assert client.get("/api/v1").get_json()["version"] == version


def test_admin_diagnostics_lists_every_problem(write_post, make_client):
    write_post("a.md", title="A", body="![missing](/img/none.png)")
    write_post("bad.md", text="---\ntitle: Bad\ndate: yesterday\n---\n")
    body = make_client(admin_token=TOKEN).get("/api/v1/admin/diagnostics", headers=AUTH)
    data = body.get_json()
    assert data["errors"] == 1 and data["warnings"] == 1
    issues = {(i["path"], i["field"], i["severity"], i["line"]) for i in data["issues"]}
    assert ("bad.md", "date", "error", 3) in issues
    assert ("a.md", "body", "warning", None) in issues


def test_admin_reload_reaches_another_worker_on_its_next_request(write_post, make_app):
    """Two apps over one content folder stand for two gunicorn workers (watcher off)."""
    write_post("a.md", title="Original")
    first = make_app(admin_token=TOKEN, watch="false").test_client()
    second = make_app(admin_token=TOKEN, watch="false").test_client()
    assert second.get("/api/v1/posts/a").get_json()["title"] == "Original"
    write_post("a.md", title="Edited")
    version = first.post("/api/v1/admin/reload", headers=AUTH).get_json()["version"]
    assert second.get("/api/v1/posts/a").get_json()["title"] == "Edited"
    diagnostics = second.get("/api/v1/admin/diagnostics", headers=AUTH).get_json()
    assert diagnostics["version"] == version  # the index's: `GET /api/v1` shows the public one


def test_admin_diagnostics_lists_the_version_of_each_worker(write_post, make_app):
    write_post("a.md", title="A")
    client = make_app(admin_token=TOKEN).test_client()
    diagnostics = client.get("/api/v1/admin/diagnostics", headers=AUTH).get_json()
    assert [(w["version"], w["current"]) for w in diagnostics["workers"]] == [
        (diagnostics["version"], True)
    ]


def test_admin_token_is_checked_before_the_query(write_post, make_client):
    write_post("a.md", title="A")
    hidden = make_client()
    assert_problem(hidden.get("/api/v1/admin/diagnostics?cb=1", headers=AUTH), 404)
    configured = make_client(admin_token=TOKEN)
    assert_problem(configured.get("/api/v1/admin/diagnostics?cb=1"), 401)
    assert_problem(configured.get("/api/v1/admin/diagnostics?cb=1", headers=AUTH), 400, "cb")


def test_admin_diagnostics_show_webhook_deliveries(write_post, make_client, tmp_path):
    """A receiver that is down: the failed attempt shows, without the URL's secret path."""
    write_post("a.md", title="A")
    secret = "whsec_" + base64.b64encode(b"0123456789abcdef").decode()
    client = make_client(
        admin_token=TOKEN,
        base_url="https://api.example.org",
        webhook_urls=f"http://127.0.0.1:{free_port()}/deploy/secret-hook-id",
        webhook_secret=secret,
        webhook_retries="0",
        runtime_dir=str(tmp_path / "run"),
    )
    quiet = client.get("/api/v1/admin/diagnostics", headers=AUTH).get_json()["webhooks"]
    assert quiet["recent"] == [] and quiet["pending"] == 0
    write_post("a.md", title="A, edited")
    reload = client.post("/api/v1/admin/reload", headers=AUTH).get_json()
    store = client.application.extensions["contentapi"]
    assert store.notifier.drain(10)
    webhooks = client.get("/api/v1/admin/diagnostics", headers=AUTH).get_json()["webhooks"]
    (delivery,) = webhooks["recent"]
    assert delivery["version"] == reload["version"]
    assert (delivery["status"], delivery["attempts"], delivery["http_status"]) == (
        "failed",
        1,
        None,
    )
    assert delivery["error"]
    assert "secret-hook-id" not in json.dumps(webhooks)
    assert webhooks["failed"] == 1


def test_admin_diagnostics_without_webhooks_say_null(write_post, make_client):
    write_post("a.md", title="A")
    body = make_client(admin_token=TOKEN).get("/api/v1/admin/diagnostics", headers=AUTH)
    assert body.get_json()["webhooks"] is None
