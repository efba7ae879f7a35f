"""Dates as blogs write them: every accepted form becomes an aware datetime."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from contentapi.engine.dates import parse_date
from contentapi.engine.index import BuildOptions, build_index
from contentapi.engine.model import SourceFile, Sources
from contentapi.engine.reader import read

FIXTURES = Path(__file__).parent / "fixtures"
MADRID = ZoneInfo("Europe/Madrid")
PLUS_TWO = timezone(timedelta(hours=2))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (date(2023, 7, 15), datetime(2023, 7, 15, tzinfo=UTC)),
        ("2023-07-15", datetime(2023, 7, 15, tzinfo=UTC)),
        ("2023-10-5", datetime(2023, 10, 5, tzinfo=UTC)),
        ("2023-1-05", datetime(2023, 1, 5, tzinfo=UTC)),
        (datetime(2005, 8, 1, 19, 5, 32), datetime(2005, 8, 1, 19, 5, 32, tzinfo=UTC)),
        ("2005-08-01 19:05:32", datetime(2005, 8, 1, 19, 5, 32, tzinfo=UTC)),
        ("2016-03-01 10:00", datetime(2016, 3, 1, 10, 0, tzinfo=UTC)),
        ("2016-3-1 9:05", datetime(2016, 3, 1, 9, 5, tzinfo=UTC)),
        ("2023-07-15T10:00:00+02:00", datetime(2023, 7, 15, 10, 0, tzinfo=PLUS_TWO)),
        ("2023-07-15T08:00:00Z", datetime(2023, 7, 15, 8, 0, tzinfo=UTC)),
        ("  2023-07-15  ", datetime(2023, 7, 15, tzinfo=UTC)),
    ],
)
def test_dates_parse_accepted_forms(value: object, expected: datetime) -> None:
    result = parse_date(value, UTC)
    assert result == expected
    assert result.utcoffset() == expected.utcoffset()


def test_dates_unquoted_yaml_values_are_parsed() -> None:
    _, metadata = read((FIXTURES / "posts" / "dates-unquoted.md").read_bytes())
    assert type(metadata["date"]) is date
    assert type(metadata["updated"]) is datetime
    assert parse_date(metadata["date"], UTC) == datetime(2023, 7, 15, tzinfo=UTC)
    assert parse_date(metadata["updated"], UTC) == datetime(2005, 8, 1, 19, 5, 32, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "offset_hours"),
    [
        (date(2023, 7, 15), 2),  # summer time
        ("2023-07-15", 2),
        ("2016-03-01 10:00", 1),  # winter time
        (datetime(2005, 8, 1, 19, 5, 32), 2),
    ],
)
def test_dates_naive_values_get_given_zone(value: object, offset_hours: int) -> None:
    result = parse_date(value, MADRID)
    assert result.tzinfo is MADRID
    assert result.utcoffset() == timedelta(hours=offset_hours)


def test_dates_naive_value_in_zone_is_that_local_time() -> None:
    result = parse_date("2016-03-01 10:00", MADRID)
    assert result.astimezone(UTC) == datetime(2016, 3, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "instant", "offset_hours"),
    [
        ("2023-07-15T10:00:00+02:00", datetime(2023, 7, 15, 8, 0, tzinfo=UTC), 2),
        ("2023-01-15T10:00:00+02:00", datetime(2023, 1, 15, 8, 0, tzinfo=UTC), 2),
        ("2023-07-15T10:00:00Z", datetime(2023, 7, 15, 10, 0, tzinfo=UTC), 0),
        (datetime(2023, 7, 15, 10, 0, tzinfo=UTC), datetime(2023, 7, 15, 10, 0, tzinfo=UTC), 0),
    ],
)
def test_dates_explicit_offset_wins_over_zone(
    value: object, instant: datetime, offset_hours: int
) -> None:
    result = parse_date(value, MADRID)
    assert result == instant
    assert result.utcoffset() == timedelta(hours=offset_hours)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("yesterday", "2023-07-15"),
        ("15/07/2023", "2023-07-15"),
        ("", "2023-07-15"),
        ("2023-02-30", "not a real date"),
        ("2023-13-01", "not a real date"),
        ("2023-07-15 25:00", "not a real date"),
        (2023, "expected a date"),
        (True, "expected a date"),
        (None, "expected a date"),
    ],
)
def test_dates_bad_values_raise_helpful_value_error(value: object, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment) as caught:
        parse_date(value, UTC)
    if isinstance(value, str) and value:
        assert repr(value) in str(caught.value)


def test_dates_mixed_kinds_across_posts_sort_newest_first() -> None:
    def post(name: str, date_line: str) -> SourceFile:
        return SourceFile(f"{name}.md", f"---\ntitle: {name}\n{date_line}\n---\nText.\n".encode())

    sources = Sources(
        (
            post("plain-date", "date: 2023-07-15"),
            post("quoted", 'date: "2023-07-16"'),
            post("loose", "date: '2023-7-14'"),
            post("yaml-datetime", "date: 2023-07-15 12:00:00"),
            post("with-offset", "date: 2023-07-15T23:30:00-02:00"),
            post("zulu", 'date: "2023-07-15T06:00:00Z"'),
            post("minutes", "date: 2023-07-15 09:00"),
        )
    )
    index = build_index(sources, BuildOptions(timezone=MADRID), datetime(2024, 1, 1, tzinfo=UTC))
    assert index.issues == ()
    # In UTC: with-offset 07-16 01:30, quoted 07-15 22:00, yaml-datetime 10:00,
    # minutes 07:00, zulu 06:00, plain-date 07-14 22:00, loose 07-13 22:00.
    assert [p.slug for p in index.posts] == [
        "with-offset",
        "quoted",
        "yaml-datetime",
        "minutes",
        "zulu",
        "plain-date",
        "loose",
    ]
