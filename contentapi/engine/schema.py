"""The front-matter format: the one definition of what a post may say.

`FIELDS` is the field table. Each entry is one first-class front-matter field: the key authors
write (validated by its marshmallow field), the `Post` attribute it becomes, how that value is
kept in the parse cache and shown as JSON, and whether the JSON shows it. The `Post` model, the
parse cache, the serializers and the `fields=` allowlist all follow this table. To add a field:
one entry here (and its typed attribute on `Post`, which a test checks), then its `openapi.yaml`
entry and tests.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any, ClassVar, Literal

from marshmallow import INCLUDE, Schema, ValidationError, fields, post_load, validates_schema

from contentapi.engine.analysis import inline_text
from contentapi.engine.dates import parse_date
from contentapi.engine.model import FrozenMap, TermRef

SCALARS = (str, int, float, bool)
# Characters no reader should get: C0 controls (bar tab and newline), DEL, lone surrogates and
# non-characters. C1 controls (U+0080-U+009F) are the Windows-1252 characters they stand for in
# text from old WordPress databases (`\x96` is `–`), as HTML decodes `&#150;`.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_C1 = re.compile("[\x80-\x9f]")


def _windows_1252(match: re.Match[str]) -> str:
    try:
        return bytes([ord(match.group())]).decode("cp1252")
    except UnicodeDecodeError:  # five of them stand for nothing
        return ""


def plain_text(text: str, *, one_line: bool = True) -> str:
    """Text as its author meant it: HTML entities decoded (WordPress exports write `&#8211;`
    for `–`), control characters gone, and on one line unless `one_line` is False."""
    if "&" not in text and text.isprintable() and (not one_line or "  " not in text):
        return text if one_line else text.strip()  # nothing to decode, remove or join
    if "&" in text:
        text = html.unescape(text)
    if not text.isprintable():  # only then can it hold a control character
        text = _C1.sub(_windows_1252, _CONTROL.sub("", text))
    return " ".join(text.split()) if one_line else text.strip()


def plain_markdown(text: str) -> str:
    """Markdown or HTML someone wrote as a summary, as plain text paragraphs."""
    if not text:
        return ""
    paragraphs = (inline_text(_CONTROL.sub("", part)) for part in re.split(r"\n\s*\n", text))
    return "\n\n".join(part for part in paragraphs if part)


class Text(fields.Field[str]):
    """Text that YAML may have read as a number or boolean (`title: 2024`) is kept as text."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (str, int, float)):
            return str(value).strip()
        if isinstance(value, (date, datetime)):
            return value.isoformat()
        raise ValidationError(f"expected text, got {_kind(value)}")


class PlainText(Text):
    """Text a reader sees as it is (a title, a name): entities decoded, controls removed."""

    def __init__(self, *, one_line: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.one_line = one_line

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        return plain_text(super()._deserialize(value, attr, data, **kwargs), one_line=self.one_line)


class Date(fields.Field[datetime]):
    """A date or datetime as blogs write it, made aware in the schema's time zone."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        try:
            return parse_date(value, schema_timezone(self))
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


class TextList(fields.Field[list[str]]):
    """A list of text, also written as one comma-separated string (`tags: a, b`)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[str]:
        if value is None:
            return []
        if isinstance(value, str):
            items: list[Any] = value.split(",")
        elif isinstance(value, (list, tuple)):
            items = list(value)
        elif isinstance(value, SCALARS):
            items = [value]
        else:
            raise ValidationError(f"expected a list or comma-separated text, got {_kind(value)}")
        result = []
        for item in items:
            if not isinstance(item, SCALARS):
                raise ValidationError(f"each item must be text, got {_kind(item)}")
            text = (("true" if item else "false") if isinstance(item, bool) else str(item)).strip()
            text = plain_text(text) if self.plain else text
            if text:
                result.append(text)
        return result

    def __init__(self, *, plain: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.plain = plain  # items are text a reader sees (tags): entities decoded


def schema_timezone(field: fields.Field[Any]) -> tzinfo:
    """The time zone of the schema `field` is bound to: naive dates and times are in it."""
    zone = getattr(field.parent, "timezone", None)
    if not isinstance(zone, tzinfo):
        raise TypeError(f"{type(field).__name__} is only for a schema with a `timezone`")
    return zone


Memo = dict[Any, Any]


def _same(value: Any) -> Any:
    return value


def _restore_same(value: Any, memo: Memo) -> Any:
    return value


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _from_iso(value: str | None, memo: Memo) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def _term_ref(pair: tuple[str, str] | list[str], memo: Memo) -> TermRef:
    """One shared TermRef per (name, slug): thousands of posts name the same few terms."""
    key = tuple(pair)
    found: TermRef | None = memo.get(key)
    if found is None:
        found = memo[key] = TermRef(*key)
    return found


def _term_refs(pairs: list[tuple[str, str]], memo: Memo) -> tuple[TermRef, ...]:
    """A post's terms as shared TermRefs; posts often name the same terms in the same order,
    so the whole tuple is shared too (a start at 10,000 posts restores 20,000 of them)."""
    key = ("terms", *map(tuple, pairs))
    found: tuple[TermRef, ...] | None = memo.get(key)
    if found is None:
        found = memo[key] = tuple(_term_ref(pair, memo) for pair in pairs)
    return found


@dataclass(frozen=True)
class Kind:
    """How one type of post value is made from validated front matter, kept in the parse cache
    (as plain data `marshal` can write) and shown as JSON."""

    name: str
    to_post: Callable[[Any], Any] = _same
    store: Callable[[Any], Any] = _same
    restore: Callable[[Any, Memo], Any] = _restore_same
    json: Callable[[Any], Any] = _same


TEXT = Kind("text")
OPTIONAL_TEXT = Kind("optional-text", to_post=lambda value: value or None)
FLAG = Kind("flag")
DATE = Kind("date", store=_iso, restore=_from_iso, json=_iso)
OPTIONAL_DATE = Kind("optional-date", store=_iso, restore=_from_iso, json=_iso)
TERMS = Kind(
    "terms",
    store=lambda refs: [(ref.name, ref.slug) for ref in refs],
    restore=lambda pairs, memo: _term_refs(pairs, memo),
    json=lambda refs: [{"name": ref.name, "slug": ref.slug} for ref in refs],
)
TEXTS = Kind(
    "texts", to_post=tuple, store=list, restore=lambda items, memo: tuple(items), json=list
)
MAPPING = Kind(
    "mapping", to_post=FrozenMap, store=dict, restore=lambda data, memo: FrozenMap(data), json=dict
)


@dataclass(frozen=True)
class Field:
    """One first-class front-matter field (see the module docstring)."""

    name: str  # the front-matter key and the `Post` attribute; also the JSON key
    kind: Kind
    front: fields.Field[Any] | None  # how front matter gives it; None: computed by the schema
    shown: Literal["summary", "detail"] | None = "summary"  # where the JSON has it
    clean: Callable[[Any], Any] | None = None  # a rule of its own from schema value to `Post`

    def to_post(self, value: Any) -> Any:
        return (self.clean or self.kind.to_post)(value)


def _language(value: str | None) -> str | None:
    return (value or "").lower() or None


# In JSON order: a summary shows these (with the values derived from the body among them, see
# `contentapi.outputs.serialize`), a whole post also the `detail` ones.
FIELDS: tuple[Field, ...] = (
    Field("slug", TEXT, Text(allow_none=True, load_default=None)),
    Field("title", TEXT, PlainText(required=True)),
    Field("date", DATE, Date(allow_none=True, load_default=None)),  # pages may have none
    Field("updated", OPTIONAL_DATE, Date(allow_none=True, load_default=None)),
    Field("categories", TERMS, TextList(plain=True, allow_none=True, load_default=list)),
    Field("tags", TERMS, TextList(plain=True, allow_none=True, load_default=list)),
    Field("description", TEXT, PlainText(one_line=False, allow_none=True, load_default="")),
    Field("lang", OPTIONAL_TEXT, Text(allow_none=True, load_default=None), clean=_language),
    Field("author", OPTIONAL_TEXT, PlainText(allow_none=True, load_default=None)),
    Field("extra", MAPPING, None),  # every key the format does not define
    Field("aliases", TEXTS, TextList(allow_none=True, load_default=list), shown="detail"),
    Field("image", OPTIONAL_TEXT, Text(allow_none=True, load_default=None), shown=None),
    Field("draft", FLAG, fields.Boolean(load_default=False, allow_none=True), shown=None),
    # The author's own excerpt (Hugo's `summary`, Jekyll's `excerpt`) as plain text; the JSON
    # `excerpt` is this, else the body's (see `contentapi.outputs.serialize.excerpt`).
    Field(
        "summary", TEXT, Text(allow_none=True, load_default=""), clean=plain_markdown, shown=None
    ),
    # What old URLs of the post may end in (raw file stem, raw `slug`): aliases the index adds.
    Field("old_names", TEXTS, None, shown=None),
    # A page (about, contact): `type`/`layout: page` or a file in a `pages` folder.
    Field("page", FLAG, None, shown=None),
)
# Other keys authors write for a field of the table; `_collect` folds each into its field.
SYNONYMS: Mapping[str, fields.Field[Any]] = {
    "category": PlainText(allow_none=True, load_default=None),  # -> categories
    "excerpt": Text(allow_none=True, load_default=None),  # -> summary
    "cover": Text(allow_none=True, load_default=None),  # -> image
}


class FrontMatterSchema(Schema):
    """Validates one post's front matter; unknown keys are kept in `extra`. A page's schema
    (`page=True`) does not need a date."""

    class Meta:
        unknown = INCLUDE
        include: ClassVar[dict[str, fields.Field[Any]]] = {
            **{field.name: field.front for field in FIELDS if field.front is not None},
            **SYNONYMS,
        }

    def __init__(self, timezone: tzinfo, *, page: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.timezone = timezone
        if not page:  # a post needs its date
            self.fields["date"].required = True
            self.fields["date"].allow_none = False

    @validates_schema
    def _check(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "title" in data and not data["title"]:
            raise ValidationError("must not be empty", "title")
        if data.get("category") is not None and data.get("categories"):
            raise ValidationError("use `category` or `categories`, not both", "categories")

    @post_load(pass_original=True)
    def _collect(
        self, data: dict[str, Any], original: Mapping[Any, Any], **kwargs: Any
    ) -> dict[str, Any]:
        """Empty keys (`tags:`) mean "not given"; unknown keys move to `extra`, in the order
        the file writes them (marshmallow hands them over in the order of a set, which
        changes from process to process)."""
        for name, schema_field in self.fields.items():
            if data.get(name, 0) is None and name != "title":
                default = schema_field.load_default
                data[name] = default() if callable(default) else default
        declared = set(self.declared_fields)
        known = {key: value for key, value in data.items() if key in declared}
        known["extra"] = {
            key: json_safe(data[key]) for key in original if key not in declared and key in data
        }
        category = known.pop("category")
        if category:
            known["categories"] = [category]
        known["summary"] = known["summary"] or known.pop("excerpt") or ""
        known.pop("excerpt", None)
        if known["summary"] and not known["description"]:
            known["description"] = plain_markdown(known["summary"])
        known["image"] = known.pop("image") or known.pop("cover")
        known.pop("cover", None)
        return known


def json_safe(value: Any) -> Any:
    """YAML values as JSON values: dates become ISO 8601 text, keys become text."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [json_safe(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, float) and not math.isfinite(value):  # NaN and ±Infinity are not JSON
        return None
    return value


_KIND_NAMES: dict[type[Any], str] = {dict: "a mapping", list: "a list"}


def _kind(value: Any) -> str:
    return _KIND_NAMES.get(type(value), type(value).__name__)
