"""contentapi.web.params: query parameters parsed, checked and turned into one 400 naming each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from marshmallow import Schema

from contentapi.web.errors import InvalidParameters
from contentapi.web.params import DetailArgs, ListArgs, parser

MADRID = ZoneInfo("Europe/Madrid")


def _list_args(default_per_page: int = 7, max_per_page: int = 50) -> ListArgs:
    return ListArgs(MADRID, default_per_page, max_per_page)


def _parse(query: str, schema: Schema | None = None) -> dict[str, Any]:
    """Parse `query` as a request's query string, as the views do."""
    with Flask(__name__).test_request_context(f"/api/v1/posts?{query}"):
        return parser.parse(schema or _list_args(), location="query")


def _bad(query: str, schema: Schema | None = None) -> list[str]:
    """The parameters the 400 names for `query`."""
    with pytest.raises(InvalidParameters) as caught:
        _parse(query, schema)
    assert caught.value.code == 400
    for error in caught.value.errors:
        assert error["message"], error
    return [error["parameter"] for error in caught.value.errors]


# ListArgs


def test_list_args_defaults():
    args = _parse("")
    assert args["page"] == 1
    assert args["per_page"] == 7
    assert args["sort"] is None  # not given: newest first, or best match when searching
    assert args["q"] is None
    assert args["tag"] == []
    assert args["only"] == []
    assert (args["category"], args["author"], args["lang"]) == (None, None, None)
    assert (args["since"], args["until"]) == (None, None)


def test_list_args_per_page_default_belongs_to_each_schema():
    small, large = _list_args(5, 20), _list_args(30, 100)
    with Flask(__name__).test_request_context("/"):
        assert parser.parse(small, location="query")["per_page"] == 5
        assert parser.parse(large, location="query")["per_page"] == 30


def test_list_args_reads_given_values():
    args = _parse("page=3&per_page=50&sort=title&category=viajes&author=ana&lang=es")
    assert (args["page"], args["per_page"], args["sort"]) == (3, 50, "title")
    assert (args["category"], args["author"], args["lang"]) == ("viajes", "ana", "es")


def test_list_args_per_page_above_max_names_per_page():
    assert _bad("per_page=51") == ["per_page"]


def test_list_args_max_per_page_comes_from_settings():
    assert _parse("per_page=80", _list_args(10, 100))["per_page"] == 80
    assert _bad("per_page=80", _list_args(10, 50)) == ["per_page"]


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("page=abc", "page"),
        ("page=0", "page"),
        ("per_page=0", "per_page"),
        ("per_page=ten", "per_page"),
        ("sort=bogus", "sort"),
        ("from=yesterday", "from"),
        ("to=31/01/2024", "to"),
        ("fields=name", "fields"),
        ("fields=slug,bogus", "fields"),
    ],
)
def test_list_args_bad_value_names_its_parameter(query, parameter):
    assert _bad(query) == [parameter]


def test_list_args_every_bad_parameter_is_named():
    assert _bad("page=abc&sort=bogus&from=yesterday&fields=name") == [
        "fields",
        "from",
        "page",
        "sort",
    ]


def test_list_args_unknown_parameters_are_named():
    assert _bad("utm_source=feed&page=2") == ["utm_source"]
    assert _bad("perpage=5&cb=1") == ["cb", "perpage"]


def test_list_args_pretty_is_known_everywhere_and_parsed_to_a_flag():
    assert _parse("pretty=yes")["pretty"] is True
    assert _parse("pretty=0")["pretty"] is False
    assert _parse("")["pretty"] is False
    assert _parse("pretty=1", DetailArgs())["pretty"] is True


@pytest.mark.parametrize("query", ["q=", "q=%20%20", "q=%09"])
def test_list_args_blank_q_names_q(query):
    assert _bad(query) == ["q"]


def test_list_args_tag_repeatable_and_comma_separated():
    assert _parse("tag=a&tag=b,c")["tag"] == ["a", "b", "c"]
    assert _parse("tag=python, flask,,")["tag"] == ["python", "flask"]


def test_list_args_fields_comma_separated():
    assert _parse("fields=slug,title&fields=date")["only"] == ["slug", "title", "date"]


def test_list_args_from_bare_date_is_start_of_day_in_the_zone():
    assert _parse("from=2024-03-10")["since"] == datetime(2024, 3, 10, tzinfo=MADRID)


@pytest.mark.parametrize("text", ["2024-03-10", "20240310"])
def test_list_args_to_bare_date_includes_the_whole_day(text):
    until = _parse(f"to={text}")["until"]
    assert until.tzinfo == MADRID
    assert datetime(2024, 3, 10, 23, 59, 59, tzinfo=MADRID) <= until
    assert until < datetime(2024, 3, 11, tzinfo=MADRID)


def test_list_args_to_datetime_is_taken_as_written():
    assert _parse("to=2024-03-10T12:00")["until"] == datetime(2024, 3, 10, 12, tzinfo=MADRID)


def test_list_args_naive_datetime_gets_the_configured_zone():
    since = _parse("from=2024-03-10T10:00:00")["since"]
    assert since.utcoffset() == timedelta(hours=1)
    assert since == datetime(2024, 3, 10, 9, tzinfo=UTC)


def test_list_args_explicit_offsets_are_kept():
    assert _parse("from=2024-03-10T10:00:00Z")["since"] == datetime(2024, 3, 10, 10, tzinfo=UTC)
    plus_two = timezone(timedelta(hours=2))
    since = _parse("from=2024-03-10T10:00:00%2B02:00")["since"]
    assert since == datetime(2024, 3, 10, 10, tzinfo=plus_two)


# DetailArgs


def test_detail_args_formats_default_to_html():
    assert _parse("", DetailArgs())["formats"] == ["html"]


def test_detail_args_formats_repeatable_and_comma_separated():
    formats = _parse("formats=markdown,plaintext&formats=html", DetailArgs())["formats"]
    assert formats == ["markdown", "plaintext", "html"]


def test_detail_args_rejects_unknown_formats():
    assert _bad("formats=html,pdf", DetailArgs()) == ["formats"]


# Parser.handle_error


def test_parser_error_is_invalid_parameters_with_a_message_per_parameter():
    with pytest.raises(InvalidParameters) as caught:
        _parse("per_page=500&sort=newest")
    errors = caught.value.errors
    assert [error["parameter"] for error in errors] == ["per_page", "sort"]
    assert "50" in errors[0]["message"]
    assert "-date" in errors[1]["message"]
    assert all(set(error) == {"parameter", "message"} for error in errors)
