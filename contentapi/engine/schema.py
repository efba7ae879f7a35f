"""The front-matter format: one marshmallow schema, the single definition of what a post may say."""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from typing import Any

from marshmallow import INCLUDE, Schema, ValidationError, fields, post_load, validates_schema

from contentapi.engine.dates import parse_date

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


class FrontMatterSchema(Schema):
    """Validates one post's front matter; unknown keys are kept in `extra`."""

    class Meta:
        unknown = INCLUDE

    title = Text(required=True)
    date = Date(required=True)
    updated = Date(allow_none=True, load_default=None)
    category = Text(allow_none=True, load_default=None)
    categories = TextList(allow_none=True, load_default=list)
    tags = TextList(allow_none=True, load_default=list)
    description = Text(allow_none=True, load_default="")
    summary = Text(allow_none=True, load_default=None)
    slug = Text(allow_none=True, load_default=None)
    draft = fields.Boolean(load_default=False, allow_none=True)
    author = Text(allow_none=True, load_default=None)
    image = Text(allow_none=True, load_default=None)
    cover = Text(allow_none=True, load_default=None)
    lang = Text(allow_none=True, load_default=None)
    aliases = TextList(allow_none=True, load_default=list)

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
    if isinstance(value, float) and value != value:  # NaN is not JSON
        return None
    return value


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list"}.get(type(value), type(value).__name__)
