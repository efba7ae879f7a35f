"""Bounds on nesting, so that rendering any body takes time linear in its length.

mistune and html5ever (inside nh3) are linear for text as people write it, but not for deep
nesting: mistune measures every enclosed token again for each emphasis it closes (a 40 KB
paragraph of `*a ` then `b*` took 2 s, 64 KB ~6 s), and html5ever checks the stack of open
elements for every tag (20,000 nested `<div>` took 0.8 s). No post nests that deep on purpose,
so beyond depths no reader would notice the nesting is given up, and the text is kept:

- a run of inline text whose emphasis nests deeper than `EMPHASIS_DEPTH` keeps its `*`, `_`
  and `~~` as written (mistune itself stops nesting at 20 levels);
- HTML tags that would open deeper than `HTML_DEPTH` elements are dropped with their end tags.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

import mistune
from mistune.plugins import import_plugin

from contentapi.engine.analysis import emphasis_depth

EMPHASIS_DEPTH = 12
HTML_DEPTH = 256

_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*+)(?:[\s/][^<>]*+)?>")
_VOID = frozenset(
    {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    }
)


class BoundedInlineParser(mistune.InlineParser):
    """mistune's inline parser, with emphasis given up where it nests too deep."""

    def finalize_tokens(self, tokens: list[dict[str, Any]], depth: int) -> list[dict[str, Any]]:
        text = "".join(token["raw"] if token["type"] == "text" else " " for token in tokens)
        if ("*" in text or "_" in text or "~" in text) and emphasis_depth(text) > EMPHASIS_DEPTH:
            tokens = [
                {**token, "_emphasis": False} if token["type"] == "text" else token
                for token in tokens
            ]
        return super().finalize_tokens(tokens, depth)


def create_markdown(
    *, escape: bool, renderer: mistune.HTMLRenderer, plugins: Iterable[str]
) -> mistune.Markdown:
    """`mistune.create_markdown` with the bounded inline parser."""
    renderer.escape_enabled = escape
    return mistune.Markdown(
        renderer=renderer,
        inline=BoundedInlineParser(),
        plugins=[import_plugin(name) for name in plugins],
    )


def cap_html_depth(markup: str, limit: int = HTML_DEPTH) -> str:
    """`markup` without the tags that would open deeper than `limit` elements (nor their end
    tags); every text is kept. Linear: each open element is pushed and popped once."""
    if markup.count("<") <= limit:  # cannot nest deeper than it has tags
        return markup
    parts: list[str] = []
    done = 0
    stack: list[str] = []
    open_count: Counter[str] = Counter()
    dropped: Counter[str] = Counter()
    for match in _TAG.finditer(markup):
        closing, name = match.group(1), match.group(2).lower()
        if name in _VOID or match.group(0).endswith("/>"):
            continue
        if not closing:
            if len(stack) < limit:
                stack.append(name)
                open_count[name] += 1
                continue
            dropped[name] += 1
        elif dropped[name]:  # the deepest elements are the dropped ones: this end is theirs
            dropped[name] -= 1
        else:  # an end tag closes its element and any left open inside it, as in HTML
            popped = "" if open_count[name] else name
            while popped != name:
                popped = stack.pop()
                open_count[popped] -= 1
            if len(stack) < limit:  # what was dropped was inside: closed with it
                dropped.clear()
            continue
        parts.append(markup[done : match.start()])
        done = match.end()
    if not parts:
        return markup
    parts.append(markup[done:])
    return "".join(parts)
