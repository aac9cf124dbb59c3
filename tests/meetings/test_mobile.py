"""The member's meetings on the phone (/m/meetings/): only the meetings I am expected at, upcoming first,
with my attendance; a meeting's facts and agenda; asking for leave with a reason (请假); the scan hint on
the day. Another member's or another branch's meeting answers 404."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from dangjian.meetings import services
from dangjian.meetings.models import AttendanceStatus, Attendee, LeaveStatus, MeetingKind
from tests.meetings.test_pages import plan


@pytest.fixture
def world(tree, secretary_a, secretary_b, member_a, member_factory):
    member_factory(tree.branch_a, name="李书记")
    grouped = member_factory(tree.branch_a, name="组员甲", group=tree.group_a)
    member_factory(tree.branch_b, name="西城甲")
    return {
        "upcoming": plan(secretary_a, tree.branch_a, title="四季度党员大会", agenda="一、学习\n二、表决"),
        "past": plan(secretary_a, tree.branch_a, days=-10, title="三季度党员大会"),
        # member_a is not in group_a: not expected at its group meeting
        "group": plan(secretary_a, tree.group_a, kind=MeetingKind.GROUP_MEETING, title="第一党小组会"),
        "other": plan(secretary_b, tree.branch_b, title="西城支部党员大会"),
        "grouped": grouped,
    }


def test_anonymous_is_sent_to_login(client, db):
    resp = client.get("/m/meetings/")
    assert resp.status_code == 302 and "/login/" in resp["Location"]


def test_member_sees_only_own_meetings(web, member_a, world):
    resp = web(member_a).get("/m/meetings/")
    assert resp.status_code == 200
    text = resp.content.decode()
    assert "四季度党员大会" in text and "三季度党员大会" in text
    assert "第一党小组会" not in text and "西城支部党员大会" not in text
    assert [r["meeting"].title for r in resp.context["upcoming"]] == ["四季度党员大会"]
    assert [r["meeting"].title for r in resp.context["past"]] == ["三季度党员大会"]
    # the past meeting that nobody marked counts as absent for me; the upcoming one is still to attend
    assert resp.context["past"][0]["my_status"] == AttendanceStatus.PENDING
    assert "缺席" in text and "待参加" in text


def test_member_cannot_open_meetings_not_theirs(web, member_a, world):
    client = web(member_a)
    assert client.get(f"/m/meetings/{world['group'].pk}/").status_code == 404
    assert client.get(f"/m/meetings/{world['other'].pk}/").status_code == 404
    assert client.post(f"/m/meetings/{world['other'].pk}/leave/", {"reason": "出差"}).status_code == 404


def test_detail_shows_facts_agenda_and_my_status(web, member_a, world):
    m = world["upcoming"]
    resp = web(member_a).get(f"/m/meetings/{m.pk}/")
    assert resp.status_code == 200
    text = resp.content.decode()
    assert m.title in text and "一、学习" in text and 'data-testid="my-status"' in text
    assert "我有表决权" in text  # a full member of the branch
    assert 'data-testid="leave"' in text  # leave can be asked for before the meeting


def test_leave_request_from_the_phone(web, member_a, world):
    m = world["upcoming"]
    client = web(member_a)
    resp = client.post(f"/m/meetings/{m.pk}/leave/", {"reason": "  "})
    assert resp.status_code == 400 and "is-invalid" in resp.content.decode()
    resp = client.post(f"/m/meetings/{m.pk}/leave/", {"reason": "出差在外"})
    assert resp.status_code == 302 and resp["Location"] == f"/m/meetings/{m.pk}/"
    a = Attendee.objects.get(meeting=m, member__user=member_a)
    assert a.leave_status == LeaveStatus.REQUESTED and a.leave_reason == "出差在外"
    text = client.get(f"/m/meetings/{m.pk}/").content.decode()
    assert "出差在外" in text and 'data-testid="leave"' not in text  # asked once; waiting for the decision
    assert "已请假待批" in client.get("/m/meetings/").content.decode()


def test_no_leave_after_the_meeting(web, member_a, world):
    m = world["past"]
    client = web(member_a)
    assert 'data-testid="leave"' not in client.get(f"/m/meetings/{m.pk}/").content.decode()
    resp = client.post(f"/m/meetings/{m.pk}/leave/", {"reason": "忘了"})
    assert resp.status_code == 400  # the service refuses: the meeting is over
    assert Attendee.objects.get(meeting=m, member__user=member_a).leave_status == LeaveStatus.NONE


def test_scan_hint_on_the_day(web, tree, secretary_a, member_a, world):
    now = timezone.localtime()
    starts = now + dt.timedelta(minutes=30) if now.hour < 23 else now - dt.timedelta(minutes=10)
    today = services.meeting_create(
        actor=secretary_a, org=tree.branch_a, kind=MeetingKind.THEME_DAY, title="主题党日", starts_at=starts
    )
    text = web(member_a).get(f"/m/meetings/{today.pk}/").content.decode()
    assert 'data-testid="scan-hint"' in text
    assert (
        'data-testid="scan-hint"'
        not in web(member_a).get(f"/m/meetings/{world['upcoming'].pk}/").content.decode()
    )


def test_a_group_member_sees_the_group_meeting(web, tree, world):
    from tests.conftest import _user

    user = _user("zuyuan", "member", tree.branch_a)
    grouped = world["grouped"]
    grouped.user = user
    grouped.save(update_fields=["user"])
    resp = web(user).get("/m/meetings/")
    titles = [r["meeting"].title for r in resp.context["upcoming"]]
    assert "第一党小组会" in titles and "四季度党员大会" in titles


def test_a_login_without_register_entry_goes_home(web, resident, world):
    resp = web(resident).get("/m/meetings/")
    assert resp.status_code == 302 and resp["Location"] == "/m/"


def test_video_hidden_without_a_server(web, member_a, world, settings):
    settings.JITSI_URL = ""
    assert "视频参会" not in web(member_a).get(f"/m/meetings/{world['upcoming'].pk}/").content.decode()
