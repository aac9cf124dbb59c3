"""Alerts of organization life with fixed dates: a period closing without the required meeting
(支部工作条例 第十四条至第十六条; warn_days_before_period_end = 10) and minutes missing minutes_due_days
(7) after a meeting."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from dangjian.core.alerts import alerts_refresh
from dangjian.core.models import Alert, RuleOverride
from dangjian.meetings.models import Meeting, MeetingAttachment

D = dt.date
CLOSING = "meetings.period_closing"
MINUTES = "meetings.minutes_missing"


def meeting(org, kind, day, status="held", minutes=""):
    starts = timezone.make_aware(dt.datetime.combine(day, dt.time(9, 0)))
    return Meeting.objects.create(
        org=org, kind=kind, title=f"{kind} {day}", starts_at=starts, date=day, status=status, minutes=minutes
    )


def open_alerts(kind):
    return {a.dedupe_key: a for a in Alert.objects.filter(kind=kind, status=Alert.Status.OPEN)}


def test_period_closing_within_the_warning_days(tree):
    alerts_refresh(on=D(2025, 3, 20), kinds=[CLOSING])  # 11 days before the quarter ends: nothing yet
    assert not open_alerts(CLOSING)
    result = alerts_refresh(on=D(2025, 3, 25), kinds=[CLOSING])
    found = open_alerts(CLOSING)
    key = f"{CLOSING}:b{tree.branch_a.pk}:general_meeting:2025-Q1"
    assert key in found and result.created == len(found)
    alert = found[key]
    assert alert.org_id == tree.branch_a.pk and alert.severity == "warning"
    assert alert.due_date == D(2025, 3, 31) and alert.rule_ref == "meetings@2018"
    assert "第十四条" in alert.message and "2025-03-31" in alert.message
    kinds = {k.split(":")[2] for k in found if f":b{tree.branch_a.pk}:" in k}
    # Monthly theme day and group meeting (branch_a has a group), quarterly lecture; not the yearly ones.
    assert kinds == {"general_meeting", "theme_day", "party_lecture", "group_meeting"}
    assert f"{CLOSING}:b{tree.branch_b.pk}:group_meeting:2025-03" not in found  # branch_b has no group
    group = found[f"{CLOSING}:b{tree.branch_a.pk}:group_meeting:2025-03"]
    assert "0" in group.message and "1" in group.message


def test_period_closing_resolves_once_held_and_turns_danger_at_the_end(tree):
    alerts_refresh(on=D(2025, 3, 25), kinds=[CLOSING])
    meeting(tree.branch_a, "general_meeting", D(2025, 3, 26))
    result = alerts_refresh(on=D(2025, 3, 29), kinds=[CLOSING])
    found = open_alerts(CLOSING)
    assert f"{CLOSING}:b{tree.branch_a.pk}:general_meeting:2025-Q1" not in found
    assert result.resolved >= 1
    assert found[f"{CLOSING}:b{tree.branch_b.pk}:general_meeting:2025-Q1"].severity == "danger"  # 2 days left
    # Once the quarter has closed the alert goes: the compliance table shows the miss from then on.
    alerts_refresh(on=D(2025, 4, 1), kinds=[CLOSING])
    assert not [k for k in open_alerts(CLOSING) if k.endswith("2025-Q1")]


def test_period_closing_is_idempotent_and_respects_local_warning_days(tree, org_manager):
    RuleOverride.objects.create(
        key="meetings", org=tree.district_b, effective_from=D(2025, 1, 1),
        params={"warn_days_before_period_end": 20}, reason="提前提醒", created_by=org_manager,
    )  # fmt: skip
    alerts_refresh(on=D(2025, 3, 15), kinds=[CLOSING])
    found = open_alerts(CLOSING)
    assert f"{CLOSING}:b{tree.branch_b.pk}:general_meeting:2025-Q1" in found  # 16 days ≤ 20
    assert f"{CLOSING}:b{tree.branch_a.pk}:general_meeting:2025-Q1" not in found  # 16 days > 10
    again = alerts_refresh(on=D(2025, 3, 15), kinds=[CLOSING])
    assert (again.created, again.updated, again.resolved) == (0, 0, 0)


@pytest.mark.parametrize(
    ("why", "status", "minutes", "final", "on", "alerted"),
    [
        ("6 days after: not yet due", "held", "", False, D(2025, 3, 7), False),
        ("7 days after without minutes", "held", "", False, D(2025, 3, 8), True),
        ("a planned meeting now past counts too", "planned", "", False, D(2025, 3, 8), True),
        ("minutes written", "held", "<p>会议记录</p>", False, D(2025, 3, 8), False),
        ("final minutes uploaded", "held", "", True, D(2025, 3, 8), False),
        ("more than a year ago: left alone", "held", "", False, D(2026, 3, 8), False),
    ],
)
def test_minutes_missing(why, status, minutes, final, on, alerted, tree, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    m = meeting(tree.branch_a, "theme_day", D(2025, 3, 1), status=status, minutes=minutes)
    if final:
        MeetingAttachment.objects.create(
            meeting=m, kind=MeetingAttachment.Kind.FINAL_MINUTES, file=ContentFile(b"x", name="纪要.docx"),
            original_name="纪要.docx", content_type="application/octet-stream", size=1,
        )  # fmt: skip
    alerts_refresh(on=on, kinds=[MINUTES])
    found = open_alerts(MINUTES)
    assert (f"{MINUTES}:m{m.pk}" in found) is alerted, why
    if alerted:
        alert = found[f"{MINUTES}:m{m.pk}"]
        assert alert.org_id == tree.branch_a.pk and alert.due_date == D(2025, 3, 8)
        assert alert.subject_id == str(m.pk)


def test_cancelled_meeting_needs_no_minutes(tree):
    m = meeting(tree.branch_a, "theme_day", D(2025, 3, 1), status="planned")
    Meeting.objects.filter(pk=m.pk).update(status="cancelled", cancel_reason="天气")
    alerts_refresh(on=D(2025, 3, 20), kinds=[MINUTES])
    assert not open_alerts(MINUTES)


def test_alert_texts_are_chinese(tree):
    meeting(tree.branch_a, "theme_day", D(2025, 3, 1))
    alerts_refresh(on=D(2025, 3, 25), kinds=[CLOSING, MINUTES])
    texts = [a.message for a in Alert.objects.filter(kind__in=[CLOSING, MINUTES])]
    assert texts and all("尚未" in t or "会议记录" in t for t in texts), texts
