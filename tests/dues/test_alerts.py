"""Arrears reminders and the 6-month alert (dues/alerts.py; 党章 第九条, RULES.md §2)."""

from __future__ import annotations

import datetime as dt

import pytest

from dangjian.core.alerts import alerts_refresh
from dangjian.core.models import Alert, Notification, RuleOverride
from dangjian.dues.models import DuesBill, DuesReduction
from dangjian.members.models import Member

D = dt.date
ON = D(2026, 7, 2)  # June has ended; July is due, not owed
REMINDER, ALERT = "dues.arrears_reminder", "dues.arrears_six_months"


def owe(member, *months, paid=()):
    for month in months:
        is_paid = month in paid
        DuesBill.objects.create(
            member=member, org=member.org, org_path=member.org.path, month=month, category="student",
            standard_amount="0.20", amount="0.20", paid_amount="0.20" if is_paid else "0.00",
            status="paid" if is_paid else "open", rule_ref="dues@2008",
        )  # fmt: skip


def months(first: dt.date, count: int) -> list[dt.date]:
    out, y, m = [], first.year, first.month
    for _ in range(count):
        out.append(D(y, m, 1))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def open_alerts() -> dict[str, Alert]:
    return {a.dedupe_key: a for a in Alert.objects.filter(kind=ALERT, status="open")}


# ── the reminder to the member (3 months) ─────────────────────────────────────────────────────────


@pytest.mark.parametrize(("owed", "reminded"), [(2, False), (3, True), (5, True)])
def test_member_reminded_after_three_months_owed(tree, member_a, owed, reminded):
    owe(member_a.member, *months(D(2026, 7 - owed, 1), owed))
    alerts_refresh(on=ON, kinds=[REMINDER])
    notes = Notification.objects.filter(user=member_a, kind=REMINDER)
    assert notes.exists() is reminded
    if reminded:
        note = notes.get()
        assert str(owed) in note.title and f"{owed * 0.2:.2f}" in note.body


def test_reminder_sent_once_a_month(tree, member_a):
    owe(member_a.member, *months(D(2026, 3, 1), 4))
    for day in (ON, ON + dt.timedelta(days=5)):
        alerts_refresh(on=day, kinds=[REMINDER])
    assert Notification.objects.filter(user=member_a, kind=REMINDER).count() == 1
    owe(member_a.member, D(2026, 7, 1))
    alerts_refresh(on=D(2026, 8, 3), kinds=[REMINDER])
    assert Notification.objects.filter(user=member_a, kind=REMINDER).count() == 2


def test_reminder_threshold_is_a_local_option(tree, member_a):
    RuleOverride.objects.create(
        key="dues", org=tree.branch_a, effective_from=D(2020, 1, 1), params={"arrears_reminder_months": 1},
        reason="每月提醒",
    )  # fmt: skip
    owe(member_a.member, D(2026, 6, 1))
    alerts_refresh(on=ON, kinds=[REMINDER])
    assert Notification.objects.filter(user=member_a, kind=REMINDER).exists()


def test_no_reminder_without_a_login(tree, member_factory):
    owe(member_factory(tree.branch_a), *months(D(2026, 1, 1), 5))
    result = alerts_refresh(on=ON, kinds=[REMINDER])
    assert result.notified == 0 and result.failed == []


# ── the alert to the branch (6 consecutive months) ────────────────────────────────────────────────


def test_six_consecutive_months_alert_the_branch_citing_article_nine(tree, member_factory):
    m = member_factory(tree.branch_a, name="欠费党员")
    owe(m, *months(D(2026, 1, 1), 6))
    result = alerts_refresh(on=ON, kinds=[ALERT])
    assert result.created == 1 and result.failed == []
    alert = open_alerts()[f"{ALERT}:m{m.pk}"]
    assert alert.org_id == tree.branch_a.pk and alert.member_id == m.pk and alert.severity == "danger"
    assert "第九条" in alert.message and "欠费党员" in alert.message and "6" in alert.message
    assert alert.rule_ref == "dues@2008"
    # A proposal, never automatic: the member's status is untouched.
    assert Member.objects.get(pk=m.pk).status == "full"


@pytest.mark.parametrize(
    ("owed", "paid", "alerted"),
    [
        (months(D(2026, 1, 1), 5), (), False),  # 5 months
        (months(D(2025, 12, 1), 7), (D(2026, 3, 1),), False),  # 7 owed, but March paid: runs of 3 and 3
        (months(D(2025, 9, 1), 10), (D(2026, 6, 1),), True),  # a run of 9 before June
    ],
    ids=["five-months", "broken-run", "run-before-a-payment"],
)
def test_only_consecutive_months_count(tree, member_factory, owed, paid, alerted):
    m = member_factory(tree.branch_a)
    owe(m, *owed, paid=paid)
    alerts_refresh(on=ON, kinds=[ALERT])
    assert (f"{ALERT}:m{m.pk}" in open_alerts()) is alerted


def test_an_approved_reduction_is_a_proper_reason(tree, member_factory):
    m = member_factory(tree.branch_a)
    owe(m, *months(D(2026, 1, 1), 6))
    DuesReduction.objects.create(
        member=m, kind="reduce", monthly_amount="0.10", status="approved", start_month=D(2026, 4, 1),
        end_month=D(2026, 12, 1), reason="生活困难",
    )  # fmt: skip
    alerts_refresh(on=ON, kinds=[ALERT])
    assert open_alerts() == {}


def test_a_reduction_of_one_month_does_not_excuse_the_others(tree, member_factory):
    """党章 第九条 counts the months without a proper reason: January reduced, February to June (5) and
    then 6 more unpaid months in a row still raise the alert, from February."""
    m = member_factory(tree.branch_a, name="欠费党员")
    owe(m, *months(D(2026, 1, 1), 10))
    DuesReduction.objects.create(
        member=m, kind="reduce", monthly_amount="0.10", status="approved", start_month=D(2026, 1, 1),
        end_month=D(2026, 1, 1), reason="生活困难",
    )  # fmt: skip
    alerts_refresh(on=D(2026, 11, 2), kinds=[ALERT])
    alert = open_alerts()[f"{ALERT}:m{m.pk}"]
    assert "9" in alert.message and "2026-02" in alert.message


def test_bills_of_nothing_raise_no_reminder_and_no_alert(tree, member_a):
    """A bill of 0.00 (a base whose dues round to nothing) is never owed: no reminder, no 第九条 alert."""
    member = member_a.member
    for month in months(D(2025, 12, 1), 7):
        DuesBill.objects.create(
            member=member, org=member.org, org_path=member.org.path, month=month, category="employed",
            base="0.50", rate="0.005", standard_amount="0.00", amount="0.00", status="open", rule_ref="dues@2008",
        )  # fmt: skip
    alerts_refresh(on=ON, kinds=[REMINDER, ALERT])
    assert open_alerts() == {} and not Notification.objects.filter(user=member_a, kind=REMINDER).exists()


def test_paying_resolves_the_alert(tree, member_factory):
    m = member_factory(tree.branch_a)
    owe(m, *months(D(2026, 1, 1), 6))
    alerts_refresh(on=ON, kinds=[ALERT])
    DuesBill.objects.filter(member=m, month=D(2026, 3, 1)).update(status="paid", paid_amount="0.20")
    result = alerts_refresh(on=ON, kinds=[ALERT])
    assert result.resolved == 1 and open_alerts() == {}


def test_members_who_left_raise_nothing(tree, member_factory):
    m = member_factory(tree.branch_a, status="left")
    owe(m, *months(D(2026, 1, 1), 6))
    alerts_refresh(on=ON, kinds=[ALERT, REMINDER])
    assert open_alerts() == {}
