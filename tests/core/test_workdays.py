"""The Chinese working-day calendar: holidays, 调休 weekend days worked, and counting working days.

Rows cite the State Council notice they come from (core/data/holidays_cn.yaml).
"""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from dangjian.core import workdays
from dangjian.core.workdays import add_working_days, is_working_day, working_days_between, working_days_in

D = dt.date

# (date, working?, why)
DAYS = [
    # Spring Festival 2026 (国办发明电〔2025〕7号): 2月15日至23日放假调休，共9天；2月14日、2月28日（周六）上班.
    (D(2026, 2, 13), True, "Friday before the break"),
    (D(2026, 2, 14), True, "Saturday worked (调休上班)"),
    (D(2026, 2, 15), False, "first day of the break, a Sunday"),
    (D(2026, 2, 16), False, "Monday in the break (除夕 eve)"),
    (D(2026, 2, 17), False, "正月初一"),
    (D(2026, 2, 20), False, "Friday in the break"),
    (D(2026, 2, 23), False, "Monday, last day of the break"),
    (D(2026, 2, 24), True, "back to work"),
    (D(2026, 2, 28), True, "Saturday worked (调休上班)"),
    (D(2026, 3, 1), False, "an ordinary Sunday"),
    # National Day 2026: 10月1日至7日放假调休；9月20日（周日）、10月10日（周六）上班.
    (D(2026, 9, 20), True, "Sunday worked (调休上班)"),
    (D(2026, 9, 30), True, "Wednesday before the break"),
    (D(2026, 10, 1), False, "国庆节"),
    (D(2026, 10, 5), False, "Monday in the break"),
    (D(2026, 10, 7), False, "last day of the break"),
    (D(2026, 10, 8), True, "back to work, a Thursday"),
    (D(2026, 10, 10), True, "Saturday worked (调休上班)"),
    (D(2026, 10, 11), False, "an ordinary Sunday"),
    # Mid-Autumn 2026: 9月25日至27日放假 (Friday to Sunday, no make-up day).
    (D(2026, 9, 25), False, "中秋节, a Friday"),
    # Spring Festival 2025 (国办发明电〔2024〕12号): 1月28日至2月4日；1月26日（周日）、2月8日（周六）上班.
    (D(2025, 1, 26), True, "Sunday worked"),
    (D(2025, 1, 28), False, "除夕, the first year it is a public holiday"),
    (D(2025, 2, 4), False, "last day of the break, a Tuesday"),
    (D(2025, 2, 8), True, "Saturday worked"),
    # National Day and Mid-Autumn 2025: 10月1日至8日；9月28日（周日）、10月11日（周六）上班.
    (D(2025, 9, 28), True, "Sunday worked"),
    (D(2025, 10, 8), False, "the eighth day of the combined break"),
    (D(2025, 10, 11), True, "Saturday worked"),
    # 2024 (国办发明电〔2023〕7号): 春节 2月10日至17日，2月4日（周日）、2月18日（周日）上班.
    (D(2024, 2, 4), True, "Sunday worked"),
    (D(2024, 2, 18), True, "Sunday worked"),
    (D(2024, 2, 16), False, "Friday in the break"),
    (D(2024, 5, 11), True, "Saturday worked after Labour Day"),
    # 2020: Spring Festival extended to 2 February (国办发明电〔2020〕1号): Saturday 1 February not worked.
    (D(2020, 1, 19), True, "Sunday worked before the break"),
    (D(2020, 1, 31), False, "extension of the break"),
    (D(2020, 2, 1), False, "Saturday no longer worked after the extension"),
    (D(2020, 2, 3), True, "back to work"),
    # 2019 Labour Day changed to 1–4 May (国办发明电〔2019〕3号), with Sundays 28 April and 5 May worked.
    (D(2019, 4, 28), True, "Sunday worked"),
    (D(2019, 5, 2), False, "Thursday in the extended break"),
    (D(2019, 5, 5), True, "Sunday worked"),
    # 2019's New Year break starts in 2018: 2018-12-29 (Saturday) worked, 30 December to 1 January off.
    (D(2018, 12, 29), True, "Saturday worked (2019 notice)"),
    (D(2018, 12, 31), False, "Monday off (2019 notice)"),
    # 2015: the 70th anniversary of the victory (国发明电〔2015〕1号): 3–5 September off, 6 September worked.
    (D(2015, 9, 3), False, "Victory Day"),
    (D(2015, 9, 4), False, "Friday off"),
    (D(2015, 9, 6), True, "Sunday worked"),
    # 2014: 清明 4月5日放假，4月7日（星期一）补休.
    (D(2014, 4, 7), False, "补休 Monday"),
    (D(2014, 1, 26), True, "Sunday worked before the Spring Festival"),
]


@pytest.mark.parametrize(("day", "working", "why"), DAYS, ids=[f"{d}-{why}" for d, _w, why in DAYS])
def test_is_working_day(day, working, why):
    assert is_working_day(day) is working, why


# (start, n, expected, why)
ADDS = [
    (D(2026, 2, 13), 1, D(2026, 2, 14), "the worked Saturday counts"),
    (D(2026, 2, 14), 1, D(2026, 2, 24), "the nine-day break is skipped"),
    (D(2026, 2, 12), 5, D(2026, 2, 26), "a 5-working-day 公示 posted across the Spring Festival"),
    (D(2026, 9, 29), 3, D(2026, 10, 9), "over National Day: 30 Sep, 8 Oct, 9 Oct"),
    (D(2026, 10, 9), 1, D(2026, 10, 10), "Saturday 10 October is worked"),
    (D(2026, 11, 2), 5, D(2026, 11, 9), "an ordinary week: Mon + 5 → next Mon"),
    (D(2026, 11, 2), 0, D(2026, 11, 2), "zero days: the same day"),
    (D(2026, 2, 24), -1, D(2026, 2, 14), "backwards over the break to the worked Saturday"),
]


@pytest.mark.parametrize(("start", "n", "expected", "why"), ADDS, ids=[a[3] for a in ADDS])
def test_add_working_days(start, n, expected, why):
    assert add_working_days(start, n) == expected, why
    assert working_days_between(start, expected) == n


@pytest.mark.parametrize(
    ("start", "end", "count"),
    [
        (D(2026, 2, 8), D(2026, 2, 14), 6),  # Mon 9 – Fri 13 and the worked Saturday 14
        (D(2026, 2, 14), D(2026, 2, 23), 0),  # the break itself
        (D(2026, 2, 23), D(2026, 3, 1), 5),  # Tue 24 – Fri 27 and the worked Saturday 28
        (D(2026, 3, 1), D(2026, 2, 23), -5),  # the same, backwards
        (D(2026, 2, 8), D(2026, 3, 1), 11),  # the whole month around the break
        (D(2026, 11, 1), D(2026, 11, 1), 0),
    ],
)
def test_working_days_between(start, end, count):
    assert working_days_between(start, end) == count


def test_working_days_in_counts_both_ends():
    # A 公示 from Friday 13 February 2026 to Tuesday 24 February: 13, 14 (worked Saturday), 24.
    assert working_days_in(D(2026, 2, 13), D(2026, 2, 24)) == 3
    assert working_days_in(D(2026, 11, 2), D(2026, 11, 6)) == 5
    assert working_days_in(D(2026, 11, 6), D(2026, 11, 2)) == 0


def test_every_year_2014_to_2026_is_covered_with_its_notice():
    cal = workdays.calendar()
    assert set(range(2014, 2027)) <= cal.years
    for year in range(2014, 2027):
        assert "号" in cal.notices[year], year
        assert cal.confidence[year] in ("C", "S", "U")


def test_weekend_days_worked_are_weekends_and_never_days_off():
    cal = workdays.calendar()
    assert all(day.weekday() >= 5 for day in cal.weekend_work)
    assert not cal.weekend_work & set(cal.days_off)


@pytest.mark.parametrize(
    ("year", "days_off", "weekend_work"),
    # Days off as the notices word them (spans and 补休 days) and weekend days worked, per notice.
    [(2014, 22, 5), (2015, 26, 5), (2019, 24, 7), (2020, 30, 6), (2024, 28, 8), (2025, 28, 5), (2026, 33, 6)],
)
def test_totals_per_notice(year, days_off, weekend_work):
    import yaml

    entry = yaml.safe_load(workdays.DATA_FILE.read_text(encoding="utf-8"))["years"][year]
    total = sum((span["to"] - span["from"]).days + 1 for span in entry["days_off"])
    assert (total, len(entry["weekend_work"])) == (days_off, weekend_work)


def test_years_beyond_the_data_fall_back_to_monday_to_friday_with_a_warning(caplog):
    workdays._warned.discard(2031)
    with caplog.at_level(logging.WARNING, logger="dangjian.core.workdays"):
        assert is_working_day(D(2031, 1, 1))  # a Wednesday: New Year's Day unknown without the notice
        assert not is_working_day(D(2031, 1, 4))  # a Saturday
        assert is_working_day(D(2031, 1, 6))
    warnings = [r for r in caplog.records if "2031" in r.getMessage()]
    assert len(warnings) == 1  # once per year, not once per day


def test_the_data_file_ships_with_the_package():
    import fnmatch
    import tomllib

    root = workdays.DATA_FILE.parents[3]  # src/
    pyproject = tomllib.loads((root.parent / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["dangjian"]
    relative = workdays.DATA_FILE.relative_to(root / "dangjian").as_posix()
    assert any(fnmatch.fnmatch(relative, pattern) for pattern in patterns), relative
