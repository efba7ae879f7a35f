"""`/api/v1/search` and `q` on listings, as a frontend uses them."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from conftest import assert_problem

TOKEN = "preview-token-0123456789"


@pytest.fixture
def site(write_post):
    write_post(
        "respira.md",
        title='"Respiración consciente"',
        lang="es",
        category="Salud",
        tags="[calma]",
        body="## Técnica\n\nLa respiración lenta calma el cuerpo.",
    )
    write_post(
        "modelos.md",
        title='"Modelos de lenguaje"',
        lang="es",
        category="IA",
        body="## Introducción\n\nUn modelo predice la siguiente palabra.",
    )
    write_post(
        "running.md",
        title="Running every morning",
        lang="en",
        category="Salud",
        body="## Why\n\nI run before work, and running clears my head.",
    )
    write_post("draft.md", title='"Respiración secreta"', lang="es", draft="true")


def _slugs(response):
    return [item["slug"] for item in response.get_json()["data"]]


@pytest.mark.parametrize("engine", ["fts5", "tantivy"])
def test_search_accents_case_and_word_forms(site, make_client, engine):
    client = make_client(search_backend=engine)
    assert _slugs(client.get("/api/v1/search?q=respiracion")) == ["respira"]
    assert _slugs(client.get("/api/v1/search?q=RESPIRACIÓN")) == ["respira"]
    assert _slugs(client.get("/api/v1/search?q=modelo")) == ["modelos"]
    assert _slugs(client.get("/api/v1/search?q=run")) == ["running"]
    assert _slugs(client.get("/api/v1/search?q=respir")) == ["respira"]  # as you type


def test_search_hits_have_score_and_snippets_with_section_ids(site, make_client):
    item = make_client().get("/api/v1/search?q=lenta").get_json()["data"][0]
    assert item["slug"] == "respira" and item["score"] > 0
    assert item["url"] == "http://localhost/api/v1/posts/respira"
    snippet = item["snippets"][0]
    assert snippet["section"] == "tecnica"
    assert snippet["heading"] == "Técnica"
    assert "<mark>lenta</mark>" in snippet["html"]


def test_search_never_shows_drafts_except_in_preview(site, make_client):
    client = make_client(preview_token=TOKEN)
    assert _slugs(client.get("/api/v1/search?q=secreta")) == []
    previewed = client.get("/api/v1/search?q=secreta", headers={"Authorization": f"Bearer {TOKEN}"})
    assert _slugs(previewed) == ["draft"]


def test_search_q_on_posts_combines_with_filters(site, make_client):
    client = make_client()
    assert sorted(_slugs(client.get("/api/v1/posts?q=calma+OR"))) == []
    assert _slugs(client.get("/api/v1/posts?q=run&category=salud")) == ["running"]
    assert _slugs(client.get("/api/v1/categories/ia?q=run")) == []
    assert_problem(client.get("/api/v1/posts?q="), 400, "q")  # blank q: a 400, not everything
    assert_problem(client.get("/api/v1/posts?q=%20"), 400, "q")


def test_search_scores_stay_positive_and_ordered(site, make_client):
    # "Salud" files two of the three posts, so its BM25 weight is tiny but not zero.
    data = make_client().get("/api/v1/search?q=salud").get_json()["data"]
    assert sorted(item["slug"] for item in data) == ["respira", "running"]
    scores = [item["score"] for item in data]
    assert all(score > 0 for score in scores)
    assert scores == sorted(scores, reverse=True)


def test_search_is_paginated_like_posts(site, make_client):
    response = make_client().get("/api/v1/search?q=respiracion+OR+modelo&per_page=1")
    body = response.get_json()
    assert body["meta"]["pagination"]["per_page"] == 1
    assert response.headers["X-Total-Count"] == str(body["meta"]["pagination"]["total"])


def test_search_bad_queries_are_400_or_empty_never_500(site, make_client):
    client = make_client()
    assert_problem(client.get("/api/v1/search"), 400, "q")
    assert_problem(client.get("/api/v1/search?q="), 400, "q")
    assert_problem(client.get("/api/v1/search?q=%20%20"), 400, "q")
    assert_problem(client.get("/api/v1/search?q=" + "a" * 1001), 400, "q")
    for query in ['"', "NEAR(", "*", '"unbalanced', "!!!", "a:b", "AND OR NOT", "x" * 900]:
        response = client.get("/api/v1/search", query_string={"q": query})
        assert response.status_code in {200, 400}, query
        if response.status_code == 400:
            assert_problem(response, 400, "q")


def test_search_index_is_built_in_the_background_after_start_and_reload(site, write_post, make_app):
    store = make_app(warm_up=True, admin_token="admin-token-0123456789").extensions["contentapi"]
    deadline = time.monotonic() + 10
    while not store.searchable and time.monotonic() < deadline:
        time.sleep(0.02)
    assert store.searchable
    write_post("new.md", title="Nuevo")
    store.reload()
    assert not store.searchable  # a new version needs its own index
    store.warm_up().join(timeout=10)
    assert store.searchable


@pytest.mark.parametrize("engine", ["fts5", "tantivy"])
def test_search_scores_do_not_change_when_a_draft_has_the_word(site, write_post, make_app, engine):
    app = make_app(preview_token=TOKEN, search_backend=engine)
    store, client = app.extensions["contentapi"], app.test_client()

    def scores(headers=None) -> dict[str, float]:
        data = client.get("/api/v1/search?q=calma", headers=headers).get_json()["data"]
        return {item["slug"]: item["score"] for item in data}

    before = scores()
    write_post("borrador.md", title='"Calma, calma"', lang="es", draft="true", body="Calma.")
    write_post("futuro.md", title='"Calma"', lang="es", date="2999-01-01", body="Calma.")
    store.reload()
    assert scores() == before
    previewed = scores({"Authorization": f"Bearer {TOKEN}"})
    assert {"borrador", "futuro"} <= previewed.keys()


@pytest.mark.parametrize("engine", ["fts5", "tantivy"])
def test_search_finds_a_scheduled_post_once_its_time_comes(site, write_post, make_app, engine):
    write_post("futuro.md", title='"Respiración futura"', lang="es", date="2030-01-01")
    app = make_app(search_backend=engine)
    store, client = app.extensions["contentapi"], app.test_client()
    assert _slugs(client.get("/api/v1/search?q=futura")) == []
    store.clock = lambda: datetime(2030, 1, 2, tzinfo=UTC)
    assert _slugs(client.get("/api/v1/search?q=futura")) == ["futuro"]
    assert sorted(_slugs(client.get("/api/v1/search?q=respiracion"))) == ["futuro", "respira"]


def test_search_pages_and_totals_with_filters_and_sort(site, make_client):
    client = make_client()
    body = client.get("/api/v1/search?q=salud&per_page=1&page=2").get_json()
    assert body["meta"]["pagination"]["total"] == 2 and len(body["data"]) == 1
    for sort, expected in (("title", ["respira", "running"]), ("-title", ["running", "respira"])):
        assert _slugs(client.get(f"/api/v1/search?q=salud&sort={sort}")) == expected
    filtered = client.get("/api/v1/search?q=salud&lang=es").get_json()
    assert [item["slug"] for item in filtered["data"]] == ["respira"]
    assert filtered["meta"]["pagination"]["total"] == 1
