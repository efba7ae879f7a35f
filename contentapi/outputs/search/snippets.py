"""Snippets: the best-matching sections of a post, cut around the first match, with every word
whose folded and stemmed form matches the query wrapped in `<mark>`; the same for every backend.

Only the page shown is highlighted, so this runs for a few posts per request. What it needs of
a post is `prepare`d once: each section's text with its heading's and its body's stem lines
(`Language.stem_line`), which a backend can make while indexing and store. Which query items
a section has, and where its first match is, are then regular-expression searches over those
lines; only the chosen sections' excerpt windows are split into words with their positions.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import chain

from contentapi.engine.model import Section
from contentapi.outputs.search.language import LINK, Language, Stemmed, stem_query
from contentapi.outputs.search.parse import WORD, ParsedQuery

SNIPPET_LENGTH = 160
SNIPPET_LEAD = 50
MAX_SNIPPETS = 3
_PREFIX = "prefix"
# Where a stem starts and ends in a stem line: after and before a space, a LINK or the line's end.
_START = f"(?<![^ {LINK}])"
_END = f"(?![^ {LINK}])"
_APART = f" {LINK}"

Prepared = tuple[tuple[str, str, str, str, str], ...]
"""A post's sections as snippets need them: (id, heading, text with its whitespace runs made
one space, the heading's stem line, the text's stem line)."""


def prepare(sections: Iterable[Section], language: Language) -> Prepared:
    """What `Matcher.snippets` needs of a post's sections, in the post's language."""
    line = language.stem_line
    return tuple(
        (
            section.id,
            section.heading,
            " ".join(section.text.split()),
            line(section.heading),
            line(section.text),
        )
        for section in sections
    )


def highlight(
    parsed: ParsedQuery,
    hits: Iterable[tuple[str, float]],
    text_of: Callable[[str], tuple[str, Prepared] | None],
    languages: Mapping[str, Language],
) -> list[tuple[str, float, tuple[tuple[str, str, str], ...]]]:
    """(slug, score, snippets) for each hit; `text_of(slug)` gives the post's language key and
    prepared sections (None for a post the index does not have: no snippets)."""
    matchers: dict[str, Matcher] = {}
    found: list[tuple[str, float, tuple[tuple[str, str, str], ...]]] = []
    for slug, score in hits:
        text = None if parsed.empty else text_of(slug)
        if text is None:
            found.append((slug, score, ()))
            continue
        key, sections = text
        matcher = matchers.get(key)
        if matcher is None:
            language = languages[key]
            matcher = matchers[key] = Matcher(stem_query(parsed, language), language)
        found.append((slug, score, matcher.snippets(sections)))
    return found


def _either(stems: Iterable[str]) -> str:
    """A regular expression for any of `stems` (longest first), or one that never matches."""
    ordered = sorted(set(stems), key=lambda stem: (-len(stem), stem))
    return "|".join(map(re.escape, ordered)) or "(?!)"


class Matcher:
    """Finds a stemmed query's words in prepared sections and cuts marked snippets.

    A query item is a term's stem, the prefix being typed (its stems, or any stem that starts
    with it and is no term), or a phrase (its stems in a row)."""

    def __init__(self, stemmed: Stemmed, language: Language) -> None:
        self._language = language
        self._items: dict[str, str] = {term: term for term in stemmed.terms}
        self._items.update(dict.fromkeys(stemmed.prefix_stems, _PREFIX))
        self._phrases = stemmed.phrases
        self._prefix = stemmed.prefix
        terms = [stem for stem, item in self._items.items() if item != _PREFIX]
        self._terms = frozenset(terms)
        patterns: list[tuple[str, str, str]] = []
        marked = _either(terms)
        if stemmed.prefix is not None:
            prefix = (
                f"{_either(stemmed.prefix_stems)}|(?!(?:{_either(terms)}){_END})"
                f"{re.escape(stemmed.prefix)}[^ {LINK}]*"
            )
            patterns.append((_PREFIX, "", f"{_START}(?:{prefix}){_END}"))
            marked = f"{marked}|{prefix}"
        for number, phrase in enumerate(stemmed.phrases):
            pattern = f"[ {LINK}]+".join(map(re.escape, phrase))
            patterns.append((f'"phrase {number}"', phrase[0], f"{_START}{pattern}{_END}"))
        # (item, a substring every match has, the expression): the substring is a quick test
        self._patterns = [(item, needle, re.compile(found)) for item, needle, found in patterns]
        self._marked = re.compile(f"{_START}(?:{marked}){_END}")
        self._most = len(terms) + len(patterns)

    def _items_in(self, line: str) -> set[str]:
        """The query's items in a stem line (terms found without regular expressions: most
        queries have only terms, and compiling is much of the cost of a query)."""
        found = {term for term in self._terms if _has(line, term)}
        for item, needle, pattern in self._patterns:
            if needle in line and pattern.search(line):
                found.add(item)
        return found

    def _is_marked(self, stems: tuple[str, ...]) -> bool:
        """Whether a word (its stems) is marked, outside phrases: a term or the prefix."""
        prefix = self._prefix
        return any(
            stem in self._items
            or (prefix is not None and stem.startswith(prefix) and stem not in self._terms)
            for stem in stems
        )

    def snippets(self, sections: Prepared) -> tuple[tuple[str, str, str], ...]:
        """(section id, heading, html) of the best sections: those with the most of the query's
        items (a term, the prefix, a phrase), then with more of them in their heading, then in
        the order they come.

        Headings are looked at first; bodies best candidate first, and no further once three
        sections have everything the rest could have.
        """
        in_headings = [self._items_in(section[3]) for section in sections]
        most = self._most
        order = sorted(range(len(sections)), key=lambda i: (-len(in_headings[i]), i))
        best: list[tuple[tuple[int, int, int], int, bool]] = []
        for number in order:
            bound = (-most, -len(in_headings[number]), number)
            if len(best) == MAX_SNIPPETS and best[-1][0] <= bound:
                break
            items = self._items_in(sections[number][4])
            found_heading = in_headings[number]
            found = items | found_heading
            if not found:
                continue
            phrase = any(item.startswith('"') for item in items)
            key = (-len(found), -len(found_heading), number)
            best.append((key, number, phrase))
            best.sort(key=lambda item: item[0])
            del best[MAX_SNIPPETS:]
        return tuple(self._snippet(sections[number], phrase) for _, number, phrase in best)

    def _snippet(
        self, section: tuple[str, str, str, str, str], phrase: bool
    ) -> tuple[str, str, str]:
        """The excerpt around the first match; with a phrase in the text, marks are found
        word by word (a phrase must be matched in place)."""
        section_id, heading, raw, _, line = section
        text = unicodedata.normalize("NFC", raw)
        spans = None
        if not phrase and text == raw:
            spans = self._marks_near_first(text, line)
        if spans is None:
            words = [match.span() for match in WORD.finditer(text)]
            _, marks = self._find(self._language.stems(text[start:end] for start, end in words))
            spans = [words[index] for index in sorted(marks)]
        return section_id, heading, _excerpt(text, spans)

    def _marks_near_first(self, text: str, line: str) -> list[tuple[int, int]] | None:
        """The spans of matching words in the excerpt window: `line` (`text`'s stem line) says
        which chunks have a marked stem, and only those chunks' words are looked at."""
        first_match = self._marked.search(line)
        if first_match is None:
            return []  # matched in the heading only
        chunks, lines = text.split(" "), line.split(" ")
        if len(chunks) != len(lines):
            return None
        first = line.count(" ", 0, first_match.start())
        offset = len(" ".join(chunks[:first])) + (1 if first else 0)
        stems, marked = self._language.chunk_stems, self._is_marked
        anchor = next(
            (
                match.span()
                for match in WORD.finditer(text, offset, offset + len(chunks[first]))
                if marked(stems(match.group()))
            ),
            None,
        )
        if anchor is None:
            return None
        start, end = _window(text, *anchor)
        # Marks are at or after the first match: each next chunk with a marked stem (found in
        # `line`) is looked at word by word, up to the window's end.
        spans: list[tuple[int, int]] = []
        number, at, seen, done = first, offset, first_match.start(), -1
        for found in self._marked.finditer(line, first_match.start()):
            ahead = line.count(" ", seen, found.start())
            at += sum(map(len, chunks[number : number + ahead])) + ahead
            number, seen = number + ahead, found.start()
            if at >= end:
                break
            if number == done:  # two marked stems in one chunk
                continue
            done = number
            for match in WORD.finditer(text, max(at, start), at + len(chunks[number])):
                if match.end() > end:
                    return spans
                if marked(stems(match.group())):
                    spans.append(match.span())
        return spans

    def _find(self, tokens: list[tuple[str, ...]]) -> tuple[set[str], set[int]]:
        """The query items found (a term's stem, `prefix`, `"phrase n"`) and marked tokens."""
        present = set(chain.from_iterable(tokens))
        found = {stem: self._items[stem] for stem in present.intersection(self._items)}
        prefix = self._prefix
        if prefix is not None:
            found.update((stem, _PREFIX) for stem in present if stem.startswith(prefix))
        items = set(found.values())
        marked = found.keys()
        marks = (
            {i for i, token in enumerate(tokens) if not marked.isdisjoint(token)}
            if found
            else set()
        )
        if self._phrases:
            flat = [(stem, index) for index, token in enumerate(tokens) for stem in token]
            sequence = [stem for stem, _ in flat]
            for number, phrase in enumerate(self._phrases):
                for start in _occurrences(sequence, phrase):
                    items.add(f'"phrase {number}"')
                    marks.update(index for _, index in flat[start : start + len(phrase)])
        return items, marks


def _has(line: str, stem: str) -> bool:
    """Whether `stem` is one of a stem line's stems."""
    size, length = len(stem), len(line)
    at = line.find(stem)
    while at >= 0:
        after = at + size
        if (at == 0 or line[at - 1] in _APART) and (after == length or line[after] in _APART):
            return True
        at = line.find(stem, at + 1)
    return False


def _occurrences(stems: list[str], phrase: tuple[str, ...]) -> Iterator[int]:
    """Where `phrase` starts in `stems`."""
    size = len(phrase)
    first = phrase[0]
    start = 0
    while True:
        try:
            start = stems.index(first, start)
        except ValueError:
            return
        if tuple(stems[start : start + size]) == phrase:
            yield start
        start += 1


def _window(text: str, anchor: int, anchor_end: int) -> tuple[int, int]:
    """About SNIPPET_LENGTH characters of `text` from a little before the anchor, cut at
    spaces where it can be."""
    start = max(0, min(anchor - SNIPPET_LEAD, len(text) - SNIPPET_LENGTH))
    if start > 0 and text[start - 1] != " ":
        space = text.find(" ", start, anchor)
        start = space + 1 if space >= 0 else anchor
    end = len(text)
    if end - start > SNIPPET_LENGTH:
        space = text.rfind(" ", start, start + SNIPPET_LENGTH)
        end = space if space >= anchor_end else max(start + SNIPPET_LENGTH, anchor_end)
    return start, end


def _excerpt(text: str, marks: list[tuple[int, int]]) -> str:
    """The window around the first mark, escaped, marks (sorted spans) in `<mark>`."""
    start, end = _window(text, *(marks[0] if marks else (0, 0)))
    parts = ["…" if start > 0 else ""]
    position = start
    for token_start, token_end in marks:
        if token_start < position or token_end > end:
            continue
        parts.append(html.escape(text[position:token_start]))
        parts.append(f"<mark>{html.escape(text[token_start:token_end])}</mark>")
        position = token_end
    parts.append(html.escape(text[position:end]))
    parts.append("…" if end < len(text) else "")
    return "".join(parts)
