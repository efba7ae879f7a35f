"""The blog's own post (../shared/examples/real-post-es.md), served end to end.

The post is the user's text: it is read from ../shared at test time and never copied into
the repository. Where ../shared is absent these tests skip and say so.
"""

from __future__ import annotations

import shutil

import pytest
from conftest import SHARED_POST

pytestmark = pytest.mark.skipif(
    not SHARED_POST.exists(), reason=f"{SHARED_POST} is not present (CI has it)"
)


@pytest.fixture
def real_post(content_dir):
    shutil.copy(SHARED_POST, content_dir / SHARED_POST.name)
    return content_dir / SHARED_POST.name


def _flat(toc):
    for entry in toc:
        yield entry
        yield from _flat(entry["children"])


def test_real_post_metadata(real_post, make_client):
    post = make_client().get("/api/v1/posts/real-post-es").get_json()
    assert post["slug"] == "real-post-es"
    assert post["title"] == "Cómo funcionan los Modelos de Lenguaje de Gran Escala (LLMs)"
    assert post["category"] == {
        "name": "Inteligencia Artificial",
        "slug": "inteligencia-artificial",
    }
    assert post["date"] == "2023-07-15T00:00:00+00:00"
    assert post["excerpt"] == post["description"]
    assert post["reading_time"] >= 4


def test_real_post_title_heading_not_repeated_and_toc_starts_at_introduction(
    real_post, make_client
):
    post = make_client().get("/api/v1/posts/real-post-es").get_json()
    assert "<h1" not in post["html"]
    assert post["toc"][0]["id"] == "introduccion"
    assert post["toc"][0]["text"] == "Introducción"
    ids = [entry["id"] for entry in _flat(post["toc"])]
    assert "que-son-los-modelos-de-lenguaje-de-gran-escala" in ids
    for anchor in ids:
        assert f'id="{anchor}"' in post["html"]


def test_real_post_root_relative_image_left_as_written_and_warned(real_post, make_app):
    app = make_app()
    post = app.test_client().get("/api/v1/posts/real-post-es").get_json()
    assert post["images"] == [
        {
            "url": "/images/blog/header.jpg",
            "alt": "Descripción de la imagen",
            "width": None,
            "height": None,
            "placeholder": None,
        }
    ]  # not in the content folder: no width, height or placeholder
    assert 'src="/images/blog/header.jpg"' in post["html"]
    issues = app.extensions["contentapi"].index.all_issues()
    assert [(i.path, i.field, i.severity) for i in issues] == [
        ("real-post-es.md", "body", "warning")
    ]


def test_real_post_image_absolute_with_asset_base_url(real_post, make_client):
    client = make_client(asset_base_url="https://cdn.example.com/")
    post = client.get("/api/v1/posts/real-post-es").get_json()
    url = "https://cdn.example.com/images/blog/header.jpg"
    assert post["cover"] == url
    assert post["images"][0]["url"] == url
    assert f'src="{url}"' in post["html"]


def test_real_post_listed_in_its_category(real_post, make_client):
    body = make_client().get("/api/v1/categories/inteligencia-artificial").get_json()
    assert [item["slug"] for item in body["data"]] == ["real-post-es"]
    assert body["term"]["name"] == "Inteligencia Artificial"
