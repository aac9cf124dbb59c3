"""The writes of organization life (meetings.services) and their reads (meetings.selectors, tasks).

Permissions follow core.scoping: the branch's secretary (and committee members, org managers above)
plan and change; the auditor only reads; a member asks leave and checks in only for themself.
"""

from __future__ import annotations

import datetime as dt
import io
import zoneinfo

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from dangjian.core.models import AuditEntry, Notification
from dangjian.meetings import selectors, services, tasks
from dangjian.meetings.models import Attendee, Meeting, MeetingAttachment, MeetingOrgSetting
from dangjian.orgs.models import CommitteePosition, CommitteeTerm

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n% test\n"


def _in(hours: float) -> dt.datetime:
    return timezone.now() + dt.timedelta(hours=hours)


@pytest.fixture
def people_a(tree, member_factory, member_a):
    """Branch A's register: member_a (张党员, with a login), two more full members, one probationary."""
    return {
        "me": member_a.member,
        "full": member_factory(tree.branch_a, name="李正式"),
        "full2": member_factory(tree.branch_a, name="王正式"),
        "probationary": member_factory(tree.branch_a, name="赵预备", status="probationary", full_date=None),
    }


@pytest.fixture
def plan(tree, secretary_a, people_a):
    def make(*, actor=None, org=None, kind="general_meeting", start=None, hours=2, **kw):
        start = start or _in(24)
        return services.meeting_create(
            actor=actor or secretary_a,
            org=org or tree.branch_a,
            kind=kind,
            title=kw.pop("title", "第一季度支部党员大会"),
            starts_at=start,
            ends_at=kw.pop("ends_at", start + dt.timedelta(hours=hours)),
            **kw,
        )

    return make


# ── plan ───────────────────────────────────────────────────────────────────────────────────────────


def test_create_derives_attendees_and_the_local_date(plan, people_a, secretary_a):
    # 23:30 UTC on 9 March is 07:30 on 10 March in Shanghai: the date is the local one.
    start = dt.datetime(2030, 3, 9, 23, 30, tzinfo=dt.UTC)
    meeting = plan(start=start, place="党员活动室", host=people_a["full"], recorder=people_a["full2"])
    assert meeting.date == dt.date(2030, 3, 10)
    assert meeting.status == "planned" and meeting.created_by == secretary_a
    rows = {a.member.name: (a.role, a.can_vote, a.expected, a.status) for a in meeting.attendees.all()}
    assert rows == {
        "张党员": ("roster", True, True, "pending"),
        "李正式": ("roster", True, True, "pending"),
        "王正式": ("roster", True, True, "pending"),
        "赵预备": ("roster", False, True, "pending"),
    }
    entry = AuditEntry.objects.get(action="meeting.created")
    assert entry.changes["expected"] == 4 and entry.changes["voting"] == 3


# (why, overrides, field with the error)
INVALID = [
    ("no topic", {"title": "  "}, "title"),
    ("naive start time", {"start": dt.datetime(2030, 3, 1, 9, 0)}, "starts_at"),
    ("ends before it starts", {"ends_at": dt.datetime(2030, 3, 1, 8, 0, tzinfo=SHANGHAI)}, "ends_at"),
    ("lecture without lecturer", {"kind": "party_lecture"}, "lecturer"),
    ("unknown kind", {"kind": "banquet"}, "kind"),
    ("group meeting at a branch", {"kind": "group_meeting"}, "kind"),
    ("committee meeting without a committee", {"kind": "committee_meeting"}, "kind"),
]


@pytest.mark.parametrize(("why", "overrides", "field"), INVALID, ids=[r[0] for r in INVALID])
def test_create_refuses_invalid_meetings(plan, why, overrides, field):
    overrides = dict(overrides)
    if "start" not in overrides:
        overrides["start"] = dt.datetime(2030, 3, 1, 9, 0, tzinfo=SHANGHAI)
    with pytest.raises(ValidationError) as exc:
        plan(**overrides)
    assert field in exc.value.message_dict, why
    assert not Meeting.objects.exists()


def test_create_refuses_people_from_another_branch(plan, tree, member_factory):
    outsider = member_factory(tree.branch_b, name="外支部")
    for field in ("host", "recorder", "lecturer"):
        with pytest.raises(ValidationError) as exc:
            plan(kind="party_lecture", lecturer_name="党校老师", **{field: outsider})
        assert field in exc.value.message_dict


def test_party_lecture_with_a_lecturer_from_outside(plan):
    meeting = plan(kind="party_lecture", lecturer_name="市委党校 王教授")
    assert meeting.lecturer_name == "市委党校 王教授"


@pytest.mark.parametrize("persona", ["auditor", "secretary_b", "member_a", "outsider"])
def test_only_those_who_manage_the_branch_plan_meetings(plan, people, persona):
    with pytest.raises(PermissionDenied):
        plan(actor=people[persona])
    assert not Meeting.objects.exists()


def test_org_manager_plans_for_a_branch_below(plan, district_manager):
    assert plan(actor=district_manager).pk


def test_planning_notifies_the_attendees_once_committed(
    plan, member_a, people_a, django_capture_on_commit_callbacks
):
    member_a.email = "dangyuan1@example.org"
    member_a.save()
    with django_capture_on_commit_callbacks(execute=True):
        meeting = plan(place="党员活动室")
    meeting.refresh_from_db()
    assert meeting.planned_notified_at is not None
    note = Notification.objects.get(user=member_a, kind="meeting_planned")
    assert meeting.title in note.title and "党员活动室" in note.body
    assert [m.to for m in mail.outbox] == [["dangyuan1@example.org"]]
    # Announcing again (a retried job) sends nothing more.
    assert tasks.announce_planned(meeting.pk) == 0
    assert Notification.objects.filter(kind="meeting_planned").count() == 1


def test_video_room_only_with_a_video_server(plan, settings):
    settings.JITSI_URL = ""
    assert plan(video=True).video_room == ""
    settings.JITSI_URL = "https://meet.example.org"
    first, second = plan(video=True), plan(video=True)
    assert first.video_room and second.video_room and first.video_room != second.video_room
    assert len(first.video_room) >= 32  # unguessable
    assert plan(video=False).video_room == ""


# ── change, cancel, hold ─────────────────────────────────────────────────────────────────────────────


def test_update_moves_the_date_and_resends_the_reminder(plan, secretary_a):
    meeting = plan(start=dt.datetime(2030, 3, 1, 9, 0, tzinfo=SHANGHAI))
    Meeting.objects.filter(pk=meeting.pk).update(reminded_at=timezone.now())
    meeting.refresh_from_db()
    new_start = dt.datetime(2030, 3, 2, 9, 0, tzinfo=SHANGHAI)
    meeting = services.meeting_update(
        actor=secretary_a, meeting=meeting, starts_at=new_start, ends_at=new_start + dt.timedelta(hours=1)
    )
    meeting.refresh_from_db()
    assert meeting.date == dt.date(2030, 3, 2) and meeting.reminded_at is None


def test_update_refuses_a_cancelled_meeting(plan, secretary_a):
    meeting = services.meeting_cancel(actor=secretary_a, meeting=plan(), reason="与上级会议冲突")
    with pytest.raises(ValidationError):
        services.meeting_update(actor=secretary_a, meeting=meeting, title="新议题")


def test_changing_kind_rederives_attendees_until_attendance_is_recorded(plan, tree, secretary_a, people_a):
    people_a["full"].group = tree.group_a
    people_a["full"].save()
    meeting = plan()
    meeting = services.meeting_update(
        actor=secretary_a, meeting=meeting, org=tree.group_a, kind="group_meeting"
    )
    assert [a.member.name for a in meeting.attendees.all()] == ["李正式"]

    other = plan()
    services.leave_request(actor=secretary_a, meeting=other, member=people_a["full2"], reason="出差")
    with pytest.raises(ValidationError) as exc:
        services.meeting_update(actor=secretary_a, meeting=other, kind="theme_day")
    assert exc.value.code == "attendance_recorded"


def test_correcting_a_meeting_whose_host_has_since_left(plan, secretary_a, people_a):
    meeting = plan(host=people_a["full"])
    people_a["full"].status = "left"
    people_a["full"].save()
    assert services.meeting_update(actor=secretary_a, meeting=meeting, title="更正议题").title == "更正议题"
    with pytest.raises(ValidationError) as exc:
        services.meeting_update(actor=secretary_a, meeting=meeting, recorder=people_a["full"])
    assert "recorder" in exc.value.message_dict


def test_committee_secretary_gives_the_yearly_party_lecture(tree, district_manager, secretary_a, people_a):
    """党委书记讲党课 (支部工作条例 第十四条 / RULES.md §3): a committee holds a party lecture."""
    meeting = services.meeting_create(
        actor=district_manager, org=tree.district_a, kind="party_lecture", title="学习贯彻党的二十大精神",
        starts_at=_in(48), lecturer=people_a["full"],
    )  # fmt: skip
    assert meeting.lecturer == people_a["full"]
    with pytest.raises(PermissionDenied):  # a branch secretary does not plan for the district committee
        services.meeting_create(
            actor=secretary_a, org=tree.district_a, kind="party_lecture", title="x", starts_at=_in(48),
            lecturer_name="某某",
        )  # fmt: skip


def test_update_refuses_unknown_fields(plan, secretary_a):
    with pytest.raises(TypeError):
        services.meeting_update(actor=secretary_a, meeting=plan(), status="held")


def test_auditor_cannot_change(plan, auditor):
    with pytest.raises(PermissionDenied):
        services.meeting_update(actor=auditor, meeting=plan(), title="x")


def test_cancel_needs_a_reason_and_tells_the_attendees(
    plan, secretary_a, member_a, django_capture_on_commit_callbacks
):
    meeting = plan()
    with pytest.raises(ValidationError):
        services.meeting_cancel(actor=secretary_a, meeting=meeting, reason=" ")
    with django_capture_on_commit_callbacks(execute=True):
        services.meeting_cancel(actor=secretary_a, meeting=meeting, reason="与区委会议冲突")
    meeting.refresh_from_db()
    assert meeting.status == "cancelled" and meeting.cancel_reason == "与区委会议冲突"
    assert "与区委会议冲突" in Notification.objects.get(user=member_a, kind="meeting_cancelled").body
    with pytest.raises(ValidationError):
        services.meeting_cancel(actor=secretary_a, meeting=meeting, reason="again")


def test_mark_held_only_after_the_start(plan, secretary_a):
    meeting = plan(start=_in(2))
    with pytest.raises(ValidationError):
        services.meeting_mark_held(actor=secretary_a, meeting=meeting)
    assert services.meeting_mark_held(actor=secretary_a, meeting=meeting, now=_in(3)).status == "held"
    with pytest.raises(ValidationError):  # held cannot be cancelled
        services.meeting_cancel(actor=secretary_a, meeting=meeting, reason="x")


# ── minutes ──────────────────────────────────────────────────────────────────────────────────────────


def test_minutes_are_sanitised(plan, secretary_a):
    html = (
        '<h3>会议记录</h3><p onclick="steal()">学习<strong>党章</strong><script>alert(1)</script></p>'
        '<table><tr><td colspan="2" style="color:red">表决</td></tr></table><a href="javascript:x">链接</a>'
        "<img src=x onerror=alert(1)>"
    )
    meeting = services.minutes_save(actor=secretary_a, meeting=plan(), html=html)
    assert "<script" not in meeting.minutes and "alert(1)" not in meeting.minutes
    assert (
        "onclick" not in meeting.minutes and "style" not in meeting.minutes and "<img" not in meeting.minutes
    )
    assert "<a" not in meeting.minutes and "javascript" not in meeting.minutes
    assert "<h3>会议记录</h3>" in meeting.minutes and "<strong>党章</strong>" in meeting.minutes
    assert '<td colspan="2">表决</td>' in meeting.minutes
    assert meeting.minutes_recorded_by == secretary_a and meeting.minutes_recorded_at is not None
    cleared = services.minutes_save(actor=secretary_a, meeting=meeting, html="<p><br></p>")
    assert cleared.minutes_recorded_at is None


# ── attendees and attendance ─────────────────────────────────────────────────────────────────────────


def test_removed_attendee_stays_visible_and_cannot_check_in(plan, secretary_a, people_a):
    meeting = plan(start=_in(-1))
    row = meeting.attendees.get(member=people_a["full"])
    with pytest.raises(ValidationError):
        services.attendee_remove(actor=secretary_a, attendee=row, reason="")
    services.attendee_remove(actor=secretary_a, attendee=row, reason="长期病休")
    row.refresh_from_db()
    assert (row.expected, row.adjust_reason) == (False, "长期病休")
    assert selectors.attendance_totals(meeting).expected == 3
    with pytest.raises(ValidationError) as exc:
        services.checkin_record(meeting=meeting, member=people_a["full"], channel="qr")
    assert exc.value.code == "not_expected"
    # Added back, they keep the vote the roster gives them.
    again = services.attendee_add(actor=secretary_a, meeting=meeting, member=people_a["full"], reason="病愈")
    assert (again.expected, again.can_vote, again.role) == (True, True, "roster")


def test_added_people_from_elsewhere_have_no_vote(plan, secretary_a, tree, member_factory, org_manager):
    guest = member_factory(tree.branch_b, name="列席同志")
    meeting = plan()
    row = services.attendee_add(actor=org_manager, meeting=meeting, member=guest, reason="上级党委列席指导")
    assert (row.role, row.can_vote, row.expected) == ("added", False, True)
    with pytest.raises(ValidationError):
        services.attendee_add(actor=org_manager, meeting=meeting, member=guest, reason="again")


def test_manual_marks(plan, secretary_a, people_a):
    meeting = plan(start=_in(1))
    ids = {k: m.pk for k, m in people_a.items()}
    # Before the start: leave yes, present no.
    with pytest.raises(ValidationError) as exc:
        services.attendance_mark(actor=secretary_a, meeting=meeting, marks={ids["me"]: "present"})
    assert exc.value.code == "not_started"
    assert services.attendance_mark(actor=secretary_a, meeting=meeting, marks={ids["full2"]: "leave"}) == 1
    later = _in(1.5)
    n = services.attendance_mark(
        actor=secretary_a,
        meeting=meeting,
        marks={ids["me"]: "present", ids["full"]: "absent", ids["full2"]: "leave"},
        now=later,
    )
    assert n == 2  # full2 was already on leave
    me = meeting.attendees.get(member=people_a["me"])
    assert (me.status, me.channel, me.checked_in_at) == ("present", "manual", later)
    assert meeting.attendees.get(member=people_a["full2"]).leave_status == "approved"
    meeting.refresh_from_db()
    assert meeting.status == "held"
    totals = selectors.attendance_totals(meeting, now=later)
    assert (totals.expected, totals.present, totals.leave, totals.absent, totals.pending) == (4, 1, 1, 1, 1)
    assert (totals.voting_expected, totals.voting_present) == (3, 1)
    # After the end the pending row counts as absent.
    after = selectors.attendance_totals(meeting, now=_in(10))
    assert (after.absent, after.pending) == (2, 0)
    with pytest.raises(ValidationError):
        services.attendance_mark(actor=secretary_a, meeting=meeting, marks={ids["me"]: "asleep"})


def test_marks_refuse_people_not_expected(plan, secretary_a, tree, member_factory):
    stranger = member_factory(tree.branch_b)
    with pytest.raises(ValidationError) as exc:
        services.attendance_mark(
            actor=secretary_a, meeting=plan(start=_in(-1)), marks={stranger.pk: "present"}
        )
    assert exc.value.code == "not_expected"


def test_checkin_is_idempotent_and_holds_the_meeting(plan, people_a, member_a):
    meeting = plan(start=_in(-0.5))
    row, created = services.checkin_record(
        meeting=meeting, member=people_a["me"], channel="qr", actor=member_a
    )
    assert created and (row.status, row.channel) == ("present", "qr") and row.checked_in_at
    again, created_again = services.checkin_record(meeting=meeting, member=people_a["me"], channel="device")
    assert not created_again and again.channel == "qr" and again.checked_in_at == row.checked_in_at
    meeting.refresh_from_db()
    assert meeting.status == "held"
    assert AuditEntry.objects.filter(action="meeting.checkin").count() == 1


def test_early_checkin_leaves_the_meeting_planned_until_it_starts(plan, people_a):
    meeting = plan(start=_in(0.25))
    services.checkin_record(meeting=meeting, member=people_a["full"], channel="qr")
    meeting.refresh_from_db()
    assert meeting.status == "planned"
    assert tasks.meetings_mark_started(now=_in(0.3)) == 1
    meeting.refresh_from_db()
    assert meeting.status == "held"


def test_checkin_refusals(plan, secretary_a, people_a, member_a, tree, member_factory):
    meeting = plan(start=_in(-0.5))
    with pytest.raises(ValidationError) as exc:
        services.checkin_record(meeting=meeting, member=member_factory(tree.branch_b), channel="qr")
    assert exc.value.code == "not_expected"
    assert exc.value.message_dict["member"]
    # A member checks in only themself.
    with pytest.raises(PermissionDenied):
        services.checkin_record(meeting=meeting, member=people_a["full"], channel="qr", actor=member_a)
    services.meeting_cancel(actor=secretary_a, meeting=plan(), reason="x")
    cancelled = Meeting.objects.get(status="cancelled")
    with pytest.raises(ValidationError) as exc:
        services.checkin_record(meeting=cancelled, member=people_a["me"], channel="qr")
    assert exc.value.code == "cancelled"


# ── leave ──────────────────────────────────────────────────────────────────────────────────────────


def test_leave_request_and_decision(
    plan, secretary_a, member_a, people_a, django_capture_on_commit_callbacks
):
    meeting = plan()
    with pytest.raises(ValidationError):
        services.leave_request(actor=member_a, meeting=meeting, member=people_a["me"], reason="")
    with django_capture_on_commit_callbacks(execute=True):
        row = services.leave_request(
            actor=member_a, meeting=meeting, member=people_a["me"], reason="出差在外"
        )
    assert (row.leave_status, row.status, row.leave_reason) == ("requested", "pending", "出差在外")
    assert Notification.objects.filter(user=secretary_a, kind="meeting_leave_request").exists()
    # The member cannot decide their own request, nor ask for someone else.
    with pytest.raises(PermissionDenied):
        services.leave_decide(actor=member_a, attendee=row, approve=True)
    with pytest.raises(PermissionDenied):
        services.leave_request(actor=member_a, meeting=meeting, member=people_a["full"], reason="代请")
    with django_capture_on_commit_callbacks(execute=True):
        row = services.leave_decide(actor=secretary_a, attendee=row, approve=True, note="同意")
    assert (row.leave_status, row.status, row.leave_decided_by) == ("approved", "leave", secretary_a)
    assert Notification.objects.filter(user=member_a, kind="meeting_leave_decision").exists()
    with pytest.raises(ValidationError):  # nothing waiting any more
        services.leave_decide(actor=secretary_a, attendee=row, approve=False)


def test_secretary_asks_leave_on_behalf_and_refuses(plan, secretary_a, people_a, auditor):
    meeting = plan()
    row = services.leave_request(actor=secretary_a, meeting=meeting, member=people_a["full"], reason="住院")
    with pytest.raises(PermissionDenied):
        services.leave_decide(actor=auditor, attendee=row, approve=True)
    row = services.leave_decide(actor=secretary_a, attendee=row, approve=False, note="会议重要，请参加")
    assert (row.leave_status, row.status) == ("refused", "pending")


def test_no_leave_after_the_meeting_ends(plan, member_a, people_a):
    meeting = plan(start=_in(-3), hours=1)
    with pytest.raises(ValidationError) as exc:
        services.leave_request(actor=member_a, meeting=meeting, member=people_a["me"], reason="补请假")
    assert exc.value.code == "over"


# ── attachments ──────────────────────────────────────────────────────────────────────────────────────


def _docx() -> bytes:
    from docx import Document

    out = io.BytesIO()
    Document().save(out)
    return out.getvalue()


# (kind, file name, content, accepted)
UPLOADS = [
    ("photo", "合影.png", PNG, True),
    ("photo", "fake.png", b"<html>not an image</html>", False),
    ("photo", "scan.pdf", PDF, False),
    ("attachment", "通知.pdf", PDF, True),
    ("final_minutes", "会议纪要.docx", "docx", True),
    ("final_minutes", "会议纪要.png", PNG, False),
]


@pytest.mark.parametrize(
    ("kind", "name", "content", "accepted"), UPLOADS, ids=[f"{u[0]}-{u[1]}" for u in UPLOADS]
)
def test_attachments_are_checked_by_content(
    plan, secretary_a, settings, tmp_path, kind, name, content, accepted
):
    settings.MEDIA_ROOT = tmp_path
    data = _docx() if content == "docx" else content
    meeting = plan()
    upload = SimpleUploadedFile(name, data, content_type="image/png")
    if accepted:
        a = services.attachment_add(actor=secretary_a, meeting=meeting, upload=upload, kind=kind)
        assert (a.original_name, a.size) == (name, len(data))
        assert not a.file.name.endswith(name)  # stored under our own name
        services.attachment_delete(actor=secretary_a, attachment=a)
        assert not MeetingAttachment.objects.exists()
    else:
        with pytest.raises(ValidationError) as exc:
            services.attachment_add(actor=secretary_a, meeting=meeting, upload=upload, kind=kind)
        assert "file" in exc.value.message_dict
        assert not MeetingAttachment.objects.exists()


def test_attachment_size_limit(plan, secretary_a, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.ATTACHMENT_MAX_BYTES = 32
    with pytest.raises(ValidationError):
        services.attachment_add(
            actor=secretary_a, meeting=plan(), upload=SimpleUploadedFile("a.png", PNG), kind="photo"
        )


# ── settings ─────────────────────────────────────────────────────────────────────────────────────────


def test_theme_day_setting(tree, secretary_a, auditor):
    for bad in (0, 32, True, "5"):
        with pytest.raises(ValidationError):
            services.meeting_setting_set(actor=secretary_a, org=tree.branch_a, theme_day=bad)
    assert services.meeting_setting_set(actor=secretary_a, org=tree.branch_a, theme_day=15).theme_day == 15
    assert (
        services.meeting_setting_set(actor=secretary_a, org=tree.branch_a, theme_day=None).theme_day is None
    )
    assert MeetingOrgSetting.objects.count() == 1
    with pytest.raises(ValidationError):
        services.meeting_setting_set(actor=secretary_a, org=tree.group_a, theme_day=1)
    with pytest.raises(PermissionDenied):
        services.meeting_setting_set(actor=auditor, org=tree.branch_a, theme_day=1)


# ── reminders ────────────────────────────────────────────────────────────────────────────────────────


def test_reminders_are_sent_once(plan, secretary_a, member_a, django_capture_on_commit_callbacks):
    soon, later, gone = plan(start=_in(10)), plan(start=_in(30)), plan(start=_in(5))
    services.meeting_cancel(actor=secretary_a, meeting=gone, reason="取消")
    assert tasks.meeting_reminders_send() == 1  # within reminder_hours_before (24)
    assert tasks.meeting_reminders_send() == 0
    soon.refresh_from_db()
    later.refresh_from_db()
    assert soon.reminded_at is not None and later.reminded_at is None
    assert Notification.objects.filter(user=member_a, kind="meeting_reminder").count() == 1
    # The next day the later meeting's turn comes.
    assert tasks.meeting_reminders_send(now=_in(10)) == 1


def test_reminder_skips_approved_leave(plan, secretary_a, member_a, people_a):
    meeting = plan(start=_in(3))
    row = services.leave_request(actor=member_a, meeting=meeting, member=people_a["me"], reason="出差")
    services.leave_decide(actor=secretary_a, attendee=row, approve=True)
    assert tasks.meeting_reminders_send() == 1
    assert not Notification.objects.filter(user=member_a, kind="meeting_reminder").exists()


# ── selectors ────────────────────────────────────────────────────────────────────────────────────────


def test_meeting_filter(plan, tree, secretary_a, secretary_b, people_a):
    people_a["full"].group = tree.group_a
    people_a["full"].save()
    march = plan(start=dt.datetime(2030, 3, 5, 9, 0, tzinfo=SHANGHAI), title="三月党员大会")
    april = plan(start=dt.datetime(2030, 4, 5, 9, 0, tzinfo=SHANGHAI), kind="theme_day", title="四月主题党日")
    group = plan(org=tree.group_a, kind="group_meeting", start=dt.datetime(2030, 4, 9, 9, 0, tzinfo=SHANGHAI))
    qs = selectors.meetings_for(secretary_a)

    def ids(**params):
        return set(selectors.meeting_filter(qs, params, actor=secretary_a).values_list("pk", flat=True))

    assert ids() == {march.pk, april.pk, group.pk}
    assert ids(org=tree.branch_a.pk) == {march.pk, april.pk, group.pk}  # the subtree: with its groups
    assert ids(org=str(tree.branch_a.pk), descendants="false") == {march.pk, april.pk}
    assert ids(org=tree.branch_a) == {march.pk, april.pk, group.pk}
    assert ids(org=tree.branch_b.pk) == set()  # outside the scope: nothing
    assert ids(kind="theme_day,group_meeting") == {april.pk, group.pk}
    assert ids(status="cancelled") == set()
    assert ids(year=2030, month=4) == {april.pk, group.pk}
    assert ids(date_from="2030-04-06", date_to="2030-04-30") == {group.pk}
    assert ids(q="主题") == {april.pk}
    assert ids(year="nonsense") == {march.pk, april.pk, group.pk}  # pages ignore what is not a value
    assert selectors.meetings_for(secretary_b).count() == 0


def test_list_totals_match_the_single_meeting_totals(plan, secretary_a, people_a):
    meeting = plan(start=_in(-1))
    services.attendance_mark(
        actor=secretary_a, meeting=meeting, marks={people_a["me"].pk: "present", people_a["full"].pk: "leave"}
    )
    plan()
    listed = {
        m.pk: selectors.totals_of(m) for m in selectors.with_totals(selectors.meetings_for(secretary_a))
    }
    assert listed[meeting.pk] == selectors.attendance_totals(meeting)
    assert listed[meeting.pk].present == 1 and listed[meeting.pk].rate == 25.0


def test_my_meetings(plan, secretary_a, member_a, people_a, tree, member_factory):
    mine = plan()
    removed = plan()
    services.attendee_remove(
        actor=secretary_a, attendee=removed.attendees.get(member=people_a["me"]), reason="病休"
    )
    other = services.meeting_create(
        actor=secretary_a, org=tree.group_a, kind="group_meeting", title="小组会", starts_at=_in(5)
    )
    got = list(selectors.my_meetings(member_a))
    assert [m.pk for m in got] == [mine.pk]
    assert got[0].my_status == "pending" and got[0].my_attendee_id
    assert other.pk not in [m.pk for m in got]
    assert Attendee.objects.filter(meeting=removed, member=people_a["me"], expected=False).exists()


def test_committee_meeting_with_a_committee(plan, tree, people_a):
    term = CommitteeTerm.objects.create(org=tree.branch_a, start_date=dt.date(2024, 1, 1), term_years=3)
    CommitteePosition.objects.create(term=term, title="secretary", member=people_a["full"])
    meeting = plan(kind="committee_meeting")
    assert [(a.member.name, a.can_vote) for a in meeting.attendees.all()] == [("李正式", True)]


# Every public write of meetings.services and the audit row it leaves (vote_record: the votes module).
AUDITED = {
    "meeting_create": "meeting.created",
    "meeting_update": "meeting.updated",
    "meeting_cancel": "meeting.cancelled",
    "meeting_mark_held": "meeting.held",
    "minutes_save": "meeting.minutes_saved",
    "attendee_add": "meeting.attendee_added",
    "attendee_remove": "meeting.attendee_removed",
    "attendance_mark": "meeting.attendance_marked",
    "checkin_record": "meeting.checkin",
    "leave_request": "meeting.leave_requested",
    "leave_decide": "meeting.leave_decided",
    "attachment_add": "meeting.attachment_added",
    "attachment_delete": "meeting.attachment_deleted",
    "meeting_setting_set": "meeting.setting_set",
    "vote_record": "vote.recorded",
}


def test_every_write_leaves_an_audit_row(plan, tree, secretary_a, people_a, settings, tmp_path):
    import inspect

    public = {
        name
        for name, fn in inspect.getmembers(services, inspect.isfunction)
        if fn.__module__ == services.__name__ and not name.startswith("_")
    }
    assert public == set(AUDITED)

    settings.MEDIA_ROOT = tmp_path
    meeting = plan(start=_in(-1))
    services.meeting_update(actor=secretary_a, meeting=meeting, title="更新")
    services.minutes_save(actor=secretary_a, meeting=meeting, html="<p>记录</p>")
    services.attendee_remove(
        actor=secretary_a, attendee=meeting.attendees.get(member=people_a["full"]), reason="病休"
    )
    services.attendee_add(actor=secretary_a, meeting=meeting, member=people_a["full"], reason="病愈")
    services.attendance_mark(actor=secretary_a, meeting=meeting, marks={people_a["full"].pk: "absent"})
    services.meeting_mark_held(actor=secretary_a, meeting=meeting)
    services.checkin_record(meeting=meeting, member=people_a["me"], channel="qr")
    row = services.leave_request(actor=secretary_a, meeting=meeting, member=people_a["full2"], reason="出差")
    services.leave_decide(actor=secretary_a, attendee=row, approve=True)
    a = services.attachment_add(
        actor=secretary_a, meeting=meeting, upload=SimpleUploadedFile("a.png", PNG), kind="photo"
    )
    services.attachment_delete(actor=secretary_a, attachment=a)
    services.meeting_setting_set(actor=secretary_a, org=tree.branch_a, theme_day=10)
    services.meeting_cancel(actor=secretary_a, meeting=plan(), reason="取消")
    actions = set(AuditEntry.objects.filter(org=tree.branch_a).values_list("action", flat=True))
    assert {v for v in AUDITED.values() if v != "vote.recorded"} <= actions
