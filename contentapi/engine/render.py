"""Rendering: a Markdown body to HTML that is safe to inject into a page."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

import mistune
import nh3
from mistune.core import BlockState
from mistune.plugins import import_plugin
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

from contentapi.engine import bounds
from contentapi.engine.analysis import HeadingIds, inline_text
from contentapi.engine.assets import (
    HTML_URL,
    AssetMap,
    absolute,
    image_data,
    resolve,
    url_scheme,
)
from contentapi.engine.shortcodes import NO_TEMPLATES, Templates, expand

PLUGINS = ("table", "strikethrough", "footnotes", "task_lists", "url")
_FORMATTER = HtmlFormatter(nowrap=True)

ALLOWED_TAGS = frozenset(nh3.ALLOWED_TAGS) | {
    "audio",
    "figcaption",
    "figure",
    "iframe",
    "input",
    "picture",
    "s",
    "section",
    "source",
    "track",
    "video",
}
_MEDIA = {"src", "width", "height", "controls", "preload", "loop", "muted", "poster"}
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    **{tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()},
    "*": {"class", "title", "lang", "dir"},
    **{f"h{level}": {"id"} for level in range(1, 7)},
    "sup": {"id"},
    "pre": {"data-lang"},
    "li": {"id"},
    "a": {"href", "hreflang", "title"},
    "img": {"src", "alt", "title", "width", "height", "loading"},
    "audio": _MEDIA,
    "video": _MEDIA | {"playsinline"},
    "source": {"src", "type", "srcset", "media"},
    "track": {"src", "kind", "srclang", "label", "default"},
    "iframe": {"src", "width", "height", "title", "allow", "allowfullscreen", "loading"},
    "div": {"data-embed-provider", "data-embed-id", "data-embed-url", "data-embed-title"},
    "input": {"checked", "disabled"},
    "th": {"style", "colspan", "rowspan", "scope", "align"},
    "td": {"style", "colspan", "rowspan", "align"},
}


@dataclass(frozen=True)
class RenderOptions:
    """Everything besides the body that the HTML depends on."""

    raw_html: str = "sanitize"
    iframe_hosts: tuple[str, ...] = ()
    assets: AssetMap = field(default_factory=AssetMap)
    media_base_url: str = "/"
    shortcodes: Templates = NO_TEMPLATES


def resolve_url(url: str, directory: str, options: RenderOptions) -> str:
    """A URL written in a post as clients get it: content files under `/media/`, made absolute."""
    resolved = resolve(url, directory, options.assets)
    return absolute(resolved.url, options.media_base_url)


def resolve_html_urls(markup: str, directory: str, options: RenderOptions) -> str:
    """Raw HTML `<img src>`, `<a href>` and media sources resolve like Markdown URLs."""

    def swap(match: re.Match[str]) -> str:
        quote = match.group(2)
        url = resolve_url(html.unescape(match.group(3)), directory, options)
        return f"{match.group(1)}={quote}{mistune.escape(url)}{quote}"

    return HTML_URL.sub(swap, markup)


class _Renderer(mistune.HTMLRenderer):
    """HTML renderer with heading ids, Pygments highlighting and URL resolution."""

    def __init__(self, directory: str, options: RenderOptions) -> None:
        super().__init__(escape=options.raw_html == "escape")
        self._directory = directory
        self._options = options

    def _url(self, url: str) -> str:
        return resolve_url(url, self._directory, self._options)

    def link(self, text: str, url: str, title: str | None = None) -> str:
        return super().link(text, self._url(url), title)

    def image(self, text: str, url: str, title: str | None = None) -> str:
        return super().image(text, self._url(url), title)

    def block_html(self, html: str) -> str:
        return super().block_html(resolve_html_urls(html, self._directory, self._options))

    def inline_html(self, html: str) -> str:
        return super().inline_html(resolve_html_urls(html, self._directory, self._options))

    def heading(self, text: str, level: int, **attrs: Any) -> str:
        anchor = attrs.get("id")
        id_attr = f' id="{anchor}"' if anchor else ""
        return f"<h{level}{id_attr}>{text}</h{level}>\n"

    def block_code(self, code: str, info: str | None = None) -> str:
        language = (info or "").strip().split(None, 1)[0] if info and info.strip() else ""
        try:
            lexer = get_lexer_by_name(language) if language else None
        except ClassNotFound:
            lexer = None
        body = highlight(code, lexer, _FORMATTER) if lexer else mistune.escape(code)
        if not language:
            return f'<pre class="highlight"><code>{body}</code></pre>\n'
        lang = mistune.escape(language)
        return (
            f'<pre class="highlight" data-lang="{lang}">'
            f'<code class="language-{lang}">{body}</code></pre>\n'
        )


def _assign_heading_ids(md: mistune.Markdown, state: BlockState) -> None:
    """The same ids, in the same order, as `analysis.HeadingIds`, so toc and HTML agree."""
    ids = HeadingIds()
    for token in state.tokens:
        if token["type"] == "heading":
            token["attrs"]["id"] = ids.next(inline_text(token.get("text", "")))


_URL_ATTRIBUTES = frozenset({"href", "src", "poster", "cite", "data-embed-url"})
_REFERRER_POLICIES = {"no-referrer", "origin", "strict-origin", "strict-origin-when-cross-origin"}


def _allowed_iframe_hosts(hosts: tuple[str, ...]) -> list[tuple[str, str]]:
    """`host` or `host/path-prefix` entries as (host, path prefix) pairs."""
    allowed = []
    for entry in hosts:
        host, _, path = entry.strip().lower().partition("/")
        if host:
            allowed.append((host, "/" + path if path else ""))
    return allowed


def iframe_src(src: str, hosts: tuple[str, ...]) -> str | None:
    """The iframe URL to keep (upgraded to https), or None when its host is not allowed."""
    src = src.strip()
    if src.startswith("//"):
        src = "https:" + src
    elif src[:7].lower() == "http://":
        src = "https://" + src[7:]
    parts = urlsplit(src)
    if parts.scheme.lower() != "https" or not parts.hostname:
        return None
    host, path = parts.hostname.lower(), parts.path
    for allowed_host, prefix in _allowed_iframe_hosts(hosts):
        if host == allowed_host and path.startswith(prefix):
            return src
    return None


def _attribute_filter(hosts: tuple[str, ...]) -> Callable[[str, str, str], str | None]:
    """Iframes only from allowed hosts; `data:` URLs only for images; embed URLs only http(s)."""

    def keep(tag: str, attribute: str, value: str) -> str | None:
        if attribute not in _URL_ATTRIBUTES:
            return value
        if tag == "iframe" and attribute == "src":
            return iframe_src(value, hosts)
        scheme = url_scheme(value)
        if scheme == "data":
            return value if tag == "img" and attribute == "src" and image_data(value) else None
        if attribute == "data-embed-url" and scheme not in {"http", "https"}:
            return None
        return value

    return keep


_IFRAME = re.compile(r"<iframe\b", re.I)
_IFRAME_END = re.compile(r"</iframe\s*>", re.I)
_TAG_ATTRIBUTE = re.compile(r"""([^\s"'<>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?""")


def iframes_to_links(markup: str, hosts: tuple[str, ...]) -> str:
    """Each iframe from a host that is not allowed becomes a plain link to its page (titled),
    never an empty box; one whose URL is not http(s) goes. Linear: every search moves on."""
    if "<iframe" not in markup.lower():
        return markup
    found: dict[re.Pattern[str], tuple[int, int, int]] = {}  # pattern -> (from, start, end)

    def next_match(pattern: re.Pattern[str], start: int) -> tuple[int, int]:
        known = found.get(pattern)
        if known is None or known[0] > start or -1 < known[1] < start:
            match = pattern.search(markup, start)
            known = (start, *(match.span() if match else (-1, -1)))
            found[pattern] = known
        return known[1], known[2]

    out: list[str] = []
    position = 0
    while True:
        opening, opening_end = next_match(_IFRAME, position)
        if opening < 0:
            break
        tag_end = markup.find(">", opening_end)
        if tag_end < 0:
            break
        attributes = {
            m.group(1).lower(): html.unescape(next((g for g in m.groups()[1:] if g), ""))
            for m in _TAG_ATTRIBUTE.finditer(markup, opening_end, tag_end)
        }
        src = attributes.get("src", "")
        if iframe_src(src, hosts) is not None:
            out.append(markup[position : tag_end + 1])
            position = tag_end + 1
            continue
        closing, closing_end = next_match(_IFRAME_END, tag_end + 1)
        following = next_match(_IFRAME, tag_end + 1)[0]
        own = closing >= 0 and (following < 0 or closing < following)
        out.append(markup[position:opening])
        if url_scheme(src) in {"http", "https"} or src.startswith("//"):
            href = "https:" + src if src.startswith("//") else src
            title = " ".join(attributes.get("title", "").split()) or href
            out.append(f'<a href="{html.escape(href)}">{html.escape(title)}</a>')
        position = closing_end if own else tag_end + 1
    out.append(markup[position:])
    return "".join(out)


def sanitize(markup: str, iframe_hosts: tuple[str, ...] = ()) -> str:
    """Keep the allowlisted tags and attributes; no script, event handler or `javascript:`.

    An iframe from a host not in `iframe_hosts` becomes a link to its page.
    """
    return nh3.clean(
        iframes_to_links(markup, iframe_hosts),
        tags=set(ALLOWED_TAGS),
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_attribute_filter(iframe_hosts),
        url_schemes={"http", "https", "mailto", "tel", "data"},
        tag_attribute_values={
            "input": {"type": {"checkbox"}},
            "iframe": {"referrerpolicy": _REFERRER_POLICIES},
        },
        set_tag_attribute_values={"input": {"disabled": "disabled"}},
        filter_style_properties={"text-align"},
    )


Tokens = list[dict[str, Any]]


def parse(body: str, options: RenderOptions) -> tuple[Tokens, BlockState]:
    """A body as mistune's token tree: the one parse that `render_html` and the block tree
    (`blocks.py`) both start from, with its shortcodes expanded, the same plugins and the same
    heading ids."""
    body = expand(body, options.shortcodes, embeds=options.raw_html != "escape").markdown
    markdown = mistune.Markdown(
        renderer=None,
        inline=bounds.BoundedInlineParser(),
        plugins=[import_plugin(name) for name in PLUGINS],
    )
    markdown.before_render_hooks.append(_assign_heading_ids)
    tokens, state = markdown.parse(body)
    return cast(Tokens, tokens), state


def _with_plugins(renderer: _Renderer) -> _Renderer:
    """The renderer with the plugins' HTML methods (tables, footnotes...) registered on it."""
    mistune.Markdown(renderer=renderer, plugins=[import_plugin(name) for name in PLUGINS])
    return renderer


def render_html(body: str, directory: str, options: RenderOptions) -> str:
    """A post body as HTML; pure, so it can be cached by its inputs."""
    tokens, state = parse(body, options)
    markup = _with_plugins(_Renderer(directory, options))(tokens, state)
    if options.raw_html == "allow":
        return markup
    return sanitize(bounds.cap_html_depth(markup), options.iframe_hosts)


def highlight_css(style: str = "default") -> str:
    """Pygments CSS for the classes in rendered code blocks."""
    formatter = HtmlFormatter(style=style)
    # types-Pygments leaves get_style_defs unannotated; it returns the CSS text.
    css: str = formatter.get_style_defs(".highlight")  # type: ignore[no-untyped-call]
    return css
