"""The reader: one file's bytes to `(body, metadata)`, with line numbers for every problem."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from contentapi.engine.index import BuildOptions, parse_source
from contentapi.engine.model import ContentIssue, SourceFile
from contentapi.engine.reader import ReadError, decode, load_yaml, read, split

FIXTURES = Path(__file__).parent / "fixtures"
POSTS = FIXTURES / "posts"
UTC_OPTIONS = BuildOptions(timezone=ZoneInfo("UTC"))


def fixture_bytes(name: str) -> bytes:
    return (POSTS / name).read_bytes()


def read_error(data: bytes) -> ReadError:
    with pytest.raises(ReadError) as caught:
        read(data)
    return caught.value


def test_reader_drops_utf8_bom() -> None:
    data = fixture_bytes("bom.md")
    assert data.startswith(b"\xef\xbb\xbf---")
    body, metadata = read(data)
    assert metadata == {"title": "Con BOM", "date": date(2024, 5, 1)}
    assert "\ufeff" not in body
    assert body.strip() == "El editor guardó una marca de orden de bytes."


def test_reader_normalises_crlf_line_endings() -> None:
    data = fixture_bytes("crlf.md")
    assert b"\r\n" in data
    body, metadata = read(data)
    assert metadata["title"] == "Fin de línea de Windows"
    assert body == "\nPrimera línea.\nSegunda línea.\n"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"a\r\nb\r\n", "a\nb\n"),
        (b"a\rb\r", "a\nb\n"),
        (b"\xef\xbb\xbfa\r\n", "a\n"),
    ],
)
def test_reader_decode_makes_every_line_ending_lf(data: bytes, expected: str) -> None:
    assert decode(data) == expected


def test_reader_unterminated_front_matter_is_error_on_line_1() -> None:
    error = read_error(fixture_bytes("unterminated.md"))
    assert error.line == 1
    assert "not closed" in error.message


def test_reader_missing_front_matter_is_error_on_line_1() -> None:
    error = read_error(fixture_bytes("no-front-matter.md"))
    assert error.line == 1
    assert "no front matter" in error.message


def test_reader_body_starting_with_rule_keeps_it_in_body() -> None:
    body, metadata = read(fixture_bytes("body-starts-with-rule.md"))
    assert metadata["title"] == "Separadores"
    assert body.startswith("---\n")
    assert "Texto después de una línea horizontal." in body


def test_reader_invalid_yaml_reports_file_line_of_problem() -> None:
    error = read_error(fixture_bytes("invalid-yaml.md"))
    # Line 4 of the file is `description: Un resumen: con dos puntos: sin comillas`.
    assert error.line == 4
    assert error.message.startswith("front matter is not valid YAML")


@pytest.mark.parametrize("prefix", [b"", b"\xef\xbb\xbf"])
@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
@pytest.mark.parametrize("bad_line", [2, 3, 5])
def test_reader_invalid_yaml_line_counts_from_file_start(
    prefix: bytes, newline: bytes, bad_line: int
) -> None:
    lines = [b"---", b"title: Fine", b"date: 2024-01-01", b"author: Ana", b"lang: es", b"---"]
    lines[bad_line - 1] = b"note: one: two"
    error = read_error(prefix + newline.join(lines) + newline + b"Body." + newline)
    assert error.line == bad_line


def test_reader_non_mapping_front_matter_is_error() -> None:
    error = read_error(fixture_bytes("list-front-matter.md"))
    assert error.line == 2
    assert "mapping" in error.message


def test_reader_invalid_utf8_is_error_with_its_line() -> None:
    # Not named `.md`: ruff formats Markdown files and cannot read this one.
    error = read_error(fixture_bytes("invalid-utf8.latin1"))
    assert "UTF-8" in error.message
    # Line 6 is `Café guardado en otra codificación.` written in Latin-1.
    assert error.line == 6


def test_reader_yaml_11_words_and_sexagesimals_stay_text() -> None:
    _, metadata = read(fixture_bytes("yaml-surprises.md"))
    assert metadata["title"] == "yes"
    assert metadata["tags"] == ["yes", "no", "on"]
    assert metadata["time"] == "10:00"
    assert metadata["draft"] is True


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("value: true", True),
        ("value: False", False),
        ("value: off", "off"),
        ("value: Y", "Y"),
        ("value: 42", 42),
        ("value: 007", "007"),
        ("value: 1:30:00", "1:30:00"),
        ("value: 2.5", 2.5),
        ("value: 2024-02-29", date(2024, 2, 29)),
        ("value: null", None),
    ],
)
def test_reader_yaml_scalars_resolve_like_yaml_12(line: str, expected: object) -> None:
    assert load_yaml(line + "\n") == {"value": expected}


def test_reader_numeric_title_becomes_text_after_schema() -> None:
    _, metadata = read(fixture_bytes("numeric-title.md"))
    assert metadata["title"] == 2024
    source = SourceFile("numeric-title.md", fixture_bytes("numeric-title.md"))
    parsed = parse_source(source, UTC_OPTIONS)
    assert parsed.post is not None
    assert parsed.post.title == "2024"


def test_reader_empty_front_matter_is_empty_mapping() -> None:
    assert read(b"---\n---\nBody.\n") == ("Body.\n", {})


def test_reader_split_reports_line_body_starts_on() -> None:
    front, body, line = split("---\ntitle: A\ndate: 2024-01-01\n---\n\nBody.\n")
    assert front == "title: A\ndate: 2024-01-01\n"
    assert body == "\nBody.\n"
    assert line == 5


def test_reader_closing_line_may_be_three_dots() -> None:
    body, metadata = read(b"---\ntitle: Puntos\n...\nBody.\n")
    assert metadata == {"title": "Puntos"}
    assert body == "Body.\n"


def front_matter(*lines: str) -> bytes:
    return ("---\ntitle: T\ndate: 2024-01-01\n" + "\n".join(lines) + "\n---\nCuerpo.\n").encode()


def laughs(levels: int) -> bytes:
    """A "billion laughs": each level is nine aliases of the one before."""
    lines = ['lol1: &lol1 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"lol{n}: &lol{n} [{','.join([f'*lol{n - 1}'] * 9)}]" for n in range(2, levels + 1)]
    return front_matter(*lines)


def only_issue(data: bytes, options: BuildOptions = UTC_OPTIONS) -> ContentIssue:
    parsed = parse_source(SourceFile("p.md", data), options)
    assert parsed.post is None
    assert len(parsed.issues) == 1, parsed.issues
    return parsed.issues[0]


@pytest.mark.parametrize("data", [laughs(5), fixture_bytes("billion-laughs.md")])
def test_reader_yaml_aliases_that_expand_are_an_error_naming_the_field(data: bytes) -> None:
    issue = only_issue(data)  # the fixture: 718 bytes that write out as 387 million "lol"s
    assert issue.path == "p.md"
    assert issue.field == "lol5"  # the first that writes out to more than 64 KiB (177 KB)
    assert issue.line == 8
    assert "64 KiB" in issue.message and "alias" in issue.message


def test_reader_yaml_aliases_that_stay_small_are_kept() -> None:
    data = front_matter("base: &base {a: 1, b: [x, y]}", "copy: *base", "merged:", "  <<: *base")
    parsed = parse_source(SourceFile("p.md", data), UTC_OPTIONS)
    assert parsed.post is not None
    assert parsed.post.extra["copy"] == {"a": 1, "b": ["x", "y"]}
    assert parsed.post.extra["merged"] == {"a": 1, "b": ["x", "y"]}


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("loop: &a [*a]", "32 levels"),  # a list that contains itself
        ("loop: &a {self: *a}", "32 levels"),
        ("deep: " + "[" * 200 + "]" * 200, "32 levels"),
        ("big: " + "1" * 5000, "cannot be read"),  # past Python's 4,300-digit int limit
    ],
)
def test_reader_front_matter_that_crashed_the_build_is_a_content_error(
    line: str, reason: str
) -> None:
    issue = only_issue(front_matter(line))
    assert reason in issue.message
    if reason == "32 levels":
        assert issue.field == line.split(":")[0]
        assert issue.line == 4


def test_reader_extra_values_are_capped_in_size() -> None:
    issue = only_issue(front_matter("notes: " + "x" * (64 * 1024 + 1)))
    assert (issue.field, issue.line) == ("notes", 4)
    fits = parse_source(SourceFile("p.md", front_matter("notes: " + "x" * 60_000)), UTC_OPTIONS)
    assert fits.post is not None and len(fits.post.extra["notes"]) == 60_000


def test_reader_whole_front_matter_is_capped_in_size() -> None:
    lines = [f"field{n}: {'x' * 60_000}" for n in range(5)]  # each fits; together 300 KB
    issue = only_issue(front_matter(*lines))
    assert issue.field is None
    assert "front matter is larger than 256 KiB" in issue.message
    assert issue.line == 8  # where the total crossed the limit


def test_reader_post_over_the_size_limit_is_an_error_naming_the_file() -> None:
    options = BuildOptions(timezone=ZoneInfo("UTC"), max_post_bytes=1024)
    data = front_matter() + b"palabra " * 200
    issue = only_issue(data, options)
    assert issue.path == "p.md"
    assert "larger than 1 KiB" in issue.message
    assert "CONTENTAPI_MAX_POST_BYTES" in issue.message
    small = parse_source(SourceFile("p.md", data[:1024]), options)
    assert small.post is not None
