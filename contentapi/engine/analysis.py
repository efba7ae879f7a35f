"""Analysis: what summaries, search and the toc need from a body, without rendering HTML.

A line-based skim of the Markdown, about thirty times cheaper than a full render, so every post
can be analysed at startup while HTML is rendered only when a post is asked for.

Every pass is linear in the length of the body: a post is content anyone with push access can
write, and one pattern that backtracks over a long line would stall a worker. So no pattern
here can scan past the next occurrence of its own opening character (link text stops at the
next `[`, a URL at the next `(`, a tag at the next `<`), quantifiers that could give characters
back are possessive (`*+`), and what needs pairing (code spans, emphasis, `<script>` blocks) is
paired by a scan with a stack instead of a lazy `.*?` that searches to the end for each opener.
"""

from __future__ import annotations

import html
import math
import re
from bisect import bisect_right
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from contentapi.engine.model import Analysis, Heading, Image, Section, TocEntry
from contentapi.engine.slugs import slugify

# Block level: each pattern is matched at the start of one line.
_FENCE = re.compile(r" {0,3}(`{3,}+|~{3,}+)")
_ATX = re.compile(r" {0,3}(#{1,6})(?=[ \t]|$)")
_SETEXT = re.compile(r" {0,3}(=++|-++)[ \t]*+$")
_RULE = re.compile(r" {0,3}([-*_])(?:[ \t]*+\1){2,}+[ \t]*+$")
_LIST = re.compile(r"[ \t]*+(?:[-*+]|\d{1,9}[.)])[ \t]++(?:\[[ xX]\][ \t]++)?")
_QUOTE = re.compile(r"[ \t]*+(?:>[ \t]?)++")
_TABLE_RULE = re.compile(r"\|?[ \t]*+:?-++:?[ \t]*+(?:\|[ \t]*+:?-++:?[ \t]*+)++\|?$")
_LINK_DEF = re.compile(r" {0,3}\[(?!\^)[^\]]++\]:[ \t]*+\S")
_FOOTNOTE_DEF = re.compile(r"\[\^[^\]]++\]:[ \t]*+")

# What a reader never sees: scripts, styles and comments. As an HTML block (at the start of a
# line) one runs to its end tag or the end of the body; inside a line it needs its end there.
_HIDDEN_BLOCK = re.compile(r" {0,3}(?:<(script|style)(?=[\s>]|$)|<!--)", re.I)
_HIDDEN_OPEN = re.compile(r"<(script|style)\b|<!--", re.I)
_HIDDEN_CLOSE = {
    "script": re.compile(r"</script\s*+>", re.I),
    "style": re.compile(r"</style\s*+>", re.I),
    "--": re.compile(r"-->"),
}
_MORE = re.compile(r"<!--\s*+more\s*+-->", re.I)
MORE = "\x02"  # stands for `<!--more-->` once the comment is gone

# Inline: bracketed text allows one level of nested brackets, a URL one level of parentheses.
_TEXT = r"((?:[^\[\]\n]|\[[^\[\]\n]*+\])*+)"
_URL = r"((?:[^()<>\s]|\([^()<>\s]*+\))*+)"
_TITLE = r"""(?:\s++(?:"[^"\n]*+"|'[^'\n]*+'|\([^()\n]*+\)))?"""
_IMAGE = re.compile(r"!\[" + _TEXT + r"\]\(\s*+<?" + _URL + r">?" + _TITLE + r"\s*+\)")
_LINK = re.compile(r"\[" + _TEXT + r"\]\((?:[^()\n]|\([^()\n]*+\))*+\)")
_HTML_IMAGE = re.compile(r"<img\b[^<>]*+>", re.I)
_ATTR = re.compile(
    r"""(?<![\w-])(src|alt)\s*+=\s*+(?:"([^"]*+)"|'([^']*+)'|([^\s"'=<>`]++))""", re.I
)
_REF_LINK = re.compile(r"\[([^\[\]\n^][^\[\]\n]*+)\]\[[^\[\]\n]*+\]")
_FOOTNOTE_REF = re.compile(r"\[\^[^\[\]\n]++\]")
_AUTOLINK = re.compile(r"<((?:https?|mailto|ftp):[^<>\s]++|[\w.+-]++@[\w.-]++)>")
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*+)(?:[\s/][^<>]*+)?>")
_BARE_URL = re.compile(r"(?:https?|ftp)://\S++|www\.\S++")
_TICKS = re.compile(r"`++")
_DELIMITERS = re.compile(r"\*++|_++|~~")
_SIMPLE_STARS = re.compile(r"(\*{1,3}|~~)(?=[^\s*~])([^*~]+?)(?<=[^\s*~])\1")
_SIMPLE_UNDERSCORES = re.compile(r"(?<!\w)(_{1,3})(?=[^\s_])([^_]+?)(?<=[^\s_])\1(?!\w)")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|~<>])")
_SPACES = re.compile(r"\s++")
_NOT_A_WORD = re.compile(r"(?<!\S)[^\w\s]+(?!\S)")  # a lone "-", "—" or "|" is no word
_WORD = re.compile(r"\w")

# Elements whose content a reader does not see as text: fallback content of media players.
_FALLBACK = frozenset({"audio", "video", "object", "iframe", "picture", "canvas", "noscript"})
# And what makes a paragraph "only a link or media" when it is all there is in it.
_LINK_OR_MEDIA = _FALLBACK | {"a"}

# Characters inside code spans and after a backslash are literal: they are swapped for
# private-use code points while the markup rules run, then swapped back.
_MARKUP = "\\`*_{}[]()#+-.!|~<>"
_HIDE = str.maketrans({c: chr(0xE000 + i) for i, c in enumerate(_MARKUP)})
_SHOW = str.maketrans({chr(0xE000 + i): c for i, c in enumerate(_MARKUP)})


@dataclass(frozen=True)
class _Block:
    kind: str  # "para", "heading", "code", "item", "more"
    text: str
    level: int = 0


# --- inline text ------------------------------------------------------------------------------


def _hide_code_spans(text: str) -> tuple[str, bool]:
    """Code spans as literal text: a run of n backticks closes at the next run of exactly n.

    Runs are paired with one queue per length, so each run is looked at a bounded number of
    times however many runs never close (CommonMark: an unclosed run is literal backticks).
    """
    runs = [match.span() for match in _TICKS.finditer(text)]
    if len(runs) < 2:
        return text, False
    by_length: dict[int, deque[int]] = defaultdict(deque)
    for number, (start, end) in enumerate(runs):
        by_length[end - start].append(number)
    parts: list[str] = []
    done = number = 0
    while number < len(runs):
        start, end = runs[number]
        later = by_length[end - start]
        while later and later[0] <= number:
            later.popleft()
        if not later:
            number += 1
            continue
        closing = later.popleft()
        parts += (text[done:start], text[end : runs[closing][0]].strip().translate(_HIDE))
        done, number = runs[closing][1], closing + 1
    if not parts:
        return text, False
    parts.append(text[done:])
    return "".join(parts), True


def _hide_escapes(text: str) -> tuple[str, bool]:
    result, count = _ESCAPE.subn(lambda m: m.group(1).translate(_HIDE), text)
    return result, bool(count)


def _strip_tags(text: str, unseen: frozenset[str] = _FALLBACK) -> str:
    """HTML tags removed; what is inside an `unseen` element (a player's fallback) too."""
    parts: list[str] = []
    depth = done = 0
    for match in _TAG.finditer(text):
        if depth == 0:
            parts.append(text[done : match.start()])
        done = match.end()
        if match.group(2).lower() in unseen:
            if match.group(1):
                depth = max(0, depth - 1)
            elif not match.group(0).endswith("/>"):
                depth += 1
    if depth == 0:
        parts.append(text[done:])
    return "".join(parts)


def _punctuation(char: str) -> bool:
    """Unicode punctuation or symbol, as CommonMark's flanking rules mean it."""
    return not (char.isalnum() or char.isspace())


def _pair_delimiters(text: str) -> tuple[list[re.Match[str]], list[tuple[int, int]]]:
    """`*`, `_` and `~~` delimiter runs, and the pairs of them (by run number) that match.

    Which runs can open and close follows CommonMark's flanking rules (`_` never inside a
    word: `snake_case` stays). A closing run pairs with the nearest open runs of the same
    character, as many of its characters as they have (`***` closes `*` and `**`); open runs
    wait on one stack per character, so the scan is linear.
    """
    runs = list(_DELIMITERS.finditer(text))
    stacks: dict[str, list[list[int]]] = {"*": [], "_": [], "~": []}  # [run number, chars left]
    pairs: list[tuple[int, int]] = []
    last = len(text)
    for number, run in enumerate(runs):
        start, end = run.span()
        before = text[start - 1] if start else " "
        after = text[end] if end < last else " "
        # left-flanking: can open; right-flanking: can close
        opens = not after.isspace() and (
            after.isalnum() or before.isspace() or not before.isalnum()
        )
        closes = not before.isspace() and (
            before.isalnum() or after.isspace() or not after.isalnum()
        )
        char = text[start]
        if char == "_":
            opens, closes = (
                opens and (not closes or _punctuation(before)),
                closes and (not opens or _punctuation(after)),
            )
        stack, left = stacks[char], end - start
        while closes and stack and left:
            opener = stack[-1]
            used = min(left, opener[1])
            opener[1] -= used
            left -= used
            pairs.append((opener[0], number))
            if not opener[1]:
                stack.pop()
        if opens and left == end - start:
            stack.append([number, left])
    return runs, pairs


def emphasis_depth(text: str) -> int:
    """How deeply the emphasis in `text` nests (`*a **b** c*` is 2), in one linear pass."""
    _, pairs = _pair_delimiters(text)
    if not pairs:
        return 0
    steps = [0] * (max(closing for _, closing in pairs) + 1)
    for opening, closing in pairs:
        steps[opening] += 1
        steps[closing] -= 1
    depth = deepest = 0
    for step in steps:
        depth += step
        deepest = max(deepest, depth)
    return deepest


def _strip_emphasis(text: str) -> str:
    """Delimiter runs that pair up removed (`**a**` -> `a`), the rest left as written.

    Most emphasis is simple (`**a**`, `_b_`, no marker inside): one pass of a pattern that
    cannot scan past the next marker takes it away; only what is left is paired run by run.
    """
    if "*" in text or "~~" in text:
        text = _SIMPLE_STARS.sub(r"\2", text)
    if "_" in text:
        text = _SIMPLE_UNDERSCORES.sub(r"\2", text)
    if "*" not in text and "_" not in text and "~~" not in text:
        return text
    runs, pairs = _pair_delimiters(text)
    if not pairs:
        return text
    parts: list[str] = []
    done = 0
    for number in sorted({number for pair in pairs for number in pair}):
        start, end = runs[number].span()
        parts.append(text[done:start])
        done = end
    parts.append(text[done:])
    return "".join(parts)


def _strip_markup(text: str) -> str:
    """Images, links, footnote references and tags reduced to their visible text."""
    if "![" in text:
        text = _IMAGE.sub("", text)
    if "<" in text:
        text = _strip_tags(_AUTOLINK.sub(r"\1", _HTML_IMAGE.sub("", text)))
    if "](" in text:
        text = _LINK.sub(r"\1", text)
    if "][" in text:
        text = _REF_LINK.sub(r"\1", text)
    if "[^" in text:
        text = _FOOTNOTE_REF.sub("", text)
    return text


def inline_text(markdown: str) -> str:
    """Markdown inline markup reduced to the words a reader sees."""
    text, hidden = markdown, False
    if "<" in text:
        text = _strip_hidden(text).replace(MORE, " ")
    if "`" in text:
        text, hidden = _hide_code_spans(text)
    if "\\" in text:
        text, escaped = _hide_escapes(text)
        hidden = hidden or escaped
    if "![" in text or "<" in text or "[" in text:
        text = _strip_markup(text)
    if "*" in text or "_" in text or "~~" in text:
        text = _strip_emphasis(text)
    if hidden:
        text = text.translate(_SHOW)
    if "&" in text:
        text = html.unescape(text)
    return " ".join(text.split())


def _only_links_or_media(markdown: str) -> bool:
    """True for a paragraph with no words of its own: only links, URLs, images or players
    (a podcast's `<audio>` and its download link), which makes a poor excerpt."""
    text = _hide_code_spans(markdown)[0] if "`" in markdown else markdown
    if "![" in text:
        text = _IMAGE.sub("", text)
    if "<" in text:
        text = _strip_tags(_AUTOLINK.sub("", _HTML_IMAGE.sub("", text)), _LINK_OR_MEDIA)
    if "](" in text:
        text = _LINK.sub("", text)
    if "][" in text:
        text = _REF_LINK.sub("", text)
    text = _BARE_URL.sub("", text)
    return _WORD.search(html.unescape(text)) is None


# --- headings ---------------------------------------------------------------------------------


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


def atx_heading(line: str) -> tuple[int, str] | None:
    """`(level, raw text)` of an ATX heading line (`## Texto ##`), else None."""
    match = _ATX.match(line)
    if match is None:
        return None
    text = line[match.end() :].strip(" \t")
    bare = text.rstrip("#")
    if not bare:
        text = ""
    elif bare != text and bare[-1] in " \t":
        text = bare.rstrip(" \t")
    return len(match.group(1)), text


# --- blocks -----------------------------------------------------------------------------------


def _code_spans(text: str) -> list[tuple[int, int]]:
    """Where the code spans of one line are (start, end), in order."""
    spans: list[tuple[int, int]] = []
    runs = [match.span() for match in _TICKS.finditer(text)]
    by_length: dict[int, deque[int]] = defaultdict(deque)
    for number, (start, end) in enumerate(runs):
        by_length[end - start].append(number)
    number = 0
    while number < len(runs):
        later = by_length[runs[number][1] - runs[number][0]]
        while later and later[0] <= number:
            later.popleft()
        if later:
            closing = later.popleft()
            spans.append((runs[number][0], runs[closing][1]))
            number = closing
        number += 1
    return spans


def _strip_hidden(line: str) -> str:
    """One line without its `<script>`/`<style>` elements and comments (outside code spans);
    `<!--more-->` becomes `MORE`. An opener without its end in the line is text as written;
    once one kind has no end after some point, no later opener of that kind looks again."""
    if "<!--" not in line and "<s" not in line and "<S" not in line:
        return line
    code = _code_spans(line) if "`" in line else []
    parts: list[str] = []
    done = searched = 0
    unclosed: set[str] = set()
    while (opening := _HIDDEN_OPEN.search(line, searched)) is not None:
        kind = (opening.group(1) or "--").lower()
        searched = opening.end()
        inside = bisect_right(code, (opening.start(), len(line)))
        if kind in unclosed or (inside and code[inside - 1][1] > opening.start()):
            continue
        closing = _HIDDEN_CLOSE[kind].search(line, searched)
        if closing is None:
            unclosed.add(kind)
            continue
        parts.append(line[done : opening.start()])
        if kind == "--" and _MORE.fullmatch(line, opening.start(), closing.end()):
            parts.append(MORE)
        done = searched = closing.end()
    if not parts:
        return line
    parts.append(line[done:])
    return "".join(parts)


@dataclass
class _BlockScanner:
    """Splits Markdown into blocks line by line; each `_step` handles one kind of line."""

    blocks: list[_Block] = field(default_factory=list)
    paragraph: list[str] = field(default_factory=list)
    plain: bool = True  # the open paragraph is neither a list item nor a quote
    fence: str | None = None
    code: list[str] = field(default_factory=list)
    hidden: str | None = None  # the kind of script, style or comment block being skipped

    def scan(self, body: str) -> list[_Block]:
        for line in body.split("\n"):
            self.feed(line)
        if self.fence is not None and self.code:
            self.blocks.append(_Block("code", "\n".join(self.code)))
        self.flush()
        return self.blocks

    def feed(self, line: str) -> None:
        if self.fence is not None:
            self._code_line(line)
            return
        if self.hidden is not None or ("<" in line[:4] and _HIDDEN_BLOCK.match(line)):
            rest = self._hidden_line(line)
            if rest is None:
                return
            line = rest
        stripped = line.lstrip()
        if not stripped:
            self.flush()
            return
        first = stripped[0]  # each step needs its own first character; most lines skip all
        if (
            (first in "`~" and self._fence_opens(line))
            or (first == "#" and self._atx(line))
            or (first in "=-" and self._setext(line))
            or self._skipped(line, stripped, first)
        ):
            return
        self._text_line(line, first)

    def _hidden_line(self, line: str) -> str | None:
        """A line in or starting a script, style or comment block, which runs to the line
        with its end tag (or the end of the body): what follows that tag, which is text."""
        searched = 0
        if self.hidden is None:
            block = _HIDDEN_BLOCK.match(line)
            assert block is not None
            self.flush()  # such a block interrupts a paragraph
            self.hidden, searched = (block.group(1) or "--").lower(), block.end()
        closing = _HIDDEN_CLOSE[self.hidden].search(line, searched)
        if closing is None:
            return None
        if self.hidden == "--" and _MORE.fullmatch(line, searched - 4, closing.end()):
            self.blocks.append(_Block("more", ""))
        self.hidden = None
        return line[closing.end() :]

    def flush(self) -> None:
        if not self.paragraph:
            return
        kind = "item" if self.paragraph[0].startswith("\x00") else "para"
        text = " ".join(line.lstrip("\x00") for line in self.paragraph)
        self.paragraph.clear()
        if "<!--" in text and _MORE.search(text):  # `<!--more-->` inside a paragraph
            first, *rest = _strip_hidden(text).split(MORE)
            self.blocks.append(_Block(kind, first))
            for part in rest:
                self.blocks += (_Block("more", ""), _Block("para", part))
            return
        self.blocks.append(_Block(kind, text))

    def _code_line(self, line: str) -> None:
        fence = self.fence or ""
        stripped = line.strip()
        if stripped.startswith(fence) and not stripped.strip(fence[0]):
            self.blocks.append(_Block("code", "\n".join(self.code)))
            self.fence, self.code = None, []
        else:
            self.code.append(line)

    def _fence_opens(self, line: str) -> bool:
        opening = _FENCE.match(line)
        if opening:
            self.flush()
            self.fence = opening.group(1)
        return opening is not None

    def _atx(self, line: str) -> bool:
        found = atx_heading(line)
        if found:
            self.flush()
            self.blocks.append(_Block("heading", found[1], found[0]))
        return found is not None

    def _setext(self, line: str) -> bool:
        underline = _SETEXT.match(line)
        if underline is None or not self.paragraph or not self.plain:
            return False
        text = " ".join(self.paragraph)
        self.paragraph.clear()
        self.blocks.append(_Block("heading", text, 1 if underline.group(1)[0] == "=" else 2))
        return True

    @staticmethod
    def _skipped(line: str, stripped: str, first: str) -> bool:
        """Thematic breaks, table rules and link definitions: no text."""
        return (
            (first in "-*_" and _RULE.match(line) is not None)
            or (first in "|:-" and _TABLE_RULE.match(stripped.rstrip()) is not None)
            or (first == "[" and _LINK_DEF.match(line) is not None)
        )

    def _text_line(self, line: str, first: str) -> None:
        quoted = _QUOTE.match(line) if first == ">" else None
        if quoted:
            line = line[quoted.end() :]
        item = _LIST.match(line) if quoted or first in "-*+0123456789" else None
        if item:
            self.flush()
            self.paragraph.append("\x00" + line[item.end() :])
            self.plain = False
            return
        if not self.paragraph:
            self.plain = not quoted
        footnote = _FOOTNOTE_DEF.match(line) if first == "[" else None
        if footnote:
            line = line[footnote.end() :]
        stripped = line.strip()
        if stripped.startswith("|"):
            stripped = " ".join(cell.strip() for cell in stripped.strip("|").split("|"))
        self.paragraph.append(stripped)


def _blocks(body: str) -> list[_Block]:
    """Markdown blocks as (kind, raw inline text), skipping code fence contents' markup."""
    return _BlockScanner().scan(body)


def _images(markdown: str) -> list[Image]:
    """Every image in one block's text in order, Markdown or HTML, with its URL as written."""
    found = [(m.start(), m.group(2), m.group(1)) for m in _IMAGE.finditer(markdown)]
    for match in _HTML_IMAGE.finditer(markdown):
        attrs: dict[str, str] = {}
        for attr in _ATTR.finditer(match.group(0)):
            value = next(v for v in attr.groups()[1:] if v is not None)
            attrs.setdefault(attr.group(1).lower(), value)
        if attrs.get("src"):
            found.append((match.start(), html.unescape(attrs["src"]), attrs.get("alt", "")))
    return [Image(url, inline_text(alt)) for _, url, alt in sorted(found)]


# --- the analysis -----------------------------------------------------------------------------


_TocNode = tuple[Heading, list["_TocNode"]]  # a heading and the nodes nested under it


def build_toc(headings: Iterable[Heading]) -> tuple[TocEntry, ...]:
    """Nest flat headings by level: each heading holds the deeper ones that follow it."""
    root: list[_TocNode] = []
    stack: list[_TocNode] = []
    for heading in headings:
        node: _TocNode = (heading, [])
        while stack and stack[-1][0].level >= heading.level:
            stack.pop()
        (stack[-1][1] if stack else root).append(node)
        stack.append(node)

    def freeze(nodes: list[_TocNode]) -> tuple[TocEntry, ...]:
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
    heading = atx_heading(first)
    if heading and heading[0] == 1 and _same_text(heading[1], title):
        return rest
    second, _, after = rest.partition("\n")
    if _SETEXT.match(second) and second.strip()[0] == "=" and _same_text(first, title):
        return after
    return body


def _same_text(markdown: str, title: str) -> bool:
    return inline_text(markdown).casefold() == _SPACES.sub(" ", title).strip().casefold()


@dataclass
class _Collector:
    """Accumulates what `analyse` returns while the blocks go by."""

    ids: HeadingIds = field(default_factory=HeadingIds)
    headings: list[Heading] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    section: Section = field(default_factory=lambda: Section("", "", ""))
    section_texts: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    images: list[Image] = field(default_factory=list)
    paragraphs: list[tuple[str, str]] = field(default_factory=list)  # (markdown, text)
    before_more: list[str] | None = None

    def add(self, block: _Block) -> None:
        if block.kind == "more":
            if self.before_more is None:
                self.before_more = list(self.texts)
            return
        if block.kind != "code" and ("<" in block.text or "![" in block.text):
            self.images += _images(block.text)
        text = block.text if block.kind == "code" else inline_text(block.text)
        if block.kind == "heading":
            self._heading(text, block.level)
        elif text:
            if block.kind == "para":
                self.paragraphs.append((block.text, text))
            self.texts.append(text)
            self.section_texts.append(text)

    def _heading(self, text: str, level: int) -> None:
        heading = Heading(self.ids.next(text), text, level)
        self.headings.append(heading)
        self.close_section()
        self.section = Section(heading.id, text, "")
        self.texts.append(text)

    def close_section(self) -> None:
        if self.section_texts or self.section.id:
            text = "\n\n".join(self.section_texts)
            self.sections.append(Section(self.section.id, self.section.heading, text))
        self.section_texts = []

    def excerpt(self, length: int) -> str:
        """The text before `<!--more-->`, else the first paragraph with words of its own."""
        if self.before_more:
            return "\n\n".join(self.before_more)
        chosen = next(
            (text for markdown, text in self.paragraphs if not _only_links_or_media(markdown)),
            self.paragraphs[0][1] if self.paragraphs else "",
        )
        return excerpt(chosen, length)


def analyse(
    body: str,
    *,
    words_per_minute: int = 200,
    excerpt_length: int = 200,
) -> Analysis:
    """Plain text, excerpt, counts, headings, sections, toc and images (URLs as written).

    The excerpt is the text before a `<!--more-->` line when there is one (whole, as the
    author cut it), else the first paragraph that is not only a link, URL or media, cut to
    `excerpt_length`.
    """
    found = _Collector()
    for block in _blocks(body):
        found.add(block)
    found.close_section()
    plaintext = "\n\n".join(found.texts)
    words = len(plaintext.split()) - len(_NOT_A_WORD.findall(plaintext))
    return Analysis(
        plaintext=plaintext,
        excerpt=found.excerpt(excerpt_length),
        word_count=words,
        reading_time=math.ceil(words / words_per_minute) if words else 0,
        toc=build_toc(found.headings),
        headings=tuple(found.headings),
        sections=tuple(found.sections),
        images=tuple(found.images),
        more=bool(found.before_more),
    )
