"""The block tree as clients use it: every bundled post rendered back to HTML, by a small
reference renderer here and by the README's JavaScript client in Node, reads as `plaintext`
does (same words, same order), with headings whose ids are in `toc`."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from conftest import ROOT, build_app
from flask import Flask

README = ROOT / "README.md"
SHORTCODES = ROOT / "tests" / "fixtures" / "shortcodes"
PREVIEW = "clients-preview-token-0123"
E = html.escape


def every_post(folder: Path, runtime: Path) -> dict[str, dict[str, Any]]:
    """Every post of a folder, drafts and scheduled ones too, with `blocks` and `plaintext`."""
    app: Flask = build_app(
        folder,
        runtime_dir=str(runtime),
        preview_token=PREVIEW,
        base_url="http://localhost:5000/",
    )
    client = app.test_client()
    auth = {"Authorization": f"Bearer {PREVIEW}"}
    found = {}
    for post in app.extensions["contentapi"].index.posts:
        url = f"/api/v1/posts/{post.slug}?formats=blocks,plaintext,html"
        found[post.slug] = client.get(url, headers=auth).get_json()
    return found


@pytest.fixture(scope="module")
def posts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    found = every_post(ROOT / "content", tmp_path_factory.mktemp("runtime"))
    assert len(found) >= 16
    return found


@pytest.fixture(scope="module")
def shortcode_posts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The shortcode fixtures: embeds, figures, highlighted code, quotes from Hugo and Liquid."""
    found = every_post(SHORTCODES, tmp_path_factory.mktemp("runtime"))
    assert any(node["type"] == "embed" for post in found.values() for node in post["blocks"])
    return found


# --- a reference renderer ---------------------------------------------------------------------

MARK_TAGS = {"strong": "strong", "emphasis": "em", "strikethrough": "del", "code": "code"}


def inline(nodes: list[dict[str, Any]]) -> str:
    out = []
    for node in nodes:
        kind = node["type"]
        if kind == "text":
            text = E(node["text"])
            for mark in node["marks"]:
                if mark in MARK_TAGS:
                    text = f"<{MARK_TAGS[mark]}>{text}</{MARK_TAGS[mark]}>"
            if "link" in node:
                text = f'<a href="{E(node["link"]["href"])}">{text}</a>'
            out.append(text)
        elif kind == "image":
            out.append(image(node))
        elif kind == "break":
            out.append("<br>")
        elif kind == "footnote_ref":
            out.append(
                f'<sup class="footnote-ref"><a href="#fn-{node["index"]}">{node["index"]}</a></sup>'
            )
    return "".join(out)


def image(node: dict[str, Any]) -> str:
    tag = f'<img src="{E(node["src"])}" alt="{E(node["alt"])}">'
    caption = node.get("caption")
    return f"<figure>{tag}<figcaption>{E(caption)}</figcaption></figure>" if caption else tag


def blocks(nodes: list[dict[str, Any]]) -> str:
    out = []
    for node in nodes:
        kind = node["type"]
        if kind == "heading":
            level = node["level"]
            out.append(f'<h{level} id="{node["id"]}">{inline(node["children"])}</h{level}>')
        elif kind == "paragraph":
            out.append(f"<p>{inline(node['children'])}</p>")
        elif kind == "list":
            tag = "ol" if node["ordered"] else "ul"
            items = "".join(f"<li>{blocks(item['children'])}</li>" for item in node["items"])
            out.append(f"<{tag}>{items}</{tag}>")
        elif kind == "quote":
            out.append(f"<blockquote>{blocks(node['children'])}</blockquote>")
        elif kind == "code":
            out.append(f"<pre><code>{E(node['text'])}</code></pre>")
        elif kind == "image":
            out.append(image(node))
        elif kind == "table":
            head = "".join(f"<th>{inline(cell)}</th>" for cell in node["header"])
            rows = "".join(
                "<tr>" + "".join(f"<td>{inline(cell)}</td>" for cell in row) + "</tr>"
                for row in node["rows"]
            )
            out.append(f"<table><tr>{head}</tr>{rows}</table>")
        elif kind == "rule":
            out.append("<hr>")
        elif kind == "footnotes":
            items = "".join(f"<li>{blocks(item['children'])}</li>" for item in node["items"])
            out.append(f'<section class="footnotes"><ol>{items}</ol></section>')
        elif kind == "embed" and node["src"]:  # the player
            out.append(f'<iframe src="{E(node["src"])}" title="{E(node["title"] or "")}"></iframe>')
        elif kind == "embed":  # no player (a tweet, a gist): a link, with its title as text
            out.append(f'<a href="{E(node["url"] or "")}">{E(node["title"] or "")}</a>')
        elif kind == "html":
            out.append(node["html"])
    return "\n".join(out)


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.casefold())


def read_back(markup: str) -> tuple[list[str], list[str]]:
    """The words a reader sees (footnote numbers are not words of the text) and heading ids."""
    root = lxml.html.fragment_fromstring(markup or "<p></p>", create_parent="div")
    for ref in root.xpath("//sup[a[starts-with(@href, '#fn-')]]"):
        ref.drop_tree()
    ids = [h.get("id") for h in root.xpath("//h1|//h2|//h3|//h4|//h5|//h6")]
    return words(" ".join(root.itertext())), ids


def toc_ids(entries: list[dict[str, Any]]) -> Iterator[str]:
    for entry in entries:
        yield entry["id"]
        yield from toc_ids(entry["children"])


def test_clients_reference_renderer_reads_like_plaintext(posts):
    for slug, post in posts.items():
        seen, ids = read_back(blocks(post["blocks"]))
        assert seen == words(post["plaintext"]), slug
        assert ids, slug
        assert set(ids) <= set(toc_ids(post["toc"])), slug
        assert ids == list(toc_ids(post["toc"])), slug  # all of them, in order


def html_words(markup: str) -> list[str]:
    """The words of the API's own `html`, without footnote numbers and back links."""
    root = lxml.html.fragment_fromstring(markup or "<p></p>", create_parent="div")
    for mark in root.xpath("//sup[@class='footnote-ref']|//a[@class='footnote']"):
        mark.drop_tree()
    return words(" ".join(root.itertext()))


def test_clients_reference_renderer_reads_shortcode_posts_like_their_html(shortcode_posts):
    """Embeds, figures, highlighted code and quotes from shortcodes: blocks and HTML come
    from one parse, so a reader sees the same words in both."""
    for slug, post in shortcode_posts.items():
        seen, ids = read_back(blocks(post["blocks"]))
        assert seen == html_words(post["html"]), slug
        assert ids == list(toc_ids(post["toc"])), slug


def test_clients_every_bundled_image_has_its_facts(posts):
    images = [
        node
        for post in posts.values()
        for node in _walk(post["blocks"])
        if node["type"] == "image" and node["src"].startswith("http://localhost:5000/media/")
    ]
    assert len(images) >= 5
    for node in images:
        assert node["width"] == 200 and node["height"] == 120, node["src"]
        assert node["placeholder"].startswith("data:image/png;base64,")


def _walk(nodes: Any) -> Iterator[dict[str, Any]]:
    if isinstance(nodes, list):
        for node in nodes:
            yield from _walk(node)
    elif isinstance(nodes, dict):
        if "type" in nodes:
            yield nodes
        for value in nodes.values():
            yield from _walk(value)


# --- the README ---------------------------------------------------------------------------------


def readme_block(marker: str) -> str:
    """The fenced code block right after `<!-- marker -->` in the README."""
    text = README.read_text(encoding="utf-8")
    found = re.search(rf"<!-- {re.escape(marker)}[^>]*-->\n```\w*\n(.*?)\n```", text, re.S)
    assert found, f"no block after <!-- {marker} --> in the README"
    return found.group(1)


def test_clients_readme_blocks_example_is_the_real_response(posts):
    text = README.read_text(encoding="utf-8")
    slug, count = re.search(r"<!-- blocks-example: (\S+) (\d+) -->", text).groups()  # type: ignore[union-attr]
    shown = json.loads(readme_block("blocks-example"))
    post = posts[slug]
    assert shown == {
        "blocks_version": post["blocks_version"],
        "blocks": post["blocks"][: int(count)],
    }


# A fake DOM just big enough for the client: elements, text nodes, attributes, innerHTML,
# serialised back to HTML for the checks above.
FAKE_DOM = r"""
const vm = require("vm");
const fs = require("fs");
const [clientFile, postsFile] = process.argv.slice(2);
const ENTITIES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" };
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ENTITIES[c]);
const VOID = new Set(["img", "br", "hr"]);
class Text {
  constructor(data) { this.data = data; }
  get outerHTML() { return esc(this.data); }
}
class Element {
  constructor(tag) {
    Object.assign(this, { tagName: tag, attributes: {}, childNodes: [], innerHTML: null });
  }
  setAttribute(name, value) { this.attributes[name] = String(value); }
  append(...nodes) {
    for (const node of nodes) {
      if (!(node instanceof Text || node instanceof Element)) throw new TypeError(`${node}`);
      this.childNodes.push(node);
    }
  }
  get outerHTML() {
    const attrs = Object.entries(this.attributes).map(([k, v]) => ` ${k}="${esc(v)}"`);
    const open = `<${this.tagName}${attrs.join("")}>`;
    if (VOID.has(this.tagName)) return open;
    const inner = this.innerHTML ?? this.childNodes.map((child) => child.outerHTML).join("");
    return `${open}${inner}</${this.tagName}>`;
  }
}
const document = {
  createElement: (tag) => new Element(tag),
  createTextNode: (data) => new Text(data),
};
const context = vm.createContext({ document });
const client = fs.readFileSync(clientFile, "utf8");
vm.runInContext(`${client}\nthis.renderBlocks = renderBlocks;`, context);
const posts = JSON.parse(fs.readFileSync(postsFile, "utf8"));
const out = {};
for (const [slug, blocks] of Object.entries(posts)) {
  out[slug] = context.renderBlocks(blocks).outerHTML;
}
process.stdout.write(JSON.stringify(out));
"""


def run_readme_client(tmp_path: Path, posts: dict[str, dict[str, Any]]) -> dict[str, str]:
    """The README's client run in Node over each post's blocks (plus a node type it cannot
    know), each post's `<article>` serialised as HTML."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    client = tmp_path / "client.js"
    client.write_text(readme_block("blocks-client"), encoding="utf-8")
    harness = tmp_path / "harness.js"
    harness.write_text(FAKE_DOM, encoding="utf-8")
    data = tmp_path / "posts.json"
    unknown = {"type": "hologram", "children": [{"type": "text", "text": "x", "marks": []}]}
    data.write_text(
        json.dumps({slug: [*post["blocks"], unknown] for slug, post in posts.items()}),
        encoding="utf-8",
    )
    result = subprocess.run(
        [node, str(harness), str(client), str(data)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    rendered: dict[str, str] = json.loads(result.stdout)
    assert set(rendered) == set(posts)
    assert all(markup.startswith("<article>") for markup in rendered.values())
    return rendered


def test_clients_readme_javascript_renders_every_bundled_post(posts, tmp_path):
    rendered = run_readme_client(tmp_path, posts)
    for slug, markup in rendered.items():
        seen, ids = read_back(markup)
        assert seen == words(posts[slug]["plaintext"]), slug  # the unknown node was skipped
        assert ids == list(toc_ids(posts[slug]["toc"])), slug
    code = rendered["building-a-json-api-with-flask"]
    assert '<span class="kn">import</span>' in code or '<span class="kn">from</span>' in code
    assert '<img src="http://localhost:5000/media/' in rendered["gazpacho-andaluz"]
    assert 'width="200" height="120"' in rendered["gazpacho-andaluz"]


def test_clients_readme_javascript_renders_shortcode_posts_like_their_html(
    shortcode_posts, tmp_path
):
    rendered = run_readme_client(tmp_path, shortcode_posts)
    for slug, markup in rendered.items():
        assert read_back(markup)[0] == html_words(shortcode_posts[slug]["html"]), slug
    embeds = rendered["hugo-embeds"]
    assert '<iframe src="https://player.vimeo.com/video/146022717' in embeds
    assert '<a href="https://gist.github.com/marinera/7896402#file-faro-py">faro.py</a>' in embeds
