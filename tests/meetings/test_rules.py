"""Periods and required frequencies of organization life (支部工作条例 第十四条至第十六条, RULES.md §3), and
the quorum of a branch committee meeting, as tables of cases."""

from __future__ import annotations

import datetime as dt

import pytest

from dangjian.core import rulebook
from dangjian.meetings import rules
from dangjian.meetings.rules import MONTH, QUARTER, YEAR, OrgFacts

D = dt.date

# (day, period) → (start, end, label): the boundaries a compliance count turns on.
PERIOD_TABLE = [
    (D(2025, 3, 31), MONTH, D(2025, 3, 1), D(2025, 3, 31), "2025-03"),
    (D(2025, 4, 1), MONTH, D(2025, 4, 1), D(2025, 4, 30), "2025-04"),
    (D(2025, 3, 31), QUARTER, D(2025, 1, 1), D(2025, 3, 31), "2025-Q1"),
    (D(2025, 4, 1), QUARTER, D(2025, 4, 1), D(2025, 6, 30), "2025-Q2"),
    (D(2025, 12, 31), QUARTER, D(2025, 10, 1), D(2025, 12, 31), "2025-Q4"),
    (D(2026, 1, 1), QUARTER, D(2026, 1, 1), D(2026, 3, 31), "2026-Q1"),
    (D(2025, 12, 31), YEAR, D(2025, 1, 1), D(2025, 12, 31), "2025"),
    (D(2026, 1, 1), YEAR, D(2026, 1, 1), D(2026, 12, 31), "2026"),
    (D(2024, 2, 29), MONTH, D(2024, 2, 1), D(2024, 2, 29), "2024-02"),  # leap year
    (D(2025, 2, 28), MONTH, D(2025, 2, 1), D(2025, 2, 28), "2025-02"),
    (D(2024, 2, 29), QUARTER, D(2024, 1, 1), D(2024, 3, 31), "2024-Q1"),
    (D(2025, 9, 30), QUARTER, D(2025, 7, 1), D(2025, 9, 30), "2025-Q3"),
]


@pytest.mark.parametrize(("day", "period", "start", "end", "label"), PERIOD_TABLE)
def test_period_of(day, period, start, end, label):
    p = rules.period_of(day, period)
    assert (p.start, p.end, p.label) == (start, end, label)
    assert day in p and p.kind == period


def test_periods_in_year_cover_the_year_without_gaps():
    for period, n in ((MONTH, 12), (QUARTER, 4), (YEAR, 1)):
        ps = rules.periods_in_year(2024, period)
        assert len(ps) == n
        assert ps[0].start == D(2024, 1, 1) and ps[-1].end == D(2024, 12, 31)
        for a, b in zip(ps, ps[1:], strict=False):
            assert b.start == a.end + dt.timedelta(days=1)
    assert sum((p.end - p.start).days + 1 for p in rules.periods_in_year(2024, MONTH)) == 366


def test_unknown_period_is_refused():
    with pytest.raises(ValueError):
        rules.period_of(D(2025, 1, 1), "week")


# (why, day, today, closed, days_left): a period closes after its last day, never on it.
CLOSING = [
    ("last day of March: the quarter is still open", D(2025, 3, 31), D(2025, 3, 31), False, 0),
    ("1 April: the first quarter has closed", D(2025, 3, 31), D(2025, 4, 1), True, -1),
    ("31 December: the year is open", D(2025, 12, 31), D(2025, 12, 31), False, 0),
    ("1 January: last year has closed", D(2025, 6, 1), D(2026, 1, 1), True, -1),
]


@pytest.mark.parametrize(("why", "day", "today", "closed", "left"), CLOSING, ids=[c[0] for c in CLOSING])
def test_period_closed_and_days_left(why, day, today, closed, left):
    p = rules.period_of(day, QUARTER if "quarter" in why else YEAR)
    assert p.closed(today) is closed, why
    assert p.days_left(today) == left, why


V2018 = rulebook.national_rule("meetings", D(2025, 1, 1))

# (why, facts, required kinds → period, article)
REQUIRED = [
    (
        "a branch without committee or groups: general meeting quarterly, lecture quarterly (local "
        "practice), theme day monthly, life meeting and appraisal yearly",
        OrgFacts("branch"),
        {
            "general_meeting": QUARTER,
            "party_lecture": QUARTER,
            "theme_day": MONTH,
            "life_meeting": YEAR,
            "democratic_appraisal": YEAR,
        },
        "支部工作条例 第十四条至第十六条",
    ),
    (
        "a branch with a committee meets as a committee monthly",
        OrgFacts("branch", has_committee=True),
        {
            "general_meeting": QUARTER,
            "committee_meeting": MONTH,
            "party_lecture": QUARTER,
            "theme_day": MONTH,
            "life_meeting": YEAR,
            "democratic_appraisal": YEAR,
        },
        "支部工作条例 第十四条",
    ),
    (
        "below 7 full members a branch has no committee, whatever is on record",
        OrgFacts("branch", has_committee=True, full_members=6),
        {
            "general_meeting": QUARTER,
            "party_lecture": QUARTER,
            "theme_day": MONTH,
            "life_meeting": YEAR,
            "democratic_appraisal": YEAR,
        },
        "支部工作条例 第十条",
    ),
    (
        "7 full members and a committee: committee meetings monthly",
        OrgFacts("joint_branch", has_committee=True, full_members=7, groups=2),
        {
            "general_meeting": QUARTER,
            "committee_meeting": MONTH,
            "group_meeting": MONTH,
            "party_lecture": QUARTER,
            "theme_day": MONTH,
            "life_meeting": YEAR,
            "democratic_appraisal": YEAR,
        },
        "支部工作条例 第十条、第十四条",
    ),
    (
        "a branch with party groups: each group meets monthly",
        OrgFacts("branch", groups=3),
        {
            "general_meeting": QUARTER,
            "group_meeting": MONTH,
            "party_lecture": QUARTER,
            "theme_day": MONTH,
            "life_meeting": YEAR,
            "democratic_appraisal": YEAR,
        },
        "支部工作条例 第十四条",
    ),
    (
        "a party committee: its secretary's party lecture yearly",
        OrgFacts("committee"),
        {"party_lecture": YEAR},
        "支部工作条例 第十四条（党委书记每年至少讲1次党课）",
    ),
    ("a party group has no requirement of its own", OrgFacts("group"), {}, "—"),
    ("a general branch is not counted on its own", OrgFacts("general_branch", groups=2), {}, "—"),
]


@pytest.mark.parametrize(("why", "facts", "expected", "article"), REQUIRED, ids=[r[0][:60] for r in REQUIRED])
def test_required_kinds(why, facts, expected, article):
    got = rules.required_kinds(V2018, facts)
    assert got == expected, why
    assert list(got) == [k for k in rules.BRANCH_KINDS if k in expected]  # table order


def test_required_kinds_follow_the_local_lecture_period():
    local = {**V2018.params, "party_lecture_period": "month"}
    assert rules.required_kinds(local, OrgFacts("branch"))["party_lecture"] == MONTH


def test_required_kinds_refuse_an_unknown_period():
    broken = {**V2018.params, "periods": {**V2018.params["periods"], "theme_day": "fortnight"}}
    with pytest.raises(ValueError):
        rules.required_kinds(broken, OrgFacts("branch"))


def test_every_required_kind_has_its_article_in_the_rule():
    articles = V2018["articles"]
    for kind in rules.required_kinds(V2018, OrgFacts("branch", has_committee=True, groups=1)):
        assert "支部工作条例" in articles[kind]


# (why, committee members, present, quorum): 支部工作条例 第十四条 — more than half of the members present.
COMMITTEE_QUORUM = [
    ("3 of 5", 5, 3, True),
    ("2 of 5", 5, 2, False),
    ("2 of 3", 3, 2, True),
    ("2 of 4 is exactly half: no quorum", 4, 2, False),
    ("3 of 4", 4, 3, True),
    ("4 of 7", 7, 4, True),
    ("3 of 7", 7, 3, False),
    ("nobody expected", 0, 0, False),
]


@pytest.mark.parametrize(
    ("why", "members", "present", "met"), COMMITTEE_QUORUM, ids=[c[0] for c in COMMITTEE_QUORUM]
)
def test_committee_quorum(why, members, present, met):
    more_than = V2018["committee_quorum_more_than"]
    assert rules.committee_quorum_met(members, present, more_than) is met, why


def test_period_display_in_chinese():
    from django.utils import translation

    with translation.override("zh-hans"):
        assert rules.period_display(rules.period_of(D(2025, 3, 5), MONTH)) == "2025年3月"
        assert rules.period_display(rules.period_of(D(2025, 3, 5), QUARTER)) == "2025年第1季度"
        assert rules.period_display(rules.period_of(D(2025, 3, 5), YEAR)) == "2025年"
