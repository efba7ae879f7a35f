"""Query parameters, parsed and checked by marshmallow schemas through webargs.

Every route declares its schema (`contentapi.web.routes.declare`); a parameter the schema
does not name is a 400 naming it, so a typo (`perpage`) or a cache-buster (`cb`) never passes
silently or fills the response cache. `canonical_query` writes parsed values back as the one
query string that means them: the response cache keys on it and links are built from it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any, NoReturn

from flask import request
from marshmallow import RAISE, Schema, ValidationError, fields, missing, validate
from webargs.flaskparser import FlaskParser

from contentapi.engine.schema import schema_timezone
from contentapi.outputs.query import SORTS
from contentapi.outputs.search import MAX_QUERY_LENGTH
from contentapi.outputs.serialize import SUMMARY_FIELDS
from contentapi.settings import Settings
from contentapi.web.errors import PRETTY, InvalidParameters

FORMATS = ("html", "markdown", "plaintext", "blocks")


class Parser(FlaskParser):
    """webargs parser whose errors become one problem+json 400 naming each parameter."""

    DEFAULT_VALIDATION_STATUS = 400
    # Typed as webargs types it (a ClassVar here is an override mypy rejects); never mutated.
    DEFAULT_UNKNOWN_BY_LOCATION: dict[str, str | None] = {  # noqa: RUF012
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION,
        "query": RAISE,
    }

    def handle_error(self, error: ValidationError, *args: Any, **kwargs: Any) -> NoReturn:
        messages = error.messages_dict
        if set(messages) == {"query"}:  # webargs nests the messages under the location
            messages = messages["query"]
        raise InvalidParameters(
            [
                {"parameter": name, "message": " ".join(_flatten(problems))}
                for name, problems in sorted(messages.items())
            ]
        )


def _flatten(problems: Any) -> list[str]:
    if isinstance(problems, dict):
        return [text for value in problems.values() for text in _flatten(value)]
    if isinstance(problems, list):
        return [text for value in problems for text in _flatten(value)]
    return [str(problems)]


parser = Parser()


class Moment(fields.Field[datetime]):
    """An ISO 8601 date or datetime; a bare date means its start (or its end, for `to`)."""

    def __init__(self, *, end_of_day: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.end_of_day = end_of_day

    @property
    def zone(self) -> tzinfo:
        return schema_timezone(self)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        text = str(value).strip()
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError(
                "Not an ISO 8601 date or datetime, e.g. 2024-01-31 or 2024-01-31T10:00:00Z."
            ) from None
        if not any(mark in text for mark in "T :"):  # a date, no time
            return self._of_day(moment.date())
        return moment if moment.tzinfo else moment.replace(tzinfo=self.zone)

    def _of_day(self, day: date) -> datetime:
        """The moment a bare date stands for: its start, or its end (for `to`), in the zone."""
        moment = datetime.combine(day, time())
        if self.end_of_day:
            moment += timedelta(days=1, microseconds=-1)
        return moment.replace(tzinfo=self.zone)

    def text(self, moment: datetime) -> str:
        """The shortest text that reads back as the same moment: the bare date when it means
        exactly this moment in the zone, else the datetime in the zone (`Z` for UTC)."""
        local = moment.astimezone(self.zone)
        if self._of_day(local.date()) == moment:
            return local.date().isoformat()
        written = local.isoformat()
        return written[:-6] + "Z" if written.endswith("+00:00") else written


class CommaList(fields.List[str]):
    """A set of values, repeatable and comma-separated (`tag=a,b` is `tag=a&tag=b`), read in
    sorted order, each once: how they are spelt never changes what they mean."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> list[str | None]:
        items = value if isinstance(value, list) else [value]
        split = {part.strip() for item in items for part in str(item).split(",") if part.strip()}
        return super()._deserialize(sorted(split), attr, data, **kwargs)


class Pretty(fields.Field[bool]):
    """`pretty`: one of the `PRETTY` values indents the JSON; any other value, or none, not."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        return str(value) in PRETTY


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Must not be empty or only spaces.")


class QueryArgs(Schema):
    """What every route accepts: `pretty`, and nothing it does not name."""

    class Meta:
        unknown = RAISE

    pretty = Pretty(load_default=False)

    @classmethod
    def for_settings(cls, settings: Settings) -> QueryArgs:
        """The schema as this deployment's settings shape it (limits, time zone)."""
        return cls()


class ListArgs(QueryArgs):
    """Parameters of every post listing: `/posts`, a category's or a tag's posts."""

    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Integer(load_default=None)
    category = fields.String(load_default=None)
    tag = CommaList(fields.String(), load_default=list)
    author = fields.String(load_default=None)
    lang = fields.String(load_default=None)
    since = Moment(data_key="from", load_default=None)
    until = Moment(data_key="to", end_of_day=True, load_default=None)
    sort = fields.String(load_default=None, validate=validate.OneOf(list(SORTS)))
    q = fields.String(
        load_default=None, validate=[validate.Length(max=MAX_QUERY_LENGTH), _not_blank]
    )
    # Loaded as `only`, the name `Schema.only` already has on the class.
    fields_only = CommaList(
        fields.String(validate=validate.OneOf(SUMMARY_FIELDS)),
        data_key="fields",
        attribute="only",
        load_default=list,
    )

    def __init__(self, timezone: tzinfo, default_per_page: int, max_per_page: int) -> None:
        super().__init__()
        self.timezone = timezone
        self.fields["per_page"].load_default = default_per_page
        self.fields["per_page"].validators = [validate.Range(min=1, max=max_per_page)]

    @classmethod
    def for_settings(cls, settings: Settings) -> ListArgs:
        return cls(settings.timezone, settings.default_per_page, settings.max_per_page)


class DetailArgs(QueryArgs):
    """Parameters of one post: which bodies to return."""

    formats = CommaList(
        fields.String(validate=validate.OneOf(FORMATS)), load_default=lambda: ["html"]
    )


class SearchArgs(ListArgs):
    """`/search`: the listing parameters, with `q` required."""

    q = fields.String(required=True, validate=[validate.Length(max=MAX_QUERY_LENGTH), _not_blank])


class FeedArgs(QueryArgs):
    """Feeds: of one category or one tag (by slug)."""

    category = fields.String(load_default=None)
    tag = fields.String(load_default=None)


class ChangesArgs(QueryArgs):
    """`/api/v1/changes`: the token of an earlier answer (checked by the view)."""

    since = fields.String(load_default=None)


@functools.lru_cache(maxsize=64)
def schema_for(kind: type[QueryArgs], settings: Settings) -> QueryArgs:
    """One schema instance per kind and settings, reused by every request."""
    return kind.for_settings(settings)


def parse_query(kind: type[QueryArgs], settings: Settings) -> dict[str, Any]:
    """This request's query string checked against `kind`: defaults applied, a 400 naming
    every bad or unknown parameter. Parsed once per query string (a copy each time)."""
    parsed = _parsed(kind, settings, request.query_string)
    return {name: list(value) if isinstance(value, list) else value for name, value in parsed}


@functools.lru_cache(maxsize=4096)
def _parsed(
    kind: type[QueryArgs], settings: Settings, query_string: bytes
) -> tuple[tuple[str, Any], ...]:
    """`parse_query` for the current request, whose query string is `query_string`: a pure
    function of it (errors are raised, not kept)."""
    args: dict[str, Any] = parser.parse(schema_for(kind, settings), location="query")
    return tuple(args.items())


Query = tuple[tuple[str, str], ...]


def canonical_query(schema: QueryArgs, args: Mapping[str, Any]) -> Query:
    """`args` (parsed by `schema`) as the one query that means them: `(name, text)` pairs in
    name order, defaults left out, sets comma-joined, moments as `Moment.text` writes them.
    Parsing the result gives `args` back, so two spellings that parse alike get one query."""
    pairs = []
    for name, field in schema.fields.items():
        value = args.get(field.attribute or name, missing)
        default = field.load_default() if callable(field.load_default) else field.load_default
        if value is missing or value == default:
            continue
        pairs.append((field.data_key or name, _text(field, value)))
    return tuple(sorted(pairs))


def _text(field: fields.Field[Any], value: Any) -> str:
    if isinstance(field, CommaList):
        return ",".join(str(item) for item in value)
    if isinstance(field, Moment):
        return field.text(value)
    if isinstance(field, Pretty):
        return "1"
    return str(value)
