"""Snippets: the best-matching sections of a post, cut around the first match, with every word
whose folded and stemmed form matches the query wrapped in `<mark>`; the same for every backend.

Only the page shown is highlighted, so this runs for a few posts per request. Sections are
stemmed (through the stem cache) best candidate first, and not past the point where three
sections have everything the others could have; only the chosen sections' excerpt windows are
split into words with their positions.
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import chain

from contentapi.engine.model import Section
from contentapi.outputs.search.language import Language, Stemmed, stem_query
from contentapi.outputs.search.parse import WORD, ParsedQuery

SNIPPET_LENGTH = 160
SNIPPET_LEAD = 50
MAX_SNIPPETS = 3
_PREFIX = "prefix"
_BREAK = "\ue000"  # between texts stemmed together: a private-use character, never a word


def highlight(
    parsed: ParsedQuery,
    hits: Iterable[tuple[str, float]],
    text_of: Callable[[str], tuple[str, tuple[Section, ...]] | None],
    languages: Mapping[str, Language],
) -> list[tuple[str, float, tuple[tuple[str, str, str], ...]]]:
    """(slug, score, snippets) for each hit; `text_of(slug)` gives the post's language key and
    sections (None for a post the index does not have: no snippets)."""
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
    """Finds a stemmed query's words in original text and cuts marked snippets."""

    def __init__(self, stemmed: Stemmed, language: Language) -> None:
        self._language = language
        self._items: dict[str, str] = {term: term for term in stemmed.terms}
        self._items.update(dict.fromkeys(stemmed.prefix_stems, _PREFIX))
        if stemmed.prefix is not None:
            prefixed = language.starting_with(stemmed.prefix)
            self._items.update((stem, _PREFIX) for stem in prefixed if stem not in self._items)
        self._phrases = stemmed.phrases
        self._prefix = stemmed.prefix
        self._wanted = set(self._items).union(*self._phrases)
        terms = {item for item in self._items.values() if item != _PREFIX}
        prefix = {_PREFIX} if stemmed.prefix is not None else set()
        self._items_wanted = terms | prefix | {f'"phrase {n}"' for n in range(len(self._phrases))}

    def snippets(self, sections: Sequence[Section]) -> tuple[tuple[str, str, str], ...]:
        """(section id, heading, html) of the best sections: those with the most of the query's
        items (a term, the prefix, a phrase), then with more of them in their heading, then in
        the order they come.

        Headings are short and looked at first; bodies are stemmed best candidate first, and
        no further once three sections have everything the rest could have.
        """
        stems = self._language.stems
        headings = _tokens(self._language, [section.heading for section in sections])
        in_headings = [self._items_in(heading) for heading in headings]
        most = len(self._items_wanted)
        order = sorted(range(len(sections)), key=lambda i: (-len(in_headings[i][0]), i))
        best: list[tuple[tuple[int, int, int], int, set[str] | None, list[tuple[str, ...]]]] = []
        for number in order:
            bound = (-most, -len(in_headings[number][0]), number)
            if len(best) == MAX_SNIPPETS and best[-1][0] <= bound:
                break
            text = stems(sections[number].text.split())
            items, marked = self._items_in(text)
            found_heading, _ = in_headings[number]
            found = items | found_heading
            if not found:
                continue
            key = (-len(found), -len(found_heading), number)
            best.append((key, number, marked, text))
            best.sort(key=lambda item: item[0])
            del best[MAX_SNIPPETS:]
        return tuple(
            self._snippet(sections[number], marked, text) for _, number, marked, text in best
        )

    def _items_in(self, tokens: list[tuple[str, ...]]) -> tuple[set[str], set[str] | None]:
        """The query's items in `tokens`, and the stems to mark (None: a phrase is in there,
        so marks are found in place)."""
        present = self._wanted.intersection(chain.from_iterable(tokens))
        if not present:
            return set(), set()
        if any(present.issuperset(phrase) for phrase in self._phrases):
            found, _ = self._find(tokens)
            return found, None
        present.intersection_update(self._items)
        return {self._items[stem] for stem in present}, present

    def _snippet(
        self, section: Section, marked: set[str] | None, tokens: list[tuple[str, ...]]
    ) -> tuple[str, str, str]:
        """The excerpt around the first match; `marked` are the stems to mark, or None to
        find them word by word (a phrase must be matched in place)."""
        raw = " ".join(section.text.split())
        text = unicodedata.normalize("NFC", raw)
        spans = None
        if marked is not None and text == raw:
            spans = self._marks_near_first(text, marked, tokens)
        if spans is None:
            words = [match.span() for match in WORD.finditer(text)]
            _, marks = self._find(self._language.stems(text[start:end] for start, end in words))
            spans = [words[index] for index in sorted(marks)]
        return section.id, section.heading, _excerpt(text, spans)

    def _marks_near_first(
        self, text: str, marked: set[str], tokens: list[tuple[str, ...]]
    ) -> list[tuple[int, int]] | None:
        """The spans of matching words in the excerpt window; only its words are looked at.
        `tokens` are the stems of `text`'s space-separated chunks."""
        flags = list(map(marked.isdisjoint, tokens))
        if all(flags):
            return []  # matched in the heading only
        first = flags.index(False)
        chunks = text.split(" ")
        offset = len(" ".join(chunks[:first])) + (1 if first else 0)
        stems = self._language.chunk_stems
        anchor = next(
            (
                match.span()
                for match in WORD.finditer(text, offset, offset + len(chunks[first]))
                if not marked.isdisjoint(stems(match.group()))
            ),
            None,
        )
        if anchor is None:
            return None
        start, end = _window(text, *anchor)
        spans = []
        for match in WORD.finditer(text, start):
            if match.end() > end:
                break
            if not marked.isdisjoint(stems(match.group())):
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


def _tokens(language: Language, texts: list[str]) -> list[list[tuple[str, ...]]]:
    """Each text's whitespace-separated chunks as their stems, stemmed in one pass."""
    chunks = f" {_BREAK} ".join(texts).split()
    if chunks.count(_BREAK) != len(texts) - 1:  # a text with the separator in it
        return [language.stems(text.split()) for text in texts]
    tokens = language.stems(chunks)
    found, start = [], 0
    for _ in range(len(texts) - 1):
        end = chunks.index(_BREAK, start)
        found.append(tokens[start:end])
        start = end + 1
    found.append(tokens[start:])
    return found


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
