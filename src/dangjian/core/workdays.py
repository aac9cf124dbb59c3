"""Chinese working days: weekends, the State Council's public holidays and the weekend days worked (调休).

Some rules count working days rather than calendar days (the 2026 细则's 公示 of at least 5 working
days). Mainland China moves weekend days around its holidays every year: a Saturday may be a working
day (调休上班) and a Thursday a day off, so Monday–Friday is not enough. The arrangements ship as data in
``core/data/holidays_cn.yaml``, one entry per State Council notice. A date in a year the data does not
cover falls back to Monday–Friday, with a warning in the log so that an operator adds the new notice.

Counting conventions (one for the whole platform):

- ``add_working_days(d, n)`` is the n-th working day after ``d`` (``d`` itself does not count; n = 0
  returns ``d``; a negative n counts backwards);
- ``working_days_between(a, b)`` counts the working days ``d`` with ``a < d <= b`` (negative when
  b is before a), so ``working_days_between(a, add_working_days(a, n)) == n``;
- ``working_days_in(start, end)`` counts both ends: a 公示 posted on ``start`` and taken down after
  ``end`` lasted ``working_days_in(start, end)`` working days.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

logger = logging.getLogger(__name__)

DATA_FILE = Path(__file__).resolve().parent / "data" / "holidays_cn.yaml"
_ONE_DAY = dt.timedelta(days=1)
# Never search further than this for the next working day (the longest break is 10 days, 2020).
_MAX_STEPS = 60


@dataclass(frozen=True)
class Calendar:
    """The shipped arrangements: days off, weekend days worked, and the years they cover."""

    days_off: dict[dt.date, str]
    weekend_work: frozenset[dt.date]
    years: frozenset[int]
    notices: dict[int, str]
    confidence: dict[int, str]


@lru_cache(maxsize=1)
def calendar() -> Calendar:
    """Load ``holidays_cn.yaml`` once per process."""
    data = yaml.safe_load(DATA_FILE.read_text(encoding="utf-8"))
    days_off: dict[dt.date, str] = {}
    work: set[dt.date] = set()
    notices: dict[int, str] = {}
    confidence: dict[int, str] = {}
    for year, entry in data["years"].items():
        notices[int(year)] = entry["notice"]
        confidence[int(year)] = str(entry.get("confidence", "U"))
        for span in entry.get("days_off", []):
            day, last = span["from"], span["to"]
            while day <= last:
                days_off[day] = span["name"]
                day += _ONE_DAY
        work.update(entry.get("weekend_work", []))
    clash = work & set(days_off)
    if clash:  # a data error: a day cannot be both off and worked
        raise ValueError(f"holidays_cn.yaml lists days both off and worked: {sorted(clash)}")
    return Calendar(days_off, frozenset(work), frozenset(notices), notices, confidence)


_warned: set[int] = set()


def is_covered(year: int) -> bool:
    """Whether the shipped data holds the State Council's arrangement for this year."""
    return year in calendar().years


def _uncovered(year: int) -> None:
    if year not in _warned:
        _warned.add(year)
        logger.warning(
            "No public-holiday data for %s in %s: counting Monday to Friday as working days. "
            "Add the State Council's notice for that year.",
            year,
            DATA_FILE.name,
        )


def is_working_day(day: dt.date) -> bool:
    """A weekday that is not a public holiday, or a weekend day worked under 调休."""
    cal = calendar()
    if day.year not in cal.years:
        _uncovered(day.year)
        return day.weekday() < 5
    if day in cal.weekend_work:
        return True
    if day in cal.days_off:
        return False
    return day.weekday() < 5


def holiday_name(day: dt.date) -> str | None:
    """The holiday a day off belongs to (``春节``), or None."""
    return calendar().days_off.get(day)


def add_working_days(day: dt.date, n: int) -> dt.date:
    """The n-th working day after ``day`` (before it, for negative n); ``day`` itself never counts."""
    step = _ONE_DAY if n >= 0 else -_ONE_DAY
    remaining = abs(n)
    while remaining:
        day += step
        if is_working_day(day):
            remaining -= 1
    return day


def next_working_day(day: dt.date) -> dt.date:
    """``day`` if it is a working day, otherwise the first working day after it."""
    for _ in range(_MAX_STEPS):
        if is_working_day(day):
            return day
        day += _ONE_DAY
    raise ValueError(f"no working day within {_MAX_STEPS} days of {day}")  # only with broken data


def working_days_between(start: dt.date, end: dt.date) -> int:
    """Working days ``d`` with ``start < d <= end``; negative (the same count) when ``end < start``."""
    if end < start:
        return -working_days_between(end, start)
    count = 0
    day = start
    while day < end:
        day += _ONE_DAY
        if is_working_day(day):
            count += 1
    return count


def working_days_in(start: dt.date, end: dt.date) -> int:
    """Working days from ``start`` to ``end``, both included (0 when end is before start)."""
    if end < start:
        return 0
    return working_days_between(start - _ONE_DAY, end)
