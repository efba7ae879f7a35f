"""The API root, archive, health checks, contract, docs and media."""

from __future__ import annotations

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
