"""`/api/v1/posts` and `/api/v1/posts/<slug>` through the contract-checking client."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import PIL.Image
import pytest
from conftest import assert_problem

from contentapi.engine import images


def _slugs(response) -> list[str]:
    return [item["slug"] for item in response.get_json()["data"]]


def test_posts_list_newest_first_with_totals(write_post, make_client):
    for day in range(1, 6):
        write_post(f"2024-01-0{day}-post-{day}.md", title=f"Post {day}", date=f"2024-01-0{day}")
    response = make_client().get("/api/v1/posts?per_page=2&page=2")
    assert response.status_code == 200
    assert _slugs(response) == ["post-3", "post-2"]
    body = response.get_json()
    assert body["meta"]["pagination"] == {
        "page": 2,
        "per_page": 2,
        "total": 5,
        "pages": 3,
        "next": 3,
        "prev": 1,
    }
    assert response.headers["X-Total-Count"] == "5"
    assert body["links"]["next"] == "http://localhost/api/v1/posts?page=3&per_page=2"
    assert body["links"]["first"] == "http://localhost/api/v1/posts?per_page=2"  # page 1: default
    assert (
        '<http://localhost/api/v1/posts?page=3&per_page=2>; rel="next"' in response.headers["Link"]
    )


def test_posts_list_page_past_the_end_is_empty_not_an_error(write_post, make_client):
    write_post("a.md", title="A")
    response = make_client().get("/api/v1/posts?page=9")
    assert response.status_code == 200
    body = response.get_json()
    assert body["data"] == []
    assert body["meta"]["pagination"]["total"] == 1
    assert body["meta"]["pagination"]["next"] is None
    assert body["meta"]["pagination"]["prev"] == 1


def test_posts_list_summaries_have_no_bodies_and_absolute_urls(write_post, make_client):
    write_post("a.md", title="A", body="# Heading\n\nFirst paragraph here.")
    item = make_client().get("/api/v1/posts").get_json()["data"][0]
    assert "html" not in item and "markdown" not in item
    assert item["url"] == "http://localhost/api/v1/posts/a"
    assert item["excerpt"] == "First paragraph here."
    assert item["word_count"] == 4
    assert item["reading_time"] == 1


def test_posts_list_hides_drafts_and_scheduled_posts(write_post, make_client):
    write_post("live.md", title="Live")
    write_post("draft.md", title="Draft", draft="true")
    write_post("later.md", title="Later", date="2999-01-01")
    client = make_client()
    assert _slugs(client.get("/api/v1/posts")) == ["live"]
    assert_problem(client.get("/api/v1/posts/draft"), 404)
    assert_problem(client.get("/api/v1/posts/later"), 404)
    root = client.get("/api/v1").get_json()
    assert root["counts"]["posts"] == 1


def test_posts_list_scheduled_post_appears_at_its_time_without_restart(write_post, make_app):
    soon = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
    write_post("soon.md", title="Soon", date=soon.isoformat())
    app = make_app()
    client = app.test_client()
    store = app.extensions["contentapi"]
    store.clock = lambda: soon - timedelta(seconds=1)
    assert _slugs(client.get("/api/v1/posts")) == []
    store.clock = lambda: soon
    assert _slugs(client.get("/api/v1/posts")) == ["soon"]
    assert client.get("/api/v1/posts/soon").status_code == 200


def test_posts_list_filters_combine(write_post, make_client):
    write_post("a.md", title="A", category="Cocina", tags="[pan, horno]", lang="es")
    write_post("b.md", title="B", category="Cocina", tags="[pan]", lang="es", author="Ana")
    write_post("c.md", title="C", category="Open Source", tags="[pan, horno]", lang="en")
    client = make_client()
    assert sorted(_slugs(client.get("/api/v1/posts?category=cocina"))) == ["a", "b"]
    assert sorted(_slugs(client.get("/api/v1/posts?tag=pan&tag=horno"))) == ["a", "c"]
    assert _slugs(client.get("/api/v1/posts?tag=pan,horno&category=cocina")) == ["a"]
    assert _slugs(client.get("/api/v1/posts?author=ana")) == ["b"]
    assert _slugs(client.get("/api/v1/posts?lang=en")) == ["c"]


def test_posts_list_date_range_is_inclusive(write_post, make_client):
    for slug, date in [("jan", "2024-01-31"), ("feb", "2024-02-01 23:00"), ("mar", "2024-03-01")]:
        write_post(f"{slug}.md", title=slug, date=f'"{date}"')
    client = make_client()
    assert _slugs(client.get("/api/v1/posts?from=2024-01-31&to=2024-02-01")) == ["feb", "jan"]
    assert _slugs(client.get("/api/v1/posts?from=2024-02-01T23:00:00Z")) == ["mar", "feb"]


def test_posts_list_sorts(write_post, make_client):
    write_post("b.md", title="Beta", date="2024-01-02", updated="2024-06-01")
    write_post("a.md", title="alpha", date="2024-01-01")
    write_post("c.md", title="Gamma", date="2024-01-03")
    client = make_client()
    assert _slugs(client.get("/api/v1/posts?sort=date")) == ["a", "b", "c"]
    assert _slugs(client.get("/api/v1/posts?sort=title")) == ["a", "b", "c"]
    assert _slugs(client.get("/api/v1/posts?sort=-title")) == ["c", "b", "a"]
    assert _slugs(client.get("/api/v1/posts?sort=-updated")) == ["b", "c", "a"]


def test_posts_list_sparse_fieldset(write_post, make_client):
    write_post("a.md", title="A")
    item = make_client().get("/api/v1/posts?fields=slug,title").get_json()["data"][0]
    assert item == {"slug": "a", "title": "A"}


def test_posts_list_bad_parameters_are_named(write_post, make_client):
    write_post("a.md", title="A")
    client = make_client()
    for query, parameter in [
        ("per_page=0", "per_page"),
        ("per_page=101", "per_page"),
        ("page=abc", "page"),
        ("page=0", "page"),
        ("sort=bogus", "sort"),
        ("from=yesterday", "from"),
        ("to=2024-13-01", "to"),
        ("fields=slug,body", "fields"),
    ]:
        assert_problem(client.get(f"/api/v1/posts?{query}"), 400, parameter)
    body = assert_problem(client.get("/api/v1/posts?per_page=0&sort=bogus"), 400)
    assert {error["parameter"] for error in body["errors"]} == {"per_page", "sort"}


def test_posts_detail_full_post(write_post, make_client):
    write_post(
        "guia.md",
        title='"Guía: primeros pasos"',
        date="2024-02-01",
        tags="[flask]",
        body="""
        # Guía: primeros pasos

        ## Introducción

        Hola **mundo**.

        ```python
        print("hola")
        ```
        """,
    )
    write_post("older.md", title="Older", date="2024-01-01", tags="[flask]")
    write_post("newer.md", title="Newer", date="2024-03-01")
    post = make_client().get("/api/v1/posts/guia").get_json()
    assert post["title"] == "Guía: primeros pasos"
    assert post["html"].startswith('<h2 id="introduccion">Introducción</h2>')
    assert '<code class="language-python">' in post["html"]
    assert post["toc"] == [
        {"id": "introduccion", "text": "Introducción", "level": 2, "children": []}
    ]
    assert post["prev"]["slug"] == "older"
    assert post["next"]["slug"] == "newer"
    assert [item["slug"] for item in post["related"]] == ["older"]
    assert "markdown" not in post and "plaintext" not in post


def test_posts_detail_formats_choose_bodies(write_post, make_client):
    write_post("a.md", title="A", body="Some *text*.")
    post = make_client().get("/api/v1/posts/a?formats=markdown,plaintext").get_json()
    assert post["markdown"] == "Some *text*.\n"
    assert post["plaintext"] == "Some text."
    assert "html" not in post
    assert_problem(make_client().get("/api/v1/posts/a?formats=pdf"), 400, "formats")


def test_posts_detail_neighbours_skip_hidden_posts(write_post, make_client):
    write_post("one.md", title="One", date="2024-01-01")
    write_post("two.md", title="Two", date="2024-01-02", draft="true")
    write_post("three.md", title="Three", date="2024-01-03")
    post = make_client().get("/api/v1/posts/three").get_json()
    assert post["prev"]["slug"] == "one"
    assert post["next"] is None


def test_posts_detail_alias_redirects_permanently(write_post, make_client):
    write_post("new-name.md", title="New", aliases="[old-name]")
    response = make_client().get("/api/v1/posts/old-name?formats=markdown")
    assert response.status_code == 301
    assert response.headers["Location"] == (
        "http://localhost/api/v1/posts/new-name?formats=markdown"
    )


@pytest.mark.parametrize(
    "old",
    [
        "introducci%C3%B3n-a-svelte",  # the old site's URL, accent and all
        "Introducci%C3%B3n-A-Svelte",
        "introduccio%CC%81n-a-svelte",  # decomposed accent
        "introducci%25C3%25B3n-a-svelte",  # encoded twice on the way
    ],
)
def test_posts_detail_old_urls_of_a_file_redirect_permanently(write_post, make_client, old):
    write_post("posts/introducción-a-svelte.md", title="Svelte")
    response = make_client().get(f"/api/v1/posts/{old}")
    assert response.status_code == 301
    assert response.headers["Location"] == "http://localhost/api/v1/posts/introduccion-a-svelte"


def test_posts_detail_old_wordpress_slug_redirects(write_post, make_client):
    write_post("a.md", title="¿Es bueno?", slug="'%c2%bfes-bueno-el-open-source'")
    client = make_client()
    for old in ["%c2%bfes-bueno-el-open-source", "c2-bfes-bueno-el-open-source"]:
        response = client.get(f"/api/v1/posts/{old}")
        assert response.status_code == 301, old
        assert response.headers["Location"].endswith("/api/v1/posts/es-bueno-el-open-source")
    assert client.get("/api/v1/posts/es-bueno-el-open-source").status_code == 200


def test_posts_detail_unknown_slug_is_json_404(write_post, make_client):
    write_post("a.md", title="A")
    body = assert_problem(make_client().get("/api/v1/posts/missing"), 404)
    assert body["instance"] == "/api/v1/posts/missing"
    odd = assert_problem(make_client().get("/api/v1/posts/a%C2%89%20b"), 404)
    assert odd["instance"] == "/api/v1/posts/a%C2%89%20b"  # a valid URI reference
    accented = make_client().get("/api/v1/posts/a%C3%B1o")
    assert "'año'".encode() in accented.data  # the detail is UTF-8 as written


def test_posts_detail_media_urls_are_absolute(write_post, content_dir, make_client):
    (content_dir / "img").mkdir()
    PIL.Image.new("RGB", (40, 30), "teal").save(content_dir / "img" / "pic.png")
    write_post("a.md", title="A", image="img/pic.png", body="![Pic](/img/pic.png)")
    client = make_client(base_url="https://api.example.com")
    post = client.get("/api/v1/posts/a").get_json()
    assert post["cover"] == "https://api.example.com/media/img/pic.png"
    (image,) = post["images"]
    assert image["url"] == "https://api.example.com/media/img/pic.png"
    assert (image["alt"], image["width"], image["height"]) == ("Pic", 40, 30)
    assert post["cover_image"] == image  # the same file, with the body's alt text
    assert 'src="https://api.example.com/media/img/pic.png"' in post["html"]
    media = client.get("/media/img/pic.png")
    assert media.status_code == 200
    assert media.data.startswith(b"\x89PNG")


def test_posts_detail_html_is_sanitised(write_post, make_client):
    write_post(
        "x.md",
        title="X",
        body='<script>alert(1)</script>\n\n<img src="x.png" onerror="alert(2)">\n\n'
        "[click](javascript:alert(3))",
    )
    html = make_client().get("/api/v1/posts/x").get_json()["html"]
    assert "<script" not in html
    assert "onerror" not in html
    assert "javascript:" not in html


# Work per request: the page's, never the number of posts


def _site(folder, count: int):
    """`count` posts sharing tag `a` and category `Code`, a few sharing tags `a` and `b`, and
    `target` among them: every request below shows the same posts whatever `count` is."""
    from conftest import post_text

    from contentapi import create_app

    folder.mkdir()
    for n in range(count):
        tags = "[a, b]" if n < 3 else "[a]"
        date = (datetime(2020, 1, 1) + timedelta(hours=n)).isoformat()
        text = post_text(title=f"P{n}", date=date, tags=tags, category="Code", body="Texto.")
        (folder / f"p{n:05d}.md").write_text(text, encoding="utf-8")
    target = post_text(title="T", date="2020-01-01T00:30", tags="[a, b]", category="Code")
    (folder / "target.md").write_text(target, encoding="utf-8")
    app = create_app(
        {
            "TESTING": True,
            "CONTENTAPI_CONTENT_DIR": str(folder),
            "CONTENTAPI_PARSE_CACHE": "off",
            "CONTENTAPI_CACHE_TYPE": "NullCache",  # every request runs its view
        }
    )
    store = app.extensions["contentapi"]
    store.warm_up().join(timeout=60)  # every post analysed: requests differ only by their work
    assert store.searchable
    return app.test_client()


def _python_steps(request) -> tuple[int, int]:
    """How many Python lines and calls run while `request()` does, in this package's code and
    in all: work done in Python (a loop over posts shows up here, one C call over a list does
    not). Libraries' own memos (urllib's, say) make their share vary a little."""
    import sys

    import contentapi

    package = str(Path(contentapi.__file__).parent)
    ours = every = 0

    def trace(frame, event, arg):
        nonlocal ours, every
        every += 1
        if frame.f_code.co_filename.startswith(package):
            ours += 1
        return trace

    sys.settrace(trace)
    try:
        response = request()
    finally:
        sys.settrace(None)
    assert response.status_code == 200
    return ours, every


def test_posts_requests_do_the_same_python_work_at_200_and_2000_posts(tmp_path):
    urls = [
        "/api/v1/posts/target",  # neighbours and related: first time for this post
        "/api/v1/posts/target",
        "/api/v1/posts?page=2&per_page=5",
        "/api/v1/categories/code?page=3&per_page=5",
        "/api/v1/posts?tag=b&per_page=5",
        "/api/v1",
        "/api/v1/tags",
        "/api/v1/archive",
    ]
    steps = {}
    for count in (200, 2000):
        client = _site(tmp_path / str(count), count)
        for url in urls[2:]:  # the moment and each list: once per version, not per request
            client.get(url)
        client.get("/api/v1/posts/p00010")
        steps[count] = [_python_steps(functools.partial(client.get, url)) for url in urls]
    for url, (ours, every), (ours_10x, every_10x) in zip(
        urls, steps[200], steps[2000], strict=True
    ):
        assert ours_10x == ours, url
        assert every_10x < every * 1.05, url


def test_posts_image_facts_are_never_computed_on_a_request(
    write_post, content_dir, make_client, monkeypatch
):
    PIL.Image.new("RGB", (40, 30), "teal").save(content_dir / "pic.png")
    write_post("a.md", title="A", body="![Pic](pic.png)\n\nText.")
    client = make_client()
    monkeypatch.setattr(images, "inspect", lambda data: pytest.fail("decoded on a request"))
    post = client.get("/api/v1/posts/a?formats=blocks,html").get_json()
    assert post["blocks"][0]["width"] == 40
    assert client.get("/api/v1/posts").get_json()["data"][0]["cover_image"]["height"] == 30


def test_posts_pages_answer_formats_blocks_too(write_post, make_client):
    write_post("about.md", text="---\ntitle: About\ntype: page\n---\n\n## Contact\n\nWrite.\n")
    page = make_client().get("/api/v1/pages/about?formats=blocks").get_json()
    assert page["blocks_version"] == 1
    assert [node["type"] for node in page["blocks"]] == ["heading", "paragraph"]
    assert page["blocks"][0]["id"] == page["toc"][0]["id"] == "contact"
