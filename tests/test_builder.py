"""Filling the artifact store: in a process pool, ahead of time (`flask content build`) or in
the background; a server on a built store computes nothing; a request for a post not built yet
computes it once."""

from __future__ import annotations

import gc
import os
import runpy
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from contentapi.engine import artifacts, index
from contentapi.engine.artifacts import DERIVED, HTML, artifact_key
from contentapi.service import store as store_module
from contentapi.service import watch
from contentapi.service.artifact_db import open_artifacts
from contentapi.service.builder import BuildReport, build, prune
from contentapi.service.store import store_of

ROOT = Path(__file__).resolve().parents[1]


def wait_for_warm_up() -> None:
    for thread in threading.enumerate():
        if thread.name == "contentapi-warm-up":
            thread.join(timeout=60)


@pytest.fixture
def make_app(make_app):
    """conftest's, with the warm-up on: these apps fill the store in the background at start,
    as a served app does."""
    return lambda **settings: make_app(warm_up=True, **settings)


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "store" / "artifacts.sqlite"


@pytest.fixture
def posts(write_post):
    """Five posts with headings, code, a site shortcode, an image that exists and one that
    does not."""
    for i in range(5):
        body = f"# Parte {i}\n\nTexto {i} con ![foto](/images/f{i}.png).\n\n```python\nx = {i}\n```"
        body += f"\n\n{{{{< nota >}}}}Nota {i}{{{{< /nota >}}}}\n"
        write_post(f"p{i}.md", title=f"Post {i}", date=f"2024-01-0{i + 1}", body=body)
    write_post("images/f0.png", text="png")
    write_post("_shortcodes/nota.html", text="<aside>{{ inner }}</aside>")
    return [f"p{i}" for i in range(5)]


def filled(make_app, store_path: Path):
    """The content store of an app on `store_path`, after its background fill."""
    content = store_of(make_app(store_path=str(store_path)))
    wait_for_warm_up()
    assert content.artifacts is not None
    return content


def _html_by_slug(client, slugs):
    found = {}
    for slug in slugs:
        response = client.get(f"/api/v1/posts/{slug}")
        assert response.status_code == 200
        found[slug] = response.get_json()
    return found


def _no_computing(monkeypatch):
    """From here on, rendering or analysing any post fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("computed although the store has it")

    monkeypatch.setattr(artifacts, "render_html", refuse)
    monkeypatch.setattr(store_module, "render_html", refuse)
    monkeypatch.setattr(index, "derive", refuse)


# --- the builder ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_builder_pool_fills_the_store_like_the_serial_build(make_app, posts, store_path, tmp_path):
    app = make_app(store_path=str(store_path))
    wait_for_warm_up()
    content = store_of(app)
    built = open_artifacts(content.settings.replace(store_path=str(tmp_path / "pool.sqlite")))
    assert built is not None
    report = build(content.index, built, jobs=2, pool_min=1)
    assert report == BuildReport(5, 5, 5, (), report.seconds, 2, report.cpu_seconds)
    assert report.cpu_seconds > 0
    assert build(content.index, built, jobs=2, pool_min=1).built == 0
    serial = content.artifacts
    assert serial is not None and serial.missing(content.index) == []
    for post in content.index.posts:
        base = "https://api.example.com/"
        html = built.html(content.index, post, base)
        assert html == serial.html(content.index, post, base)
        assert html is not None and "<aside>Nota" in html
        assert built.derived(content.index, post) == serial.derived(content.index, post)


def test_builder_reports_a_post_that_fails_and_builds_the_others(
    make_app, posts, store_path, monkeypatch
):
    content = filled(make_app, store_path)
    original = artifacts._COMPUTE[HTML]

    def fragile(index_, post):
        if post.path == "p3.md":
            raise RuntimeError("the renderer broke")
        return original(index_, post)

    monkeypatch.setitem(artifacts._COMPUTE, HTML, fragile)
    fresh = open_artifacts(content.settings.replace(store_path=str(store_path) + ".2"))
    assert fresh is not None
    report = build(content.index, fresh, jobs=1)
    assert report.built == 4
    assert report.failed == (("p3.md", "RuntimeError: the renderer broke"),)
    assert [post.path for post in fresh.missing(content.index)] == ["p3.md"]


def test_builder_prune_deletes_what_no_post_uses(make_app, write_post, posts, store_path):
    content = filled(make_app, store_path)
    write_post("p1.md", title="Post 1", date="2024-01-02", body="Otro texto.")
    content.reload()
    build(content.index, content.artifacts, jobs=1)
    assert prune(content.index, content.artifacts) == 1
    assert prune(content.index, content.artifacts) == 0
    assert content.artifacts.missing(content.index) == []


def test_builder_a_complete_fill_is_recorded_and_checked_in_one_row(
    make_app, posts, store_path, monkeypatch
):
    content = filled(make_app, store_path)
    first = build(content.index, content.artifacts, jobs=1)
    assert first.missing == 0  # the background fill did it

    def scanned(index):
        raise AssertionError("every post was checked again")

    monkeypatch.setattr(content.artifacts, "missing", scanned)
    assert build(content.index, content.artifacts, jobs=1).missing == 0
    monkeypatch.undo()
    assert prune(content.index, content.artifacts) == 0  # a prune forgets what was complete
    checks: list[object] = []
    monkeypatch.setattr(content.artifacts, "missing", lambda index: checks.append(index) or [])
    build(content.index, content.artifacts, jobs=1)
    build(content.index, content.artifacts, jobs=1)
    assert len(checks) == 1  # checked after the prune, then recorded again


def test_builder_after_a_reload_checks_only_the_files_parsed_anew(
    make_app, write_post, posts, store_path, monkeypatch
):
    content = filled(make_app, store_path)
    before = content.index
    write_post("p1.md", title="Post 1", date="2024-01-02", body="Otro texto.")
    content.reload()
    checked: list[list[str]] = []
    real = content.artifacts.missing

    def recording(index, posts=None):
        checked.append([post.path for post in (index.posts if posts is None else posts)])
        return real(index, posts)

    monkeypatch.setattr(content.artifacts, "missing", recording)
    report = build(content.index, content.artifacts, jobs=1, previous=before)
    assert checked == [["p1.md"]]
    assert (report.missing, report.built) == (1, 1)
    assert content.artifacts.missing is recording and real(content.index) == []


def test_builder_a_failed_fill_is_not_recorded_as_complete(
    make_app, posts, store_path, monkeypatch
):
    app = make_app(store_path="off")
    content = store_of(app)
    database = open_artifacts(content.settings.replace(store_path=str(store_path)))
    assert database is not None

    def broken(index_, post, kinds=artifacts.KINDS):
        raise RuntimeError("renderer bug")

    monkeypatch.setattr("contentapi.service.builder.compute", broken)
    report = build(content.index, database, jobs=1)
    assert len(report.failed) == len(posts)
    monkeypatch.undo()
    again = build(content.index, database, jobs=1)
    assert again.missing == len(posts) and again.built == len(posts)


# --- serving from the store ----------------------------------------------------------------------


def test_builder_a_server_on_a_built_store_computes_nothing(
    make_client, posts, store_path, monkeypatch
):
    expected = _html_by_slug(make_client(store_path="off"), posts)
    make_client(store_path=str(store_path))
    wait_for_warm_up()  # the first app's background fill
    _no_computing(monkeypatch)
    client = make_client(store_path=str(store_path))
    assert _html_by_slug(client, posts) == expected
    assert client.get("/api/v1/posts?per_page=5").status_code == 200
    assert client.get("/api/v1/search?q=texto").status_code == 200
    wait_for_warm_up()


def test_builder_a_post_not_built_yet_is_computed_once_and_stored(
    make_app, write_post, posts, store_path, monkeypatch
):
    app = make_app(store_path=str(store_path))
    wait_for_warm_up()
    content = store_of(app)
    write_post("new.md", title="New", date="2024-02-01", body="# Nuevo\n\n![f](images/f0.png)")
    content.reload()  # no warm-up: nothing fills the store in the background
    renders = []
    real = artifacts.render_html
    monkeypatch.setattr(artifacts, "render_html", lambda *a: renders.append(a) or real(*a))
    client = app.test_client()
    first = client.get("/api/v1/posts/new").get_json()
    again = client.get("/api/v1/posts/new", base_url="https://other.example.com").get_json()
    assert len(renders) == 1
    assert first["html"].replace("http://localhost", "https://other.example.com") == again["html"]
    assert 'src="http://localhost/media/images/f0.png"' in first["html"]
    post = content.index.by_slug["new"]
    key = artifact_key(content.index, post)
    assert content.artifacts is not None
    assert {kind for kind in (HTML, DERIVED) if content.artifacts.backend.get(key, kind)} == {
        HTML,
        DERIVED,
    }


def test_builder_the_store_deleted_mid_run_costs_a_rebuild_not_an_answer(
    make_client, posts, store_path
):
    expected = _html_by_slug(make_client(store_path="off"), posts)
    client = make_client(store_path=str(store_path))
    wait_for_warm_up()
    assert _html_by_slug(client, posts) == expected
    for suffix in ("", "-wal", "-shm"):
        Path(f"{store_path}{suffix}").unlink(missing_ok=True)
    assert _html_by_slug(client, posts) == expected
    store_path.write_bytes(b"garbage" * 1000)
    assert _html_by_slug(client, posts) == expected
    assert _html_by_slug(client, posts) == expected


def test_builder_background_fill_after_start_and_reload(make_app, write_post, posts, store_path):
    content = filled(make_app, store_path)
    assert content.artifacts.missing(content.index) == []
    write_post("later.md", title="Later", date="2024-03-01", body="Más.")
    content.reload()
    assert [p.slug for p in content.artifacts.missing(content.index)] == ["later"]
    content.warm_up().join(timeout=60)
    assert content.artifacts.missing(content.index) == []


# --- flask content build ------------------------------------------------------------------------


def test_builder_cli_build_fills_the_store(make_app, posts, store_path):
    app = make_app(store_path=str(store_path))
    result = app.test_cli_runner().invoke(args=["content", "build", "--jobs", "1", "--prune"])
    assert result.exit_code == 0, result.output
    assert "5 post(s): " in result.output
    assert str(store_path) in result.output
    assert "0 stale artifact(s) deleted" in result.output
    content = store_of(app)
    assert content.artifacts is not None
    assert content.artifacts.missing(content.index) == []


def test_builder_cli_build_without_a_store_says_so(make_app, posts):
    result = make_app(store_path="off").test_cli_runner().invoke(args=["content", "build"])
    assert result.exit_code == 1
    assert "CONTENTAPI_STORE_PATH is off" in result.output


# --- gunicorn ------------------------------------------------------------------------------------


def test_builder_gunicorn_freezes_the_preloaded_heap_before_forking(monkeypatch):
    monkeypatch.setattr(watch, "DEFERRED", watch.DEFERRED)  # the config file sets it
    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    gc.unfreeze()
    try:
        settings["when_ready"](None)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


@pytest.mark.slow
def test_builder_flask_content_build_in_a_fresh_process(content_dir, posts, store_path):
    """As CI runs it: the command builds every post itself (no background fill races it),
    and a second run finds everything stored."""
    env = {
        **os.environ,
        "CONTENTAPI_CONTENT_DIR": str(content_dir),
        "CONTENTAPI_STORE_PATH": str(store_path),
        "CONTENTAPI_PARSE_CACHE": "off",
    }
    command = [str(Path(sys.executable).parent / "flask"), "--app", "contentapi"]
    command += ["content", "build", "--jobs", "1"]
    first = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    assert "5 post(s): 0 already stored, 5 built" in first.stdout, first.stderr
    again = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    assert "5 post(s): 5 already stored, 0 built" in again.stdout, first.stderr + again.stderr


def test_builder_a_refused_write_is_a_failure_not_a_build(make_app, posts, store_path, monkeypatch):
    app = make_app(store_path=str(store_path))
    wait_for_warm_up()
    content = store_of(app)
    fresh = open_artifacts(content.settings.replace(store_path=str(store_path) + ".2"))
    assert fresh is not None
    monkeypatch.setattr(fresh.backend, "put", lambda rows, wait=1.0: False)
    report = build(content.index, fresh, jobs=1)
    assert report.built == 0
    assert {path for path, _ in report.failed} == {f"p{i}.md" for i in range(5)}
    assert "refused" in report.failed[0][1]
