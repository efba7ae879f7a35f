"""The API root, archive, health checks, contract, docs and media."""

from __future__ import annotations

import os
import shutil
import threading

import pytest
import yaml
from conftest import ROOT, assert_problem


def test_meta_root_describes_the_site(write_post, make_client):
    write_post("a.md", title="A", category="Uno", tags="[x, y]")
    write_post("b.md", title="B", draft="true", category="Dos")
    body = make_client(site_title="Mi blog", site_description="Notas").get("/api/v1").get_json()
    assert body["title"] == "Mi blog"
    assert body["description"] == "Notas"
    assert body["counts"] == {"posts": 1, "categories": 1, "tags": 2}
    assert len(body["version"]) == 16
    assert body["links"]["posts"] == "http://localhost/api/v1/posts"


def test_meta_archive_counts_by_year_and_month(write_post, make_client):
    write_post("a.md", title="A", date="2023-07-15")
    write_post("b.md", title="B", date="2023-07-01")
    write_post("c.md", title="C", date="2024-01-02")
    write_post("d.md", title="D", date="2024-02-02", draft="true")
    assert make_client().get("/api/v1/archive").get_json()["data"] == [
        {"year": 2024, "count": 1, "months": [{"month": 1, "count": 1}]},
        {"year": 2023, "count": 2, "months": [{"month": 7, "count": 2}]},
    ]


def test_meta_health_and_readiness(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz").get_json()
    assert ready["status"] == "ready"


def test_meta_readiness_is_503_before_the_index_exists(app):
    store = app.extensions["contentapi"]
    store._index = None
    assert_problem(app.test_client().get("/readyz"), 503)


def test_meta_openapi_served_is_the_repository_contract(client):
    response = client.get("/openapi.yaml")
    assert response.status_code == 200
    assert yaml.safe_load(response.data) == yaml.safe_load((ROOT / "openapi.yaml").read_text())


def test_meta_docs_page_uses_local_assets(client):
    page = client.get("/docs/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/openapi.yaml" in html
    assert "cdn" not in html.lower() and "unpkg" not in html.lower()
    assert client.get("/docs/swagger-ui-bundle.js").status_code == 200


def test_meta_media_serves_only_listed_assets(write_post, content_dir, make_client):
    write_post("secret-draft.md", title="Secret", draft="true")
    (content_dir / "pic.png").write_bytes(b"png")
    client = make_client(cache_max_age="120")
    assert client.get("/media/pic.png").data == b"png"
    assert "max-age=120" in client.get("/media/pic.png").headers["Cache-Control"]
    assert_problem(client.get("/media/secret-draft.md"), 404)
    assert_problem(client.get("/media/../../etc/passwd"), 404)
    assert_problem(client.get("/media/%2e%2e/%2e%2e/etc/passwd"), 404)


def test_meta_highlight_css_styles_code_blocks(client):
    response = client.get("/api/v1/highlight.css")
    assert response.mimetype == "text/css"
    assert ".highlight .k" in response.get_data(as_text=True)


def _swap_for_link(path, target):
    """Replace `path` with a symbolic link to `target` (what an attacker with write access to
    the content folder, or a careless deploy, does after the index was built)."""
    path.unlink() if path.is_file() else shutil.rmtree(path)
    try:
        path.symlink_to(target)
    except OSError:
        pytest.skip("symlinks not permitted here")


def test_meta_media_refuses_a_file_swapped_for_a_link_out_after_the_build(
    tmp_path, write_post, content_dir, make_client
):
    write_post("a.md", title="A")
    (content_dir / "pic.png").write_bytes(b"png")
    (content_dir / "images").mkdir()
    (content_dir / "images" / "cover.png").write_bytes(b"cover")
    secret = tmp_path / "outside"
    secret.mkdir()
    (secret / "cover.png").write_bytes(b"SECRET")
    (secret / "passwd").write_bytes(b"SECRET")
    client = make_client(watch="false")
    assert client.get("/media/pic.png").data == b"png"
    assert client.get("/media/images/cover.png").data == b"cover"
    _swap_for_link(content_dir / "pic.png", secret / "passwd")  # the file itself
    _swap_for_link(content_dir / "images", secret)  # or a folder on its path
    for url in ("/media/pic.png", "/media/images/cover.png"):
        response = client.get(url)
        assert b"SECRET" not in response.data
        assert_problem(response, 404)


def test_meta_media_serves_a_link_that_stays_inside_the_folder(
    write_post, content_dir, make_client
):
    write_post("a.md", title="A")
    (content_dir / "real.png").write_bytes(b"real")
    try:
        (content_dir / "alias.png").symlink_to(content_dir / "real.png")
    except OSError:
        pytest.skip("symlinks not permitted here")
    client = make_client()
    response = client.get("/media/alias.png")
    assert (response.status_code, response.data) == (200, b"real")
    assert response.headers["Content-Length"] == "4"
    assert client.get("/media/alias.png", headers={"Range": "bytes=1-2"}).data == b"ea"
    again = client.get("/media/alias.png", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_meta_media_never_waits_on_a_fifo_swapped_in(write_post, content_dir, make_client):
    write_post("a.md", title="A")
    (content_dir / "pic.png").write_bytes(b"png")
    client = make_client()
    (content_dir / "pic.png").unlink()
    os.mkfifo(content_dir / "pic.png")  # opening it to read would wait for a writer forever
    answers = []
    worker = threading.Thread(target=lambda: answers.append(client.get("/media/pic.png")))
    worker.daemon = True
    worker.start()
    worker.join(timeout=10)
    if worker.is_alive():  # unblock the request so the test run can end
        with open(content_dir / "pic.png", "wb"):
            pass
        pytest.fail("the media request waited on a FIFO")
    assert_problem(answers[0], 404)


def test_meta_version_is_unchanged_by_edits_to_drafts_and_scheduled_posts(write_post, make_app):
    write_post("a.md", title="A")
    write_post("d.md", title="Draft", draft="true")
    write_post("s.md", title="Later", date="2999-01-01")
    app = make_app()
    store, client = app.extensions["contentapi"], app.test_client()

    def versions() -> tuple[str, str]:
        return (
            client.get("/api/v1").get_json()["version"],
            client.get("/readyz").get_json()["version"],
        )

    before = versions()
    internal = store.index.version
    write_post("d.md", title="Draft, edited", draft="true", body="Secreto.")
    write_post("s.md", title="Later, edited", date="2999-01-01")
    store.reload()
    assert store.index.version != internal  # caches still see every change
    assert versions() == before
    write_post("a.md", title="A, edited")
    store.reload()
    assert versions()[0] != before[0]
    assert versions()[0] == versions()[1]
