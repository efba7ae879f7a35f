"""The front-matter format: the one definition of what a post may say.

`FIELDS` is the field table. Each entry is one first-class front-matter field: the key authors
write (validated by its marshmallow field), the `Post` attribute it becomes, how that value is
kept in the parse cache and shown as JSON, and whether the JSON shows it. The `Post` model, the
parse cache, the serializers and the `fields=` allowlist all follow this table. To add a field:
one entry here (and its typed attribute on `Post`, which a test checks), then its `openapi.yaml`
entry and tests.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any, ClassVar, Literal

from marshmallow import INCLUDE, Schema, ValidationError, fields, post_load, validates_schema

from contentapi.engine.dates import parse_date
from contentapi.engine.model import FrozenMap, TermRef

SCALARS = (str, int, float, bool)


class Text(fields.Field):
    """Text that YAML may have read as a number or boolean (`title: 2024`) is kept as text."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (str, int, float)):
            return str(value).strip()
        if isinstance(value, (date, datetime)):
            return value.isoformat()
        raise ValidationError(f"expected text, got {_kind(value)}")


class Date(fields.Field):
    """A date or datetime as blogs write it, made aware in the schema's time zone."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        zone: tzinfo = self.parent.timezone  # type: ignore[union-attr]
        try:
            return parse_date(value, zone)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


class TextList(fields.Field):
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
            if text:
                result.append(text)
        return result


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
    restore=lambda pairs, memo: tuple(_term_ref(pair, memo) for pair in pairs),
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
    Field("title", TEXT, Text(required=True)),
    Field("date", DATE, Date(required=True)),
    Field("updated", OPTIONAL_DATE, Date(allow_none=True, load_default=None)),
    Field("categories", TERMS, TextList(allow_none=True, load_default=list)),
    Field("tags", TERMS, TextList(allow_none=True, load_default=list)),
    Field("description", TEXT, Text(allow_none=True, load_default="")),
    Field("lang", OPTIONAL_TEXT, Text(allow_none=True, load_default=None), clean=_language),
    Field("author", OPTIONAL_TEXT, Text(allow_none=True, load_default=None)),
    Field("extra", MAPPING, None),  # every key the format does not define
    Field("aliases", TEXTS, TextList(allow_none=True, load_default=list), shown="detail"),
    Field("image", OPTIONAL_TEXT, Text(allow_none=True, load_default=None), shown=None),
    Field("draft", FLAG, fields.Boolean(load_default=False, allow_none=True), shown=None),
    # What old URLs of the post may end in (raw file stem, raw `slug`): aliases the index adds.
    Field("old_names", TEXTS, None, shown=None),
)
# Other keys authors write for a field of the table; `_collect` folds each into its field.
SYNONYMS: Mapping[str, fields.Field[Any]] = {
    "category": Text(allow_none=True, load_default=None),  # -> categories
    "summary": Text(allow_none=True, load_default=None),  # -> description
    "cover": Text(allow_none=True, load_default=None),  # -> image
}


class FrontMatterSchema(Schema):
    """Validates one post's front matter; unknown keys are kept in `extra`."""

    class Meta:
        unknown = INCLUDE
        include: ClassVar[dict[str, fields.Field[Any]]] = {
            **{field.name: field.front for field in FIELDS if field.front is not None},
            **SYNONYMS,
        }

    def __init__(self, timezone: tzinfo, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.timezone = timezone

    @validates_schema
    def _check(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "title" in data and not data["title"]:
            raise ValidationError("must not be empty", "title")
        if data.get("category") is not None and data.get("categories"):
            raise ValidationError("use `category` or `categories`, not both", "categories")

    @post_load
    def _collect(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Empty keys (`tags:`) mean "not given"; unknown keys move to `extra`."""
        for name, schema_field in self.fields.items():
            if data.get(name, 0) is None and name not in {"title", "date"}:
                default = schema_field.load_default
                data[name] = default() if callable(default) else default
        declared = set(self.declared_fields)
        known = {key: value for key, value in data.items() if key in declared}
        known["extra"] = {k: json_safe(v) for k, v in data.items() if k not in declared}
        category = known.pop("category")
        if category:
            known["categories"] = [category]
        if not known["description"] and known.pop("summary"):
            known["description"] = data["summary"]
        known.pop("summary", None)
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


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list"}.get(type(value), type(value).__name__)
