"""Desktop pages of organization life: the list (filters, no query per row, xlsx), the calendar and the
yearly plan, planning and editing a meeting (errors beside their fields), the meeting page (attendance,
attendees, leave, minutes, uploads), an organisation's theme day, and scope: another branch's meeting
answers 404, a read-only role gets no buttons and 403 on writes."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook

from dangjian.meetings import services
from dangjian.meetings.models import (
    AttendanceStatus,
    Attendee,
    LeaveStatus,
    Meeting,
    MeetingAttachment,
    MeetingKind,
    MeetingOrgSetting,
    MeetingStatus,
)
from dangjian.members.choices import MemberStatus

TZ = timezone.get_current_timezone()
# A tiny valid PNG (1×1), for the photo upload.
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


def at(days: int, hour: int = 14) -> dt.datetime:
    """A local time ``days`` from today."""
    day = timezone.localdate() + dt.timedelta(days=days)
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, 0)), TZ)


def plan(
    actor, org, *, kind=MeetingKind.GENERAL_MEETING, days=3, title="学习贯彻党的二十大精神", **kw
) -> Meeting:
    kw.setdefault("ends_at", at(days, 16))
    return services.meeting_create(actor=actor, org=org, kind=kind, title=title, starts_at=at(days), **kw)


@pytest.fixture
def people(tree, member_factory, member_a):
    """Branch A: 张党员 (member_a, full), two more full members and a probationary one; branch B: two."""
    a = [member_factory(tree.branch_a, name=n) for n in ("李书记", "王委员")]
    probationary = member_factory(
        tree.branch_a, name="赵预备", status=MemberStatus.PROBATIONARY, full_date=None
    )
    b = [member_factory(tree.branch_b, name=n) for n in ("西城甲", "西城乙")]
    return {"a": a, "probationary": probationary, "b": b}


@pytest.fixture
def meeting(secretary_a, tree, people) -> Meeting:
    return plan(
        secretary_a, tree.branch_a, place="党员活动室", agenda="一、传达文件\n二、讨论", host=people["a"][0]
    )


@pytest.fixture
def past_meeting(secretary_a, tree, people) -> Meeting:
    return plan(secretary_a, tree.branch_a, days=-2, title="三季度党员大会")


@pytest.fixture
def other_meeting(secretary_b, tree, people) -> Meeting:
    return plan(secretary_b, tree.branch_b, title="西城支部党员大会")


def body(resp) -> str:
    return resp.content.decode()


# --- the list -------------------------------------------------------------------------------------------


def test_list_shows_the_scope_only(web, secretary_a, meeting, other_meeting):
    resp = web(secretary_a).get("/meetings/")
    assert resp.status_code == 200
    text = body(resp)
    assert meeting.title in text and other_meeting.title not in text
    # expected / present from the annotated totals: 4 current members of branch A expected, none present
    row = re.search(rf'data-meeting="{meeting.pk}".*?</tr>', text, re.S).group(0)
    assert "0</span> / 4" in row
    assert 'data-testid="plan-meeting"' in text


def test_list_filters(web, secretary_a, tree, meeting, past_meeting):
    client = web(secretary_a)
    lecture = plan(
        secretary_a, tree.branch_a, kind=MeetingKind.PARTY_LECTURE, title="党课：党史", lecturer_name="张老师"
    )
    text = body(client.get("/meetings/?kind=party_lecture"))
    assert lecture.title in text and meeting.title not in text
    text = body(client.get("/meetings/?q=三季度"))
    assert past_meeting.title in text and meeting.title not in text
    text = body(client.get(f"/meetings/?year={past_meeting.date.year}&month={past_meeting.date.month}"))
    assert past_meeting.title in text
    text = body(client.get("/meetings/?status=cancelled"))
    assert meeting.title not in text
    # an org outside the scope is a 404, not an empty list that reveals nothing
    assert client.get(f"/meetings/?org={tree.branch_b.pk}").status_code == 404
    # junk values are ignored
    assert client.get("/meetings/?kind=nope&year=abc&month=13&page=x").status_code == 200


def test_org_manager_sees_the_subtree_and_the_tree(web, org_manager, tree, meeting, other_meeting):
    client = web(org_manager)
    text = body(client.get("/meetings/"))
    assert meeting.title in text and other_meeting.title in text and "org-tree-link" in text
    text = body(client.get(f"/meetings/?org={tree.district_b.pk}"))
    assert other_meeting.title in text and meeting.title not in text


def test_list_queries_do_not_grow_with_rows(web, secretary_a, tree, people):
    client = web(secretary_a)
    plan(secretary_a, tree.branch_a)
    client.get("/meetings/")
    with CaptureQueriesContext(connection) as one:
        assert client.get("/meetings/").status_code == 200
    for i in range(5):
        plan(secretary_a, tree.branch_a, days=i + 5, title=f"会议{i}")
    with CaptureQueriesContext(connection) as six:
        assert client.get("/meetings/").status_code == 200
    assert len(six) == len(one)


def test_list_exports_xlsx(web, secretary_a, meeting, past_meeting, other_meeting):
    resp = web(secretary_a).get("/meetings/export/")
    assert resp.status_code == 200
    assert resp["Content-Type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    ws = load_workbook(io.BytesIO(resp.content)).active
    values = [c for row in ws.iter_rows(values_only=True) for c in row if c is not None]
    assert meeting.title in values and past_meeting.title in values and other_meeting.title not in values
    assert "党员活动室" in values and "第一党支部" in values
    # filters apply to the export too
    ws = load_workbook(io.BytesIO(web(secretary_a).get("/meetings/export/?q=三季度").content)).active
    values = [c for row in ws.iter_rows(values_only=True) for c in row if c is not None]
    assert past_meeting.title in values and meeting.title not in values


def test_member_on_the_desktop_list_goes_to_the_phone(web, member_a, meeting):
    resp = web(member_a).get("/meetings/")
    assert resp.status_code == 302 and resp["Location"] == "/m/meetings/"
    resp = web(member_a).get(f"/meetings/{meeting.pk}/")
    assert resp.status_code == 302 and resp["Location"] == f"/m/meetings/{meeting.pk}/"


def test_anonymous_goes_to_login(client, db):
    resp = client.get("/meetings/")
    assert resp.status_code == 302 and "/login/" in resp["Location"]


# --- calendar and plan ----------------------------------------------------------------------------------


def test_calendar_shows_chips_and_navigates(web, secretary_a, tree, meeting, other_meeting):
    client = web(secretary_a)
    d = meeting.date
    resp = client.get(f"/meetings/calendar/?org={tree.branch_a.pk}&year={d.year}&month={d.month}")
    assert resp.status_code == 200
    text = body(resp)
    assert f'data-testid="chip-{meeting.pk}"' in text and f"chip-{other_meeting.pk}" not in text
    assert f"/meetings/{meeting.pk}/" in text
    prev = (d.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    assert f"year={prev.year}&amp;month={prev.month}" in text
    assert client.get("/meetings/calendar/?year=1800&month=0").status_code == 200  # out of range: today
    assert client.get(f"/meetings/calendar/?org={tree.branch_b.pk}").status_code == 404


def test_calendar_of_a_subtree(web, org_manager, tree, meeting, other_meeting):
    d = meeting.date
    text = body(web(org_manager).get(f"/meetings/calendar/?org={tree.city.pk}&year={d.year}&month={d.month}"))
    if other_meeting.date.month == d.month:
        assert f"chip-{other_meeting.pk}" in text
    assert f"chip-{meeting.pk}" in text and "第一党支部" in text


def test_plan_of_a_branch_lists_its_meetings(web, secretary_a, tree, meeting):
    resp = web(secretary_a).get(f"/meetings/plan/?org={tree.branch_a.pk}&year={meeting.date.year}")
    assert resp.status_code == 200
    text = body(resp)
    assert 'data-testid="plan"' in text and f"/meetings/{meeting.pk}/" in text
    # the required frequency of each kind from the rulebook (支部工作条例 第十四条: general meeting quarterly)
    assert "每季度" in text and "每月" in text


def test_plan_of_a_subtree_counts(web, org_manager, tree, meeting, other_meeting, past_meeting):
    resp = web(org_manager).get(f"/meetings/plan/?org={tree.city.pk}&year={meeting.date.year}")
    assert resp.status_code == 200
    text = body(resp)
    assert 'class="count planned"' in text
    assert f"/meetings/{meeting.pk}/" not in text  # counts link to the list, not to single meetings


# --- planning -------------------------------------------------------------------------------------------


def _form(tree, **over) -> dict[str, str]:
    day = timezone.localdate() + dt.timedelta(days=7)
    data = {
        "kind": MeetingKind.GENERAL_MEETING,
        "org": str(tree.branch_a.pk),
        "title": "四季度党员大会",
        "date": day.isoformat(),
        "start_time": "14:30",
        "end_time": "16:00",
        "place": "会议室",
        "agenda": "一、学习\n二、表决",
    }
    data.update(over)
    return data


def test_plan_a_meeting(web, secretary_a, tree, people):
    client = web(secretary_a)
    resp = client.get(f"/meetings/new/?org={tree.branch_a.pk}&kind=theme_day")
    assert resp.status_code == 200
    text = body(resp)
    assert "李书记" in text  # the branch's members are offered as host
    assert 'data-kinds="' in text
    resp = client.post("/meetings/new/", _form(tree, host=str(people["a"][0].pk)))
    assert resp.status_code == 302, body(resp)[:3000]
    m = Meeting.objects.get(title="四季度党员大会")
    assert resp["Location"] == f"/meetings/{m.pk}/"
    assert timezone.localtime(m.starts_at).strftime("%H:%M") == "14:30"
    assert timezone.localtime(m.ends_at).strftime("%H:%M") == "16:00"
    assert m.host == people["a"][0] and m.attendees.filter(expected=True).count() == 4
    assert m.attendees.get(member=people["probationary"]).can_vote is False


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"end_time": "13:00"}, "end_time"),  # ends before it starts
        ({"title": ""}, "title"),
        ({"date": "2026-13-40"}, "date"),
        ({"kind": MeetingKind.PARTY_LECTURE}, "lecturer"),  # a party lecture needs its lecturer
        ({"kind": MeetingKind.GROUP_MEETING}, "kind"),  # a branch does not hold group meetings
    ],
)
def test_planning_errors_are_shown_beside_the_field(web, secretary_a, tree, people, over, field):
    resp = web(secretary_a).post("/meetings/new/", _form(tree, **over))
    assert resp.status_code == 400
    text = body(resp)
    assert f'data-testid="error-{field}"' in text, text[:4000]
    assert 'data-testid="form-errors"' in text
    assert not Meeting.objects.filter(title=_form(tree, **over)["title"] or "—").exists()


def test_group_meeting_is_planned_by_the_group(web, secretary_a, tree, people, member_factory):
    member_factory(tree.branch_a, name="组员甲", group=tree.group_a)
    resp = web(secretary_a).post(
        "/meetings/new/",
        _form(tree, kind=MeetingKind.GROUP_MEETING, org=str(tree.group_a.pk), title="小组会"),
    )
    assert resp.status_code == 302
    m = Meeting.objects.get(title="小组会")
    assert m.org == tree.group_a and [a.member.name for a in m.attendees.all()] == ["组员甲"]


def test_cannot_plan_for_another_branch(web, secretary_a, tree, people):
    resp = web(secretary_a).post("/meetings/new/", _form(tree, org=str(tree.branch_b.pk)))
    assert resp.status_code == 400 and 'data-testid="error-org"' in body(resp)
    assert not Meeting.objects.exists()


def test_auditor_cannot_plan(web, auditor, tree):
    assert web(auditor).get("/meetings/new/").status_code == 403


def test_htmx_refresh_redraws_the_form_only(web, secretary_a, tree, people):
    resp = web(secretary_a).get(
        f"/meetings/new/?refresh=1&org={tree.branch_a.pk}&kind=party_lecture&title=党课",
        HTTP_HX_REQUEST="true",
    )
    assert resp.status_code == 200
    text = body(resp)
    assert text.lstrip().startswith("<form") and 'value="党课"' in text and "<html" not in text


def test_edit_a_meeting(web, secretary_a, meeting):
    client = web(secretary_a)
    resp = client.get(f"/meetings/{meeting.pk}/edit/")
    assert resp.status_code == 200 and meeting.title in body(resp)
    start = timezone.localtime(meeting.starts_at)
    data = {
        "title": "改期后的党员大会",
        "date": start.date().isoformat(),
        "start_time": "09:00",
        "end_time": "11:00",
        "place": meeting.place,
    }
    resp = client.post(f"/meetings/{meeting.pk}/edit/", data)
    assert resp.status_code == 302, body(resp)[:3000]
    meeting.refresh_from_db()
    assert meeting.title == "改期后的党员大会" and timezone.localtime(meeting.starts_at).hour == 9
    bad = client.post(f"/meetings/{meeting.pk}/edit/", {**data, "end_time": "08:00"})
    assert bad.status_code == 400 and 'data-testid="error-end_time"' in body(bad)


# --- the meeting page -----------------------------------------------------------------------------------


def test_detail_shows_facts_attendance_and_panels(web, secretary_a, meeting, people):
    resp = web(secretary_a).get(f"/meetings/{meeting.pk}/")
    assert resp.status_code == 200
    text = body(resp)
    assert meeting.title in text and "党员活动室" in text and "李书记" in text
    assert 'data-testid="totals"' in text and 'data-testid="attendees"' in text
    assert "赵预备" in text and 'data-testid="minutes-form"' in text and 'data-testid="upload-form"' in text
    assert 'data-testid="edit"' in text and 'data-testid="cancel"' in text
    totals = resp.context["totals"]
    assert (totals.expected, totals.voting_expected) == (4, 3)


def test_another_branchs_meeting_is_404(web, secretary_b, meeting):
    client = web(secretary_b)
    assert client.get(f"/meetings/{meeting.pk}/").status_code == 404
    assert client.get(f"/meetings/{meeting.pk}/edit/").status_code == 404
    assert client.post(f"/meetings/{meeting.pk}/cancel/", {"reason": "x"}).status_code == 404
    assert client.get(f"/meetings/{meeting.pk}/attendance.xlsx").status_code == 404
    attendee = meeting.attendees.first()
    assert client.post(f"/meetings/attendees/{attendee.pk}/remove/", {"reason": "x"}).status_code == 404
    meeting.refresh_from_db()
    assert meeting.status == MeetingStatus.PLANNED


def test_auditor_reads_without_buttons_and_cannot_write(web, auditor, meeting):
    client = web(auditor)
    resp = client.get(f"/meetings/{meeting.pk}/")
    assert resp.status_code == 200
    text = body(resp)
    assert 'data-testid="edit"' not in text and 'data-testid="minutes-form"' not in text
    assert client.post(f"/meetings/{meeting.pk}/cancel/", {"reason": "x"}).status_code == 403
    assert client.post(f"/meetings/{meeting.pk}/minutes/", {"html": "<p>x</p>"}).status_code == 403
    assert client.get(f"/meetings/{meeting.pk}/edit/").status_code == 403


def test_cancel_needs_a_reason(web, secretary_a, meeting):
    client = web(secretary_a)
    client.post(f"/meetings/{meeting.pk}/cancel/", {"reason": "  "})
    meeting.refresh_from_db()
    assert meeting.status == MeetingStatus.PLANNED
    resp = client.post(f"/meetings/{meeting.pk}/cancel/", {"reason": "与上级会议冲突"})
    assert resp.status_code == 302
    meeting.refresh_from_db()
    assert meeting.status == MeetingStatus.CANCELLED and meeting.cancel_reason == "与上级会议冲突"
    assert "与上级会议冲突" in body(client.get(f"/meetings/{meeting.pk}/"))


def test_mark_held_only_once_started(web, secretary_a, meeting, past_meeting):
    client = web(secretary_a)
    client.post(f"/meetings/{meeting.pk}/held/")
    meeting.refresh_from_db()
    assert meeting.status == MeetingStatus.PLANNED  # not started yet: refused with a message
    assert 'data-testid="mark-held"' in body(client.get(f"/meetings/{past_meeting.pk}/"))
    client.post(f"/meetings/{past_meeting.pk}/held/")
    past_meeting.refresh_from_db()
    assert past_meeting.status == MeetingStatus.HELD


def test_manual_attendance_marking(web, secretary_a, past_meeting, people):
    client = web(secretary_a)
    li, wang = people["a"]
    resp = client.post(
        f"/meetings/{past_meeting.pk}/attendance/",
        {
            f"status_{li.pk}": "present",
            f"status_{wang.pk}": "absent",
            f"status_{people['b'][0].pk}": "present",
        },
    )
    assert resp.status_code == 302
    status = dict(past_meeting.attendees.values_list("member__name", "status"))
    assert status["李书记"] == AttendanceStatus.PRESENT and status["王委员"] == AttendanceStatus.ABSENT
    assert not past_meeting.attendees.filter(
        member=people["b"][0]
    ).exists()  # another branch's member: ignored
    past_meeting.refresh_from_db()
    assert past_meeting.status == MeetingStatus.HELD  # someone present after the start


def test_add_and_remove_attendees(web, secretary_a, tree, meeting, member_factory, people):
    client = web(secretary_a)
    wang = people["a"][1]
    a = meeting.attendees.get(member=wang)
    client.post(f"/meetings/attendees/{a.pk}/remove/", {"reason": ""})
    a.refresh_from_db()
    assert a.expected is True  # a reason is required
    client.post(f"/meetings/attendees/{a.pk}/remove/", {"reason": "出差"})
    a.refresh_from_db()
    assert a.expected is False and a.adjust_reason == "出差"
    text = body(client.get(f"/meetings/{meeting.pk}/"))
    assert "出差" in text
    options = body(client.get(f"/meetings/{meeting.pk}/attendees/options/?q=王"))
    assert f'value="{wang.pk}"' in options
    resp = client.post(f"/meetings/{meeting.pk}/attendees/add/", {"member": wang.pk, "reason": "提前返回"})
    assert resp.status_code == 302
    a.refresh_from_db()
    assert a.expected is True and a.adjust_reason == "提前返回"
    # a member of another branch cannot be picked
    client.post(f"/meetings/{meeting.pk}/attendees/add/", {"member": people["b"][0].pk, "reason": "x"})
    assert not meeting.attendees.filter(member=people["b"][0]).exists()


def test_leave_requests_are_decided_on_the_page(web, secretary_a, member_a, meeting):
    me = Attendee.objects.get(meeting=meeting, member__user=member_a)
    services.leave_request(actor=member_a, meeting=meeting, member=me.member, reason="住院")
    client = web(secretary_a)
    text = body(client.get(f"/meetings/{meeting.pk}/"))
    assert "住院" in text and f'data-testid="leave-decide-{me.pk}"' in text
    client.post(f"/meetings/attendees/{me.pk}/leave/", {"decision": "approve", "note": "好好休息"})
    me.refresh_from_db()
    assert me.leave_status == LeaveStatus.APPROVED and me.status == AttendanceStatus.LEAVE


def test_minutes_are_saved_sanitised(web, secretary_a, past_meeting):
    client = web(secretary_a)
    html = "<h3>议程一</h3><p><strong>李书记</strong>传达了文件</p><ul><li>要点</li></ul><script>alert(1)</script>"
    resp = client.post(f"/meetings/{past_meeting.pk}/minutes/", {"html": html})
    assert resp.status_code == 302
    past_meeting.refresh_from_db()
    assert "<strong>李书记</strong>" in past_meeting.minutes and "<script>" not in past_meeting.minutes
    text = body(client.get(f"/meetings/{past_meeting.pk}/"))
    assert "<h3>议程一</h3>" in text and "alert(1)" not in text
    # the list says minutes exist
    assert "bi-check-circle-fill" in re.search(
        rf'data-meeting="{past_meeting.pk}".*?</tr>', body(client.get("/meetings/")), re.S
    ).group(0)


def test_minutes_typed_without_the_editor_keep_their_lines(web, secretary_a, past_meeting):
    web(secretary_a).post(
        f"/meetings/{past_meeting.pk}/minutes/", {"html": "第一项：学习\n\n第二项：讨论 <无标签>"}
    )
    past_meeting.refresh_from_db()
    assert past_meeting.minutes == "<p>第一项：学习</p><p>第二项：讨论 &lt;无标签&gt;</p>"


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def test_photos_are_uploaded_served_through_the_scope_and_deleted(
    web, secretary_a, secretary_b, meeting, media
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = web(secretary_a)
    upload = SimpleUploadedFile("合影.png", PNG, content_type="image/png")
    resp = client.post(f"/meetings/{meeting.pk}/attachments/", {"kind": "photo", "upload": upload})
    assert resp.status_code == 302
    photo = MeetingAttachment.objects.get(meeting=meeting)
    assert photo.kind == "photo" and photo.original_name == "合影.png"
    text = body(client.get(f"/meetings/{meeting.pk}/"))
    assert f"/meetings/attachments/{photo.pk}/?inline=1" in text
    resp = client.get(f"/meetings/attachments/{photo.pk}/?inline=1")
    assert resp.status_code == 200 and b"".join(resp.streaming_content) == PNG
    assert web(secretary_b).get(f"/meetings/attachments/{photo.pk}/").status_code == 404
    # not a picture: refused with the reason, nothing stored
    bad = SimpleUploadedFile("x.png", b"not an image at all", content_type="image/png")
    web(secretary_a).post(f"/meetings/{meeting.pk}/attachments/", {"kind": "photo", "upload": bad})
    assert MeetingAttachment.objects.filter(meeting=meeting).count() == 1
    assert web(secretary_b).post(f"/meetings/attachments/{photo.pk}/delete/").status_code == 404
    web(secretary_a).post(f"/meetings/attachments/{photo.pk}/delete/")
    assert not MeetingAttachment.objects.filter(pk=photo.pk).exists()


def test_attendance_exports_as_xlsx(web, secretary_a, past_meeting, people):
    services.attendance_mark(actor=secretary_a, meeting=past_meeting, marks={people["a"][0].pk: "present"})
    resp = web(secretary_a).get(f"/meetings/{past_meeting.pk}/attendance.xlsx")
    assert resp.status_code == 200
    ws = load_workbook(io.BytesIO(resp.content)).active
    rows = list(ws.iter_rows(values_only=True))
    names = [r[1] for r in rows if r and isinstance(r[0], int)]
    assert sorted(names) == sorted(["张党员", "李书记", "王委员", "赵预备"])
    header_text = " ".join(str(c) for r in rows[:3] for c in r if c)
    assert "3" in header_text and past_meeting.title in header_text


def test_links_to_the_life_meeting_page(web, secretary_a, tree, people):
    life = plan(secretary_a, tree.branch_a, kind=MeetingKind.LIFE_MEETING, title="年度组织生活会")
    text = body(web(secretary_a).get(f"/meetings/{life.pk}/"))
    assert f"/meetings/{life.pk}/life/" in text


# --- the theme day --------------------------------------------------------------------------------------


def test_theme_day_setting(web, secretary_a, secretary_b, auditor, tree):
    client = web(secretary_a)
    assert client.get(f"/meetings/settings/{tree.branch_a.pk}/").status_code == 200
    resp = client.post(f"/meetings/settings/{tree.branch_a.pk}/", {"theme_day": "40"})
    assert resp.status_code == 400 and "is-invalid" in body(resp)
    resp = client.post(f"/meetings/settings/{tree.branch_a.pk}/", {"theme_day": "15"})
    assert resp.status_code == 302
    assert MeetingOrgSetting.objects.get(org=tree.branch_a).theme_day == 15
    assert "每月15日" in body(client.get(f"/meetings/plan/?org={tree.branch_a.pk}"))
    assert web(secretary_b).get(f"/meetings/settings/{tree.branch_a.pk}/").status_code == 404
    assert web(auditor).post(f"/meetings/settings/{tree.branch_a.pk}/", {"theme_day": "1"}).status_code == 403
