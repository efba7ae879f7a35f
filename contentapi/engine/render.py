"""Rendering: a Markdown body to HTML that is safe to inject into a page."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import mistune
import nh3
from mistune.core import BlockState
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

from contentapi.engine.analysis import HeadingIds, inline_text
from contentapi.engine.assets import HTML_URL, AssetMap, absolute, resolve

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


class _Renderer(mistune.HTMLRenderer):
    """HTML renderer with heading ids, Pygments highlighting and URL resolution."""

    def __init__(self, directory: str, options: RenderOptions) -> None:
        super().__init__(escape=options.raw_html == "escape")
        self._directory = directory
        self._options = options

    def _url(self, url: str) -> str:
        resolved = resolve(url, self._directory, self._options.assets)
        return absolute(resolved.url, self._options.media_base_url)

    def link(self, text: str, url: str, title: str | None = None) -> str:
        return super().link(text, self._url(url), title)

    def image(self, text: str, url: str, title: str | None = None) -> str:
        return super().image(text, self._url(url), title)

    def _html_urls(self, markup: str) -> str:
        """Raw HTML `<img src>`, `<a href>` and media sources resolve like Markdown URLs."""

        def swap(match: re.Match[str]) -> str:
            quote = match.group(2)
            url = self._url(html.unescape(match.group(3)))
            return f"{match.group(1)}={quote}{mistune.escape(url)}{quote}"

        return HTML_URL.sub(swap, markup)

    def block_html(self, html: str) -> str:
        return super().block_html(self._html_urls(html))

    def inline_html(self, html: str) -> str:
        return super().inline_html(self._html_urls(html))

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


def _iframe_filter(hosts: tuple[str, ...]):
    allowed = {host.lower() for host in hosts}

    def keep(tag: str, attribute: str, value: str) -> str | None:
        if tag == "iframe" and attribute == "src":
            parts = urlsplit(value)
            return value if parts.scheme == "https" and parts.hostname in allowed else None
        return value

    return keep


def sanitize(markup: str, iframe_hosts: tuple[str, ...] = ()) -> str:
    """Keep the allowlisted tags and attributes; no script, event handler or `javascript:`."""
    return nh3.clean(
        markup,
        tags=set(ALLOWED_TAGS),
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_iframe_filter(iframe_hosts),
        url_schemes={"http", "https", "mailto", "tel"},
        tag_attribute_values={"input": {"type": {"checkbox"}}},
        set_tag_attribute_values={"input": {"disabled": "disabled"}},
        filter_style_properties={"text-align"},
    )


def render_html(body: str, directory: str, options: RenderOptions) -> str:
    """A post body as HTML; pure, so it can be cached by its inputs."""
    markdown = mistune.create_markdown(
        escape=options.raw_html == "escape",
        renderer=_Renderer(directory, options),
        plugins=list(PLUGINS),
    )
    markdown.before_render_hooks.append(_assign_heading_ids)
    markup = str(markdown(body))
    if options.raw_html == "allow":
        return markup
    return sanitize(markup, options.iframe_hosts)


def highlight_css(style: str = "default") -> str:
    """Pygments CSS for the classes in rendered code blocks."""
    return HtmlFormatter(style=style).get_style_defs(".highlight")
