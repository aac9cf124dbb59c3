"""谈心谈话 and the 组织生活会's notes (RULES.md §3: 组织生活会 at least once a year; 谈心谈话 at least once
a year with every member): the talk rules, the coverage, the notes (a criticism says whom it is about),
the life meeting page, its rectification list and the API."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from dangjian.accounts.models import RoleAssignment, User
from dangjian.core.models import AuditEntry
from dangjian.core.scoping import Role
from dangjian.meetings import appraisal as svc
from dangjian.meetings.models import Attendee, LifeMeetingNote, Meeting, TalkRecord
from dangjian.members.choices import MemberStatus
from dangjian.orgs.models import CommitteePosition, CommitteeTerm

TODAY = timezone.localdate()


def life_meeting(org, *, kind="life_meeting", status="planned", when=None) -> Meeting:
    starts = when or timezone.now()
    return Meeting.objects.create(
        org=org, kind=kind, title="年度组织生活会", starts_at=starts, date=timezone.localdate(starts), status=status,
        cancel_reason="改期" if status == "cancelled" else "",
    )  # fmt: skip


@pytest.fixture
def branch_people(tree, member_factory):
    """Three members of branch_a, one of branch_b."""
    a1, a2, a3 = (member_factory(tree.branch_a, name=n) for n in ("李红", "王强", "赵敏"))
    b1 = member_factory(tree.branch_b, name="周外")
    return a1, a2, a3, b1


def _talk(actor, org, initiator, partner, **over):
    values = {"date": TODAY, "topic": "思想交流", "notes": ""}
    values.update(over)
    return svc.talk_record(actor=actor, org=org, initiator=initiator, partner=partner, **values)


# ── 谈心谈话 ─────────────────────────────────────────────────────────────────────────────────────────


def test_secretary_records_a_talk_between_two_members(tree, secretary_a, branch_people):
    a1, a2, _a3, _b1 = branch_people
    talk = _talk(secretary_a, tree.branch_a, a1, a2, notes="交流了学习体会")
    assert (talk.org, talk.initiator, talk.partner, talk.recorded_by) == (tree.branch_a, a1, a2, secretary_a)
    entry = AuditEntry.objects.get(action="meetings.talk_record")
    assert entry.object_id == str(talk.pk) and entry.org_id == tree.branch_a.pk


@pytest.mark.parametrize(
    ("case", "field"),
    [
        ("same person", "partner"),
        ("future date", "date"),
        ("no topic", "topic"),
        ("partner outside the actor's scope", "partner"),
        ("partner has left the party", "partner"),
        ("meeting of another kind", "meeting"),
        ("meeting of another branch", "meeting"),
    ],
)
def test_talk_is_refused(case, field, tree, secretary_a, branch_people, member_factory):
    a1, a2, _a3, b1 = branch_people
    kwargs = {"initiator": a1, "partner": a2}
    if case == "same person":
        kwargs["partner"] = a1
    elif case == "future date":
        kwargs["date"] = TODAY + dt.timedelta(days=1)
    elif case == "no topic":
        kwargs["topic"] = "  "
    elif case == "partner outside the actor's scope":
        kwargs["partner"] = b1
    elif case == "partner has left the party":
        kwargs["partner"] = member_factory(tree.branch_a, status=MemberStatus.LEFT)
    elif case == "meeting of another kind":
        kwargs["meeting"] = life_meeting(tree.branch_a, kind="general_meeting")
    elif case == "meeting of another branch":
        kwargs["meeting"] = life_meeting(tree.branch_b)
    with pytest.raises(ValidationError) as exc:
        _talk(secretary_a, tree.branch_a, **kwargs)
    assert field in exc.value.message_dict, case
    assert not TalkRecord.objects.exists()


def test_members_of_two_branches_cannot_talk_as_one_branch(tree, org_manager, branch_people):
    """An org manager sees both branches, but a talk of branch_a is between its own members."""
    a1, _a2, _a3, b1 = branch_people
    with pytest.raises(ValidationError) as exc:
        _talk(org_manager, tree.branch_a, a1, b1)
    assert "Both must be members" in str(exc.value) or "partner" in exc.value.message_dict


def test_today_is_not_the_future(tree, secretary_a, branch_people):
    a1, a2, *_ = branch_people
    assert _talk(secretary_a, tree.branch_a, a1, a2, date=TODAY).date == TODAY


@pytest.mark.parametrize("persona", ["secretary_b", "auditor", "member_a", "outsider"])
def test_only_officers_of_the_branch_record_talks(persona, people, tree, branch_people):
    a1, a2, *_ = branch_people
    with pytest.raises(PermissionDenied):
        _talk(people[persona], tree.branch_a, a1, a2)


def _committee(org, member, title=CommitteePosition.Title.MEMBER):
    term = CommitteeTerm.objects.create(org=org, start_date=dt.date(2024, 1, 1), term_years=5)
    CommitteePosition.objects.create(term=term, member=member, title=title)


def test_higher_committee_member_talks_with_the_branch_secretary(tree, district_manager, member_factory):
    """The district committee's member and branch_a's secretary: both in the district manager's scope."""
    district_member = member_factory(tree.district_a, name="区委委员")
    secretary = member_factory(tree.branch_a, name="支部书记")
    ordinary = member_factory(tree.branch_a, name="普通党员")
    _committee(tree.district_a, district_member)
    _committee(tree.branch_a, secretary, CommitteePosition.Title.SECRETARY)
    talk = _talk(district_manager, tree.branch_a, district_member, secretary)
    assert talk.org == tree.branch_a
    # With an ordinary member it is not one of these talks (and the member is not of the higher org).
    with pytest.raises(ValidationError):
        _talk(district_manager, tree.branch_a, district_member, ordinary)


def test_the_secretary_by_role_counts_without_a_recorded_committee(tree, district_manager, member_factory):
    district_member = member_factory(tree.district_a)
    _committee(tree.district_a, district_member)
    user = User.objects.create_user(username="shuji_small", password="x")
    RoleAssignment.objects.create(user=user, org=tree.branch_a, role=Role.SECRETARY)
    secretary = member_factory(tree.branch_a, user=user)
    assert _talk(district_manager, tree.branch_a, secretary, district_member).pk


def test_coverage_of_the_year(tree, secretary_a, branch_people, member_factory):
    a1, a2, a3, _b1 = branch_people
    _talk(secretary_a, tree.branch_a, a1, a2, date=TODAY)
    _talk(secretary_a, tree.branch_a, a1, a2, date=TODAY)
    # A talk last year does not count for this year.
    TalkRecord.objects.create(
        org=tree.branch_a, date=dt.date(TODAY.year - 1, 12, 31), initiator=a3, partner=a1, topic="去年"
    )
    member_factory(tree.branch_a, status=MemberStatus.LEFT, name="已出党")  # not a current member
    cov = svc.talk_coverage(tree.branch_a, TODAY.year)
    assert (cov.total, cov.covered, cov.percent) == (3, 2, 67)
    assert cov.uncovered == [a3]
    rows = {r.member.pk: (r.talks, r.last) for r in cov.rows}
    assert rows[a1.pk] == (2, TODAY) and rows[a3.pk] == (0, None)


def test_a_talk_recorded_by_another_org_still_covers_the_member(tree, branch_people, member_factory):
    """Coverage is per member: a talk with a higher committee member filed elsewhere counts too."""
    a1, a2, a3, _ = branch_people
    outsider = member_factory(tree.district_a)
    TalkRecord.objects.create(
        org=tree.district_a, date=TODAY, initiator=outsider, partner=a3, topic="上级谈话"
    )
    assert svc.talk_coverage(tree.branch_a, TODAY.year).uncovered == [a1, a2]


def test_correct_and_delete_a_talk_with_audit(tree, secretary_a, branch_people):
    a1, a2, a3, _ = branch_people
    talk = _talk(secretary_a, tree.branch_a, a1, a2)
    svc.talk_update(actor=secretary_a, talk=talk, partner=a3, topic="纠正后的主题")
    talk.refresh_from_db()
    assert (talk.partner, talk.topic) == (a3, "纠正后的主题")
    change = AuditEntry.objects.get(action="meetings.talk_update")
    assert change.changes["partner"] == [a2.pk, a3.pk]
    with pytest.raises(ValidationError):
        svc.talk_update(actor=secretary_a, talk=talk, date=TODAY + dt.timedelta(days=3))
    with pytest.raises(ValidationError) as exc:
        svc.talk_delete(actor=secretary_a, talk=talk, reason=" ")
    assert "reason" in exc.value.message_dict
    svc.talk_delete(actor=secretary_a, talk=talk, reason="重复录入")
    assert not TalkRecord.objects.exists()
    gone = AuditEntry.objects.get(action="meetings.talk_delete")
    assert gone.changes["reason"] == "重复录入" and gone.changes["topic"] == "纠正后的主题"


def test_auditor_cannot_correct_a_talk(tree, secretary_a, auditor, branch_people):
    a1, a2, *_ = branch_people
    talk = _talk(secretary_a, tree.branch_a, a1, a2)
    with pytest.raises(PermissionDenied):
        svc.talk_update(actor=auditor, talk=talk, topic="x")
    with pytest.raises(PermissionDenied):
        svc.talk_delete(actor=auditor, talk=talk, reason="x")


# ── 组织生活会 notes ─────────────────────────────────────────────────────────────────────────────────


def _note(actor, meeting, member, kind, text="发言内容", about=None):
    return svc.life_note_add(actor=actor, meeting=meeting, member=member, kind=kind, text=text, about=about)


def test_notes_of_the_meeting(tree, secretary_a, branch_people):
    a1, a2, a3, _ = branch_people
    meeting = life_meeting(tree.branch_a)
    _note(secretary_a, meeting, a1, "self_criticism", "学习不够深入")
    note = _note(secretary_a, meeting, a2, "criticism", "工作方法简单", about=a1)
    _note(secretary_a, meeting, a1, "rectification", "每周学习两次")
    assert note.about == a1
    o = svc.life_overview(secretary_a, meeting)
    assert o.missing_self_criticism == [a1, a2, a3][1:]
    assert [n.text for n in o.rectifications] == ["每周学习两次"]
    groups = {g.member.pk: g for g in o.groups}
    assert [n.text for n in groups[a1.pk].criticised_by] == ["工作方法简单"]
    assert [n.text for n in groups[a2.pk].criticism] == ["工作方法简单"]


@pytest.mark.parametrize(
    ("case", "field"),
    [
        ("criticism without whom it is about", "about"),
        ("criticism of oneself", "about"),
        ("criticism of someone not taking part", "about"),
        ("member not taking part", "member"),
        ("empty text", "text"),
        ("unknown kind", "kind"),
        ("not a life meeting", "meeting"),
        ("cancelled meeting", "meeting"),
    ],
)
def test_note_is_refused(case, field, tree, secretary_a, branch_people):
    a1, a2, _a3, b1 = branch_people
    meeting = life_meeting(tree.branch_a)
    args = {"member": a1, "kind": "criticism", "text": "意见", "about": a2}
    if case == "criticism without whom it is about":
        args["about"] = None
    elif case == "criticism of oneself":
        args["about"] = a1
    elif case == "criticism of someone not taking part":
        args["about"] = b1
    elif case == "member not taking part":
        args["member"] = b1
    elif case == "empty text":
        args["text"] = "   "
    elif case == "unknown kind":
        args["kind"] = "praise"
    elif case == "not a life meeting":
        meeting = life_meeting(tree.branch_a, kind="general_meeting")
    elif case == "cancelled meeting":
        meeting = life_meeting(tree.branch_a, status="cancelled")
    with pytest.raises(ValidationError) as exc:
        svc.life_note_add(actor=secretary_a, meeting=meeting, **args)
    assert field in exc.value.message_dict, case
    assert not LifeMeetingNote.objects.exists()


def test_self_criticism_drops_an_about(tree, secretary_a, branch_people):
    a1, a2, *_ = branch_people
    note = _note(secretary_a, life_meeting(tree.branch_a), a1, "self_criticism", about=a2)
    assert note.about is None


def test_participants_are_the_expected_attendees_when_listed(tree, secretary_a, branch_people):
    a1, a2, _a3, _ = branch_people
    meeting = life_meeting(tree.branch_a)
    Attendee.objects.create(meeting=meeting, member=a1)
    Attendee.objects.create(meeting=meeting, member=a2, expected=False, adjust_reason="外出")
    assert svc.life_participants(meeting) == [a1]
    with pytest.raises(ValidationError):
        _note(secretary_a, meeting, a2, "self_criticism")


def test_officers_of_another_branch_cannot_add_notes(tree, secretary_b, auditor, branch_people):
    a1, *_ = branch_people
    meeting = life_meeting(tree.branch_a)
    for actor in (secretary_b, auditor):
        with pytest.raises(PermissionDenied):
            _note(actor, meeting, a1, "self_criticism")


def test_delete_a_note_keeps_it_in_the_audit_log(tree, secretary_a, branch_people):
    a1, *_ = branch_people
    note = _note(secretary_a, life_meeting(tree.branch_a), a1, "self_criticism", "原话")
    svc.life_note_delete(actor=secretary_a, note=note, reason="录错人")
    assert not LifeMeetingNote.objects.exists()
    assert AuditEntry.objects.get(action="meetings.life_note_delete").changes["text"] == "原话"


# ── pages ──────────────────────────────────────────────────────────────────────────────────────────


def test_life_page(tree, secretary_a, web, branch_people):
    a1, a2, a3, _ = branch_people
    meeting = life_meeting(tree.branch_a)
    _note(secretary_a, meeting, a1, "self_criticism", "理论学习不够")
    _note(secretary_a, meeting, a1, "rectification", "制定学习计划")
    _talk(secretary_a, tree.branch_a, a1, a2, meeting=meeting, topic="会前谈心")
    resp = web(secretary_a).get(reverse("meetings:life", args=[meeting.pk]))
    assert resp.status_code == 200
    html = resp.content.decode()
    assert "理论学习不够" in html and "制定学习计划" in html and "会前谈心" in html
    checklist = html.split('data-testid="checklist"')[1].split('id="talks"')[0]
    assert a3.name in checklist and a2.name in checklist and a1.name not in checklist


def test_life_page_shows_the_error_next_to_the_field(tree, secretary_a, web, branch_people):
    a1, *_ = branch_people
    meeting = life_meeting(tree.branch_a)
    url = reverse("meetings:life", args=[meeting.pk])
    resp = web(secretary_a).post(
        url, {"action": "note", "member": a1.pk, "kind": "criticism", "text": "意见"}
    )
    assert resp.status_code == 200
    assert 'id="about-field"' in resp.content.decode()
    assert resp.context["note_form"].errors["about"]
    assert not LifeMeetingNote.objects.exists()
    ok = web(secretary_a).post(
        url, {"action": "note", "member": a1.pk, "kind": "self_criticism", "text": "检查"}
    )
    assert ok.status_code == 302 and LifeMeetingNote.objects.count() == 1


def test_life_page_records_a_talk_linked_to_the_meeting(tree, secretary_a, web, branch_people):
    a1, a2, *_ = branch_people
    meeting = life_meeting(tree.branch_a)
    body = {
        "action": "talk",
        "initiator": a1.pk,
        "partner": a2.pk,
        "date": TODAY.isoformat(),
        "topic": "谈心",
    }
    resp = web(secretary_a).post(reverse("meetings:life", args=[meeting.pk]), body)
    assert resp.status_code == 302
    assert TalkRecord.objects.get().meeting == meeting


def test_life_page_scope(tree, secretary_b, member_a, auditor, web):
    meeting = life_meeting(tree.branch_a)
    url = reverse("meetings:life", args=[meeting.pk])
    assert web(secretary_b).get(url).status_code == 404
    assert web(member_a).get(url).status_code == 403
    reader = web(auditor).get(url)
    assert reader.status_code == 200 and 'data-testid="note-form"' not in reader.content.decode()
    assert web(auditor).post(url, {"action": "note"}).status_code == 403
    other_kind = life_meeting(tree.branch_a, kind="general_meeting")
    assert web(auditor).get(reverse("meetings:life", args=[other_kind.pk])).status_code == 404


def test_rectification_list_export(tree, secretary_a, web, branch_people):
    a1, a2, *_ = branch_people
    meeting = life_meeting(tree.branch_a)
    _note(secretary_a, meeting, a1, "rectification", "=HYPERLINK(1)")
    _note(secretary_a, meeting, a2, "rectification", "加强学习")
    resp = web(secretary_a).get(reverse("meetings:life_export", args=[meeting.pk]))
    assert resp.status_code == 200
    wb = load_workbook(io.BytesIO(b"".join(resp.streaming_content)))
    rows = list(wb.worksheets[0].iter_rows(values_only=True))
    assert rows[0][:3] == ("序号", "姓名", "整改措施")
    assert {(r[1], r[2]) for r in rows[1:]} == {(a1.name, "=HYPERLINK(1)"), (a2.name, "加强学习")}
    assert wb.worksheets[0]["C2"].data_type == "s"  # never a formula


def test_talks_page_lists_who_has_had_no_talk(tree, secretary_a, web, branch_people):
    a1, a2, a3, _ = branch_people
    _talk(secretary_a, tree.branch_a, a1, a2)
    resp = web(secretary_a).get(reverse("meetings:talks"), {"org": tree.branch_a.pk, "year": TODAY.year})
    assert resp.status_code == 200
    uncovered = resp.content.decode().split('data-testid="uncovered"')[1].split("</div>")[0]
    assert a3.name in uncovered and a1.name not in uncovered


def test_talks_page_add_and_delete(tree, secretary_a, web, branch_people):
    a1, a2, *_ = branch_people
    url = reverse("meetings:talks") + f"?org={tree.branch_a.pk}&year={TODAY.year}"
    client = web(secretary_a)
    bad = client.post(
        url, {"action": "add", "initiator": a1.pk, "partner": a1.pk, "date": TODAY, "topic": "x"}
    )
    assert bad.status_code == 200 and bad.context["form"].errors["partner"]
    good = client.post(
        url, {"action": "add", "initiator": a1.pk, "partner": a2.pk, "date": TODAY, "topic": "x"}
    )
    assert good.status_code == 302
    talk = TalkRecord.objects.get()
    client.post(url, {"action": "delete", "talk": talk.pk, "reason": ""})
    assert TalkRecord.objects.filter(pk=talk.pk).exists()  # a reason is required
    client.post(url, {"action": "delete", "talk": talk.pk, "reason": "录错"})
    assert not TalkRecord.objects.exists()


def test_talk_edit_page(tree, secretary_a, secretary_b, web, branch_people):
    a1, a2, a3, _ = branch_people
    talk = _talk(secretary_a, tree.branch_a, a1, a2)
    url = reverse("meetings:talk_edit", args=[talk.pk])
    assert web(secretary_b).get(url).status_code == 404
    resp = web(secretary_a).post(url, {"initiator": a1.pk, "partner": a3.pk, "date": TODAY, "topic": "改"})
    assert resp.status_code == 302
    talk.refresh_from_db()
    assert talk.partner == a3


def test_talks_export(tree, secretary_a, web, branch_people):
    a1, a2, *_ = branch_people
    _talk(secretary_a, tree.branch_a, a1, a2, topic="谈工作")
    resp = web(secretary_a).get(reverse("meetings:talks_export"), {"org": tree.branch_a.pk})
    wb = load_workbook(io.BytesIO(b"".join(resp.streaming_content)))
    talks = list(wb.worksheets[0].iter_rows(values_only=True))
    assert talks[1][2:5] == (a1.name, a2.name, "谈工作")
    coverage = {r[0]: r[2] for r in list(wb.worksheets[1].iter_rows(values_only=True))[1:]}
    assert coverage[a1.name] == 1 and coverage[branch_people[2].name] == 0


# ── API ────────────────────────────────────────────────────────────────────────────────────────────


def test_api_talks(tree, secretary_a, secretary_b, api, branch_people):
    a1, a2, *_ = branch_people
    body = {
        "org": tree.branch_a.pk,
        "initiator": a1.pk,
        "partner": a2.pk,
        "date": str(TODAY),
        "topic": "谈心",
    }
    created = api(secretary_a).post("/api/v1/meetings/talks/", body, format="json")
    assert created.status_code == 201 and created.json()["partner_name"] == a2.name
    future = {**body, "date": str(TODAY + dt.timedelta(days=2))}
    refused = api(secretary_a).post("/api/v1/meetings/talks/", future, format="json")
    assert refused.status_code == 400 and "date" in refused.json()["error"]["fields"]
    listed = api(secretary_a).get("/api/v1/meetings/talks/", {"year": TODAY.year})
    assert [r["id"] for r in listed.json()["results"]] == [created.json()["id"]]
    assert api(secretary_b).get("/api/v1/meetings/talks/").json()["results"] == []


def test_api_life_notes(tree, secretary_a, api, branch_people):
    a1, a2, a3, _ = branch_people
    meeting = life_meeting(tree.branch_a)
    url = f"/api/v1/meetings/{meeting.pk}/life-notes/"
    refused = api(secretary_a).post(
        url, {"member": a1.pk, "kind": "criticism", "text": "意见"}, format="json"
    )
    assert refused.status_code == 400 and "about" in refused.json()["error"]["fields"]
    body = {"member": a1.pk, "kind": "criticism", "text": "意见", "about": a2.pk}
    assert api(secretary_a).post(url, body, format="json").status_code == 201
    got = api(secretary_a).get(url).json()
    assert [(n["member"], n["about"], n["kind"]) for n in got["results"]] == [(a1.pk, a2.pk, "criticism")]
    assert {m["id"] for m in got["missing_self_criticism"]} == {a1.pk, a2.pk, a3.pk}
    other = life_meeting(tree.branch_a, kind="theme_day")
    assert api(secretary_a).get(f"/api/v1/meetings/{other.pk}/life-notes/").status_code == 404
