"""Categories and tags: listings with counts, and each term's posts."""

from __future__ import annotations

from conftest import assert_problem


def test_terms_categories_merge_spellings_and_count_published_only(write_post, make_client):
    write_post("a.md", title="A", date="2024-01-01", category="Desarrollo Web")
    write_post("b.md", title="B", date="2024-02-01", category="desarrollo web")
    write_post("c.md", title="C", date="2024-03-01", category="Desarrollo Web")
    write_post("d.md", title="D", date="2024-04-01", category="Desarrollo Web", draft="true")
    write_post("e.md", title="E", date="2999-01-01", category="Futuro")
    data = make_client().get("/api/v1/categories").get_json()["data"]
    assert data == [
        {
            "name": "Desarrollo Web",
            "slug": "desarrollo-web",
            "count": 3,
            "latest": "2024-03-01T00:00:00+00:00",
            "url": "http://localhost/api/v1/categories/desarrollo-web",
        }
    ]


def test_terms_tags_sorted_by_name_as_a_reader_expects(write_post, make_client):
    write_post("a.md", title="A", tags="[Zeta, alfa, Ñandú, Árbol]")
    names = [term["name"] for term in make_client().get("/api/v1/tags").get_json()["data"]]
    assert names == ["alfa", "Árbol", "Ñandú", "Zeta"]


def test_terms_term_page_is_paginated_like_posts(write_post, make_client):
    for day in range(1, 4):
        write_post(f"p{day}.md", title=f"P{day}", date=f"2024-01-0{day}", tags="[año]")
    write_post("other.md", title="Other", tags="[otro]")
    response = make_client().get("/api/v1/tags/ano?per_page=2")
    body = response.get_json()
    assert body["term"]["name"] == "año"
    assert body["term"]["count"] == 3
    assert [item["slug"] for item in body["data"]] == ["p3", "p2"]
    assert body["meta"]["pagination"]["total"] == 3
    assert body["links"]["next"] == "http://localhost/api/v1/tags/ano?page=2&per_page=2"
    assert response.headers["X-Total-Count"] == "3"


def test_terms_term_page_accepts_list_filters(write_post, make_client):
    write_post("a.md", title="A", category="Cocina", lang="es")
    write_post("b.md", title="B", category="Cocina", lang="en")
    body = make_client().get("/api/v1/categories/cocina?lang=en").get_json()
    assert [item["slug"] for item in body["data"]] == ["b"]
    assert_problem(make_client().get("/api/v1/categories/cocina?sort=nope"), 400, "sort")


def test_terms_unknown_or_unpublished_term_is_404(write_post, make_client):
    write_post("a.md", title="A", category="Visible")
    write_post("b.md", title="B", category="Secreta", draft="true")
    client = make_client()
    assert_problem(client.get("/api/v1/categories/nope"), 404)
    assert_problem(client.get("/api/v1/categories/secreta"), 404)
    assert_problem(client.get("/api/v1/tags/nope"), 404)
