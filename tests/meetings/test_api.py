"""Organization life over the API (/api/v1/meetings/): the contract's list, detail, attendance and leave.

tests/test_permissions.py runs the generic persona matrix over these endpoints; here: the bodies, the
filters, what a member sees, and that the list does not issue a query per meeting.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dangjian.meetings import services
from dangjian.meetings.models import Attendee, Meeting

URL = "/api/v1/meetings/"


def _in(hours: float) -> dt.datetime:
    return timezone.now() + dt.timedelta(hours=hours)


@pytest.fixture
def register(tree, member_factory, member_a):
    return {
        "me": member_a.member,
        "full": member_factory(tree.branch_a, name="李正式"),
        "probationary": member_factory(tree.branch_a, name="赵预备", status="probationary", full_date=None),
    }


@pytest.fixture
def plan(tree, secretary_a, register):
    def make(*, org=None, kind="general_meeting", start=None, **kw):
        start = start or _in(24)
        return services.meeting_create(
            actor=secretary_a,
            org=org or tree.branch_a,
            kind=kind,
            title=kw.pop("title", "支部党员大会"),
            starts_at=start,
            ends_at=kw.pop("ends_at", start + dt.timedelta(hours=2)),
            **kw,
        )

    return make


def test_secretary_plans_a_meeting(api, secretary_a, tree, register):
    body = {
        "org": tree.branch_a.pk,
        "kind": "general_meeting",
        "title": "讨论接收预备党员",
        "starts_at": "2030-03-10T09:00:00+08:00",
        "ends_at": "2030-03-10T11:00:00+08:00",
        "place": "党员活动室",
        "host": register["full"].pk,
    }
    resp = api(secretary_a).post(URL, body, format="json")
    assert resp.status_code == 201, resp.json()
    data = resp.json()
    assert data["date"] == "2030-03-10" and data["org_name"] == tree.branch_a.name
    assert (
        data["host_name"] == "李正式" and data["kind_display"] and data["kind_display"] != "general_meeting"
    )
    assert data["totals"] == {
        "expected": 3, "present": 0, "leave": 0, "absent": 0, "pending": 3, "voting_expected": 2,
        "voting_present": 0, "rate": 0.0,
    }  # fmt: skip
    assert "video_room" not in data and data["video"] is False
    assert Meeting.objects.get(pk=data["id"]).attendees.count() == 3


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"title": ""}, "title"),
        ({"kind": "group_meeting"}, "kind"),
        ({"ends_at": "2030-03-10T08:00:00+08:00"}, "ends_at"),
        ({"kind": "party_lecture"}, "lecturer"),
        ({"starts_at": "yesterday"}, "starts_at"),
        ({"org": 999999}, "org"),
    ],
)
def test_create_answers_400_naming_the_field(api, secretary_a, tree, register, change, field):
    body = {
        "org": tree.branch_a.pk,
        "kind": "general_meeting",
        "title": "支部党员大会",
        "starts_at": "2030-03-10T09:00:00+08:00",
        **change,
    }
    resp = api(secretary_a).post(URL, body, format="json")
    assert resp.status_code == 400, resp.json()
    assert field in resp.json()["error"]["fields"]
    assert not Meeting.objects.exists()


def test_host_from_another_branch_is_refused(api, secretary_a, tree, member_factory, register):
    other = member_factory(tree.branch_b)
    body = {
        "org": tree.branch_a.pk,
        "kind": "general_meeting",
        "title": "支部党员大会",
        "starts_at": "2030-03-10T09:00:00+08:00",
        "host": other.pk,
    }
    resp = api(secretary_a).post(URL, body, format="json")
    assert resp.status_code == 400 and "host" in resp.json()["error"]["fields"]


def test_list_filters(api, secretary_a, tree, plan):
    a = plan(start=dt.datetime(2030, 3, 5, 9, 0, tzinfo=dt.UTC), title="三月大会")
    b = plan(start=dt.datetime(2030, 4, 5, 9, 0, tzinfo=dt.UTC), kind="theme_day", title="四月主题党日")
    client = api(secretary_a)

    def ids(query: str) -> list[int]:
        resp = client.get(f"{URL}?{query}")
        assert resp.status_code == 200, resp.json()
        return [row["id"] for row in resp.json()["results"]]

    assert ids("") == [b.pk, a.pk]  # newest first
    assert ids("kind=theme_day") == [b.pk]
    assert ids("year=2030&month=3") == [a.pk]
    assert ids("q=主题") == [b.pk]
    assert ids(f"org={tree.branch_a.pk}") == [b.pk, a.pk]
    assert ids(f"org={tree.branch_b.pk}") == []
    assert ids("date_from=2030-04-01") == [b.pk]
    for bad, field in (
        ("year=soon", "year"),
        ("month=13", "month"),
        ("kind=banquet", "kind"),
        ("org=x", "org"),
    ):
        resp = client.get(f"{URL}?{bad}")
        assert resp.status_code == 400, bad
        assert field in resp.json()["error"]["fields"]


def test_list_does_not_query_per_meeting(api, secretary_a, plan):
    client = api(secretary_a)
    plan()
    client.get(URL)  # warm up (token, role cache)
    with CaptureQueriesContext(connection) as one:
        assert client.get(URL).status_code == 200
    for _ in range(4):
        plan(host=Attendee.objects.first().member)
    with CaptureQueriesContext(connection) as five:
        resp = client.get(URL)
    assert resp.json()["count"] == 5
    assert len(five) == len(one)


def test_member_sees_only_meetings_they_are_expected_at(api, member_a, secretary_a, tree, plan, register):
    mine = plan()
    removed = plan()
    services.attendee_remove(
        actor=secretary_a, attendee=removed.attendees.get(member=register["me"]), reason="病休"
    )
    group = plan(org=tree.group_a, kind="group_meeting")
    client = api(member_a)
    listed = {row["id"] for row in client.get(URL).json()["results"]}
    assert mine.pk in listed and group.pk not in listed
    assert {row["id"] for row in client.get(f"{URL}?mine=true").json()["results"]} == {mine.pk}
    assert client.get(f"{URL}{group.pk}/").status_code == 404
    detail = client.get(f"{URL}{mine.pk}/").json()
    assert detail["my_attendance"]["member_name"] == "张党员"
    # Attendance: the totals of everyone, the row of the member only.
    attendance = client.get(f"{URL}{mine.pk}/attendance/").json()
    assert attendance["totals"]["expected"] == 3
    assert [r["member_name"] for r in attendance["rows"]] == ["张党员"]
    # Members do not change meetings.
    assert client.patch(f"{URL}{mine.pk}/", {"title": "x"}, format="json").status_code == 403
    assert client.post(f"{URL}{mine.pk}/cancel/", {"reason": "x"}, format="json").status_code == 403
    assert client.post(URL, {}, format="json").status_code == 403


def test_member_asks_for_leave_for_themself_only(api, member_a, secretary_a, plan, register):
    meeting = plan()
    client = api(member_a)
    resp = client.post(f"{URL}{meeting.pk}/leave/", {"reason": "出差在外"}, format="json")
    assert resp.status_code == 200, resp.json()
    assert resp.json()["leave_status"] == "requested"
    other = client.post(
        f"{URL}{meeting.pk}/leave/", {"member": register["full"].pk, "reason": "代请"}, format="json"
    )
    assert other.status_code == 403
    row = Attendee.objects.get(meeting=meeting, member=register["me"])
    decide = f"{URL}{meeting.pk}/leave/decide/"
    assert client.post(decide, {"attendee": row.pk, "approve": True}, format="json").status_code == 403
    resp = api(secretary_a).post(
        decide, {"member": register["me"].pk, "approve": True, "note": "同意"}, format="json"
    )
    assert resp.status_code == 200, resp.json()
    assert (resp.json()["leave_status"], resp.json()["status"]) == ("approved", "leave")


def test_secretary_asks_leave_on_behalf(api, secretary_a, plan, register):
    meeting = plan()
    client = api(secretary_a)
    resp = client.post(
        f"{URL}{meeting.pk}/leave/", {"member": register["full"].pk, "reason": "住院"}, format="json"
    )
    assert resp.status_code == 200 and resp.json()["member_name"] == "李正式"
    # The secretary is not on the register: without a member, say whose leave it is.
    resp = client.post(f"{URL}{meeting.pk}/leave/", {"reason": "住院"}, format="json")
    assert resp.status_code == 400 and "member" in resp.json()["error"]["fields"]


def test_attendance_marks_add_and_remove(api, secretary_a, tree, member_factory, plan, register):
    meeting = plan(start=_in(-1))
    client = api(secretary_a)
    url = f"{URL}{meeting.pk}/attendance/"
    resp = client.post(
        url,
        {
            "marks": [
                {"member": register["me"].pk, "status": "present"},
                {"member": register["full"].pk, "status": "absent"},
            ]
        },
        format="json",
    )
    assert resp.status_code == 200, resp.json()
    data = resp.json()
    assert data["changed"] == 2
    assert (data["totals"]["present"], data["totals"]["absent"], data["totals"]["voting_present"]) == (
        1,
        1,
        1,
    )
    assert {r["member_name"]: r["channel"] for r in data["rows"]}["张党员"] == "manual"

    guest = member_factory(tree.branch_b, name="列席")
    resp = client.post(url, {"add": {"member": guest.pk, "reason": "上级列席"}}, format="json")
    assert resp.status_code == 400  # a member the secretary does not manage
    extra = member_factory(tree.branch_a, name="新转入")
    resp = client.post(url, {"add": {"member": extra.pk, "reason": "新转入党员"}}, format="json")
    assert resp.status_code == 200 and resp.json()["totals"]["expected"] == 4
    resp = client.post(
        url, {"remove": {"member": register["probationary"].pk, "reason": "外出学习"}}, format="json"
    )
    assert resp.status_code == 200 and resp.json()["totals"]["expected"] == 3
    removed = next(r for r in resp.json()["rows"] if r["member_name"] == "赵预备")
    assert (removed["expected"], removed["adjust_reason"]) == (False, "外出学习")
    # One action per request, and a reason for adjustments.
    assert (
        client.post(url, {"marks": [], "add": {"member": extra.pk, "reason": "x"}}, format="json").status_code
        == 400
    )
    assert client.post(url, {"remove": {"member": extra.pk, "reason": ""}}, format="json").status_code == 400
    assert client.post(url, {}, format="json").status_code == 400


def test_attendance_before_the_start_refuses_present(api, secretary_a, plan, register):
    meeting = plan(start=_in(3))
    resp = api(secretary_a).post(
        f"{URL}{meeting.pk}/attendance/",
        {"marks": [{"member": register["me"].pk, "status": "present"}]},
        format="json",
    )
    assert resp.status_code == 400 and "marks" in resp.json()["error"]["fields"]


def test_patch_changes_and_saves_minutes(api, secretary_a, auditor, plan):
    meeting = plan()
    client = api(secretary_a)
    resp = client.patch(
        f"{URL}{meeting.pk}/",
        {"title": "调整后的议题", "minutes": "<p>讨论<script>x()</script>通过</p>"},
        format="json",
    )
    assert resp.status_code == 200, resp.json()
    data = resp.json()
    assert data["title"] == "调整后的议题" and data["minutes"] == "<p>讨论通过</p>" and data["has_minutes"]
    assert api(auditor).patch(f"{URL}{meeting.pk}/", {"title": "x"}, format="json").status_code == 403
    assert api(auditor).get(f"{URL}{meeting.pk}/").status_code == 200


def test_cancel(api, secretary_a, plan):
    meeting = plan()
    client = api(secretary_a)
    assert client.post(f"{URL}{meeting.pk}/cancel/", {}, format="json").status_code == 400
    resp = client.post(f"{URL}{meeting.pk}/cancel/", {"reason": "与区委会议冲突"}, format="json")
    assert resp.status_code == 200 and resp.json()["status"] == "cancelled"
    assert resp.json()["cancel_reason"] == "与区委会议冲突"
    again = client.patch(f"{URL}{meeting.pk}/", {"title": "x"}, format="json")
    assert again.status_code == 400
