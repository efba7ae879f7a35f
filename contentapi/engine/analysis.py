"""Analysis: what summaries, search and the toc need from a body, without rendering HTML.

A line-based skim of the Markdown, about thirty times cheaper than a full render, so every post
can be analysed at startup while HTML is rendered only when a post is asked for.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from contentapi.engine.model import Analysis, Heading, Image, Section, TocEntry
from contentapi.engine.slugs import slugify

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_RULE = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_LIST = re.compile(r"^[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+(?:\[[ xX]\][ \t]+)?")
_QUOTE = re.compile(r"^[ \t]*(?:>[ \t]?)+")
_TABLE_RULE = re.compile(r"^[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)+\|?[ \t]*$")
_LINK_DEF = re.compile(r"^ {0,3}\[(?!\^)[^\]]+\]:[ \t]*\S+.*$")
_FOOTNOTE_DEF = re.compile(r"^\[\^[^\]]+\]:[ \t]*")
_DROP_BLOCKS = re.compile(r"<(script|style)\b.*?</\1\s*>|<!--.*?-->", re.S | re.I)

_IMAGE = re.compile(r"!\[([^\]]*)\]\(\s*<?([^)\s>]*)>?(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)")
_HTML_IMAGE = re.compile(r"<img\b[^>]*>", re.I)
_ATTR = re.compile(r"""\b(src|alt)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.I)
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_REF_LINK = re.compile(r"\[([^\]^][^\]]*)\]\[[^\]]*\]")
_FOOTNOTE_REF = re.compile(r"\[\^[^\]]+\]")
_AUTOLINK = re.compile(r"<((?:https?|mailto|ftp):[^>\s]+)>")
_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_CODE = re.compile(r"(`+)(.+?)\1")
_STARS = re.compile(r"(\*{1,3}|~~)(?=\S)(.+?)(?<=\S)\1")
_UNDERSCORES = re.compile(r"(?<!\w)(_{1,3})(?=\S)(.+?)(?<=\S)\1(?!\w)")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|~<>])")
_SPACES = re.compile(r"\s+")
_NOT_A_WORD = re.compile(r"(?<!\S)[^\w\s]+(?!\S)")  # a lone "-", "—" or "|" is no word


@dataclass(frozen=True)
class _Block:
    kind: str  # "para", "heading", "code", "item"
    text: str
    level: int = 0


_INLINE_RULES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("![", _IMAGE, ""),
    ("<img", _HTML_IMAGE, ""),
    ("](", _LINK, r"\1"),
    ("][", _REF_LINK, r"\1"),
    ("[^", _FOOTNOTE_REF, ""),
    ("<", _AUTOLINK, r"\1"),
    ("<", _TAG, ""),
    ("*", _STARS, r"\2"),
    ("~~", _STARS, r"\2"),
    ("_", _UNDERSCORES, r"\2"),
)
# Characters inside code spans and after a backslash are literal: they are swapped for
# private-use code points while the markup rules run, then swapped back.
_MARKUP = "\\`*_{}[]()#+-.!|~<>"
_HIDE = str.maketrans({c: chr(0xE000 + i) for i, c in enumerate(_MARKUP)})
_SHOW = str.maketrans({chr(0xE000 + i): c for i, c in enumerate(_MARKUP)})


def inline_text(markdown: str) -> str:
    """Markdown inline markup reduced to the words a reader sees."""
    text = markdown
    hidden = False
    if "`" in text:
        text, count = _CODE.subn(lambda m: m.group(2).strip().translate(_HIDE), text)
        hidden = bool(count)
    if "\\" in text:
        text, count = _ESCAPE.subn(lambda m: m.group(1).translate(_HIDE), text)
        hidden = hidden or bool(count)
    for trigger, pattern, replacement in _INLINE_RULES:
        if trigger in text:
            text = pattern.sub(replacement, text)
    if hidden:
        text = text.translate(_SHOW)
    if "&" in text:
        text = html.unescape(text)
    return " ".join(text.split())


def heading_id(text: str) -> str:
    """The anchor of a heading: its transliterated slug (`Introducción` -> `introduccion`)."""
    return slugify(text) or "section"


class HeadingIds:
    """Hands out unique heading ids in document order: `x`, then `x-1`, `x-2`."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}
        self._used: set[str] = set()

    def next(self, text: str) -> str:
        base = heading_id(text)
        candidate = base
        while candidate in self._used:
            count = self._seen.get(base, 0) + 1
            self._seen[base] = count
            candidate = f"{base}-{count}"
        self._used.add(candidate)
        return candidate


def _blocks(body: str) -> Iterator[_Block]:
    """Markdown blocks as (kind, raw inline text), skipping code fence contents' markup."""
    lines = _DROP_BLOCKS.sub("", body).split("\n")
    paragraph: list[str] = []
    fence: str | None = None
    code: list[str] = []
    plain = True  # the open paragraph is neither a list item nor a quote
    for line in lines:
        if fence is not None:
            if line.strip().startswith(fence) and not line.strip().strip(fence[0]):
                yield _Block("code", "\n".join(code))
                fence, code = None, []
            else:
                code.append(line)
            continue
        opening = _FENCE.match(line)
        if opening:
            yield from _flush(paragraph)
            fence = opening.group(1)
            continue
        stripped = line.lstrip()
        if not stripped:
            yield from _flush(paragraph)
            continue
        first = stripped[0]  # each rule below needs its own first character; most lines skip all
        atx = _ATX.match(line) if first == "#" else None
        if atx:
            yield from _flush(paragraph)
            yield _Block("heading", atx.group(2) or "", len(atx.group(1)))
            continue
        setext = _SETEXT.match(line) if first in "=-" else None
        if setext and paragraph and plain:
            text = " ".join(paragraph)
            paragraph.clear()
            yield _Block("heading", text, 1 if setext.group(1)[0] == "=" else 2)
            continue
        if (
            (first in "-*_" and _RULE.match(line))
            or (first in "|:-" and _TABLE_RULE.match(line))
            or (first == "[" and _LINK_DEF.match(line))
        ):
            continue
        quoted = _QUOTE.match(line) if first == ">" else None
        if quoted:
            line = line[quoted.end() :]
        item = _LIST.match(line) if quoted or first in "-*+0123456789" else None
        if item:
            yield from _flush(paragraph)
            paragraph.append("\x00" + line[item.end() :])
            plain = False
            continue
        if not paragraph:
            plain = not quoted
        if first == "[":
            line = _FOOTNOTE_DEF.sub("", line)
        if "|" in line and line.strip().startswith("|"):
            line = " ".join(cell.strip() for cell in line.strip().strip("|").split("|"))
        paragraph.append(line.strip())
    if fence is not None and code:
        yield _Block("code", "\n".join(code))
    yield from _flush(paragraph)


def _flush(paragraph: list[str]) -> Iterator[_Block]:
    if paragraph:
        kind = "item" if paragraph[0].startswith("\x00") else "para"
        yield _Block(kind, " ".join(line.lstrip("\x00") for line in paragraph))
        paragraph.clear()


def _images(body: str) -> tuple[Image, ...]:
    """Every image in document order, Markdown or HTML, with its URL as written."""
    found = [(m.start(), m.group(2), m.group(1)) for m in _IMAGE.finditer(body)]
    for match in _HTML_IMAGE.finditer(body):
        attrs = {
            a.group(1).lower(): a.group(2) or a.group(3) or a.group(4)
            for a in _ATTR.finditer(match.group(0))
        }
        if attrs.get("src"):
            found.append((match.start(), html.unescape(attrs["src"]), attrs.get("alt", "")))
    return tuple(Image(url, inline_text(alt)) for _, url, alt in sorted(found))


def build_toc(headings: Iterable[Heading]) -> tuple[TocEntry, ...]:
    """Nest flat headings by level: each heading holds the deeper ones that follow it."""
    root: list[tuple[Heading, list]] = []
    stack: list[tuple[Heading, list]] = []
    for heading in headings:
        node: tuple[Heading, list] = (heading, [])
        while stack and stack[-1][0].level >= heading.level:
            stack.pop()
        (stack[-1][1] if stack else root).append(node)
        stack.append(node)

    def freeze(nodes: list[tuple[Heading, list]]) -> tuple[TocEntry, ...]:
        return tuple(TocEntry(h.id, h.text, h.level, freeze(children)) for h, children in nodes)

    return freeze(root)


def excerpt(text: str, length: int) -> str:
    """Text cut at a word boundary to at most `length` characters, with `…` when cut."""
    if len(text) <= length:
        return text
    room = text[:length]  # the cut text plus "…" stays within `length`
    cut = room.rsplit(" ", 1)[0] if " " in room else room[: length - 1]
    return cut.rstrip(" ,;:.-–—") + "…"


def strip_title_heading(body: str, title: str) -> str:
    """The body without a first-line H1 that repeats the title (frontends show `title`)."""
    stripped = body.lstrip("\n")
    first, _, rest = stripped.partition("\n")
    match = _ATX.match(first)
    if match and len(match.group(1)) == 1 and _same_text(match.group(2) or "", title):
        return rest
    second, _, after = rest.partition("\n")
    if _SETEXT.match(second) and second.strip()[0] == "=" and _same_text(first, title):
        return after
    return body


def _same_text(markdown: str, title: str) -> bool:
    return inline_text(markdown).casefold() == _SPACES.sub(" ", title).strip().casefold()


def analyse(
    body: str,
    *,
    words_per_minute: int = 200,
    excerpt_length: int = 200,
) -> Analysis:
    """Plain text, excerpt, counts, headings, sections, toc and images (URLs as written)."""
    ids = HeadingIds()
    headings: list[Heading] = []
    sections: list[Section] = []
    current = Section("", "", "")
    texts: list[str] = []
    section_texts: list[str] = []
    first_paragraph = ""
    for block in _blocks(body):
        text = block.text if block.kind == "code" else inline_text(block.text)
        if block.kind == "heading":
            heading = Heading(ids.next(text), text, block.level)
            headings.append(heading)
            if section_texts or current.id:
                sections.append(Section(current.id, current.heading, "\n\n".join(section_texts)))
            current, section_texts = Section(heading.id, text, ""), []
            texts.append(text)
            continue
        if not text:
            continue
        if block.kind == "para" and not first_paragraph:
            first_paragraph = text
        texts.append(text)
        section_texts.append(text)
    if section_texts or current.id:
        sections.append(Section(current.id, current.heading, "\n\n".join(section_texts)))
    plaintext = "\n\n".join(texts)
    words = len(plaintext.split()) - len(_NOT_A_WORD.findall(plaintext))
    return Analysis(
        plaintext=plaintext,
        excerpt=excerpt(first_paragraph, excerpt_length),
        word_count=words,
        reading_time=math.ceil(words / words_per_minute) if words else 0,
        toc=build_toc(headings),
        headings=tuple(headings),
        sections=tuple(sections),
        images=_images(_DROP_BLOCKS.sub("", body)),
    )
