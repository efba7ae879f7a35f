"""End to end: a Hugo site, a Jekyll/Octopress `_posts` folder and a WordPress export, served.

The three small trees under `tests/fixtures/blogs/` hold one file per shape real blogs have
(see its README). Each is served as a new user would, through the contract-checking client:
the JSON, the feeds (parsed back by feedparser) and search.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import feedparser
import pytest

from contentapi.service.store import ContentError

BLOGS = Path(__file__).parent / "fixtures" / "blogs"
TEMPLATE_SYNTAX = ("{{<", "{{%", "{%", "%}", "{{", "}}")


@pytest.fixture
def serve(content_dir, make_app):
    """`serve(tree, **settings)`: an app over a copy of one fixture blog."""

    def start(tree: str, **settings):
        shutil.copytree(BLOGS / tree, content_dir, dirs_exist_ok=True)
        return make_app(**settings)

    return start


def _every_post(client) -> list[dict]:
    slugs = [item["slug"] for item in client.get("/api/v1/posts?per_page=100").get_json()["data"]]
    return [client.get(f"/api/v1/posts/{s}?formats=html,plaintext").get_json() for s in slugs]


def _no_template_code(post: dict) -> None:
    for key in ("html", "plaintext", "excerpt", "title"):
        for syntax in TEMPLATE_SYNTAX:
            assert syntax not in post[key].replace("{contador}", ""), (post["slug"], key)


def _feeds(client) -> list:
    parsed = []
    for url in ("/feeds/rss.xml", "/feeds/atom.xml"):
        feed = feedparser.parse(client.get(url).data)
        assert not feed.bozo, (url, feed.get("bozo_exception"))
        parsed.append(feed)
    return parsed


@pytest.mark.parametrize(
    ("tree", "code", "summary"),
    [
        ("hugo", 0, "4 valid post(s), 1 page(s), 0 error(s), 0 warning(s)"),
        ("jekyll/_posts", 1, "4 valid post(s), 1 error(s), 4 warning(s)"),
        ("wordpress", 0, "3 valid post(s), 1 page(s), 0 error(s), 0 warning(s)"),
    ],
)
def test_migrated_content_check(serve, tree: str, code: int, summary: str) -> None:
    result = serve(tree).test_cli_runner().invoke(args=["content", "check"])
    assert result.exit_code == code, result.output
    assert result.output.splitlines()[-1].startswith(summary)


def test_migrated_hugo_site(serve) -> None:
    client = serve("hugo").test_client()
    posts = {post["slug"]: post for post in _every_post(client)}
    assert set(posts) == {
        "introduccion-a-svelte",
        "gin_television",
        "gin-television",
        "resumen-propio",
    }
    for post in posts.values():
        _no_template_code(post)

    svelte = posts["introduccion-a-svelte"]
    assert svelte["excerpt"] == (
        "Svelte compila los componentes a JavaScript sin un runtime pesado en el navegador."
    )  # the text before <!--more-->
    assert 'src="https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ"' in svelte["html"]
    assert 'class="language-html"' in svelte["html"]  # {{< highlight html >}} is code
    assert svelte["images"] == [
        {
            "url": "http://localhost/media/images/faro.png",
            "alt": "Un faro",
            "width": 64,
            "height": 40,
            "placeholder": svelte["images"][0]["placeholder"],
        }
    ]
    assert svelte["images"][0]["placeholder"].startswith("data:image/png;base64,")
    old = client.get("/api/v1/posts/introducci%C3%B3n-a-svelte")
    assert old.status_code == 301
    assert old.headers["Location"].endswith("/api/v1/posts/introduccion-a-svelte")

    # `slug: gin_television` is kept as written, so it no longer collides with gin-television.md
    assert posts["gin_television"]["title"] == "Gin y televisión"
    assert posts["gin-television"]["title"] == "Gin, televisión y otras costumbres"
    assert posts["resumen-propio"]["excerpt"] == "El resumen que escribió la autora & nada más."

    about = client.get("/api/v1/pages/about").get_json()
    assert (about["title"], about["date"]) == ("Acerca de", None)
    assert "about" not in posts

    hits = client.get("/api/v1/search?q=contador").get_json()["data"]
    assert [hit["slug"] for hit in hits] == ["introduccion-a-svelte"]  # code is searchable
    assert client.get("/api/v1/search?q=youtube").get_json()["data"] == []  # shortcodes are not
    for feed in _feeds(client):
        assert len(feed.entries) == 4
        assert "Acerca de" not in [entry.title for entry in feed.entries]


def test_migrated_jekyll_octopress_posts(serve, make_app, content_dir) -> None:
    client = serve("jekyll/_posts").test_client()
    posts = {post["slug"]: post for post in _every_post(client)}
    # Two files years apart on one slug: both served, the newer under its date.
    assert set(posts) == {
        "satisfaccion",
        "satisfaccion-2016-03-01",
        "sin-cabecera",
        "plantilla-suelta",
    }
    for post in posts.values():
        _no_template_code(post)
    first = posts["satisfaccion"]
    assert first["title"] == "Satisfacción – primera parte"
    assert first["excerpt"] == "Lo que aprendí terminando un proyecto pequeño."  # `excerpt:`
    assert first["images"] == [
        {
            "url": "/images/meta.gif",
            "alt": "Una meta cruzada",
            "width": None,  # not in the content folder: nothing known of it
            "height": None,
            "placeholder": None,
        }
    ]
    assert "<blockquote>" in posts["satisfaccion-2016-03-01"]["html"]
    assert "— Ana Torres, Cuaderno de notas" in posts["satisfaccion-2016-03-01"]["plaintext"]
    assert posts["sin-cabecera"]["title"] == "Un post sin cabecera"
    assert posts["sin-cabecera"]["date"].startswith("2014-02-03")
    assert "page.title" not in posts["plantilla-suelta"]["html"]

    assert (
        client.get("/api/v1/search?q=satisfaccion").get_json()["meta"]["pagination"]["total"] == 2
    )
    rss, _ = _feeds(client)
    assert "Satisfacción – primera parte" in [entry.title for entry in rss.entries]

    # The clash is an error: strict mode refuses the folder until one post gets a slug.
    with pytest.raises(ContentError, match="satisfaccion"):
        make_app(strict="true")


def test_migrated_wordpress_export(serve) -> None:
    client = serve("wordpress").test_client()
    posts = {post["slug"]: post for post in _every_post(client)}
    assert set(posts) == {"es-bueno-el-open-source", "feliz-navidad", "episodio-171"}
    for post in posts.values():
        _no_template_code(post)

    opinion = posts["es-bueno-el-open-source"]
    assert opinion["title"] == "¿Es bueno el open source? – Una opinión"
    assert opinion["author"] == "Marta & Luis"
    assert [c["name"] for c in opinion["categories"]] == ["Opinión"]
    assert [t["name"] for t in opinion["tags"]] == ["C++"]
    assert opinion["images"][0]["alt"] == ""  # WordPress's alt="" once crashed every listing
    assert opinion["excerpt"] == "El código abierto es bueno cuando alguien lo mantiene."
    for old in ("%c2%bfes-bueno-el-open-source", "c2-bfes-bueno-el-open-source"):
        response = client.get(f"/api/v1/posts/{old}")
        assert response.status_code == 301, old
        assert response.headers["Location"].endswith("/api/v1/posts/es-bueno-el-open-source")

    assert posts["feliz-navidad"]["title"] == "Feliz Navidad 🎄"  # the encoded emoji slug: gone
    assert (
        '<a href="https://player.podcast-sin-lista.example/embed/ep-99"'
        in (posts["feliz-navidad"]["html"])
    )  # an iframe from a host not on the list is a link, not an empty box

    episode = posts["episodio-171"]
    assert episode["title"] == "#171 – Masa madre en casa"
    assert episode["excerpt"] == (
        "En este episodio hablamos de cómo mantener viva una masa madre sin volverse loco."
    )  # not the audio URL nor the download link
    assert "171.mp3" not in episode["plaintext"]

    assert client.get("/api/v1/pages").get_json()["data"][0]["title"] == "Boletín"
    hits = client.get("/api/v1/search?q=masa madre").get_json()["data"]
    assert [hit["slug"] for hit in hits] == ["episodio-171"]
    for feed in _feeds(client):
        titles = [entry.title for entry in feed.entries]
        assert "#171 – Masa madre en casa" in titles
        assert "¿Es bueno el open source? – Una opinión" in titles
        assert not any("&#" in title for title in titles)
