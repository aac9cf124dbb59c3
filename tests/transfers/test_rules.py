"""Table tests of the transfer rules (党员教育管理工作条例): letter validity, expiry, 6-month thresholds."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from dangjian.core.models import RuleOverride
from dangjian.core.rulebook import overridable
from dangjian.transfers import rules

D = dt.date


@pytest.mark.parametrize(
    ("value", "ok"), [(0, False), (1, True), (30, True), (90, True), (91, False)], ids=lambda v: str(v)
)
def test_letter_validity_override_bounds(value, ok):
    param = overridable("transfers")["letter_validity_days"]
    if ok:
        assert param.clean(value) == value
    else:
        with pytest.raises(ValidationError):
            param.clean(value)


def test_letter_validity_default_30_and_local_override(tree):
    r = rules.rule_for(D(2026, 3, 1))
    assert rules.letter_validity_days(r) == 30
    assert rules.letter_valid_until(D(2026, 3, 1), r) == D(2026, 3, 31)
    RuleOverride.objects.create(
        key="transfers", org=tree.district_a, effective_from=D(2020, 1, 1),
        params={"letter_validity_days": 90}, reason="跨省转接路途远",
    )  # fmt: skip
    local = rules.rule_for(D(2026, 3, 1), tree.branch_a)
    assert rules.letter_validity_days(local) == 90
    assert rules.letter_validity_days(rules.rule_for(D(2026, 3, 1), tree.branch_b)) == 30


@pytest.mark.parametrize(
    ("on", "refused"),
    [(D(2026, 3, 30), False), (D(2026, 3, 31), False), (D(2026, 4, 1), True)],
    ids=["day-before-last", "last-valid-day", "day-after"],
)
def test_expired_letter_refused(on, refused):
    r = rules.rule_for(on)
    v = rules.check_letter_valid(valid_until=D(2026, 3, 31), on=on, r=r)
    assert (v is not None) == refused
    if v:
        assert v.code == "letter_expired" and v.rule_ref == "transfers@2019"


# 6 calendar months: 2025-12-01 → 2026-06-01 is 182 days; 2025-06-01 → 2025-12-01 is 183 days.
@pytest.mark.parametrize(
    ("last", "days", "refused"),
    [
        (D(2025, 12, 1), 181, True),
        (D(2025, 12, 1), 182, False),
        (D(2025, 6, 1), 182, True),
        (D(2025, 6, 1), 183, False),
    ],
    ids=["181d-refused", "182d-exactly-6-months", "182d-not-yet", "183d-exactly-6-months"],
)
def test_lost_contact_six_months(last, days, refused):
    on = last + dt.timedelta(days=days)
    v = rules.check_suspension(last_contact=last, on=on, r=rules.rule_for(on))
    assert (v is not None) == refused
    if v:
        assert "第三十四条" in v.article and v.earliest == rules.add_months(last, 6)


@pytest.mark.parametrize(
    ("since", "days", "refused"),
    [
        (D(2025, 12, 1), 181, True),
        (D(2025, 12, 1), 182, False),
        (D(2025, 6, 1), 182, True),
        (D(2025, 6, 1), 183, False),
    ],
)
def test_inactive_six_months(since, days, refused):
    on = since + dt.timedelta(days=days)
    v = rules.check_inactive(inactive_since=since, on=on, r=rules.rule_for(on))
    assert (v is not None) == refused
    if v:
        assert "第九条" in v.article


@pytest.mark.parametrize(
    ("on", "refused"), [(D(2027, 12, 31), True), (D(2028, 1, 1), False)], ids=["2y-minus-1d", "2y"]
)
def test_removal_two_years_after_suspension(on, refused):
    v = rules.check_removal_after_suspension(suspended_on=D(2026, 1, 1), on=on, r=rules.rule_for(on))
    assert (v is not None) == refused


def test_fixed_place_due_six_months():
    assert rules.fixed_place_due(D(2026, 1, 31), rules.rule_for(D(2026, 1, 31))) == D(2026, 7, 31)
    assert rules.fixed_place_due(D(2025, 8, 31), rules.rule_for(D(2025, 8, 31))) == D(2026, 2, 28)
