"""Shortcodes: Hugo `{{< >}}`/`{{% %}}` and Liquid `{% %}` expanded to plain Markdown.

A pure pre-pass over a post's body, before anything parses it: analysis, rendering and the block
tree all start from `expand(body, templates).markdown`, so they agree. What it emits is ordinary
Markdown (fenced code, images, blockquotes, links) plus one raw HTML block per embed, whose outer
element is `<div class="embed embed-PROVIDER" data-embed-*>` (see CONTRACT-embeds.md).

The scan is linear in the body: every search moves forward and every "find the next X" is
remembered, so hostile input cannot make it backtrack. Code (fenced blocks and inline spans)
stays literal, as tutorials about Hugo and Jekyll need; Hugo's `{{</* x */>}}` and Liquid's
`{% raw %}` show template text on purpose. Unknown shortcodes and template logic are removed and
reported, never shown to readers.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import html
import posixpath
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlsplit

from contentapi.engine.model import ContentIssue, SourceFile

if TYPE_CHECKING:  # Jinja is imported where it is used, so a site without templates skips it
    from jinja2 import Template, TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment
    from markupsafe import Markup

FOLDER = "_shortcodes"
"""The folder of the content tree that holds site shortcode templates (`NAME.html`)."""

MAX_DEPTH = 64  # open paired shortcodes kept at once; deeper nesting is not real content
MAX_TEMPLATE_OUTPUT = 256 * 1024
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass(frozen=True)
class ShortcodeIssue:
    """Something in the body that was removed or could not be expanded (line is 1-based)."""

    line: int
    message: str


@dataclass(frozen=True)
class Expanded:
    """The body as plain Markdown, what was wrong with it, and the post links it names."""

    markdown: str
    issues: tuple[ShortcodeIssue, ...] = ()
    refs: tuple[tuple[int, str], ...] = ()  # (line, target) of ref/relref/post_url/link


# Site templates ---------------------------------------------------------------------------


def _embed_global(
    provider: str, url: str, id: str = "", title: str = "", src: str = "", **size: Any
) -> Markup:
    """`embed(...)` inside a site template: the standard embed block, like the built-ins."""
    from markupsafe import Markup

    return Markup(  # noqa: S704 - embed_html escapes every value
        embed_html(provider, url, id=str(id), title=str(title), src=str(src), **_size(size))
    )


def _size(values: Mapping[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in values.items() if k in {"width", "height"} and str(v).isdigit()}


@functools.cache
def _environment() -> ImmutableSandboxedEnvironment:
    """Jinja's sandbox, made on first use: a site without templates never loads Jinja."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    environment = ImmutableSandboxedEnvironment(autoescape=True)
    environment.globals["embed"] = _embed_global
    return environment


class Templates(Mapping[str, str]):
    """Site shortcode templates by name: Jinja2 sources, compiled once in the sandbox.

    Immutable and hashable (the hash is computed once), so it can be part of a render cache key.
    """

    __slots__ = ("_compiled", "_digest", "_hash", "_sources")

    def __init__(self, sources: Mapping[str, str] | None = None) -> None:
        self._sources = dict(sorted((sources or {}).items()))
        hasher = hashlib.sha256()
        for name, text in self._sources.items():
            hasher.update(f"{name}\0{text}\0".encode())
        self._digest = hasher.hexdigest()
        self._hash = hash(self._digest)
        self._compiled: dict[str, Template | TemplateError] = {}

    @property
    def digest(self) -> str:
        return self._digest

    def __getitem__(self, name: str) -> str:
        return self._sources[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._sources)

    def __len__(self) -> int:
        return len(self._sources)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Templates) and other._digest == self._digest

    def __repr__(self) -> str:
        return f"Templates({sorted(self._sources)!r})"

    def compiled(self, name: str) -> Template | TemplateError:
        """The compiled template, or the `TemplateError` it raised (a memo, not state)."""
        from jinja2 import TemplateError

        found = self._compiled.get(name)
        if found is None:
            try:
                found = _environment().from_string(self._sources[name])
            except TemplateError as exc:
                found = exc
            self._compiled[name] = found
        return found


NO_TEMPLATES = Templates()


def load_templates(files: Iterable[SourceFile]) -> tuple[Templates, tuple[ContentIssue, ...]]:
    """`_shortcodes/NAME.html` files as templates; a file that cannot be used is a warning."""
    sources: dict[str, str] = {}
    issues: list[ContentIssue] = []
    for file in sorted(files, key=lambda f: f.path):
        name = posixpath.splitext(posixpath.basename(file.path))[0].lower()
        if not _NAME.match(name):
            message = "a shortcode template name uses only a-z, 0-9, - and _"
            issues.append(ContentIssue(file.path, None, message, severity="warning"))
            continue
        try:
            sources[name] = file.content.decode("utf-8-sig")
        except UnicodeDecodeError:
            message = "shortcode template is not valid UTF-8"
            issues.append(ContentIssue(file.path, None, message, severity="warning"))
    templates = Templates(sources)
    for name in templates:
        error = templates.compiled(name)
        if isinstance(error, Exception):
            line = getattr(error, "lineno", None)
            message = f"shortcode template cannot be used: {error.message or error}"
            path = f"{FOLDER}/{name}.html"
            issues.append(ContentIssue(path, None, message, line, severity="warning"))
    return templates, tuple(issues)


# Embeds -----------------------------------------------------------------------------------

_YOUTUBE_ALLOW = (
    "accelerometer; autoplay; clipboard-write; encrypted-media; gyroscope; picture-in-picture; "
    "web-share"
)


def embed_html(
    provider: str,
    url: str,
    *,
    id: str = "",
    title: str = "",
    src: str = "",
    width: str = "",
    height: str = "",
    allow: str = "",
) -> str:
    """The one shape of an embed: a `div.embed` with `data-embed-*`, wrapping an iframe to
    `src` (lazy, titled) or, without one, a plain link to the public URL."""
    esc = html.escape
    label = title or url
    head = (
        f'<div class="embed embed-{esc(provider)}" data-embed-provider="{esc(provider)}" '
        f'data-embed-id="{esc(id)}" data-embed-url="{esc(url)}" data-embed-title="{esc(title)}">'
    )
    if not src:
        return f'{head}<a href="{esc(url)}">{esc(label)}</a></div>'
    size = (f' width="{esc(width)}"' if width else "") + (
        f' height="{esc(height)}"' if height else ""
    )
    permissions = f' allow="{esc(allow)}"' if allow else ""
    return (
        f'{head}<iframe src="{esc(src)}" title="{esc(label)}" loading="lazy"{size}{permissions} '
        f'allowfullscreen referrerpolicy="strict-origin-when-cross-origin"></iframe></div>'
    )


# Arguments --------------------------------------------------------------------------------

_ARG = re.compile(
    r"""\s*(?:([\w.-]+)\s*=\s*)?(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|`([^`]*)`|(\S+))""", re.S
)


@dataclass
class _Call:
    """One shortcode use: its name, arguments as written, inner content, where it is."""

    name: str
    liquid: bool
    text: str  # the opening tag as written, for messages
    start: int  # where it starts in the body
    prefix: str  # the container marks (indent, `>`) of the line it starts on
    arguments: str = ""
    positional: list[str] = field(default_factory=list)
    named: dict[str, str] = field(default_factory=dict)
    quoted: list[bool] = field(default_factory=list)
    inner: str | None = None

    def get(self, *keys: str | int, default: str = "") -> str:
        for key in keys:
            if isinstance(key, int):
                if key < len(self.positional):
                    return self.positional[key]
            elif key in self.named:
                return self.named[key]
        return default

    @property
    def shown(self) -> str:
        return _shown(self.text)


def _parse_arguments(call: _Call, text: str) -> None:
    for match in _ARG.finditer(text):
        key, double, single, backtick, bare = match.groups()
        if double is not None:
            value, quoted = double.replace('\\"', '"'), True
        elif single is not None or backtick is not None:
            value, quoted = single if single is not None else backtick or "", True
        else:
            value, quoted = bare or "", False
        if key:
            call.named[key.lower()] = value
        else:
            call.positional.append(value)
            call.quoted.append(quoted)


class _Invalid(ValueError):
    """A built-in shortcode whose arguments cannot be used; the message says why."""


# The scanner ------------------------------------------------------------------------------

_EVENT = re.compile(r"^[ \t]*(?:>[ \t]?)*(`{3,}|~{3,})|`+|\{[{%]", re.M)
_BLANK = re.compile(r"\n[ \t]*\n")
_NOT_INSIDE_A_TAG = re.compile(r"\{[{%]|\n[ \t]*\n")
_PREFIX = re.compile(r"[ \t>]*")
_RAW_IN_CODE = re.compile(r"\{%-?[ \t]*(?:end)?raw[ \t]*-?%\}")
_BACKTICKS = re.compile(r"`+")
_EXPRESSION_ROOT = re.compile(r"[\s(]*([A-Za-z_]\w*)")

# Names whose inner content is taken verbatim, never scanned for shortcodes.
_RAW_CONTENT = frozenset({"highlight", "code", "codeblock", "raw", "rawhtml", "comment"})
# Liquid logic: meaningful only inside Jekyll's templates. Blocks are dropped with their content.
_LOGIC_BLOCKS = frozenset({"for", "if", "unless", "case", "capture", "tablerow"})
_LOGIC_TAGS = frozenset(
    {"assign", "include", "include_relative", "render", "increment", "decrement", "cycle",
     "break", "continue", "else", "elsif", "when", "echo", "liquid", "layout", "seo", "feed_meta"}
)  # fmt: skip
_SITE_ROOT = frozenset({"site.url", "site.baseurl", "site.base_url", "root_url", "base_url"})
_LIQUID_GLOBALS = frozenset(
    {"page", "site", "post", "paginator", "layout", "content", "include", "jekyll", "theme",
     "forloop", "tablerowloop", "root_url", "base_url"}
)  # fmt: skip
_URL_FILTER = re.compile(r"""^\s*(["'])([^"']*)\1\s*\|\s*(?:relative_url|absolute_url)\s*$""")


class _Forward:
    """`find`/`search` that remember their last answer: the scan only moves forward, so each
    part of the text is searched at most once per needle (linear, however hostile the body)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._memo: dict[object, tuple[int, int, int]] = {}

    def find(self, needle: str, start: int) -> int:
        return self._lookup(needle, start, lambda: (self.text.find(needle, start), len(needle)))

    def search(self, pattern: re.Pattern[str], start: int) -> tuple[int, int]:
        """Start and end of the next match at or after `start`, or (-1, -1)."""

        def run() -> tuple[int, int]:
            match = pattern.search(self.text, start)
            return (match.start(), match.end() - match.start()) if match else (-1, 0)

        at = self._lookup(pattern, start, run)
        return (at, at + self._memo[pattern][2]) if at >= 0 else (-1, -1)

    def _lookup(self, key: object, start: int, run: Callable[[], tuple[int, int]]) -> int:
        known = self._memo.get(key)
        if known is not None:
            since, at, width = known
            if since <= start and (at == -1 or at >= start):
                return at
        at, width = run()
        self._memo[key] = (start, at, width)
        return at


class _Runs:
    """Every backtick run of the body by length, to pair inline code spans in linear time."""

    def __init__(self, text: str) -> None:
        self._by_length: dict[int, list[int]] = {}
        for match in _BACKTICKS.finditer(text):
            self._by_length.setdefault(match.end() - match.start(), []).append(match.start())
        self._cursor: dict[int, int] = {}

    def next(self, length: int, start: int) -> int:
        """Where the next run of exactly `length` backticks starts at or after `start`."""
        positions = self._by_length.get(length, [])
        at = self._cursor.get(length, 0)
        while at < len(positions) and positions[at] < start:
            at += 1
        self._cursor[length] = at
        return positions[at] if at < len(positions) else -1


@dataclass
class _Frame:
    call: _Call
    index: int  # where its placeholder is in the output
    issue_mark: int
    start: int


class _Scanner:
    def __init__(self, body: str, templates: Templates, embeds: bool) -> None:
        self.body = body
        self.templates = templates
        self.embeds = embeds
        self.forward = _Forward(body)
        self.out: list[str | _Call] = []
        self.frames: list[_Frame] = []
        self.open: dict[tuple[bool, str], int] = {}
        self.issues: list[tuple[int, str]] = []  # (position, message)
        self.refs: list[tuple[int, str]] = []
        self.variables: set[str] = set()
        self._runs: _Runs | None = None
        self._newlines: list[int] | None = None
        self._line_at = (0, 0)  # (position, start of its line)
        self._prefixes: dict[int, str] = {}

    # where things are

    def line(self, position: int) -> int:
        if self._newlines is None:
            self._newlines = [m.start() for m in re.finditer("\n", self.body)]
        return bisect.bisect_left(self._newlines, position) + 1

    def prefix(self, position: int) -> str:
        """The indentation and `>` marks at the start of the line holding `position`."""
        seen, line_start = self._line_at
        if position < seen:
            line_start = self.body.rfind("\n", 0, position) + 1
        else:
            found = self.body.rfind("\n", seen, position)
            line_start = found + 1 if found >= 0 else line_start
        self._line_at = (position, line_start)
        known = self._prefixes.get(line_start)
        if known is None:
            match = _PREFIX.match(self.body, line_start, min(position, line_start + 64))
            known = self._prefixes[line_start] = match.group(0) if match else ""
        return known

    def warn(self, position: int, message: str) -> None:
        self.issues.append((position, message))

    # the pass

    def run(self) -> Expanded:
        body, pos = self.body, 0
        while pos < len(body):
            match = _EVENT.search(body, pos)
            if match is None:
                break
            start = match.start()
            if match.group(1) is not None:
                end = self._fence(match)
                if end is not None:
                    self.text(body[pos:start])
                    self.out.append(_literal(body[start:end]))
                    pos = end
                    continue
                start = match.start(1)  # a run of backticks with more on its line: inline code
            if body[start] == "`":
                self.text(body[pos:start])
                pos = self._code_span(start)
                continue
            self.text(body[pos:start])
            pos = self._tag(start)
        self.text(body[pos:])
        while self.frames:  # never closed: each was a tag on its own
            self._pop()
        markdown = self._join(self.out)
        issues = tuple(ShortcodeIssue(self.line(p), m) for p, m in sorted(self.issues))
        refs = tuple((self.line(p), target) for p, target in self.refs)
        return Expanded(markdown, issues, refs)

    def text(self, chunk: str) -> None:
        if chunk:
            self.out.append(chunk)

    def _fence(self, match: re.Match[str]) -> int | None:
        """The end of the fenced code block opening at `match`, or None if it is not one."""
        body, fence = self.body, match.group(1)
        line_end = body.find("\n", match.end())
        line_end = len(body) if line_end < 0 else line_end
        if fence[0] == "`" and "`" in body[match.end() : line_end]:
            return None
        closing = _FENCE_CLOSERS[fence[0]]
        at = line_end
        while True:
            found, end = self.forward.search(closing, at)
            if found < 0:
                return len(body)
            run = body[found:end].strip(" \t>\n")
            if len(run) >= len(fence):
                return end
            at = end

    def _code_span(self, start: int) -> int:
        body = self.body
        end = start
        while end < len(body) and body[end] == "`":
            end += 1
        if start > 0 and body[start - 1] == "\\":
            self.out.append(body[start:end])
            return end
        if self._runs is None:
            self._runs = _Runs(body)
        closer = self._runs.next(end - start, end)
        blank = self.forward.search(_BLANK, end)[0]
        if closer < 0 or (0 <= blank < closer):
            self.out.append(body[start:end])
            return end
        stop = closer + (end - start)
        self.out.append(_literal(body[start:stop]))
        return stop

    def _tag(self, start: int) -> int:
        body = self.body
        if body.startswith(("{{<", "{{%"), start):
            mark = body[start + 2]
            if body.startswith("/*", start + 3):
                return self._hugo_escape(start, mark)
            return self._hugo(start, mark)
        if body.startswith("{{", start):
            return self._expression(start)
        return self._liquid(start)

    def _closed(self, start: int, opener: int, closer: str) -> int:
        """The end of the tag's text, or -1 when this is no tag (no closer in its paragraph)."""
        at = self.forward.find(closer, start + opener)
        if at < 0:
            return -1
        inside = self.forward.search(_NOT_INSIDE_A_TAG, start + opener)[0]
        return -1 if 0 <= inside < at else at

    def _hugo_escape(self, start: int, mark: str) -> int:
        closer = "*/" + _HUGO_CLOSE[mark]
        at = self._closed(start, 5, closer)
        if at < 0:
            self.out.append(self.body[start : start + 2])
            return start + 2
        opener = "{{\\<" if mark == "<" else "{{%"  # `\<` keeps Markdown from reading a tag
        self.out.append(opener + self.body[start + 5 : at] + _HUGO_CLOSE[mark])
        return at + len(closer)

    def _hugo(self, start: int, mark: str) -> int:
        closer = _HUGO_CLOSE[mark]
        at = self._closed(start, 3, closer)
        if at < 0:
            self.out.append(self.body[start : start + 2])
            return start + 2
        end = at + len(closer)
        inside = self.body[start + 3 : at].strip()
        if inside.startswith("/"):
            self._close(False, _split_name(inside[1:])[0], start, end)
            return end
        if inside.endswith("/"):  # self-closing `{{< name />}}`
            inside = inside[:-1]
        name, arguments = _split_name(inside)
        return self._open(False, name, arguments, start, end)

    def _braced(self, start: int, closer: str) -> tuple[int, str] | None:
        """A `{% ... %}` or `{{ ... }}` tag at `start`: its end and what is inside, without
        spaces or Liquid's `-` trim marks; None (its two characters kept as text) when the
        closer is not in the paragraph."""
        at = self._closed(start, 2, closer)
        if at < 0:
            self.out.append(self.body[start : start + 2])
            return None
        return at + 2, self.body[start + 2 : at].strip().strip("-").strip()

    def _liquid(self, start: int) -> int:
        found = self._braced(start, "%}")
        if found is None:
            return start + 2
        end, inside = found
        name, arguments = _split_name(inside)
        if name.startswith("end") and len(name) > 3:
            self._close(True, name[3:], start, end)
            return end
        return self._open(True, name, arguments, start, end)

    def _expression(self, start: int) -> int:
        found = self._braced(start, "}}")
        if found is None:
            return start + 2
        end, expression = found
        if expression in _SITE_ROOT:  # `{{ site.baseurl }}/images/x.png`: the site's root
            return end
        url = _URL_FILTER.match(expression)
        if url:  # `{{ "/x.png" | relative_url }}`
            self.out.append(url.group(2))
            return end
        root = _EXPRESSION_ROOT.match(expression)
        template = expression.startswith((".", "$")) or (
            root is not None
            and (root.group(1) in _LIQUID_GLOBALS or root.group(1) in self.variables)
        )
        if not template:
            self.out.append(self.body[start:end])
            return end
        self.warn(start, f"template expression {_shown(self.body[start:end])} removed")
        return end

    # opening and closing

    def _open(self, liquid: bool, name: str, arguments: str, start: int, end: int) -> int:
        if not name:
            self.out.append(self.body[start:end])
            return end
        call = _Call(name, liquid, self.body[start:end], start, self.prefix(start), arguments)
        _parse_arguments(call, arguments)
        if liquid and name in {"assign", "capture", "for"}:
            variable = _EXPRESSION_ROOT.match(arguments)
            if variable:
                self.variables.add(variable.group(1))
        if name in _RAW_CONTENT:
            closing = _closing_tag(liquid, name)
            found, close_end = self.forward.search(closing, end)
            if found >= 0:
                call.inner = self.body[end:found]
                self.out.append(self._expand(call))
                return close_end
        if self._standalone(call):
            self.out.append(self._expand(call))
            return end
        if len(self.frames) >= MAX_DEPTH:  # retire the oldest: it will stand on its own
            oldest = self.frames.pop(0)
            self.open[(oldest.call.liquid, oldest.call.name)] -= 1
        key = (liquid, name)
        self.frames.append(_Frame(call, len(self.out), len(self.issues), start))
        self.open[key] = self.open.get(key, 0) + 1
        self.out.append(call)
        return end

    def _standalone(self, call: _Call) -> bool:
        """Whether a tag never takes inner content (known without looking for its end)."""
        if call.name in self.templates:
            return False
        if call.liquid:
            return call.name in _LOGIC_TAGS or call.name in _LIQUID_STANDALONE
        return call.name in _HUGO_STANDALONE

    def _close(self, liquid: bool, name: str, start: int, end: int) -> None:
        key = (liquid, name.lower())
        if not self.open.get(key):
            shown = _shown(self.body[start:end])
            self.warn(start, f"closing {shown} without its opening tag removed")
            return
        while True:
            frame = self.frames[-1]
            if (frame.call.liquid, frame.call.name) == key:
                break
            self._pop()
        self.frames.pop()
        self.open[key] -= 1
        call = frame.call
        inner = self.out[frame.index + 1 :]
        del self.out[frame.index :]
        if call.liquid and call.name in _LOGIC_BLOCKS:
            del self.issues[frame.issue_mark :]
            what = _shown(f"{{% {call.name} %}}…{{% end{call.name} %}}")
            self.warn(frame.start, f"Liquid template logic {what} removed with its content")
            return
        call.inner = self._join(inner)
        self.out.append(self._expand(call))

    def _pop(self) -> None:
        frame = self.frames.pop()
        self.open[(frame.call.liquid, frame.call.name)] -= 1

    def _join(self, parts: list[str | _Call]) -> str:
        return "".join(part if isinstance(part, str) else self._expand(part) for part in parts)

    # expansion

    def _expand(self, call: _Call) -> str:
        try:
            if call.name in self.templates:
                return self._template(call)
            handler = _BUILT_INS.get(call.name)
            if handler is not None and (call.liquid or call.name not in _LIQUID_ONLY):
                return handler(self, call)
            return self._unknown(call)
        except _Invalid as exc:
            self.warn(call.start, f"{call.shown} removed: {exc}")
            return _keep_inner(call)

    def _unknown(self, call: _Call) -> str:
        if call.liquid and call.name == "comment":
            return ""
        if call.liquid and (call.name in _LOGIC_TAGS or call.name in _LOGIC_BLOCKS):
            self.warn(call.start, f"Liquid template logic {call.shown} removed")
        else:
            kind = "Liquid tag" if call.liquid else "shortcode"
            hint = f"add {FOLDER}/{call.name}.html to render it"
            self.warn(call.start, f"unknown {kind} {call.shown} removed ({hint})")
        return _keep_inner(call)

    def _template(self, call: _Call) -> str:
        template = self.templates.compiled(call.name)
        if isinstance(template, Exception):
            self.warn(call.start, f"{call.shown} removed: {FOLDER}/{call.name}.html has errors")
            return _keep_inner(call)
        try:
            output = template.render(
                name=call.name,
                args=list(call.positional),
                params=dict(call.named),
                inner=call.inner or "",
                get=call.get,
            )
        except Exception as exc:
            self.warn(call.start, f"{call.shown} removed: {FOLDER}/{call.name}.html failed: {exc}")
            return _keep_inner(call)
        if len(output) > MAX_TEMPLATE_OUTPUT:
            self.warn(call.start, f"{call.shown} removed: its template output is too large")
            return ""
        output = output.strip("\n")
        if "\n" in output or output.lstrip().startswith(_BLOCK_STARTS):
            return _block(output, call.prefix)
        return output

    def embed(self, call: _Call, provider: str, url: str, **attributes: str) -> str:
        if not self.embeds:  # raw HTML is shown as text: a link serves readers better
            title = attributes.get("title") or url
            return _block(f"[{_link_text(title)}]({_destination(url)})", call.prefix)
        return _block(embed_html(provider, url, **attributes), call.prefix)


def _split_name(inside: str) -> tuple[str, str]:
    """A tag's name (lowercased) and the text of its arguments."""
    parts = inside.split(None, 1)
    if not parts:
        return "", ""
    return parts[0].lower(), parts[1] if len(parts) > 1 else ""


_FENCE_CLOSERS = {
    "`": re.compile(r"^[ \t]*(?:>[ \t]?)*`{3,}[ \t]*(?:\n|\Z)", re.M),
    "~": re.compile(r"^[ \t]*(?:>[ \t]?)*~{3,}[ \t]*(?:\n|\Z)", re.M),
}
_HUGO_CLOSE = {"<": ">}}", "%": "%}}"}
_CLOSING_TAGS: dict[tuple[bool, str], re.Pattern[str]] = {}


def _closing_tag(liquid: bool, name: str) -> re.Pattern[str]:
    key = (liquid, name)
    found = _CLOSING_TAGS.get(key)
    if found is None:
        word = re.escape(name)
        found = _CLOSING_TAGS[key] = re.compile(
            rf"\{{%-?[ \t]*end{word}[ \t]*-?%\}}"
            if liquid
            else rf"\{{\{{[<%][ \t]*/[ \t]*{word}[ \t]*[>%]\}}\}}"
        )
    return found


def _literal(code: str) -> str:
    """Code as the generator would have shown it: Hugo's escaped shortcodes and Liquid's
    `{% raw %}` marks were there only to keep the generator away."""
    if "{" not in code:
        return code
    if "/*" in code:
        for mark, close in _HUGO_CLOSE.items():
            code = code.replace("{{" + mark + "/*", "{{" + mark).replace("*/" + close, close)
    if "raw" in code:
        code = _RAW_IN_CODE.sub("", code)
    return code


def _shown(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 80 else text[:77] + "..."


def _keep_inner(call: _Call) -> str:
    """What an unknown paired shortcode leaves: its content, which is the author's text."""
    if not call.inner or call.name in _RAW_CONTENT - {"raw", "rawhtml"}:
        return ""
    return call.inner


_BLOCK_STARTS = tuple(
    f"<{tag}" for tag in
    ("div", "figure", "iframe", "video", "audio", "section", "aside", "blockquote", "table", "p",
     "pre", "ul", "ol", "details", "picture", "hr", "h1", "h2", "h3", "h4", "h5", "h6")
)  # fmt: skip


def _block(text: str, prefix: str) -> str:
    """`text` as a block of its own: blank lines around it, inside the same list or quote."""
    lines = text.split("\n")
    blank = prefix.rstrip()
    return f"\n{blank}\n{prefix}" + f"\n{prefix}".join(lines) + f"\n{blank}\n{prefix}"


def _dedent(text: str, prefix: str) -> str:
    """Inner content without the container marks its lines repeat (a list's indent)."""
    if not prefix:
        return text
    lines = text.split("\n")
    if all(line.startswith(prefix) or not line.strip() for line in lines):
        return "\n".join(line[len(prefix) :] if line.startswith(prefix) else "" for line in lines)
    return text


def _trim_code(code: str) -> str:
    lines = code.split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines)


def _link_text(text: str) -> str:
    return re.sub(r"([\\\[\]*_`<>])", r"\\\1", " ".join(text.split()))


def _destination(url: str) -> str:
    if re.search(r"[\s()<>]", url):
        return "<" + url.replace("<", "%3C").replace(">", "%3E") + ">"
    return url


def _image(alt: str, src: str, title: str = "") -> str:
    title_part = f' "{title.replace(chr(34), chr(92) + chr(34))}"' if title else ""
    return f"![{_link_text(alt)}]({_destination(src)}{title_part})"


# Built-ins --------------------------------------------------------------------------------

_ID = re.compile(r"^[\w-]{1,128}$")
_NUMBER = re.compile(r"^\d{1,30}$")


def _one_id(value: str, what: str) -> str:
    value = value.strip()
    if not _ID.match(value):
        raise _Invalid(f"{what} {value!r} is not an id" if value else f"it needs a {what}")
    return value


def _youtube(scanner: _Scanner, call: _Call) -> str:
    value = call.get("id", 0)
    start = call.get("start")
    if "/" in value:
        parts = urlsplit(value if "//" in value else "https://" + value)
        query = parse_qs(parts.query)
        path = [p for p in parts.path.split("/") if p]
        if "v" in query:
            value = query["v"][0]
        elif path and (parts.hostname or "").endswith("youtu.be"):
            value = path[0]
        elif len(path) >= 2 and path[0] in {"embed", "shorts", "live", "v"}:
            value = path[1]
        else:
            value = ""
        start = start or (query.get("t") or query.get("start") or [""])[0].rstrip("s")
    video = _one_id(value, "video id")
    options = [
        f"{k}={v}" for k, v in (("start", start), ("end", call.get("end"))) if _NUMBER.match(v)
    ]
    src = f"https://www.youtube-nocookie.com/embed/{video}" + (
        "?" + "&".join(options) if options else ""
    )
    title = call.get("title") or "YouTube video"
    return scanner.embed(
        call,
        "youtube",
        f"https://www.youtube.com/watch?v={video}",
        id=video,
        title=title,
        src=src,
        width="560",
        height="315",
        allow=_YOUTUBE_ALLOW,
    )


def _vimeo(scanner: _Scanner, call: _Call) -> str:
    value = call.get("id", 0).rstrip("/")
    if "/" in value:
        value = value.rsplit("/", 1)[1]
    if not _NUMBER.match(value):
        raise _Invalid(f"video id {value!r} is not a Vimeo id" if value else "it needs a video id")
    return scanner.embed(
        call,
        "vimeo",
        f"https://vimeo.com/{value}",
        id=value,
        title=call.get("title") or "Vimeo video",
        src=f"https://player.vimeo.com/video/{value}?dnt=1",
        width="640",
        height="360",
        allow="autoplay; fullscreen; picture-in-picture",
    )


def _tweet(scanner: _Scanner, call: _Call) -> str:
    user, status = call.get("user"), call.get("id")
    for value in call.positional:
        if "/status" in value:  # a tweet's URL
            path = [p for p in urlsplit(value).path.split("/") if p]
            if "status" in path[:-1]:
                user, status = path[0], path[path.index("status") + 1]
        elif _NUMBER.match(value):
            status = status or value
        elif value and not user:
            user = value.lstrip("@")
    if not _NUMBER.match(status or ""):
        raise _Invalid("it needs the post's numeric id")
    user = user if user and _ID.match(user) else ""
    url = f"https://x.com/{user or 'i'}/status/{status}"
    title = call.get("title") or (f"Post by @{user} on X" if user else "Post on X")
    return scanner.embed(call, "x", url, id=status, title=title)


def _gist(scanner: _Scanner, call: _Call) -> str:
    values = list(call.positional)
    user, gist, file = call.get("user"), call.get("id"), call.get("file")
    if values and "/" in values[0]:
        first = values.pop(0).rstrip("/")
        parts = (
            [p for p in urlsplit(first).path.split("/") if p] if "//" in first else first.split("/")
        )
        user, gist = (parts[-2], parts[-1]) if len(parts) >= 2 else ("", parts[-1])
        file = file or (values[0] if values else "")
    elif call.liquid:  # {% gist id [file] %}
        gist = gist or (values[0] if values else "")
        file = file or (values[1] if len(values) > 1 else "")
    else:  # {{< gist user id [file] >}}
        user = user or (values[0] if values else "")
        gist = gist or (values[1] if len(values) > 1 else "")
        file = file or (values[2] if len(values) > 2 else "")
    gist = _one_id(gist, "gist id")
    user = user if _ID.match(user or "") else ""
    url = f"https://gist.github.com/{user + '/' if user else ''}{gist}"
    if file:
        url += "#file-" + re.sub(r"[^\w-]", "-", file.lower())
    return scanner.embed(call, "gist", url, id=gist, title=file or "Gist on GitHub")


def _instagram(scanner: _Scanner, call: _Call) -> str:
    value = call.get("id", 0).rstrip("/")
    if "/" in value:
        value = value.rsplit("/", 1)[1]
    post = _one_id(value, "post id")
    url = f"https://www.instagram.com/p/{post}/"
    return scanner.embed(
        call, "instagram", url, id=post, title=call.get("title") or "Instagram post"
    )


_SPOTIFY_TYPES = ("track", "album", "playlist", "episode", "show", "artist")


def _spotify(scanner: _Scanner, call: _Call) -> str:
    kind, item = call.get("type"), call.get("id")
    value = call.get("uri", "url", 0)
    if value and not item:
        if "open.spotify.com" in value:
            path = [p for p in urlsplit(value).path.split("/") if p and p != "embed"]
            kind, item = (path[-2], path[-1]) if len(path) >= 2 else (kind, "")
        elif ":" in value:
            pieces = value.split(":")
            kind, item = pieces[-2], pieces[-1]
        elif "/" in value:
            kind, _, item = value.partition("/")
        else:
            kind, item = (
                (value, call.get(1)) if value in _SPOTIFY_TYPES else (kind or "track", value)
            )
    kind = (kind or "track").lower()
    if kind not in _SPOTIFY_TYPES:
        raise _Invalid(f"{kind!r} is not a Spotify type ({', '.join(_SPOTIFY_TYPES)})")
    item = _one_id(item, "Spotify id")
    return scanner.embed(
        call,
        "spotify",
        f"https://open.spotify.com/{kind}/{item}",
        id=item,
        title=call.get("title") or f"Spotify {kind}",
        src=f"https://open.spotify.com/embed/{kind}/{item}",
        width="100%",
        height="152" if kind in {"track", "episode"} else "352",
        allow="autoplay; clipboard-write; encrypted-media; fullscreen; picture-in-picture",
    )


def _codepen(scanner: _Scanner, call: _Call) -> str:
    user = call.get("user")
    pen = call.get("id", "slug", "hash", "pen", "pen_id")
    values = [v for v in call.positional if v]
    for value in values:
        if "codepen.io/" in value:
            path = [
                p
                for p in urlsplit(value if "//" in value else "https://" + value).path.split("/")
                if p
            ]
            if len(path) >= 3:
                user, pen = path[0], path[-1]
    if not pen and values:
        if len(values) == 1:
            pen = values[0]
        else:
            first, second = values[0], values[1]
            mixed = [v for v in (first, second) if v != v.lower() and v != v.upper()]
            pen = mixed[0] if len(mixed) == 1 else (first if call.liquid else second)
            user = user or (second if pen == first else first)
    pen = _one_id(pen, "pen id")
    user = user if _ID.match(user or "") else "anon"
    tab = call.get("tab", "default_tab", "type") or "result"
    tab = tab if re.match(r"^[a-z,]+$", tab) else "result"
    height = call.get("height")
    return scanner.embed(
        call,
        "codepen",
        f"https://codepen.io/{user}/pen/{pen}",
        id=pen,
        title=call.get("title") or "CodePen",
        src=f"https://codepen.io/{user}/embed/{pen}?default-tab={quote(tab, safe=',')}",
        width="100%",
        height=height if height.isdigit() else "300",
    )


def _figure(scanner: _Scanner, call: _Call) -> str:
    if call.liquid and not call.named:
        src, alt, title = _octopress_image(call)
        caption = ""
    else:
        src = call.get("src", 0)
        caption = call.get("caption")
        title = call.get("title")
        alt = call.get("alt") or _plain(caption) or title
        if not call.named and len(call.positional) > 1:  # {{< img src alt >}}
            alt = alt or call.positional[1]
    if not src:
        raise _Invalid("it needs an image (src)")
    image = _image(alt, src, title if title and title != alt else "")
    link = call.get("link")
    if link:
        image = f"[{image}]({_destination(link)})"
    attribution = call.get("attr")
    if attribution and call.get("attrlink"):
        attribution = f"[{_link_text(attribution)}]({_destination(call.get('attrlink'))})"
    caption = " ".join(caption.split())
    caption_line = ""
    if caption:
        caption_line = f"*{caption}*" if "*" not in caption else caption
    if attribution:
        caption_line = f"{caption_line} — {attribution}" if caption_line else attribution
    if call.name == "figure" and title and not caption_line:
        caption_line = f"*{' '.join(title.split())}*" if "*" not in title else title
    if not caption_line:
        return image
    return _block(f"{image}\n\n{caption_line}", call.prefix)


def _plain(markdown: str) -> str:
    return " ".join(re.sub(r"[*_`]|<[^>]{0,200}>", "", markdown).split())


def _octopress_image(call: _Call) -> tuple[str, str, str]:
    """`{% img [class names] /path/to/image [width] [height] [title text [alt text]] %}`."""
    values, quoted = call.positional, call.quoted
    at = next(
        (
            i
            for i, v in enumerate(values)
            if v.startswith(("/", "http://", "https://")) or "/" in v or "." in v
        ),
        None,
    )
    if at is None:
        return "", "", ""
    src = values[at]
    rest = list(zip(values[at + 1 :], quoted[at + 1 :], strict=True))
    while rest and rest[0][0].isdigit() and not rest[0][1]:
        rest.pop(0)
    texts = [value for value, was_quoted in rest if was_quoted]
    if len(texts) >= 2:
        return src, texts[1], texts[0]
    title = " ".join(value for value, _ in rest)
    return src, title, title


def _code(scanner: _Scanner, call: _Call) -> str:
    """A fenced code block with its language, so it is highlighted like any fenced code."""
    if call.inner is None:
        raise _Invalid("its closing tag is missing")
    code = _trim_code(_dedent(call.inner, call.prefix))
    language = call.get("lang", "language")
    caption = ""
    if call.name == "codeblock" and call.liquid:
        language, caption = _octopress_codeblock(call.positional, language)
    elif not language:
        language = next((v for v in call.positional if "=" not in v and ":" not in v), "")
    language = language if re.match(r"^[\w+#.-]{1,40}$", language or "") else ""
    longest = max((len(m.group(0)) for m in _BACKTICKS.finditer(code)), default=0)
    fence = "`" * max(3, longest + 1)
    block = f"{fence}{language}\n{code}\n{fence}"
    return _block(f"{caption}\n\n{block}" if caption else block, call.prefix)


def _octopress_codeblock(values: list[str], language: str) -> tuple[str, str]:
    """`{% codeblock [title] [lang:language] [url] [link text] %}`: language and caption."""
    title: list[str] = []
    link, link_text = "", []
    for value in values:
        if value.startswith("lang:"):
            language = value[5:]
        elif value.startswith(("http://", "https://")) and not link:
            link = value
        elif link:
            link_text.append(value)
        else:
            title.append(value)
    name = " ".join(title)
    if not language and "." in name:
        language = _language_for(name.rsplit(" ", 1)[-1])
    caption = f"*{_link_text(name)}*" if name else ""
    if link:
        text = " ".join(link_text) or "link"
        caption = f"{caption} [{_link_text(text)}]({_destination(link)})".strip()
    return language, caption


def _language_for(filename: str) -> str:
    from pygments.lexers import find_lexer_class_for_filename

    try:
        lexer = find_lexer_class_for_filename(filename)
    except Exception:
        return ""
    return lexer.aliases[0] if lexer is not None and lexer.aliases else ""


_PULL = re.compile(r'\{"\s*([^"]*?)\s*"\}')


def _quote(scanner: _Scanner, call: _Call) -> str:
    inner = _dedent((call.inner or "").strip("\n"), call.prefix).strip()
    if call.name == "pullquote" and '{"' in inner:  # Octopress: the marked part is decoration
        return _block(_PULL.sub(r"\1", inner), call.prefix)
    author = call.get("author", "by")
    source = call.get("source", "cite", "title")
    link = call.get("link", "url", "href")
    if call.liquid and call.positional and not call.named:
        author, source, link = _octopress_citation(call.arguments.strip())
    elif call.positional and not call.named:  # {{< blockquote "author" "source" "link" >}}
        author, source, link = call.get(0), call.get(1), call.get(2)
    if link and source:
        source = f"[{_link_text(source)}]({_destination(link)})"
    elif link:
        source = f"[{_link_text(_short_url(link))}]({_destination(link)})"
    attribution = ", ".join(part for part in (author.strip(), source.strip()) if part)
    lines = inner.split("\n") if inner else []
    if attribution:
        lines += ["", f"— {attribution}"]
    quoted = "\n".join(f"> {line}" if line.strip() else ">" for line in lines) or ">"
    return _block(quoted, call.prefix)


def _octopress_citation(text: str) -> tuple[str, str, str]:
    """Octopress: `author, source`, or `author url [link title]` (author, source, link)."""
    at = min((i for i in (text.find("http://"), text.find("https://")) if i >= 0), default=-1)
    if at >= 0:
        url, _, title = text[at:].partition(" ")
        return text[:at].strip(), title.strip(), url
    who, _, title = text.partition(",")
    return who.strip(), title.strip(), ""


def _short_url(url: str) -> str:
    parts = urlsplit(url)
    return (parts.hostname or url) + (parts.path if len(parts.path) > 1 else "")


def _raw(scanner: _Scanner, call: _Call) -> str:
    return call.inner or ""


def _ref(scanner: _Scanner, call: _Call) -> str:
    target = call.get("path", 0).strip()
    if not target:
        raise _Invalid("it needs the path of a post")
    scanner.refs.append((call.start, target))
    return quote(target, safe="/#?&=.-_~%:+")


def _post_url(scanner: _Scanner, call: _Call) -> str:
    target = call.get(0).strip()
    if not target:
        raise _Invalid("it needs the name of a post")
    if call.name == "post_url" and not target.endswith((".md", ".markdown")):
        target += ".md"
    scanner.refs.append((call.start, target))
    return quote(target, safe="/#?&=.-_~%:+")


def _details(scanner: _Scanner, call: _Call) -> str:
    summary = call.get("summary", 0) or "Details"
    inner = _dedent((call.inner or "").strip("\n"), call.prefix).strip()
    opened = " open" if call.get("open").lower() in {"true", "open", "1"} else ""
    return _block(
        f"<details{opened}><summary>{html.escape(summary)}</summary>\n\n{inner}\n\n</details>",
        call.prefix,
    )


def _video(scanner: _Scanner, call: _Call) -> str:
    """Octopress `{% video url [width height] [poster] %}`: a plain HTML5 video."""
    urls = [v for v in call.positional if v.startswith(("http://", "https://", "/"))]
    sizes = [v for v in call.positional if v.isdigit()]
    if not urls:
        raise _Invalid("it needs the video's URL")
    poster = f' poster="{html.escape(urls[1])}"' if len(urls) > 1 else ""
    size = f' width="{sizes[0]}" height="{sizes[1]}"' if len(sizes) >= 2 else ""
    tag = f'<video controls preload="metadata" src="{html.escape(urls[0])}"{size}{poster}></video>'
    return _block(tag, call.prefix)


def _comment(scanner: _Scanner, call: _Call) -> str:
    return ""


_BUILT_INS: dict[str, Callable[[_Scanner, _Call], str]] = {
    "youtube": _youtube,
    "vimeo": _vimeo,
    "tweet": _tweet,
    "twitter": _tweet,
    "x": _tweet,
    "gist": _gist,
    "instagram": _instagram,
    "spotify": _spotify,
    "pen": _codepen,
    "codepen": _codepen,
    "figure": _figure,
    "img": _figure,
    "image": _figure,
    "highlight": _code,
    "code": _code,
    "codeblock": _code,
    "blockquote": _quote,
    "pullquote": _quote,
    "raw": _raw,
    "rawhtml": _raw,
    "ref": _ref,
    "relref": _ref,
    "post_url": _post_url,
    "link": _post_url,
    "details": _details,
    "video": _video,
    "comment": _comment,
}
_LIQUID_ONLY = frozenset({"post_url", "link", "video"})
_HUGO_STANDALONE = frozenset(
    {"youtube", "vimeo", "tweet", "twitter", "x", "gist", "instagram", "spotify", "pen",
     "codepen", "figure", "img", "image", "ref", "relref", "param"}
)  # fmt: skip
_LIQUID_STANDALONE = frozenset(
    {"youtube", "vimeo", "tweet", "twitter", "x", "gist", "instagram", "spotify", "pen",
     "codepen", "img", "image", "post_url", "link", "video"}
)  # fmt: skip


def expand(
    body: str, templates: Mapping[str, str] = NO_TEMPLATES, *, embeds: bool = True
) -> Expanded:
    """The body with every shortcode expanded to plain Markdown (see the module docstring).

    `templates` are the site's shortcode templates by name (the index's `Templates`, which
    compiles each once; a plain mapping works too). `embeds=False` writes embeds as Markdown
    links (for `CONTENTAPI_RAW_HTML=escape`).
    """
    if "{{" not in body and "{%" not in body:
        return Expanded(body)
    if not isinstance(templates, Templates):
        templates = Templates(templates)
    return _Scanner(body, templates, embeds).run()
