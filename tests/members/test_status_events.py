"""Status events (issue 3, "Status changes as services"): the date of last contact, the 状态变更 menu and
its pages, ``POST /api/v1/members/{id}/status-events/`` and the lost-contact alert.

党员教育管理工作条例 第三十四条: lost contact 6 months or more → membership suspended (停止党籍); still
unreachable 2 years after the suspension → removed as having left. "Months" are calendar months.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from dangjian.core.alerts import alerts_refresh
from dangjian.core.models import Alert
from dangjian.members import selectors, services
from dangjian.members.choices import MemberStatus
from dangjian.transfers import alerts as transfer_alerts
from dangjian.transfers.models import FlowCertificate
from dangjian.transfers.rules import RuleViolationError, add_months

D = dt.date
ARTICLE = "第三十四条"


def _today() -> dt.date:
    return timezone.localdate()


# --- the services ------------------------------------------------------------------------------------


def test_suspension_records_the_last_contact_and_uses_the_registers(tree, secretary_a, member_factory):
    member = member_factory(tree.branch_a)
    services.member_suspend(actor=secretary_a, member=member, last_contact=D(2025, 1, 2), date=D(2025, 7, 2))
    member.refresh_from_db()
    assert member.status == MemberStatus.SUSPENDED and member.last_contact_on == D(2025, 1, 2)

    other = member_factory(tree.branch_a, last_contact_on=D(2025, 1, 2))
    services.member_suspend(actor=secretary_a, member=other, date=D(2025, 7, 2))  # the register's date
    assert other.status == MemberStatus.SUSPENDED


def test_suspension_needs_a_last_contact_and_a_current_member(tree, secretary_a, member_factory):
    member = member_factory(tree.branch_a)
    with pytest.raises(ValidationError) as err:
        services.member_suspend(actor=secretary_a, member=member, date=D(2025, 7, 2))
    assert "last_contact_on" in err.value.message_dict
    gone = member_factory(tree.branch_a, status=MemberStatus.DECEASED)
    with pytest.raises(ValidationError) as err:
        services.member_suspend(
            actor=secretary_a, member=gone, last_contact=D(2024, 1, 1), date=D(2025, 7, 2)
        )
    assert "status" in err.value.message_dict


def test_a_refused_suspension_changes_nothing(tree, secretary_a, member_factory):
    member = member_factory(tree.branch_a, last_contact_on=D(2025, 3, 1))
    with pytest.raises(RuleViolationError):
        services.member_suspend(
            actor=secretary_a, member=member, last_contact=D(2025, 6, 1), date=D(2025, 7, 2)
        )
    member.refresh_from_db()
    assert member.last_contact_on == D(2025, 3, 1) and member.status == MemberStatus.FULL


@pytest.mark.parametrize(
    ("event", "extra", "status"),
    [
        ("suspend", {"last_contact_on": D(2024, 1, 1)}, MemberStatus.SUSPENDED),
        ("remove", {"reason": "经支部党员大会讨论除名（党章 第九条）"}, MemberStatus.LEFT),
        ("death", {}, MemberStatus.DECEASED),
        ("historical", {"reason": "组织关系转出平台"}, MemberStatus.HISTORICAL),
    ],
)
def test_each_event_is_its_service(tree, secretary_a, member_factory, event, extra, status):
    member = member_factory(tree.branch_a)
    services.member_status_event(actor=secretary_a, member=member, event=event, date=D(2025, 7, 2), **extra)
    assert member.status == status
    services.member_status_event(
        actor=secretary_a, member=member, event="restore", date=D(2025, 8, 1), reason="误录，恢复"
    )
    assert member.status == MemberStatus.FULL
    assert [c.to_status for c in member.status_changes.order_by("date", "id")] == ["full", status, "full"]


def test_unknown_event_and_removal_of_the_deceased_are_refused(tree, secretary_a, member_factory):
    member = member_factory(tree.branch_a, status=MemberStatus.DECEASED)
    for event, kwargs in (("vanish", {}), ("remove", {"reason": "x"})):
        with pytest.raises(ValidationError):
            services.member_status_event(
                actor=secretary_a, member=member, event=event, date=D(2025, 7, 2), **kwargs
            )


# --- what the menu offers --------------------------------------------------------------------------


def test_menu_options_follow_the_status_and_the_rule_dates(tree, secretary_a, member_factory):
    member = member_factory(tree.branch_a, last_contact_on=D(2025, 8, 31))
    options = {o["event"]: o for o in selectors.status_event_options(member, D(2026, 2, 27))}
    assert set(options) == {"suspend", "remove", "death", "historical"}
    # 31 August + 6 months is 28 February (month ends clamp).
    assert options["suspend"]["earliest"] == D(2026, 2, 28) and not options["suspend"]["allowed"]
    services.member_suspend(actor=secretary_a, member=member, date=D(2026, 2, 28))
    options = {o["event"]: o for o in selectors.status_event_options(member, D(2028, 2, 27))}
    assert set(options) == {"restore", "remove", "death", "historical"}
    assert options["remove"]["earliest"] == D(2028, 2, 28) and not options["remove"]["allowed"]
    assert {o["event"]: o for o in selectors.status_event_options(member, D(2028, 2, 28))}["remove"][
        "allowed"
    ]


# --- pages -------------------------------------------------------------------------------------------


def test_detail_page_has_the_status_menu_and_shows_when_removal_becomes_possible(
    tree, secretary_a, auditor, member_factory, web
):
    today = _today()
    member = member_factory(tree.branch_a)
    services.member_suspend(
        actor=secretary_a, member=member, last_contact=add_months(today, -8), date=add_months(today, -1)
    )
    page = web(secretary_a).get(reverse("members:detail", args=[member.pk])).content.decode()
    assert 'id="status-menu"' in page
    assert reverse("members:status_event", args=[member.pk, "restore"]) in page
    assert reverse("members:status_event", args=[member.pk, "remove"]) not in page  # not yet
    assert add_months(add_months(today, -1), 24).isoformat() in page
    assert (
        'id="status-menu"'
        not in web(auditor).get(reverse("members:detail", args=[member.pk])).content.decode()
    )


def test_refused_suspension_shows_the_rule_and_keeps_what_was_typed(tree, secretary_a, member_factory, web):
    today = _today()
    member = member_factory(tree.branch_a)
    url = reverse("members:status_event", args=[member.pk, "suspend"])
    assert web(secretary_a).get(url).status_code == 200
    recent = (today - dt.timedelta(days=30)).isoformat()
    response = web(secretary_a).post(
        url, {"date": today.isoformat(), "last_contact_on": recent, "reason": "电话不通"}
    )
    page = response.content.decode()
    assert response.status_code == 400 and ARTICLE in page and "电话不通" in page and recent in page
    member.refresh_from_db()
    assert member.status == MemberStatus.FULL

    long_ago = add_months(today, -7).isoformat()
    response = web(secretary_a).post(url, {"date": today.isoformat(), "last_contact_on": long_ago})
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.status == MemberStatus.SUSPENDED and member.last_contact_on.isoformat() == long_ago


def test_event_pages_refuse_future_dates_missing_reasons_and_read_only_roles(
    tree, secretary_a, auditor, member_factory, web
):
    member = member_factory(tree.branch_a)
    url = reverse("members:status_event", args=[member.pk, "historical"])
    tomorrow = (_today() + dt.timedelta(days=1)).isoformat()
    response = web(secretary_a).post(url, {"date": tomorrow, "reason": ""})
    assert response.status_code == 400
    assert response.context["form"].errors.keys() == {"date", "reason"}
    assert (
        web(secretary_a).get(reverse("members:status_event", args=[member.pk, "vanish"])).status_code == 404
    )
    restore = web(secretary_a).post(
        reverse("members:status_event", args=[member.pk, "restore"]),
        {"date": _today().isoformat(), "reason": "x"},
    )
    assert restore.status_code == 400  # a current member has nothing to restore
    assert web(auditor).get(url).status_code == 403


def test_last_contact_is_on_the_edit_form(tree, secretary_a, member_factory, web):
    member = member_factory(tree.branch_a)
    page = web(secretary_a).get(reverse("members:edit", args=[member.pk])).content.decode()
    assert 'name="last_contact_on"' in page
    services.member_update(actor=secretary_a, member=member, data={"last_contact_on": "2025-05-04"})
    member.refresh_from_db()
    assert member.last_contact_on == D(2025, 5, 4)
    with pytest.raises(ValidationError) as err:
        services.member_update(
            actor=secretary_a,
            member=member,
            data={"last_contact_on": (_today() + dt.timedelta(days=1)).isoformat()},
        )
    assert "last_contact_on" in err.value.message_dict


# --- the API -----------------------------------------------------------------------------------------


def test_api_status_events_and_the_rule_violation_envelope(tree, secretary_a, auditor, member_factory, api):
    member = member_factory(tree.branch_a)
    url = f"/api/v1/members/{member.pk}/status-events/"
    body = {"event": "suspend", "date": "2025-07-01", "last_contact_on": "2025-01-02"}
    refused = api(secretary_a).post(url, body, format="json")
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "rule_violation" and error["rule"] == "transfers"
    assert ARTICLE in error["article"] and error["earliest_date"] == "2025-07-02"
    assert api(auditor).post(url, {**body, "date": "2025-07-02"}, format="json").status_code == 403
    done = api(secretary_a).post(url, {**body, "date": "2025-07-02"}, format="json")
    assert done.status_code == 201 and done.json()["to_status"] == "suspended"
    assert api(secretary_a).get(f"/api/v1/members/{member.pk}/").json()["last_contact_on"] == "2025-01-02"

    early = api(secretary_a).post(
        url, {"event": "remove", "date": "2027-07-01", "reason": "失联"}, format="json"
    )
    assert early.status_code == 400 and early.json()["error"]["earliest_date"] == "2027-07-02"
    missing = api(secretary_a).post(url, {"event": "restore", "date": "2025-08-01"}, format="json")
    assert missing.status_code == 400 and missing.json()["error"]["code"] == "invalid"


# --- the alert ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("last_contact", "on", "status", "alerted"),
    [
        (D(2025, 1, 2), D(2025, 7, 1), MemberStatus.FULL, False),  # one day short of 6 months
        (D(2025, 1, 2), D(2025, 7, 2), MemberStatus.FULL, True),  # 6 months to the day
        (D(2025, 8, 31), D(2026, 2, 28), MemberStatus.PROBATIONARY, True),  # month end clamps
        (D(2025, 1, 2), D(2025, 7, 2), "away", True),  # a flowing member (活动证) is still current
        (D(2025, 1, 2), D(2025, 7, 2), MemberStatus.HISTORICAL, False),  # no longer current
        (None, D(2025, 7, 2), MemberStatus.FULL, False),  # no date recorded: nothing to count
    ],
)
def test_lost_contact_alert(tree, member_factory, last_contact, on, status, alerted):
    """条例 第三十四条: an alert on the branch once a current member is 6 months without contact."""
    full = None if status == MemberStatus.PROBATIONARY else D(2006, 7, 1)
    away, status = status == "away", MemberStatus.FULL if status == "away" else status
    member = member_factory(tree.branch_a, status=status, full_date=full, last_contact_on=last_contact)
    if away:
        FlowCertificate.objects.create(
            member=member, home_org=tree.branch_a, home_org_path=tree.branch_a.path,
            outside_host_name="外地", number="LD2025-T0001", start=D(2025, 1, 1),
        )  # fmt: skip
    specs = [s for s in transfer_alerts.lost_contact(on) if s.key == f"c{member.pk}"]
    assert bool(specs) is alerted
    if alerted:
        assert ARTICLE in specs[0].message and specs[0].org == tree.branch_a


def test_lost_contact_alert_is_raised_and_resolved_by_the_refresh(tree, secretary_a, member_factory):
    member = member_factory(tree.branch_a, last_contact_on=D(2025, 1, 2))
    alerts_refresh(on=D(2025, 7, 2), kinds=["transfers.lost_contact"])
    alert = Alert.objects.get(kind="transfers.lost_contact", member=member)
    assert alert.status == Alert.Status.OPEN
    services.member_suspend(actor=secretary_a, member=member, date=D(2025, 7, 2))
    alerts_refresh(on=D(2025, 7, 3), kinds=["transfers.lost_contact"])
    alert.refresh_from_db()
    assert alert.status == Alert.Status.RESOLVED
