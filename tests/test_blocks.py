"""The block tree: every node type from the same parse as the HTML, plain text everywhere but
in `html` nodes, URLs resolved and image facts attached as the HTML and `images` have them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from contentapi.engine.assets import AssetMap
from contentapi.engine.blocks import render_blocks
from contentapi.engine.model import ImageFacts, ImageFile, ImageTable
from contentapi.engine.reader import read
from contentapi.engine.render import RenderOptions, render_html

POSTS = Path(__file__).parent / "fixtures" / "posts"
HOSTS = ("www.youtube.com", "www.youtube-nocookie.com", "player.vimeo.com")
COVER = ImageFacts(640, 480, "data:image/png;base64,AAAA")
ASSETS = AssetMap(
    frozenset({"posts/images/cover.png"}),
    images=ImageTable(
        {"posts/images/cover.png": ImageFile("posts/images/cover.png", 1, 1, "d", COVER)}
    ),
)
OPTIONS = RenderOptions(iframe_hosts=HOSTS, assets=ASSETS, media_base_url="https://api.example/")


def fixture(name: str = "blocks.md") -> str:
    body, _ = read((POSTS / name).read_bytes())
    return body


def blocks(body: str, directory: str = "posts", **options: Any) -> list[dict[str, Any]]:
    settings = {"iframe_hosts": HOSTS, "assets": ASSETS, "media_base_url": "https://api.example/"}
    return render_blocks(body, directory, RenderOptions(**{**settings, **options}))


def walk(nodes: Any) -> Iterator[dict[str, Any]]:
    """Every node of a tree (blocks, inline nodes, list items and footnote items)."""
    if isinstance(nodes, list):
        for node in nodes:
            yield from walk(node)
    elif isinstance(nodes, dict):
        if "type" in nodes:
            yield nodes
        for key, value in nodes.items():
            if key != "link":
                yield from walk(value)


def of_type(tree: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [node for node in walk(tree) if node["type"] == kind]


def text_of(nodes: list[dict[str, Any]]) -> str:
    return "".join(node.get("text", "") for node in walk(nodes) if node["type"] == "text")


@pytest.fixture(scope="module")
def tree() -> list[dict[str, Any]]:
    return render_blocks(fixture(), "posts", OPTIONS)


def test_blocks_heading_ids_are_the_html_ids(tree):
    html = render_html(fixture(), "posts", OPTIONS)
    html_ids = re.findall(r"<h[1-6] id=\"([^\"]+)\">", html)
    headings = of_type(tree, "heading")
    assert [h["id"] for h in headings] == html_ids == ["intro-with-code", "intro-with-code-1"]
    assert [h["level"] for h in headings] == [2, 3]
    assert text_of(headings[0]["children"]) == "Intro with code"


def test_blocks_text_marks_and_links(tree):
    paragraph = next(n for n in tree if n["type"] == "paragraph")
    marked = {n["text"]: n["marks"] for n in paragraph["children"] if n["type"] == "text"}
    assert marked["bold"] == ["strong"]
    assert marked["emphasis"] == ["emphasis"]
    assert marked["struck"] == ["strikethrough"]
    assert marked["a < b && c"] == ["code"]
    assert marked["Ctrl"] == ["code"]  # <kbd> in raw HTML
    assert marked["C"] == ["strong"]  # <b> in raw HTML
    link = next(n for n in paragraph["children"] if n.get("text") == "relative link")
    assert link["marks"] == ["link"]
    assert link["link"] == {"href": "other.md", "title": "Other"}
    assert {"type": "break"} in paragraph["children"]
    assert {"type": "footnote_ref", "index": 1} in paragraph["children"]


def test_blocks_strings_are_plain_text_not_html(tree):
    paragraph = text_of(next(n for n in tree if n["type"] == "paragraph")["children"])
    assert "Fish & chips" in paragraph  # the entity decoded, nothing escaped
    code = next(n for n in tree if n["type"] == "code" and n["language"] == "unknownlang")
    assert code["text"] == "plain text <here>"
    literal = {"code"}  # code keeps what the author wrote, `<` included
    for node in walk(tree):
        if node["type"] in literal or "code" in node.get("marks", ()) or node["type"] == "html":
            continue
        for key, value in node.items():
            if isinstance(value, str):
                assert not re.search(r"</?[a-z]+[^>]*>|&(amp|lt|gt|quot);", value), (key, value)


def test_blocks_unsafe_link_keeps_its_text_without_the_link(tree):
    paragraph = next(n for n in tree if n["type"] == "paragraph")
    assert "unsafe link" in text_of(paragraph["children"])
    assert all("javascript" not in str(n.get("link")) for n in walk(tree))


def test_blocks_image_alone_on_its_line_is_a_block_with_facts(tree):
    assert tree[1] == {
        "type": "image",
        "src": "https://api.example/media/posts/images/cover.png",
        "alt": "The cover",
        "title": "Cover title",
        "width": 640,
        "height": 480,
        "placeholder": COVER.placeholder,
    }
    assert tree[2]["type"] == "paragraph"  # the text on the next line is its own paragraph


def test_blocks_remote_and_linked_image_has_no_facts(tree):
    linked = next(n for n in of_type(tree, "image") if n["src"].startswith("https://cdn"))
    assert (linked["width"], linked["height"], linked["placeholder"]) == (None, None, None)
    assert linked["link"] == {"href": "https://example.org/gallery", "title": None}


def test_blocks_raw_html_image_alone_is_an_image(tree):
    raw = next(n for n in of_type(tree, "image") if n["alt"] == "Raw image")
    assert raw["src"] == "https://api.example/media/posts/images/cover.png"
    assert raw["width"] == 640


def test_blocks_image_in_text_stays_inline():
    tree = blocks("Before ![icon](images/cover.png) after.\n")
    assert [n["type"] for n in tree] == ["paragraph"]
    assert [n["type"] for n in tree[0]["children"]] == ["text", "image", "text"]
    assert tree[0]["children"][1]["height"] == 480


def test_blocks_lists_with_start_tasks_and_nesting(tree):
    ordered = next(n for n in tree if n["type"] == "list")
    assert ordered["ordered"] is True
    assert ordered["start"] == 1
    assert [item["checked"] for item in ordered["items"]] == [False, True, None]
    nested = ordered["items"][1]["children"][1]
    assert nested["type"] == "list"
    assert nested["ordered"] is False
    assert nested["start"] is None
    assert text_of(nested["items"][0]["children"]) == "nested item"
    assert blocks("3. three\n4. four\n")[0]["start"] == 3


def test_blocks_quote_holds_blocks(tree):
    quote = next(n for n in tree if n["type"] == "quote")
    assert [n["type"] for n in quote["children"]] == ["paragraph", "paragraph"]
    assert text_of(quote["children"][1]["children"]) == "— Somebody, Somewhere"


def test_blocks_code_has_language_text_and_token_spans(tree):
    code = next(n for n in tree if n["type"] == "code" and n["language"] == "python")
    assert code["text"] == 'def greet(name):\n    return f"hola {name}"'
    assert "".join(span["text"] for span in code["spans"]) == code["text"]
    first = code["spans"][0]
    assert first == {"text": "def", "token": "Keyword", "class": "k"}
    assert {"token": "Name.Function", "class": "nf", "text": "greet"} in code["spans"]
    unknown = next(n for n in tree if n["type"] == "code" and n["language"] == "unknownlang")
    assert unknown["spans"] == []


def test_blocks_code_spans_cover_leading_and_trailing_blank_lines():
    code = blocks("```js\n\nlet a = 1;\n\n```\n")[0]
    assert code["text"] == "\nlet a = 1;\n"
    assert "".join(span["text"] for span in code["spans"]) == code["text"]


def test_blocks_table_header_alignment_and_rows(tree):
    table = next(n for n in tree if n["type"] == "table")
    assert table["align"] == ["left", "center", "right", None]
    assert [text_of(cell) for cell in table["header"]] == ["Left", "Centre", "Right", "None"]
    assert [[text_of(cell) for cell in row] for row in table["rows"]] == [["a", "b", "c", "d"]]
    assert table["rows"][0][1][0]["marks"] == ["strong"]


def test_blocks_rule_and_footnotes(tree):
    assert {"type": "rule"} in tree
    footnotes = tree[-1]
    assert footnotes["type"] == "footnotes"
    assert [item["index"] for item in footnotes["items"]] == [1]
    assert text_of(footnotes["items"][0]["children"]) == "The note, with a link."


def test_blocks_embed_from_the_shortcode_div(tree):
    embeds = of_type(tree, "embed")
    assert embeds[0] == {
        "type": "embed",
        "provider": "youtube",
        "id": "abc123",
        "url": "https://www.youtube.com/watch?v=abc123",
        "title": "A & B",
        "src": "https://www.youtube-nocookie.com/embed/abc123",
    }
    assert embeds[1] == {
        "type": "embed",
        "provider": "tweet",
        "id": "20",
        "url": "https://twitter.com/jack/status/20",
        "title": "Tweet by jack",
        "src": None,
    }


def test_blocks_embed_from_an_allowed_iframe_by_host(tree):
    vimeo = of_type(tree, "embed")[2]
    assert vimeo == {
        "type": "embed",
        "provider": "vimeo",
        "id": "76979871",
        "url": "https://vimeo.com/76979871",
        "title": "A film",
        "src": "https://player.vimeo.com/video/76979871",
    }
    assert len(of_type(tree, "embed")) == 3
    # An iframe from a host not allowed is a link (as in the HTML): a paragraph with a link.
    (link,) = [n for n in walk(tree) if n.get("link", {}).get("href", "").startswith("https://tr")]
    assert (link["text"], link["link"]["href"]) == (
        "Not allowed",
        "https://tracker.example.net/embed/xyz",
    )
    paragraph = next(n for n in tree if n["type"] == "paragraph" and link in n["children"])
    assert paragraph["children"] == [link]


def test_blocks_other_raw_html_is_a_sanitized_fragment(tree):
    fragments = [n["html"] for n in of_type(tree, "html")]
    assert fragments == ["<details><summary>More</summary><p>Hidden text</p></details>"]


def test_blocks_raw_html_escape_mode_is_text():
    tree = blocks("<div>hi <b>there</b></div>\n\nA <b>bold</b> word.\n", raw_html="escape")
    assert tree[0] == {
        "type": "paragraph",
        "children": [{"type": "text", "text": "<div>hi <b>there</b></div>", "marks": []}],
    }
    assert text_of(tree[1]["children"]) == "A <b>bold</b> word."


def test_blocks_raw_html_allow_mode_keeps_the_fragment():
    tree = blocks('<div onclick="x()">hi</div>\n', raw_html="allow")
    assert tree == [{"type": "html", "html": '<div onclick="x()">hi</div>'}]


def test_blocks_inline_script_text_is_dropped():
    tree = blocks("Hello <script>alert(1)</script>world <span>kept</span>.\n")
    assert text_of(tree) == "Hello world kept."


def test_blocks_unsafe_image_sources_are_dropped():
    tree = blocks("![x](javascript:alert(1)) and ![y](data:image/png;base64,AAAA)\n")
    assert of_type(tree, "image") == []


def test_blocks_relative_urls_resolve_like_the_html():
    body = "[doc](files/a.pdf) ![pic](images/cover.png)\n"
    html = render_html(body, "posts", OPTIONS)
    tree = blocks(body)
    link = next(n for n in walk(tree) if n.get("link"))["link"]["href"]
    image = of_type(tree, "image")[0]["src"]
    assert f'href="{link}"' in html
    assert f'src="{image}"' in html


def test_blocks_empty_body_is_an_empty_list():
    assert blocks("") == []
    assert blocks("\n\n   \n") == []


def test_blocks_real_shaped_post_has_image_then_paragraph():
    """`![..](/images/..)` directly followed by text, as the real blog writes it."""
    tree = blocks(fixture("real-shaped-es.md"), "")
    assert [node["type"] for node in tree[:4]] == ["heading", "heading", "image", "paragraph"]
    assert tree[2]["src"] == "/images/blog/header.jpg"  # not in the content folder: as written
    assert tree[2]["alt"] == "Descripción"
    assert text_of(tree[3]["children"]).startswith("Un modelo de lenguaje predice")


def test_blocks_shortcode_embeds_are_embed_nodes():
    """The shortcodes' embed divs (CONTRACT-embeds.md) arrive as typed embeds."""
    body, _ = read((POSTS.parent / "shortcodes" / "hugo-embeds.md").read_bytes())
    hosts = ("player.vimeo.com", "open.spotify.com", "codepen.io")
    embeds = of_type(blocks(body, "", iframe_hosts=hosts), "embed")
    assert [(e["provider"], e["id"]) for e in embeds] == [
        ("x", "1453110110599868418"),
        ("gist", "7896402"),
        ("instagram", "CxYzAbCdEfG"),
        ("vimeo", "146022717"),
        ("spotify", "5Z2MiIZ5I3jJvvmeWMLbOQ"),
        ("codepen", "YzObPmg"),
    ]
    tweet, vimeo = embeds[0], embeds[3]
    assert tweet["url"] == "https://x.com/faroscantabria/status/1453110110599868418"
    assert tweet["src"] is None  # no player: a client links to `url`
    assert vimeo["src"].startswith("https://player.vimeo.com/video/146022717")


@pytest.mark.parametrize(
    ("src", "provider", "ident", "url"),
    [
        (
            "//www.youtube.com/embed/9bZkp7q19f0",
            "youtube",
            "9bZkp7q19f0",
            "https://www.youtube.com/watch?v=9bZkp7q19f0",
        ),
        (
            "https://open.spotify.com/embed/episode/7makk4oTQel546B0PZlDM5",
            "spotify",
            "7makk4oTQel546B0PZlDM5",
            "https://open.spotify.com/episode/7makk4oTQel546B0PZlDM5",
        ),
        (
            "https://codepen.io/marinera/embed/YzObPmg?default-tab=result",
            "codepen",
            "YzObPmg",
            "https://codepen.io/marinera/pen/YzObPmg",
        ),
    ],
)
def test_blocks_author_iframes_become_embeds_by_host(src, provider, ident, url):
    hosts = ("www.youtube.com", "open.spotify.com", "codepen.io")
    (embed,) = blocks(f'<iframe src="{src}" title="T"></iframe>\n', iframe_hosts=hosts)
    assert (embed["type"], embed["provider"], embed["id"], embed["url"]) == (
        "embed",
        provider,
        ident,
        url,
    )
    assert embed["src"].startswith("https://")
