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
        self._terms = frozenset(stem for stem, item in self._items.items() if item != _PREFIX)
        self._prefix_stems = stemmed.prefix_stems
        # Whether a stem starting with the prefix may be a term (then it counts as the term)
        self._prefix_terms = stemmed.prefix is not None and any(
            term.startswith(stemmed.prefix) for term in self._terms
        )
        # Phrases are found with an expression each (compiled per query: terms and prefixes,
        # most queries, are found with plain string searches instead).
        self._phrase_patterns = [
            (f'"phrase {n}"', phrase[0], re.compile(f"{_START}{_in_a_row(phrase)}{_END}"))
            for n, phrase in enumerate(stemmed.phrases)
        ]
        self._most = len(self._terms) + (stemmed.prefix is not None) + len(stemmed.phrases)

    def _items_in(self, line: str) -> set[str]:
        """The query's items in a stem line."""
        found = {term for term in self._terms if _stem_at(line, term) >= 0}
        if self._prefix is not None and self._has_prefix(line):
            found.add(_PREFIX)
        for item, needle, pattern in self._phrase_patterns:
            if needle in line and pattern.search(line):
                found.add(item)
        return found

    def _has_prefix(self, line: str) -> bool:
        """Whether a stem line has one of the prefix's stems, or a stem starting with it that
        is not a term."""
        prefix = self._prefix
        assert prefix is not None
        if any(_stem_at(line, stem) >= 0 for stem in self._prefix_stems):
            return True
        at = _starting_at(line, prefix)
        while at >= 0:
            if not self._prefix_terms or _stem_from(line, at) not in self._terms:
                return True
            at = _starting_at(line, prefix, at + 1)
        return False

    def _first_mark(self, line: str, start: int = 0) -> int:
        """Where the first stem to mark (outside phrases) is in a stem line, from `start`; -1
        if there is none."""
        first = -1
        for stem in self._items:
            at = _stem_at(line, stem, start)
            if at >= 0 and (first < 0 or at < first):
                first = at
        if self._prefix is not None:
            at = _starting_at(line, self._prefix, start)
            if at >= 0 and (first < 0 or at < first):
                first = at
        return first

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
        if text == raw:
            spans = (self._phrase_marks if phrase else self._marks_near_first)(text, line)
        if spans is None:
            words = [match.span() for match in WORD.finditer(text)]
            _, marks = self._find(self._language.stems(text[start:end] for start, end in words))
            spans = [words[index] for index in sorted(marks)]
        return section_id, heading, _excerpt(text, spans)

    def _phrase_marks(self, text: str, line: str) -> list[tuple[int, int]] | None:
        """The spans of matching words, phrases matched word by word, from the first match (of
        a term, the prefix or a phrase: found in `line`, `text`'s stem line) to past the
        excerpt window. None when `line` does not fit `text`."""
        if text.count(" ") != line.count(" "):
            return None
        starts = [found.start() for _, _, p in self._phrase_patterns if (found := p.search(line))]
        starts.append(self._first_mark(line))
        position = min((start for start in starts if start >= 0), default=-1)
        if position < 0:
            return None
        at = begin = _chunk_at(text, 0, line.count(" ", 0, position))
        # The window ends at most SNIPPET_LENGTH past the first match's chunk; a phrase that
        # starts in it goes on for at most as many chunks with words as it has words.
        bound = _chunk_end(text, at) + SNIPPET_LENGTH
        more = max(map(len, self._phrases))
        while at <= len(text) and (at <= bound or more > 0):
            after = _chunk_end(text, at)
            if at > bound and WORD.search(text, at, after):
                more -= 1
            at = after + 1
        words = [match.span() for match in WORD.finditer(text, begin, at)]
        _, marks = self._find(self._language.stems(text[start:end] for start, end in words))
        return [words[index] for index in sorted(marks)] or None

    def _marks_near_first(self, text: str, line: str) -> list[tuple[int, int]] | None:
        """The spans of matching words in the excerpt window: `line` (`text`'s stem line) says
        which chunks have a marked stem, and only those chunks' words are looked at."""
        position = self._first_mark(line)
        if position < 0:
            return []  # matched in the heading only
        if text.count(" ") != line.count(" "):
            return None
        offset = _chunk_at(text, 0, line.count(" ", 0, position))
        stems, marked = self._language.chunk_stems, self._is_marked
        anchor = next(
            (
                match.span()
                for match in WORD.finditer(text, offset, _chunk_end(text, offset))
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
        at, seen, done = offset, position, -1
        while position >= 0:
            at = _chunk_at(text, at, line.count(" ", seen, position))
            seen = position
            if at >= end:
                break
            if at != done:  # not two marked stems in one chunk
                done = at
                for match in WORD.finditer(text, max(at, start), _chunk_end(text, at)):
                    if match.end() > end:
                        return spans
                    if marked(stems(match.group())):
                        spans.append(match.span())
            position = self._first_mark(line, position + 1)
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


def _chunk_at(text: str, at: int, count: int) -> int:
    """Where the chunk `count` chunks after the one at `at` starts (chunks are one space apart)."""
    for _ in range(count):
        at = text.index(" ", at) + 1
    return at


def _chunk_end(text: str, at: int) -> int:
    """Where the chunk at `at` ends."""
    end = text.find(" ", at)
    return len(text) if end < 0 else end


def _stem_at(line: str, stem: str, start: int = 0) -> int:
    """Where `stem` is first one of a stem line's stems, from `start`; -1 if nowhere."""
    size, length = len(stem), len(line)
    at = line.find(stem, start)
    while at >= 0:
        after = at + size
        if (at == 0 or line[at - 1] in _APART) and (after == length or line[after] in _APART):
            return at
        at = line.find(stem, at + 1)
    return -1


def _starting_at(line: str, prefix: str, start: int = 0) -> int:
    """Where a stem line's first stem that starts with `prefix` is, from `start`; or -1."""
    at = line.find(prefix, start)
    while at > 0 and line[at - 1] not in _APART:
        at = line.find(prefix, at + 1)
    return at


def _stem_from(line: str, at: int) -> str:
    """The stem of a stem line that starts at `at`."""
    end = len(line)
    for separator in _APART:
        found = line.find(separator, at, end)
        if found >= 0:
            end = found
    return line[at:end]


def _in_a_row(stems: tuple[str, ...]) -> str:
    """An expression for stems one after the other in a stem line (chunks without words,
    empty, between them)."""
    return f"[ {LINK}]+".join(map(re.escape, stems))


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
