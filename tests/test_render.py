"""Rendering: Markdown bodies to safe HTML whose heading ids match the toc."""

from __future__ import annotations

import re
from pathlib import Path

import mistune
import pytest

from contentapi.engine.analysis import analyse
from contentapi.engine.assets import AssetMap, PostPaths
from contentapi.engine.reader import ReadError, read
from contentapi.engine.render import (
    PLUGINS,
    RenderOptions,
    _assign_heading_ids,
    _Renderer,
    highlight_css,
    render_html,
    sanitize,
)
from contentapi.engine.shortcodes import expand

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
POSTS = FIXTURES / "posts"
HEADING_ID = re.compile(r"<h[1-6] id=\"([^\"]+)\">")
YOUTUBE = ("www.youtube.com",)


def fixture_body(name: str) -> str:
    body, _ = read((POSTS / name).read_bytes())
    return body


def render(body: str, directory: str = "", **options: object) -> str:
    return render_html(body, directory, RenderOptions(**options))  # type: ignore[arg-type]


def test_render_tables_with_alignment() -> None:
    html = render(fixture_body("gfm.md"))
    assert "<table>" in html
    assert re.search(r'<th style="text-align:left">Ingrediente</th>', html)
    assert re.search(r'<td style="text-align:right">500 g</td>', html)


def test_render_strikethrough() -> None:
    assert "<del>tachado</del>" in render(fixture_body("gfm.md"))


def test_render_footnotes_link_both_ways() -> None:
    html = render(fixture_body("gfm.md"))
    ref = re.search(r'<sup class="footnote-ref" id="([^"]+)"><a href="#([^"]+)"', html)
    assert ref is not None
    ref_id, note_id = ref.groups()
    assert f'<li id="{note_id}">' in html
    assert f'href="#{ref_id}"' in html
    assert "La nota al pie explica el detalle." in html


def test_render_task_list_checkboxes_are_disabled() -> None:
    html = render(fixture_body("gfm.md"))
    inputs = re.findall(r"<input[^>]*>", html)
    assert len(inputs) == 2
    assert all('type="checkbox"' in tag and "disabled" in tag for tag in inputs)
    assert ["checked" in tag for tag in inputs] == [False, True]


def test_render_task_list_checkboxes_disabled_even_when_raw_html_enables_them() -> None:
    html = render('<input type="checkbox" checked> hecho\n\n<input type="text" value="x">\n')
    inputs = re.findall(r"<input[^>]*>", html)
    assert len(inputs) == 2
    assert all("disabled" in tag for tag in inputs)
    assert 'type="text"' not in html


def test_render_bare_urls_become_links() -> None:
    html = render(fixture_body("gfm.md"))
    assert '<a href="https://example.org/pan"' in html


@pytest.mark.parametrize(
    "name",
    [
        "headings.md",
        "gfm.md",
        "code.md",
        "real-shaped-es.md",
        "title-h1-differs.md",
        "list-then-rule.md",
    ],
)
def test_render_heading_ids_equal_toc_ids(name: str) -> None:
    body = fixture_body(name)
    toc_ids = [heading.id for heading in analyse(body).headings]
    assert toc_ids
    assert HEADING_ID.findall(render(body)) == toc_ids


@pytest.mark.parametrize(
    "body",
    [
        "## El método `__init__`\n\n## Uso de *args*\n",
        "## Tom &amp; Jerry\n\n## Tom & Jerry\n",
        "Línea uno\nlínea dos\n---\n\n# [Enlace](https://x.org) y **negrita**\n",
        "#\n\n## !!!\n\n## Fin ##\n",
    ],
)
def test_render_heading_ids_equal_toc_ids_for_inline_markup(body: str) -> None:
    assert HEADING_ID.findall(render(body)) == [h.id for h in analyse(body).headings]


def test_render_fenced_code_is_highlighted_by_pygments() -> None:
    html = render(fixture_body("code.md"))
    block = re.search(r'<code class="language-python">(.*?)</code>', html, re.S)
    assert block is not None
    code = block.group(1)
    assert '<span class="k">def</span>' in code
    assert '<span class="nf">saludo</span>' in code
    assert "<pre" in html


def test_render_unknown_language_is_escaped_not_highlighted() -> None:
    html = render(fixture_body("code.md"))
    block = re.search(r'<code class="language-lenguaje-que-no-existe">(.*?)</code>', html, re.S)
    assert block is not None
    assert block.group(1) == "x &lt;- y &amp; z\n"


def test_render_code_without_language_is_escaped() -> None:
    html = render("```\n<b>no</b>\n```\n")
    assert "<code>&lt;b&gt;no&lt;/b&gt;\n</code>" in html


def test_render_highlight_css_covers_highlight_class() -> None:
    assert ".highlight .k" in highlight_css()


def test_render_sanitize_removes_scripts_handlers_and_javascript_links() -> None:
    html = render(fixture_body("raw-html.md"), raw_html="sanitize", iframe_hosts=YOUTUBE)
    assert "<script" not in html
    assert 'alert("hola")' not in html
    assert "onerror" not in html
    assert "javascript:" not in html


def test_render_sanitize_keeps_harmless_html() -> None:
    html = render(fixture_body("raw-html.md"), raw_html="sanitize", iframe_hosts=YOUTUBE)
    assert "<kbd>Ctrl</kbd>" in html
    assert "<figure>" in html
    assert "<figcaption>Pie de foto</figcaption>" in html
    assert re.search(r"<video controls[^>]*>", html)
    assert 'src="https://example.org/clip.mp4"' in html


def test_render_sanitize_keeps_iframes_only_from_allowed_hosts() -> None:
    html = render(fixture_body("raw-html.md"), raw_html="sanitize", iframe_hosts=YOUTUBE)
    assert '<iframe src="https://www.youtube.com/embed/abc123"' in html
    assert '<iframe src="https://tracker.example.net' not in html


def test_render_sanitize_turns_iframes_from_other_hosts_into_titled_links() -> None:
    html = render(fixture_body("raw-html.md"), raw_html="sanitize", iframe_hosts=YOUTUBE)
    assert re.search(r'<a href="https://tracker.example.net/embed/xyz"[^>]*>Otro</a>', html)


def test_render_sanitize_without_allowed_hosts_every_iframe_is_a_link() -> None:
    html = render(fixture_body("raw-html.md"), raw_html="sanitize")
    assert "<iframe" not in html
    assert re.search(r'<a href="https://www.youtube.com/embed/abc123"[^>]*>Vídeo</a>', html)


@pytest.mark.parametrize(
    "src",
    [
        "https://www.youtube.com.evil.example/embed/abc",
        "https://evil.example/?www.youtube.com",
        "https://evil.example/www.youtube.com/embed/abc",
    ],
)
def test_render_sanitize_iframe_host_must_match_exactly(src: str) -> None:
    html = sanitize(f'<iframe src="{src}"></iframe>', YOUTUBE)
    assert "<iframe" not in html
    assert f'<a href="{src}"' in html


@pytest.mark.parametrize("src", ["http://www.youtube.com/embed/abc", "//www.youtube.com/embed/abc"])
def test_render_sanitize_iframe_from_allowed_host_is_upgraded_to_https(src: str) -> None:
    html = sanitize(f'<iframe src="{src}"></iframe>', YOUTUBE)
    assert '<iframe src="https://www.youtube.com/embed/abc">' in html


def test_render_escape_mode_shows_tags_as_text() -> None:
    html = render(fixture_body("raw-html.md"), raw_html="escape", iframe_hosts=YOUTUBE)
    assert "&lt;kbd&gt;Ctrl&lt;/kbd&gt;" in html
    assert "<kbd>" not in html
    assert "<script" not in html
    assert "<iframe" not in html


def test_render_allow_mode_keeps_raw_html() -> None:
    html = render(fixture_body("raw-html.md"), raw_html="allow")
    assert '<script>alert("hola")</script>' in html
    assert "<kbd>Ctrl</kbd>" in html
    assert 'src="https://tracker.example.net/embed/xyz"' in html


IMAGE_OPTIONS = {
    "media_base_url": "https://api.example.com/",
    "assets": AssetMap(
        frozenset(
            {
                "posts/2024/images/horno.png",
                "posts/2024/images/miga.png",
                "images/blog/cabecera.jpg",
            }
        )
    ),
}


def test_render_images_resolve_to_absolute_media_urls() -> None:
    html = render(fixture_body("images.md"), "posts/2024", **IMAGE_OPTIONS)
    assert 'src="https://api.example.com/media/posts/2024/images/horno.png"' in html
    assert 'src="https://api.example.com/media/images/blog/cabecera.jpg"' in html
    assert 'src="https://cdn.example.org/foto.jpg"' in html
    assert 'title="Título"' in html


def test_render_raw_html_images_resolve_like_markdown_images() -> None:
    # analysis/derive resolve `<img src="images/miga.png">` to /media/...; the HTML must agree.
    html = render(fixture_body("images.md"), "posts/2024", **IMAGE_OPTIONS)
    assert 'src="https://api.example.com/media/posts/2024/images/miga.png"' in html


def test_render_images_default_to_root_relative_media_urls() -> None:
    assets = AssetMap(frozenset({"posts/2024/images/horno.png"}))
    html = render("![Horno](images/horno.png)\n", "posts/2024", assets=assets)
    assert 'src="/media/posts/2024/images/horno.png"' in html


def test_render_links_to_content_files_resolve_and_keep_query() -> None:
    assets = AssetMap(frozenset({"docs/guia.pdf"}))
    html = render(
        "[Guía](../docs/guia.pdf?v=2#p3) y [fuera](https://example.org/x) y [ancla](#arriba)\n",
        "posts",
        assets=assets,
        media_base_url="https://api.example.com/",
    )
    assert 'href="https://api.example.com/media/docs/guia.pdf?v=2#p3"' in html
    assert 'href="https://example.org/x"' in html
    assert 'href="#arriba"' in html


def test_render_missing_image_left_as_written_or_joined_to_asset_base() -> None:
    body = "![Cabecera](/images/blog/header.jpg)\n"
    assert 'src="/images/blog/header.jpg"' in render(body, "posts")
    cdn = AssetMap(base_url="https://cdn.example.com/")
    html = render(body, "posts", assets=cdn)
    assert 'src="https://cdn.example.com/images/blog/header.jpg"' in html


# Embeds, the URL policy and links to posts (issue 10)

EMBED_DIV = (
    '<div class="embed embed-youtube" data-embed-provider="youtube" data-embed-id="w7Ft2ymGmfc" '
    'data-embed-url="https://www.youtube.com/watch?v=w7Ft2ymGmfc" data-embed-title="YouTube video">'
)


def test_render_youtube_shortcode_passes_the_sanitizer_whole() -> None:
    html = render("{{< youtube w7Ft2ymGmfc >}}\n", iframe_hosts=("www.youtube-nocookie.com",))
    assert EMBED_DIV in html
    iframe = re.search(r"<iframe [^>]*>", html)
    assert iframe is not None
    tag = iframe.group(0)
    assert 'src="https://www.youtube-nocookie.com/embed/w7Ft2ymGmfc"' in tag
    assert 'loading="lazy"' in tag and 'title="YouTube video"' in tag
    assert 'referrerpolicy="strict-origin-when-cross-origin"' in tag


def test_render_embed_from_a_host_not_allowed_is_a_link_inside_its_block() -> None:
    html = render("{{< youtube w7Ft2ymGmfc >}}\n", iframe_hosts=())
    assert EMBED_DIV in html
    assert "<iframe" not in html
    assert re.search(r'<a href="https://www.youtube-nocookie.com/embed/w7Ft2ymGmfc"', html)


def test_render_sanitize_keeps_only_embed_data_attributes_with_safe_urls() -> None:
    html = sanitize(
        '<div data-embed-provider="x" data-embed-url="javascript:alert(1)" data-other="y">a</div>'
        '<div data-embed-url="https://example.org/a">b</div>'
    )
    assert 'data-embed-provider="x"' in html
    assert "javascript" not in html and "data-other" not in html
    assert 'data-embed-url="https://example.org/a"' in html


def test_render_sanitize_iframe_referrer_policy_only_from_the_safe_values() -> None:
    hosts = ("www.youtube.com",)
    leaky = sanitize(
        '<iframe src="https://www.youtube.com/embed/a" referrerpolicy="unsafe-url">', hosts
    )
    assert "unsafe-url" not in leaky


@pytest.mark.parametrize(
    ("hosts", "src", "kept"),
    [
        (("www.google.com/maps/embed",), "https://www.google.com/maps/embed?pb=1", True),
        (("www.google.com/maps/embed",), "https://www.google.com/search?q=x", False),
        (("codesandbox.io",), "https://codesandbox.io/embed/abc", True),
        (("codesandbox.io",), "https://evil.codesandbox.io.example/embed", False),
    ],
)
def test_render_sanitize_iframe_hosts_may_name_a_path_prefix(
    hosts: tuple[str, ...], src: str, kept: bool
) -> None:
    assert ("<iframe" in sanitize(f'<iframe src="{src}"></iframe>', hosts)) is kept


def test_render_sanitize_iframe_without_a_web_url_leaves_nothing() -> None:
    html = sanitize('<p>a</p><iframe src="javascript:alert(1)" title="x"></iframe><p>b</p>')
    assert html == "<p>a</p><p>b</p>"


def test_render_sanitize_unclosed_iframe_does_not_swallow_what_follows() -> None:
    hosts = ("www.youtube.com",)
    html = sanitize(
        '<iframe src="https://evil.example/x">texto <iframe src="https://www.youtube.com/embed/k">'
        "</iframe> fin",
        hosts,
    )
    assert '<a href="https://evil.example/x"' in html
    assert '<iframe src="https://www.youtube.com/embed/k">' in html
    assert "fin" in html


@pytest.mark.parametrize(
    ("markup", "kept"),
    [
        ('<img src="data:image/png;base64,iVBORw0KGgo=" alt="a">', True),
        ('<img src="data:image/svg+xml;base64,PHN2Zz4=" alt="a">', True),
        ('<img src="data:image/svg+xml,%3Csvg%3E%3C/svg%3E" alt="a">', True),
        ('<img src="DATA:IMAGE/GIF;base64,R0lG" alt="a">', True),
        ('<img src="data:text/html;base64,PHNjcmlwdD4=" alt="a">', False),
        ('<img src="data:application/xhtml+xml,x" alt="a">', False),
        ('<a href="data:image/png;base64,iVBORw0KGgo=">a</a>', False),
        ('<a href="data:text/html,<script>x</script>">a</a>', False),
        ('<video src="data:video/mp4;base64,AAAA"></video>', False),
    ],
)
def test_render_data_urls_only_for_image_sources(markup: str, kept: bool) -> None:
    assert ("data:" in sanitize(markup).lower()) is kept


@pytest.mark.parametrize(
    "markup",
    [
        '<a href="file:///I:/blog/x.png">a</a>',
        '<img src="file:///I:/blog/x.png">',
        '<a href="vbscript:msgbox(1)">a</a>',
        '<a href="java&#x09;script:alert(1)">a</a>',
        "[a](file:///etc/passwd)",
        "![a](javascript:alert(1))",
    ],
)
def test_render_other_schemes_are_removed_everywhere(markup: str) -> None:
    html = render(markup + "\n")
    assert not re.search(r"(file|vbscript|javascript):", html.replace("&#x09;", ""))


POST_FILES = AssetMap(
    frozenset(), posts=PostPaths({"posts/otro.md": "otro", "posts/2024/index.md": "resumen"})
)


@pytest.mark.parametrize(
    ("link", "href"),
    [
        ("otro.md", "https://api.example.com/api/v1/posts/otro"),
        ("./otro.md#seccion", "https://api.example.com/api/v1/posts/otro#seccion"),
        ("/posts/otro.md", "https://api.example.com/api/v1/posts/otro"),
        ("otro", "https://api.example.com/api/v1/posts/otro"),
        ("posts/otro.md", "https://api.example.com/api/v1/posts/otro"),  # from the root, as Hugo
        ("2024/", "https://api.example.com/api/v1/posts/resumen"),
        ("no-existe.md", "no-existe.md"),
    ],
)
def test_render_links_to_post_files_reach_the_post(link: str, href: str) -> None:
    html = render(
        f"[x]({link})\n", "posts", assets=POST_FILES, media_base_url="https://api.example.com/"
    )
    assert f'href="{href}"' in html


def test_render_ref_shortcode_reaches_the_post() -> None:
    body = '[x]({{< ref "otro.md" >}}) y <a href="otro.md">y</a>\n'
    html = render(body, "posts", assets=POST_FILES, media_base_url="https://api.example.com/")
    assert html.count('href="https://api.example.com/api/v1/posts/otro"') == 2


def test_render_escape_mode_writes_embeds_as_links() -> None:
    html = render("{{< youtube w7Ft2ymGmfc >}}\n", raw_html="escape")
    assert re.search(
        r'<a href="https://www.youtube.com/watch\?v=w7Ft2ymGmfc"[^>]*>YouTube video', html
    )
    assert "&lt;div" not in html


@pytest.mark.parametrize("raw_html", ["sanitize", "escape", "allow"])
def test_render_from_tokens_is_mistune_one_pass_output(raw_html: str) -> None:
    """`render_html` renders `parse`'s tokens (shared with the block tree); the result is
    byte for byte what mistune renders in one pass with the same renderer and plugins, from
    the same shortcode-expanded Markdown."""
    options = RenderOptions(raw_html=raw_html, iframe_hosts=YOUTUBE, media_base_url="http://x/")
    bodies = [fixture_body(path.name) for path in sorted(POSTS.glob("*.md")) if _readable(path)]
    bodies += [read(path.read_bytes())[0] for path in sorted((ROOT / "content").rglob("*.md"))]
    shortcodes = sorted((ROOT / "tests" / "fixtures" / "shortcodes").glob("*.md"))
    bodies += [read(path.read_bytes())[0] for path in shortcodes if _readable(path)]
    for body in bodies:
        one_pass = mistune.create_markdown(
            escape=raw_html == "escape",
            renderer=_Renderer("posts", options),
            plugins=list(PLUGINS),
        )
        one_pass.before_render_hooks.append(_assign_heading_ids)
        expanded = expand(body, options.shortcodes, embeds=raw_html != "escape").markdown
        expected = str(one_pass(expanded))
        if raw_html != "allow":
            expected = sanitize(expected, options.iframe_hosts)
        assert render_html(body, "posts", options) == expected


def _readable(path: Path) -> bool:
    try:
        read(path.read_bytes())
    except ReadError:
        return False
    return True
