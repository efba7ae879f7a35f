"""Reader: the bytes of one file to `(metadata, body)`, with safe YAML and no YAML 1.1 surprises."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import yaml
from frontmatter.default_handlers import YAMLHandler

try:
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - libyaml is in the PyYAML wheels
    # The pure-Python twin: the same interface, a different class.
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]


class ReadError(ValueError):
    """The file cannot be read as a post; `line` is 1-based in the file when known."""

    def __init__(self, message: str, line: int | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.field = field


class FrontMatterLoader(_BaseLoader):
    """Safe YAML where only true/false are booleans and `10:00` is not the number 600.

    Authors write `title: yes`, `tags: [on, off]` and `time: 10:00` meaning text; YAML 1.1
    would turn them into booleans and base-60 integers.
    """


FrontMatterLoader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}
    ]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}
FrontMatterLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
FrontMatterLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?(?:0|[1-9][0-9_]*)|0x[0-9a-fA-F_]+|0o[0-7_]+)$"),
    list("-+0123456789"),
)
FrontMatterLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)"
        r"|\.[0-9_]+(?:[eE][-+][0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def _timestamp(loader: FrontMatterLoader, node: yaml.ScalarNode) -> Any:
    """An unquoted date YAML cannot build (`2023-02-30`) stays text, so validation can name
    the field and the problem instead of the parser failing on the whole file."""
    try:
        return loader.construct_yaml_timestamp(node)
    except ValueError:
        return loader.construct_scalar(node)


FrontMatterLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)

_HANDLER = YAMLHandler()
# Front matter written out in full, aliases repeated: what JSON, listings and caches will hold.
# A few KiB is typical; anchors and aliases (`&a`, `*a`) can make 300 bytes expand to gigabytes.
MAX_VALUE_CHARS = 64 * 1024  # one field's value
MAX_FRONT_MATTER_CHARS = 256 * 1024  # every field together
MAX_DEPTH = 32  # lists and mappings inside each other
_OPENING = re.compile(r"\A---[ \t]*\n")
_CLOSING = re.compile(r"^(?:---|\.\.\.)[ \t]*$", re.MULTILINE)


def decode(data: bytes) -> str:
    """UTF-8 text with any byte-order mark dropped and every line ending made `\\n`."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ReadError(f"file is not valid UTF-8 (byte {exc.start})", line=line) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def has_front_matter(text: str) -> bool:
    """Whether the text starts with a `---` line, as front matter does."""
    return _OPENING.match(text) is not None


def split(text: str) -> tuple[str, str, int]:
    """Front matter text, body, and the file line the body starts on."""
    opening = _OPENING.match(text)
    if opening is None:
        raise ReadError("no front matter: a post starts with a line `---`", line=1)
    closing = _CLOSING.search(text, opening.end())
    if closing is None:
        raise ReadError("front matter is not closed: add a line `---` after it", line=1)
    front = text[opening.end() : closing.start()]
    body_start = closing.end() + 1
    return front, text[body_start:], text.count("\n", 0, body_start) + 1


def check_size(data: bytes, limit: int) -> None:
    """Refuse a file over `limit` bytes (the loader reads at most `limit + 1` of it)."""
    if len(data) > limit:
        raise ReadError(
            f"file is larger than {_size(limit)} (CONTENTAPI_MAX_POST_BYTES): split the post "
            "or move large data out of it",
            line=None,
        )


def _size(count: int) -> str:
    for unit, factor in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= factor and count % (factor // 4) == 0:
            return f"{count / factor:g} {unit}"
    return f"{count} bytes"


def _expanded_chars(value: Any, budget: int) -> int:
    """About how many characters `value` takes written out in full, every alias repeated;
    stops counting past `budget` (so a self-referencing alias or a billion laughs costs no
    more than `budget` steps). Raises ValueError when nesting exceeds MAX_DEPTH."""
    total = 0
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending and total <= budget:
        item, depth = pending.pop()
        if isinstance(item, dict):
            total += 2 + sum(len(str(key)) + 2 for key in item)
            children: Iterable[Any] = item.values()
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += 2 + len(item)
            children = item
        else:
            total += len(item) if isinstance(item, (str, bytes)) else len(str(item))
            continue
        if depth >= MAX_DEPTH:
            raise ValueError(f"nests lists or mappings more than {MAX_DEPTH} levels deep")
        pending.extend((child, depth + 1) for child in children)
    return total


def _key_line(front: str, key: str) -> int | None:
    """The file line a top-level key is written on (front matter starts on line 2)."""
    match = re.search(rf"^{re.escape(key)}[ \t]*:", front, re.MULTILINE)
    return front.count("\n", 0, match.start()) + 2 if match else None


def _check_expansion(front: str, data: dict[str, Any]) -> None:
    """Refuse values that expand past the limits: YAML aliases must not multiply the size of
    a post in the index, in every listing that shows it and in every cache."""
    total = 0
    for key, value in data.items():
        try:
            chars = _expanded_chars(value, MAX_VALUE_CHARS)
        except ValueError as exc:
            raise ReadError(str(exc), _key_line(front, key), key) from None
        if chars > MAX_VALUE_CHARS:
            raise ReadError(
                f"value is larger than {_size(MAX_VALUE_CHARS)} written out in full (YAML "
                "aliases `*name` repeat what their anchor `&name` holds)",
                _key_line(front, key),
                key,
            )
        total += chars + len(key)
        if total > MAX_FRONT_MATTER_CHARS:
            raise ReadError(
                f"front matter is larger than {_size(MAX_FRONT_MATTER_CHARS)} written out in "
                "full (YAML aliases `*name` repeat what their anchor `&name` holds)",
                _key_line(front, key),
            )


def load_yaml(front: str) -> dict[str, Any]:
    """Parse front matter with python-frontmatter's YAML handler and the safe loader above.

    Values that would expand past the size limits, or nest too deep, are refused.
    """
    try:
        data = _HANDLER.load(front, Loader=FrontMatterLoader)
    except (ValueError, OverflowError, RecursionError) as exc:
        # A value YAML cannot build (an integer of 5,000 digits) is bad content, not a crash.
        reason = str(exc).split(";")[0]
        raise ReadError(f"front matter has a value that cannot be read: {reason}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 2 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise ReadError(f"front matter is not valid YAML: {problem}", line=line) from None
    except yaml.YAMLError as exc:
        raise ReadError(f"front matter is not valid YAML: {exc}", line=None) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ReadError("front matter must be a mapping of `key: value` lines", line=2)
    data = {str(key): value for key, value in data.items()}
    _check_expansion(front, data)
    return data


def read(data: bytes) -> tuple[str, dict[str, Any]]:
    """The reader proper, like pelican's: file bytes to `(body, metadata)`."""
    front, body, _ = split(decode(data))
    return body, load_yaml(front)
