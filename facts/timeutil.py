"""Instants in the ruleset's zone (Asia/Shanghai, a fixed UTC+08:00 with no DST).

Everything inside oblige compares instants as integer microseconds since the epoch, so
that comparisons are exact and cheap; text is parsed and formatted only at the edges.
"""
from __future__ import annotations

import functools
import re
import time
from datetime import UTC, date, datetime, timedelta, timezone

from pydantic import TypeAdapter, ValidationError

ZONE = timezone(timedelta(hours=8), "Asia/Shanghai")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US = 1_000_000
DAY_US = 86_400 * US

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Only week/day/hour/minute/second durations: a year or a month has no fixed length.
_DURATION = re.compile(r"^P(?:\d+W|(?:\d+D)?(?:T(?:\d+H)?(?:\d+M)?(?:\d+(?:\.\d+)?S)?)?)$")
_TIMEDELTA = TypeAdapter(timedelta)


class TimeFormatError(ValueError):
    """A timestamp or duration that cannot be read."""


def parse_instant(text: str) -> int:
    """Read an ISO 8601 date-time (offset optional) or a date; return epoch microseconds.

    A missing offset means +08:00; a date alone means 00:00:00 of that day.

    >>> format_instant(parse_instant("2023-03-01"))
    '2023-03-01T00:00:00+08:00'
    >>> format_instant(parse_instant("2023-03-01T01:30:00Z"))
    '2023-03-01T09:30:00+08:00'
    """
    if not isinstance(text, str):
        raise TimeFormatError(f"expected an ISO 8601 date or date-time string, got {type(text).__name__}")
    s = text.strip()
    try:
        if _DATE_ONLY.match(s):
            d = date.fromisoformat(s)
            moment = datetime(d.year, d.month, d.day, tzinfo=ZONE)
        else:
            if "T" not in s and " " not in s:
                raise ValueError
            moment = datetime.fromisoformat(s)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=ZONE)
    except ValueError:
        raise TimeFormatError(f"not an ISO 8601 date or date-time: {text!r}") from None
    return to_us(moment)


def now() -> int:
    """The current instant, to the second (the default `as_of`; only the edges ask the clock)."""
    return to_us(datetime.now(ZONE).replace(microsecond=0))


def parse_as_of(text: str | None) -> int:
    """An evaluation instant (SPEC §5): a date means 00:00:00 of that day (+08:00); none means now.

    Raises TimeFormatError like `parse_instant`."""
    return now() if text is None else parse_instant(text)


def to_us(moment: datetime) -> int:
    """Epoch microseconds of an aware datetime."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * US + delta.microseconds


def from_us(us: int) -> datetime:
    """The aware datetime (+08:00) of epoch microseconds."""
    return (_EPOCH + timedelta(microseconds=us)).astimezone(ZONE)


_OFFSET_S = 8 * 3600


def format_instant(us: int | None) -> str | None:
    """ISO 8601, offset +08:00, second precision (the output format of SPEC §1).

    Called for every instant of every finding (millions in a large batch), so it takes the
    date part from a small cache of days and builds the time of day from two-digit strings
    rather than building an aware datetime (same text, tested; five times as fast).

    >>> format_instant(parse_instant("2023-03-31T23:59:59.999+08:00"))
    '2023-03-31T23:59:59+08:00'
    """
    if us is None:
        return None
    day, second = divmod(us // US + _OFFSET_S, 86_400)
    hour, second = divmod(second, 3600)
    minute, second = divmod(second, 60)
    return _date_prefix(day) + _TWO[hour] + ":" + _TWO[minute] + ":" + _TWO[second] + "+08:00"


_TWO = [f"{n:02d}" for n in range(60)]


@functools.lru_cache(maxsize=8192)
def _date_prefix(day: int) -> str:
    """'YYYY-MM-DDT' of a day counted from 1970-01-01 (local)."""
    return time.strftime("%Y-%m-%dT", time.gmtime(day * 86_400))


def parse_duration(text: str) -> int:
    """Read an ISO 8601 duration of weeks, days, hours, minutes, seconds; return microseconds.

    >>> parse_duration("PT24H") == parse_duration("P1D")
    True
    """
    if not isinstance(text, str) or not _DURATION.match(text) or text in ("P", "PT") or text.endswith("T"):
        raise TimeFormatError(f"not an ISO 8601 duration of weeks, days or hours: {text!r}")
    try:
        return to_micro(_TIMEDELTA.validate_python(text))
    except ValidationError:
        raise TimeFormatError(f"not an ISO 8601 duration: {text!r}") from None


def to_micro(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * US + delta.microseconds


def end_of_day(year: int, month: int, day: int) -> int:
    """23:59:59 of a calendar date: the due instant of a calendar-date deadline."""
    return to_us(datetime(year, month, day, 23, 59, 59, tzinfo=ZONE))


def start_of_day(year: int, month: int, day: int) -> int:
    return to_us(datetime(year, month, day, tzinfo=ZONE))


def year_of(us: int) -> int:
    """The calendar year (in the ruleset's zone) of an instant.

    >>> year_of(parse_instant("2023-12-31T23:59:59+08:00")), year_of(parse_instant("2024-01-01T00:00:00+08:00"))
    (2023, 2024)
    """
    return time.gmtime(us // US + _OFFSET_S).tm_year
