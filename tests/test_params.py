"""contentapi.web.params: query parameters parsed, checked and turned into one 400 naming each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from marshmallow import Schema

from contentapi.web.errors import InvalidParameters
from contentapi.web.params import (
    DetailArgs,
    FeedArgs,
    ListArgs,
    SearchArgs,
    canonical_query,
    parser,
)

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
    assert _parse("tag=python, flask,,")["tag"] == ["flask", "python"]


def test_list_args_lists_are_sets_however_spelt():
    """Order and repeats never change a filter or a fieldset: one value, so one cache entry."""
    spellings = ["tag=b,a", "tag=a&tag=b", "tag=b&tag=a,b", "tag=a,,b,a"]
    assert {tuple(_parse(query)["tag"]) for query in spellings} == {("a", "b")}


def test_list_args_fields_comma_separated():
    assert _parse("fields=slug,title&fields=date")["only"] == ["date", "slug", "title"]


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
    assert formats == ["html", "markdown", "plaintext"]


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


# canonical_query


def _canonical(query: str, schema: Schema | None = None) -> str:
    schema = schema or _list_args()
    return urlencode(canonical_query(schema, _parse(query, schema)), safe=",:")


@pytest.mark.parametrize(
    ("spellings", "canonical"),
    [
        (["", "page=1", "per_page=7&pretty=0", "tag=,&fields="], ""),
        (
            ["tag=b,a&per_page=3", "per_page=3&tag=a&tag=b", "tag=a,b,a&page=1&per_page=3"],
            "per_page=3&tag=a,b",
        ),
        (
            ["sort=title&page=2&pretty=yes", "pretty=1&page=2&sort=title"],
            "page=2&pretty=1&sort=title",
        ),
        (["fields=title,slug", "fields=slug&fields=title"], "fields=slug,title"),
        (["tag=a%26tag%3Db"], "tag=a%26tag%3Db"),
        (["q=caf%C3%A9+con+leche", "q=caf%C3%A9%20con%20leche"], "q=caf%C3%A9+con+leche"),
    ],
)
def test_canonical_query_one_spelling_for_equivalent_queries(spellings, canonical):
    assert {_canonical(query) for query in spellings} == {canonical}


@pytest.mark.parametrize(
    ("query", "canonical"),
    [
        ("from=2024-03-10", "from=2024-03-10"),
        ("from=2024-03-10T00:00:00", "from=2024-03-10"),
        ("from=2024-03-09T23:00:00Z", "from=2024-03-10"),  # midnight in Madrid
        ("to=2024-03-10", "to=2024-03-10"),
        ("to=2024-03-10T23:59:59.999999%2B01:00", "to=2024-03-10"),
        ("to=2024-03-10T12:00", "to=2024-03-10T12:00:00%2B01:00"),
        ("from=2024-07-01T10:30:00Z", "from=2024-07-01T12:30:00%2B02:00"),
        ("from=2024-03-10T00:00:00.5", "from=2024-03-10T00:00:00.500000%2B01:00"),
    ],
)
def test_canonical_query_moments_in_the_zone_as_short_as_exact(query, canonical):
    assert _canonical(query) == canonical


def test_canonical_query_reads_back_as_the_same_values():
    queries = [
        "page=3&per_page=50&sort=-date&category=viajes&author=Ana%20Mar%C3%ADa&lang=es",
        "tag=pan,masa-madre&from=2024-03-10&to=2024-03-31T18:00:00Z&fields=slug,date",
        "q=%22machine+learning%22+-modelos&pretty=true",
        "from=2024-10-27T02:30:00%2B01:00&to=2024-10-27",  # the night clocks go back
    ]
    for query in queries:
        again = _canonical(query)
        assert _parse(again) == _parse(query), query
        assert _canonical(again) == again


def test_canonical_query_keeps_a_required_value_and_each_schema_its_defaults():
    assert _canonical("q=pan", SearchArgs(MADRID, 7, 50)) == "q=pan"
    assert _canonical("formats=html", DetailArgs()) == ""
    assert _canonical("formats=plaintext,html", DetailArgs()) == "formats=html,plaintext"
    assert _canonical("tag=pan", FeedArgs()) == "tag=pan"
    assert _canonical("per_page=10", _list_args(10, 50)) == ""
    assert _canonical("per_page=10", _list_args(7, 50)) == "per_page=10"


def test_canonical_query_zone_utc_writes_z():
    schema = ListArgs(UTC, 10, 100)
    assert _canonical("from=2024-03-10T10:00:00%2B00:00", schema) == "from=2024-03-10T10:00:00Z"


def test_parse_query_parses_each_query_string_once_and_hands_out_copies(app: Flask) -> None:
    from contentapi.service.store import store_of
    from contentapi.web.params import parse_query

    settings = store_of(app).settings
    with app.test_request_context("/api/v1/posts?tag=b,a&page=2"):
        first = parse_query(ListArgs, settings)
        first["tag"].append("changed")
        first["page"] = 99
        again = parse_query(ListArgs, settings)
    assert again["page"] == 2 and sorted(again["tag"]) == ["a", "b"]
    for _ in range(2):  # an error is raised every time, never kept as an answer
        with app.test_request_context("/api/v1/posts?page=0"), pytest.raises(InvalidParameters):
            parse_query(ListArgs, settings)
