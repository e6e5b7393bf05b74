"""Working days on the official calendar of the People's Republic of China (SPEC §1).

The State Council's yearly holiday notices make weekends and public holidays days off and
the adjusted working days (调休) working days; the `chinese-calendar` package carries those
notices (2004 to its last published year). Beyond its years, Monday to Friday count and the
due date is *estimated* (`explain` says so).
"""
from __future__ import annotations

import datetime as dt
import functools
from importlib.metadata import PackageNotFoundError, version

import chinese_calendar

from oblige.facts.timeutil import ZONE, end_of_day, from_us

FIRST_YEAR, LAST_YEAR = min(chinese_calendar.holidays).year, max(chinese_calendar.holidays).year
try:
    _VERSION = version("chinese-calendar")
except PackageNotFoundError:  # pragma: no cover - installed with oblige
    _VERSION = "unknown"
CALENDAR_NAME = f"chinese-calendar {_VERSION} (official PRC calendar {FIRST_YEAR}-{LAST_YEAR}; Mon-Fri beyond)"


def covered(year: int) -> bool:
    """Does the official calendar cover this year (else working days are estimated)?"""
    return FIRST_YEAR <= year <= LAST_YEAR


# the notices as two sets, looked up directly: `chinese_calendar.is_workday` re-validates its
# range on every call (a min and a max over all its dates; measured: 0.7 s per 100,000 events)
_OFF = frozenset(chinese_calendar.holidays)  # public holidays (weekdays among them are off)
_ON = frozenset(chinese_calendar.workdays)  # adjusted working days (weekends among them are on)


def is_workday(day: dt.date) -> bool:
    """A working day of the official calendar; Monday to Friday beyond its years.

    >>> is_workday(dt.date(2023, 10, 7)), is_workday(dt.date(2023, 10, 2)), is_workday(dt.date(2027, 1, 4))
    (True, False, True)
    """
    if day in _ON:
        return True
    return day.weekday() < 5 and day not in _OFF


@functools.lru_cache(maxsize=65536)
def _nth_workday_after(day: dt.date, n: int) -> tuple[dt.date, bool]:
    """The n-th working day after `day`, and whether any day counted lay beyond the calendar."""
    estimated = False
    while n > 0:
        day += dt.timedelta(days=1)
        estimated = estimated or not covered(day.year)
        if is_workday(day):
            n -= 1
    return day, estimated


def add_working_days(start: int, n: int) -> int:
    """23:59:59 (+08:00) of the n-th working day after the date of `start` (epoch microseconds)."""
    day, _ = _nth_workday_after(from_us(start).astimezone(ZONE).date(), n)
    return end_of_day(day.year, day.month, day.day)


def estimated(start: int, n: int) -> bool:
    """Whether `add_working_days(start, n)` counted days the official calendar does not cover."""
    return _nth_workday_after(from_us(start).astimezone(ZONE).date(), n)[1]
