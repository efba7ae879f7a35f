"""The README's curl examples, produced by running them against the bundled `content/`.

    .venv/bin/python scripts/readme_examples.py           # rewrite the README's example blocks
    .venv/bin/python scripts/readme_examples.py --check   # exit 1 and show a diff if stale

Each example block in README.md sits between `<!-- example: NAME -->` and `<!-- /example -->`
and is written only by this script (edit the EXAMPLES below, not the README). Requests go
through the Flask test client to an app built as `make run` builds it, with a fixed clock, so
the output is what curl prints against `make run` (before the bundled scheduled post's date in
2031). `tests/test_readme.py` fails when a block no longer matches; values that change with
any byte of the content or the package (ETags, index versions, timings) are compared as
placeholders, everything else exactly.
"""

from __future__ import annotations

import difflib
import functools
import json
import os
import re
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)  # the examples' clock
PREVIEW_TOKEN = "readme-preview-token-0123"  # noqa: S105 (the examples' app only)
ADMIN_TOKEN = "readme-admin-token-0123"  # noqa: S105
CUT = "…"
BLOCK = re.compile(r"(<!-- example: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /example -->)", re.S)
# Values that change with any byte of the content or the package: compared as placeholders.
VOLATILE = [
    (re.compile(r'(ETag: )"[0-9a-f]+"'), r'\1"…"'),
    (re.compile(r'("(?:version|previous)":)"[0-9a-f]+"'), r'\1"…"'),
    (re.compile(r'("seconds":)[0-9.]+'), r"\1…"),
]


# How a JSON value is shortened for the README: `Elide()` shows `{…}`, `[…]` or `"…"`;
# `Chars(n)` keeps a string's first n characters; `Head(n)` a list's first n items;
# `Keys(*names)` an object's named members. Everything not named is shown whole.
@dataclass(frozen=True)
class Elide:
    pass


@dataclass(frozen=True)
class Chars:
    n: int


@dataclass(frozen=True)
class Head:
    n: int


@dataclass(frozen=True)
class Keys:
    names: tuple[str, ...]

    def __init__(self, *names: str) -> None:
        object.__setattr__(self, "names", names)


Rule = Elide | Chars | Head | Keys


@dataclass(frozen=True)
class Example:
    """One `curl` command line and how its output is shown."""

    command: str  # what the reader types, after `$ `
    path: str
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    show_headers: tuple[str, ...] = ()  # header names shown (as `curl -si ... | grep`)
    status_line: bool = False  # `HTTP/1.1 200 OK` first, as `curl -i` prints it
    body: bool = True
    rules: Mapping[str, Rule] = field(default_factory=dict)  # by top-level JSON member
    wrap: bool = False  # one top-level member after another, lines up to 100 characters
    host: str = "localhost:5000"
    prepare: Callable[[Path], None] | None = None  # changes a copy of content/ before the call


def _edit_a_post(content: Path) -> None:
    post = content / "posts" / "2023" / "2023-10-05-pan-de-masa-madre.md"
    post.write_text(post.read_text(encoding="utf-8") + "\nUna línea más.\n", encoding="utf-8")


EXAMPLES: dict[str, list[Example]] = {
    "curl-session": [
        Example(
            "curl -s 'localhost:5000/api/v1/posts?per_page=2&fields=slug,title'",
            "/api/v1/posts?per_page=2&fields=slug,title",
        ),
        Example(
            "curl -si 'localhost:5000/api/v1/posts?per_page=2&fields=slug'"
            " | grep -E '^(HTTP|X-Total|Link|ETag|Cache|Vary)'",
            "/api/v1/posts?per_page=2&fields=slug",
            status_line=True,
            show_headers=("X-Total-Count", "Link", "ETag", "Cache-Control", "Vary"),
            body=False,
        ),
        Example(
            "curl -s localhost:5000/api/v1/posts/pan-de-masa-madre",
            "/api/v1/posts/pan-de-masa-madre",
            rules={
                "html": Chars(80),
                "toc": Head(2),
                "prev": Keys("slug"),
                "next": Keys("slug"),
                "related": Elide(),
            },
            wrap=True,
        ),
        Example(
            "curl -s 'localhost:5000/api/v1/categories/cocina?per_page=1&fields=slug,title'",
            "/api/v1/categories/cocina?per_page=1&fields=slug,title",
            rules={"links": Elide()},
        ),
        Example(
            "curl -si 'localhost:5000/api/v1/posts?per_page=0'",
            "/api/v1/posts?per_page=0",
            status_line=True,
            show_headers=("Content-Type",),
        ),
        Example("curl -s localhost:5000/api/v1/posts/nope", "/api/v1/posts/nope"),
    ],
    "preview": [
        Example(
            'curl -s -H "Authorization: Bearer $CONTENTAPI_PREVIEW_TOKEN"'
            " 'localhost:5000/api/v1/posts?fields=slug&per_page=2'",
            "/api/v1/posts?fields=slug&per_page=2",
            headers={"Authorization": f"Bearer {PREVIEW_TOKEN}"},
            rules={"meta": Elide(), "links": Elide()},
        ),
    ],
    "search": [
        Example(
            "curl -s 'localhost:5000/api/v1/search?q=fermentacion&fields=slug,title'",
            "/api/v1/search?q=fermentacion&fields=slug,title",
            rules={"links": Elide()},
        ),
    ],
    "admin-reload": [
        Example(
            'curl -s -X POST -H "Authorization: Bearer $CONTENTAPI_ADMIN_TOKEN"'
            " localhost:8000/api/v1/admin/reload",
            "/api/v1/admin/reload",
            method="POST",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            host="localhost:8000",
            prepare=_edit_a_post,
        ),
    ],
}


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _shorten(value: Any, rule: Rule | None) -> str:
    if rule is None:
        return _dump(value)
    if isinstance(rule, Elide):
        return {dict: "{…}", list: "[…]"}.get(type(value), f'"{CUT}"')
    if isinstance(rule, Chars):
        return _dump(value) if len(value) <= rule.n else _dump(value[: rule.n])[:-1] + CUT + '"'
    if isinstance(rule, Head):
        items = [_dump(item) for item in value[: rule.n]]
        return "[" + ",".join(items + ([CUT] if len(value) > rule.n else [])) + "]"
    members = [f"{_dump(key)}:{_dump(value[key])}" for key in rule.names]
    return "{" + ",".join(members + ([CUT] if len(value) > len(rule.names) else [])) + "}"


def _json(text: str, example: Example) -> str:
    """The body as served, or shortened by the example's rules (and wrapped) when it has some."""
    if not example.rules and not example.wrap:
        return text.rstrip("\n")
    document = json.loads(text)
    members = [
        f"{_dump(key)}:{_shorten(value, example.rules.get(key))}" for key, value in document.items()
    ]
    if not example.wrap:
        return "{" + ",".join(members) + "}"
    lines, line = [], "{"
    for member in members:
        if len(line) + len(member) + 1 > 100 and line not in {"{", " "}:
            lines.append(line)
            line = " "
        line += member + ","
    lines.append(line[:-1] + "}")
    return "\n".join(lines)


def _build(content: Path) -> Any:
    """An app built as `make run` builds it (no CONTENTAPI_* from the caller's environment)."""
    from contentapi import create_app

    environ = {key: value for key, value in os.environ.items() if key.startswith("CONTENTAPI_")}
    for key in environ:
        del os.environ[key]
    try:
        app = create_app(
            {
                "SEARCH_WARM_UP": False,
                "CONTENTAPI_CONTENT_DIR": str(content),
                "CONTENTAPI_PARSE_CACHE": "off",
                "CONTENTAPI_STORE_PATH": "off",  # nothing written to the user's cache
                "CONTENTAPI_WATCH": "false",
                "CONTENTAPI_LOG_LEVEL": "WARNING",
                "CONTENTAPI_PREVIEW_TOKEN": PREVIEW_TOKEN,
                "CONTENTAPI_ADMIN_TOKEN": ADMIN_TOKEN,
            }
        )
    finally:
        os.environ.update(environ)
    app.extensions["contentapi"].clock = lambda: NOW
    return app


@functools.cache
def _bundled() -> Any:
    """One app over `content/` for every example that only reads."""
    return _build(ROOT / "content")


@contextmanager
def _app(example: Example) -> Iterator[Any]:
    """The bundled app, or for an example that changes files, an app over a copy of them."""
    if example.prepare is None:
        yield _bundled()
        return
    with tempfile.TemporaryDirectory() as scratch:
        content = Path(scratch) / "content"
        shutil.copytree(ROOT / "content", content)
        app = _build(content)
        example.prepare(content)
        yield app


def run(example: Example) -> str:
    """What the terminal shows: the prompt and command, then the output."""
    with _app(example) as app:
        response = app.test_client().open(
            example.path,
            method=example.method,
            headers=dict(example.headers),
            base_url=f"http://{example.host}",
        )
    lines = [f"$ {example.command}"]
    if example.status_line:
        lines.append(f"HTTP/1.1 {response.status}")
    lines += [f"{name}: {response.headers[name]}" for name in example.show_headers]
    if example.body:
        if example.status_line:
            lines.append("")
        lines.append(_json(response.get_data(as_text=True), example))
    return "\n".join(lines)


def block(name: str) -> str:
    """The text between an example block's markers: a `console` code block."""
    return "```console\n" + "\n\n".join(run(example) for example in EXAMPLES[name]) + "\n```\n"


def normalise(text: str) -> str:
    for pattern, placeholder in VOLATILE:
        text = pattern.sub(placeholder, text)
    return text


def generated(readme: str) -> str:
    """The README with every example block as the examples produce it today."""
    found = {match.group("name") for match in BLOCK.finditer(readme)}
    if found != set(EXAMPLES):
        raise SystemExit(f"README example blocks {sorted(found)} != {sorted(EXAMPLES)}")
    return BLOCK.sub(lambda m: m.group(1) + block(m.group("name")) + m.group(4), readme)


def differences(readme: str, fresh: str | None = None) -> str:
    """A unified diff of what is stale in the README (volatile values aside); empty if none.
    `fresh` is `generated(readme)` when the caller has it already."""
    fresh = generated(readme) if fresh is None else fresh
    diff = difflib.unified_diff(
        normalise(readme).splitlines(),
        normalise(fresh).splitlines(),
        "README.md",
        "generated",
        lineterm="",
    )
    return "\n".join(diff)


def _settle() -> None:
    """Let background work an example started (the reload's warm-up) finish before exit."""
    for thread in threading.enumerate():
        if thread is not threading.main_thread():
            thread.join(timeout=30)


def main(argv: list[str]) -> int:
    try:
        return _main(argv)
    finally:
        _settle()


def _main(argv: list[str]) -> int:
    readme = README.read_text(encoding="utf-8")
    if argv[1:] == ["--check"]:
        diff = differences(readme)
        print(diff or "README examples are current.")
        return 1 if diff else 0
    if argv[1:]:
        print(__doc__)
        return 2
    README.write_text(generated(readme), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
