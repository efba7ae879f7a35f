"""Dates as blogs write them, made timezone-aware datetimes."""

from __future__ import annotations

import re
from datetime import date, datetime, time, tzinfo

_LOOSE = re.compile(
    r"^(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})"
    r"(?:[T ](?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?)?$"
)


def parse_date(value: object, zone: tzinfo) -> datetime:
    """A YAML date, datetime or string as an aware datetime; naive values are in `zone`.

    Accepts `2023-07-15`, `'2023-10-5'`, `2005-08-01 19:05:32`, `2016-03-01 10:00` and ISO 8601
    with an offset or `Z`. Raises ValueError with a reader-friendly message otherwise.
    """
    if isinstance(value, datetime):
        result = value
    elif isinstance(value, date):
        result = datetime.combine(value, time())
    elif isinstance(value, str):
        result = _parse_text(value.strip())
    else:
        raise ValueError(f"expected a date like 2023-07-15, got {type(value).__name__}")
    if result.tzinfo is None:
        result = result.replace(tzinfo=zone)
    return result


def _parse_text(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    match = _LOOSE.match(text)
    if match:
        parts = {k: int(v) for k, v in match.groupdict().items() if v is not None}
        try:
            return datetime(
                parts["y"],
                parts["m"],
                parts["d"],
                parts.get("H", 0),
                parts.get("M", 0),
                parts.get("S", 0),
            )
        except ValueError as exc:
            raise ValueError(f"{text!r} is not a real date: {exc}") from None
    raise ValueError(f"{text!r} is not a date like 2023-07-15 or 2023-07-15T10:00:00+02:00")
