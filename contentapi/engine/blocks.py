"""The block tree: a post body as typed JSON nodes, for apps that render content themselves.

It is built from the same mistune parse as the post's HTML (`render.parse`), so the two never
disagree: same headings and ids, same resolved URLs, same raw-HTML policy. Every string in it
is plain text, never HTML, except the `html` field of an `html` node (a sanitized fragment,
for what has no node type). The node types and their fields are specified in openapi.yaml
(`Block`); `BLOCKS_VERSION` goes up only when a change would break a client, and clients
ignore node types and marks they do not know (adding one is not a breaking change).
"""

from __future__ import annotations

import html
import re
from functools import lru_cache
from html.parser import HTMLParser
from typing import Any, Final
from urllib.parse import unquote, urlsplit

from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.token import STANDARD_TYPES, _TokenType
from pygments.util import ClassNotFound

from contentapi.engine.assets import MEDIA_PREFIX, absolute, content_path, resolve
from contentapi.engine.render import (
    RenderOptions,
    Tokens,
    iframe_src,
    parse,
    resolve_html_urls,
    sanitize,
)

BLOCKS_VERSION: Final = 1

Node = dict[str, Any]

# Marks a text node can carry, in the order they are listed on it.
MARKS: Final = (
    "strong",
    "emphasis",
    "strikethrough",
    "code",
    "link",
    "superscript",
    "subscript",
    "underline",
    "highlight",
)
_MARK_ORDER = {mark: position for position, mark in enumerate(MARKS)}
_TOKEN_MARKS = {"strong": "strong", "emphasis": "emphasis", "strikethrough": "strikethrough"}
# Inline raw HTML tags that mean a mark; other tags are dropped and their text kept.
_TAG_MARKS = {
    "b": "strong",
    "strong": "strong",
    "i": "emphasis",
    "em": "emphasis",
    "cite": "emphasis",
    "s": "strikethrough",
    "del": "strikethrough",
    "strike": "strikethrough",
    "code": "code",
    "kbd": "code",
    "samp": "code",
    "tt": "code",
    "sup": "superscript",
    "sub": "subscript",
    "u": "underline",
    "ins": "underline",
    "mark": "highlight",
}
_HIDDEN_TAGS = frozenset({"script", "style", "template", "textarea", "title"})
_SAFE_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
_IMAGE_SCHEMES = frozenset({"http", "https"})
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_CONTROL = re.compile(r"[\x00-\x20\x7f]+")
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>", re.S)
_ATTRIBUTE = re.compile(r"""([^\s=/>"']+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?""")
# Players whose iframes become `embed` nodes with an id: provider, hosts, the path pattern
# (its last group is the id) and the media's public page built from the groups.
_IFRAME_PROVIDERS: Final = (
    (
        "youtube",
        frozenset(
            {"youtube.com", "www.youtube.com", "youtube-nocookie.com", "www.youtube-nocookie.com"}
        ),
        re.compile(r"^/embed/([\w-]+)"),
        "https://www.youtube.com/watch?v={0}",
    ),
    (
        "vimeo",
        frozenset({"player.vimeo.com"}),
        re.compile(r"^/video/(\d+)"),
        "https://vimeo.com/{0}",
    ),
    (
        "spotify",
        frozenset({"open.spotify.com"}),
        re.compile(r"^/embed/(track|album|playlist|episode|show|artist)/(\w+)"),
        "https://open.spotify.com/{0}/{1}",
    ),
    (
        "codepen",
        frozenset({"codepen.io"}),
        re.compile(r"^/([\w-]+)/embed/(?:preview/)?(\w+)"),
        "https://codepen.io/{0}/pen/{1}",
    ),
)


def render_blocks(body: str, directory: str, options: RenderOptions) -> list[Node]:
    """A post body as a list of block nodes; pure, so it can be cached by its inputs.

    The result is shared by every request that asks for it: treat it as read-only.
    """
    tokens, _ = parse(body, options)
    return _Builder(directory, options).blocks(tokens)


class _Builder:
    """Turns mistune tokens into nodes, resolving URLs as `render_html` does."""

    def __init__(self, directory: str, options: RenderOptions) -> None:
        self.directory = directory
        self.options = options

    # --- blocks ------------------------------------------------------------------------------

    def blocks(self, tokens: Tokens) -> list[Node]:
        nodes: list[Node] = []
        for token in tokens:
            kind = token["type"]
            if kind in {"paragraph", "block_text"}:
                nodes += self.paragraph(token.get("children", []))
            elif kind == "heading":
                nodes.append(
                    {
                        "type": "heading",
                        "level": token["attrs"]["level"],
                        "id": token["attrs"].get("id"),
                        "children": self.inline(token.get("children", [])),
                    }
                )
            elif kind == "block_quote":
                nodes.append({"type": "quote", "children": self.blocks(token["children"])})
            elif kind == "list":
                nodes.append(self.list_block(token))
            elif kind == "block_code":
                nodes.append(code_node(token["raw"], (token.get("attrs") or {}).get("info")))
            elif kind == "thematic_break":
                nodes.append({"type": "rule"})
            elif kind == "block_html":
                nodes += self.html_block(token["raw"])
            elif kind == "table":
                nodes.append(self.table(token))
            elif kind == "footnotes":
                items = [
                    {"index": item["attrs"]["index"], "children": self.blocks(item["children"])}
                    for item in token["children"]
                ]
                nodes.append({"type": "footnotes", "items": items})
            elif "children" in token:  # a container this module does not know: keep its content
                nodes += self.blocks(token["children"])
        return nodes

    def list_block(self, token: dict[str, Any]) -> Node:
        attrs = token.get("attrs") or {}
        ordered = bool(attrs.get("ordered"))
        items = []
        for item in token.get("children", []):
            checked = (item.get("attrs") or {}).get("checked")
            task = item["type"] == "task_list_item"
            items.append(
                {
                    "checked": bool(checked) if task else None,
                    "children": self.blocks(item.get("children", [])),
                }
            )
        return {
            "type": "list",
            "ordered": ordered,
            "start": attrs.get("start", 1) if ordered else None,
            "tight": bool(token.get("tight", True)),
            "items": items,
        }

    def table(self, token: dict[str, Any]) -> Node:
        header: list[list[Node]] = []
        align: list[str | None] = []
        rows: list[list[list[Node]]] = []
        for part in token.get("children", []):
            if part["type"] == "table_head":
                for cell in part.get("children", []):
                    header.append(self.inline(cell.get("children", [])))
                    align.append((cell.get("attrs") or {}).get("align"))
            elif part["type"] == "table_body":
                rows += [
                    [self.inline(cell.get("children", [])) for cell in row.get("children", [])]
                    for row in part.get("children", [])
                ]
        return {"type": "table", "align": align, "header": header, "rows": rows}

    def paragraph(self, children: Tokens) -> list[Node]:
        """A paragraph; an image alone on its line becomes an `image` block of its own, so
        `![cover](a.png)` followed by text on the next line is an image, then a paragraph."""
        nodes: list[Node] = []
        pending: Tokens = []
        for line, end in _lines(children):
            image = self.lone_image(line)
            if image is None:
                pending += line + ([end] if end else [])
                continue
            nodes += self.inline_paragraph(pending)
            nodes.append(image)
            pending = []
        return nodes + self.inline_paragraph(pending)

    def inline_paragraph(self, tokens: Tokens) -> list[Node]:
        while tokens and tokens[-1]["type"] in {"softbreak", "linebreak"}:
            tokens = tokens[:-1]
        children = self.inline(tokens)
        if not any(child["type"] != "text" or child["text"].strip() for child in children):
            return []
        return [{"type": "paragraph", "children": children}]

    def lone_image(self, line: Tokens) -> Node | None:
        visible = [t for t in line if not (t["type"] == "text" and not t.get("raw", "").strip())]
        if len(visible) != 1:
            return None
        token = visible[0]
        if token["type"] == "image":
            return self.image(token, None)
        if token["type"] == "link":
            inner = [t for t in token.get("children", []) if t["type"] != "softbreak"]
            if len(inner) == 1 and inner[0]["type"] == "image":
                return self.image(inner[0], self.link_target(token))
        return None

    def html_block(self, raw: str) -> list[Node]:
        if self.options.raw_html == "escape":  # shown as text, as the HTML shows it
            text = raw.strip()
            return [_paragraph_of(text)] if text else []
        markup = resolve_html_urls(raw, self.directory, self.options)
        outline = _Outline.of(markup)
        embed = self.embed(outline)
        if embed is not None:
            return [embed]
        if len(outline.images) == 1 and not (outline.iframes or outline.others or outline.text):
            # `<img>` alone, or in a `<figure>` with a `<figcaption>` of plain text: an image.
            # Its URL was resolved above, relative to the post as written.
            attrs = outline.images[0]
            image = self.image_node(
                attrs.get("src", ""), attrs.get("alt", ""), attrs.get("title"), None, resolved=True
            )
            if image is not None and outline.caption:
                image["caption"] = " ".join(" ".join(outline.caption).split())
            return [image] if image is not None else []
        if self.options.raw_html != "allow":
            markup = sanitize(markup, self.options.iframe_hosts)
        markup = markup.strip()
        shown = _Outline.of(markup)
        if not (shown.text or shown.media):
            return []
        if shown.inline_only:  # e.g. an iframe from another host, now a link: a paragraph
            return self.inline_paragraph(_inline_tokens(markup))
        return [{"type": "html", "html": markup}]

    def embed(self, outline: _Outline) -> Node | None:
        """The shortcodes' embed `<div>` (CONTRACT-embeds.md), or an iframe from an allowed
        host with nothing else to show around it."""
        if outline.first is None:
            return None
        tag, attrs = outline.first
        iframe_src = next(
            (src for src in (self.iframe_src(frame) for frame in outline.iframes) if src), None
        )
        if tag == "div" and attrs.get("data-embed-provider"):
            url = attrs.get("data-embed-url") or ""
            return {
                "type": "embed",
                "provider": attrs["data-embed-provider"],
                "id": attrs.get("data-embed-id") or None,
                "url": url if _web_url(url) else None,
                "title": attrs.get("data-embed-title") or None,
                "src": iframe_src,
            }
        if len(outline.iframes) != 1 or outline.text or outline.others or iframe_src is None:
            return None
        frame = outline.iframes[0]
        provider, ident, url = _provider(iframe_src)
        return {
            "type": "embed",
            "provider": provider,
            "id": ident,
            "url": url,
            "title": frame.get("title") or None,
            "src": iframe_src,
        }

    def iframe_src(self, attrs: dict[str, str]) -> str | None:
        """The player's URL as the HTML keeps it (https), if its host is allowed."""
        src = attrs.get("src") or ""
        if self.options.raw_html == "allow":
            return src if urlsplit(src).scheme == "https" else None
        return iframe_src(src, self.options.iframe_hosts)

    # --- inline ------------------------------------------------------------------------------

    def inline(self, tokens: Tokens) -> list[Node]:
        out: list[Node] = []
        self._inline(tokens, (), None, out)
        return out

    def _inline(
        self, tokens: Tokens, marks: tuple[str, ...], link: Node | None, out: list[Node]
    ) -> None:
        opened: list[tuple[str, str | None, Node | None]] = []  # raw HTML tags open here
        for token in tokens:
            kind = token["type"]
            now_marks, now_link = marks, link
            if opened:
                now_marks = marks + tuple(mark for _, mark, _ in opened if mark)
                now_link = next((ln for _, _, ln in reversed(opened) if ln), link)
                if any(tag in _HIDDEN_TAGS for tag, _, _ in opened) and kind != "inline_html":
                    continue
            if kind == "text":
                _text(out, html.unescape(token["raw"]), now_marks, now_link)
            elif kind in _TOKEN_MARKS:
                self._inline(token["children"], (*now_marks, _TOKEN_MARKS[kind]), now_link, out)
            elif kind == "codespan":
                _text(out, token["raw"], (*now_marks, "code"), now_link)
            elif kind == "link":
                target = self.link_target(token)
                inner = (*now_marks, "link") if target else now_marks
                self._inline(token.get("children", []), inner, target or now_link, out)
            elif kind == "image":
                node = self.image(token, now_link)
                if node is not None:
                    out.append(node)
            elif kind == "softbreak":
                _text(out, " ", now_marks, now_link)
            elif kind == "linebreak":
                out.append({"type": "break"})
            elif kind == "footnote_ref":
                out.append({"type": "footnote_ref", "index": token["attrs"]["index"]})
            elif kind == "inline_html":
                if self.options.raw_html == "escape":
                    _text(out, token["raw"], now_marks, now_link)
                else:
                    self._inline_html(token["raw"], opened, now_marks, now_link, out)
            elif "children" in token:
                self._inline(token["children"], now_marks, now_link, out)
            elif "raw" in token:
                _text(out, html.unescape(token["raw"]), now_marks, now_link)

    def _inline_html(
        self,
        raw: str,
        opened: list[tuple[str, str | None, Node | None]],
        marks: tuple[str, ...],
        link: Node | None,
        out: list[Node],
    ) -> None:
        """One raw HTML tag among the text: a mark opens or closes, `<br>` breaks, `<img>` is
        an image; anything else (and comments) is dropped, keeping the text around it."""
        match = _TAG.fullmatch(raw.strip())
        if match is None:
            return
        closing, tag, rest = match.group(1), match.group(2).lower(), match.group(3)
        if closing:
            for position in range(len(opened) - 1, -1, -1):
                if opened[position][0] == tag:
                    del opened[position]
                    break
            return
        attrs = _attributes(rest)
        if tag == "br":
            out.append({"type": "break"})
        elif tag == "img":
            node = self.image_node(
                attrs.get("src", ""), attrs.get("alt", ""), attrs.get("title"), link
            )
            if node is not None:
                out.append(node)
        elif rest.rstrip().endswith("/"):
            return
        elif tag == "a":
            href = self.href(attrs.get("href", "")) if "href" in attrs else None
            target = {"href": href, "title": attrs.get("title") or None} if href else None
            opened.append((tag, "link" if target else None, target))
        elif tag in _TAG_MARKS or tag in _HIDDEN_TAGS:
            opened.append((tag, _TAG_MARKS.get(tag), None))

    def link_target(self, token: dict[str, Any]) -> Node | None:
        attrs = token.get("attrs") or {}
        href = self.href(attrs.get("url", ""))
        if href is None:
            return None
        title = attrs.get("title")
        return {"href": href, "title": html.unescape(title) if title else None}

    def href(self, url: str) -> str | None:
        """A link target as the HTML has it, or None for a scheme the sanitizer removes."""
        if not _safe(url):
            return None
        resolved = resolve(url, self.directory, self.options.assets)
        return absolute(resolved.url, self.options.media_base_url)

    def image(self, token: dict[str, Any], link: Node | None) -> Node | None:
        attrs = token.get("attrs") or {}
        title = attrs.get("title")
        return self.image_node(
            attrs.get("url", ""),
            plain(token.get("children", [])),
            html.unescape(title) if title else None,
            link,
        )

    def image_node(
        self, url: str, alt: str, title: str | None, link: Node | None, resolved: bool = False
    ) -> Node | None:
        """An `image` node; `resolved` for a URL that `resolve_html_urls` made absolute."""
        if not url or not _safe(url, _IMAGE_SCHEMES):
            return None
        assets = self.options.assets
        if resolved:
            path = _media_path(url, self.options.media_base_url)
            src, facts = url, assets.images.facts(path)
        else:
            found = resolve(url, self.directory, assets)
            src = absolute(found.url, self.options.media_base_url)
            facts = assets.images.facts(content_path(url, self.directory)) if found.local else None
        node: Node = {
            "type": "image",
            "src": src,
            "alt": alt,
            "title": title or None,
            "width": facts.width if facts else None,
            "height": facts.height if facts else None,
            "placeholder": facts.placeholder if facts else None,
        }
        if link is not None:
            node["link"] = link
        return node


def code_node(raw: str, info: str | None) -> Node:
    """A code block: language, text, and the text cut into Pygments token spans."""
    language = info.strip().split(None, 1)[0] if info and info.strip() else None
    text = raw[:-1] if raw.endswith("\n") else raw
    lexer = _lexer(language) if language else None
    return {
        "type": "code",
        "language": language,
        "text": text,
        "spans": _spans(text, lexer) if lexer is not None else [],
    }


@lru_cache(maxsize=256)
def _lexer(language: str) -> Lexer | None:
    """One lexer per language, kept: finding one by name costs more than lexing a block."""
    try:
        return get_lexer_by_name(language, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return None


@lru_cache(maxsize=1024)
def _token_names(token: _TokenType) -> tuple[str, str]:
    """("Keyword.Namespace", "kn"): the token's full name and its class in highlight.css."""
    name = ".".join(token) or "Text"
    while token not in STANDARD_TYPES and token.parent is not None:
        token = token.parent
    return name, STANDARD_TYPES.get(token, "")


def _spans(text: str, lexer: Lexer) -> list[Node]:
    spans: list[Node] = []
    last: _TokenType | None = None
    for token, value in lexer.get_tokens(text):
        if not value:
            continue
        if token is last:
            spans[-1]["text"] += value
            continue
        name, css = _token_names(token)
        spans.append({"text": value, "token": name, "class": css})
        last = token
    return spans


def plain(tokens: Tokens) -> str:
    """The text of inline tokens, without any markup (an image's alt text)."""
    parts: list[str] = []
    for token in tokens:
        kind = token["type"]
        if kind in {"softbreak", "linebreak"}:
            parts.append(" ")
        elif kind == "codespan":
            parts.append(token["raw"])
        elif kind == "inline_html":
            continue
        elif "children" in token:
            parts.append(plain(token["children"]))
        elif "raw" in token:
            parts.append(html.unescape(token["raw"]))
    return "".join(parts)


def _text(out: list[Node], text: str, marks: tuple[str, ...], link: Node | None) -> None:
    """Append text, merged into the previous text node when its marks and link are the same."""
    if not text:
        return
    ordered = sorted(set(marks), key=_MARK_ORDER.__getitem__)
    last = out[-1] if out else None
    if (
        last is not None
        and last["type"] == "text"
        and last["marks"] == ordered
        and last.get("link") == link
    ):
        last["text"] += text
        return
    node: Node = {"type": "text", "text": text, "marks": ordered}
    if link is not None:
        node["link"] = link
    out.append(node)


def _inline_tokens(markup: str) -> Tokens:
    """An HTML fragment of inline tags as mistune's inline tokens (tags as raw inline HTML)."""
    tokens: Tokens = []
    at = 0
    for match in _TAG.finditer(markup):
        if match.start() > at:
            tokens.append({"type": "text", "raw": markup[at : match.start()]})
        tokens.append({"type": "inline_html", "raw": match.group(0)})
        at = match.end()
    if at < len(markup):
        tokens.append({"type": "text", "raw": markup[at:]})
    return tokens


def _paragraph_of(text: str) -> Node:
    return {"type": "paragraph", "children": [{"type": "text", "text": text, "marks": []}]}


def _lines(children: Tokens) -> list[tuple[Tokens, dict[str, Any] | None]]:
    """Inline tokens cut at their top-level line breaks: (tokens of a line, the break after)."""
    lines: list[tuple[Tokens, dict[str, Any] | None]] = []
    line: Tokens = []
    for token in children:
        if token["type"] in {"softbreak", "linebreak"}:
            lines.append((line, token))
            line = []
        else:
            line.append(token)
    lines.append((line, None))
    return lines


def _safe(url: str, schemes: frozenset[str] = _SAFE_SCHEMES) -> bool:
    """Whether a URL's scheme is one the sanitizer keeps (relative URLs have none)."""
    match = _SCHEME.match(_CONTROL.sub("", html.unescape(url)))
    return match is None or match.group(1).lower() in schemes


def _media_path(url: str, media_base_url: str) -> str | None:
    """The content path of a resolved `/media/...` URL (for an image in raw HTML)."""
    prefix = absolute(MEDIA_PREFIX, media_base_url)
    if not url.startswith(prefix):
        return None
    return unquote(urlsplit(url[len(prefix) :]).path)


def _web_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in {"http", "https"} and bool(parts.netloc)


def _attributes(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for match in _ATTRIBUTE.finditer(text):
        name = match.group(1).lower()
        value = next((v for v in match.group(2, 3, 4) if v is not None), "")
        found.setdefault(name, html.unescape(value))
    return found


def _provider(src: str) -> tuple[str, str | None, str]:
    """(provider, id, canonical URL) of an embedded player's address."""
    parts = urlsplit(src)
    host = (parts.hostname or "").lower()
    for name, hosts, pattern, canonical in _IFRAME_PROVIDERS:
        if host in hosts:
            match = pattern.match(parts.path)
            if match:
                return name, match.groups()[-1], canonical.format(*match.groups())
            return name, None, src
    labels = host.split(".")
    return (labels[-2] if len(labels) >= 2 else host), None, src


class _Outline(HTMLParser):
    """The first element of an HTML fragment, its iframes, and whether anything else shows."""

    WRAPPERS = frozenset({"div", "p", "figure", "span", "center", "iframe", "img", "figcaption"})
    # Tags the inline nodes can say: a fragment of only these is a paragraph, not `html`.
    INLINE = frozenset({*_TAG_MARKS, "a", "br", "span", "abbr", "small", "time"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.first: tuple[str, dict[str, str]] | None = None
        self.iframes: list[dict[str, str]] = []
        self.images: list[dict[str, str]] = []
        self.others = False  # an element other than wrappers, images and iframes
        self.media = False  # an element with a source: something shows even without text
        self.text = False  # text outside a figure's caption
        self.caption: list[str] = []  # the text of a `<figcaption>`
        self._in_caption = 0
        self.inline_only = True  # no tag but those of INLINE

    @classmethod
    def of(cls, markup: str) -> _Outline:
        outline = cls()
        outline.feed(markup)
        outline.close()
        return outline

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if self.first is None:
            self.first = (tag, values)
        self.inline_only = self.inline_only and tag in self.INLINE
        if tag == "iframe":
            self.iframes.append(values)
        elif tag == "img":
            self.images.append(values)
        elif tag not in self.WRAPPERS:
            self.others = True
        self.media = self.media or bool(values.get("src") or values.get("srcset"))
        if tag == "figcaption":
            self._in_caption += 1
        elif self._in_caption:
            self.others = True  # markup in a caption: kept as HTML

    def handle_endtag(self, tag: str) -> None:
        if tag == "figcaption" and self._in_caption:
            self._in_caption -= 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        if self._in_caption:
            self.caption.append(data)
        elif data.strip():
            self.text = True
