"""Services of developing members: the whole journey, the member it creates, extensions and refusals."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from dangjian.meetings.models import Vote
from dangjian.members.models import Member
from dangjian.orgs.models import Organization, OrgType
from dangjian.recruitment import services
from dangjian.recruitment.models import CaseStatus, Introducer
from tests.conftest import make_member
from tests.recruitment.helpers import D, journey, open_case, walk


@pytest.fixture
def people(tree, member_factory):
    return {
        "introducers": [member_factory(tree.branch_a), member_factory(tree.branch_a)],
        "mentor": member_factory(tree.branch_a),
    }


def test_the_whole_journey_makes_a_full_member(tree, secretary_a, people):
    case = open_case(secretary_a, tree.branch_a)
    bodies = journey(people["introducers"], people["mentor"], tree.district_a)
    case = walk(secretary_a, case, bodies)
    assert case.status == CaseStatus.FULL
    assert case.stage == 5 and case.last_step == 25
    member = Member.objects.get(pk=case.member_id)
    assert member.join_date == D(2024, 6, 1)  # the general meeting's date (细则 第三十一条)
    assert member.full_date == D(2025, 6, 1)  # probation end, not the approval date (党章 第七条)
    assert member.status == "full"
    assert Vote.objects.filter(subject_id=case.pk, passed=True).count() == 2
    assert Introducer.objects.filter(case=case).count() == 2
    assert all(s.rule_ref == "recruitment@2014" for s in case.steps.all())


def test_step_17_creates_a_probationary_member(tree, secretary_a, people):
    case = open_case(secretary_a, tree.branch_a)
    bodies = journey(people["introducers"], people["mentor"], tree.district_a)
    case = walk(secretary_a, case, bodies[:18])
    assert case.status == CaseStatus.ADMITTED
    assert case.member.status == "probationary"
    assert case.probation_end == D(2025, 6, 1)


def test_next_allowed_steps_show_the_earliest_date(tree, secretary_a, people):
    case = open_case(secretary_a, tree.branch_a)
    bodies = journey(people["introducers"], people["mentor"], tree.district_a)
    case = walk(secretary_a, case, bodies[:6])  # up to the first assessment
    nxt = {n.step: n for n in services.next_allowed_steps(case, on=D(2023, 12, 1))}
    assert nxt[7].earliest == D(2024, 3, 1)
    assert nxt[7].blocking[0].rule == "recruitment.activist_period"
    assert 6 in nxt  # assessments may be repeated


def test_case_for_an_existing_member_is_refused(tree, secretary_a, member_factory):
    from dangjian.members.idnumbers import make_id_number

    number = make_id_number("110101", dt.date(1990, 1, 1), 11)
    member_factory(tree.branch_a, id_number=number, birth_date=dt.date(1990, 1, 1), gender="male")
    with pytest.raises(ValidationError) as exc:
        open_case(secretary_a, tree.branch_a, id_number=number, birth=dt.date(1990, 1, 1))
    assert "id_number" in exc.value.message_dict


def test_an_extension_moves_the_probation_end_and_the_full_date(tree, secretary_a, people):
    """细则 第三十二条: extended once by 6–12 months; 党龄 then counts from the extended end."""
    case = open_case(secretary_a, tree.branch_a)
    bodies = journey(people["introducers"], people["mentor"], tree.district_a)
    case = walk(secretary_a, case, bodies[:23])  # up to the application for full membership
    vote = {k: v for k, v in bodies[23].items() if k not in ("step", "date", "motion")}
    case = walk(
        secretary_a,
        case,
        [
            {"step": 23, "date": "2025-06-01", "motion": "extend", "extension_months": 6, **vote},
            {"step": 24, "date": "2025-06-10", "approver": tree.district_a.pk},
        ],
    )
    assert case.probation_end == D(2025, 12, 1) and case.extensions == 1
    assert case.member.status == "probationary"
    with pytest.raises(services.RuleViolationError) as exc:
        services.step_record(
            actor=secretary_a,
            case=case,
            data={"step": 23, "date": "2025-11-30", "motion": "full", **vote},
        )
    assert exc.value.first.code in ("step_missing", "probation_not_over")
    case = walk(
        secretary_a,
        case,
        [
            {"step": 22, "date": "2025-11-01"},
            {"step": 23, "date": "2025-12-01", "motion": "full", **vote},
            {"step": 24, "date": "2025-12-10", "approver": tree.district_a.pk},
        ],
    )
    assert case.status == CaseStatus.FULL
    assert case.member.full_date == D(2025, 12, 1)


def test_cancelled_probation_leaves_a_historical_record(tree, secretary_a, people):
    case = open_case(secretary_a, tree.branch_a)
    bodies = journey(people["introducers"], people["mentor"], tree.district_a)
    case = walk(secretary_a, case, bodies[:23])
    vote = {k: v for k, v in bodies[23].items() if k not in ("step", "date", "motion")}
    case = walk(
        secretary_a,
        case,
        [
            {"step": 23, "date": "2025-06-01", "motion": "cancel", **vote},
            {"step": 24, "date": "2025-06-10", "approver": tree.district_a.pk},
        ],
    )
    assert case.status == CaseStatus.CANCELLED
    member = Member.objects.get(pk=case.member_id)
    assert member.status == "left"
    assert list(member.status_changes.values_list("to_status", flat=True)) == ["left", "probationary"]
    assert case.steps.count() == 25  # nothing deleted


def test_a_vote_without_majority_is_recorded_but_does_not_advance(tree, secretary_a, people):
    case = open_case(secretary_a, tree.branch_a)
    bodies = journey(people["introducers"], people["mentor"], tree.district_a)
    case = walk(secretary_a, case, bodies[:15])
    failed = {**bodies[15], "yes": 10, "no": 5}  # 10 of 20 full members: exactly half is not enough
    record = services.step_record(actor=secretary_a, case=case, data=failed)
    assert record.outcome == "failed" and record.vote.passed is False
    nxt = [n.step for n in services.next_allowed_steps(case, on=D(2024, 6, 2))]
    assert nxt == [15]


def test_introducers_outside_the_actors_scope_are_unknown(tree, secretary_a, people, member_factory):
    case = open_case(secretary_a, tree.branch_a)
    bodies = journey(people["introducers"], people["mentor"], tree.district_a)
    case = walk(secretary_a, case, bodies[:9])
    stranger = member_factory(tree.branch_b)
    with pytest.raises(ValidationError) as exc:
        services.step_record(
            actor=secretary_a,
            case=case,
            data={"step": 9, "date": "2024-03-15", "introducers": [people["introducers"][0].pk, stranger.pk]},
        )
    assert "introducers" in exc.value.message_dict


def test_a_general_branch_above_cannot_approve(tree, org_manager):
    """细则 第二十三条: a 党总支 never approves, even when it is the branch's parent."""
    general = Organization.objects.add_child(
        Organization.objects.get(pk=tree.district_a.pk),
        {"org_type": OrgType.GENERAL_BRANCH, "code": "T0099", "name": "医院党总支"},
    )
    branch = Organization.objects.add_child(
        Organization.objects.get(pk=general.pk),
        {"org_type": OrgType.BRANCH, "code": "T0100", "name": "内科党支部"},
    )
    case = open_case(org_manager, branch)
    bodies = journey([make_member(branch), make_member(branch)], make_member(branch), general)
    case = walk(org_manager, case, bodies[:17])
    with pytest.raises(services.RuleViolationError) as exc:
        services.step_record(actor=org_manager, case=case, data=bodies[17])
    assert exc.value.first.rule == "recruitment.approver"
    assert exc.value.first.article == "细则 第二十三条"
    bodies[17]["approver"] = tree.district_a.pk
    case = walk(org_manager, case, [bodies[17]])
    assert case.status == CaseStatus.ADMITTED


def test_steps_before_2014_are_refused_politely(tree, secretary_a):
    case = open_case(secretary_a, tree.branch_a)
    with pytest.raises(ValidationError) as exc:
        services.step_record(actor=secretary_a, case=case, data={"step": 1, "date": "2013-01-01"})
    assert "date" in exc.value.message_dict


# Every public service of recruitment and meetings, and the audit row it writes (None: a read).
AUDITED = {
    "recruitment.case_open": "recruitment.case_opened",
    "recruitment.case_stop": "recruitment.case_stopped",
    "recruitment.case_reveal": "pii.revealed",
    "recruitment.step_record": "recruitment.step_recorded",
    "recruitment.attachment_add": "recruitment.attachment_added",
    "recruitment.next_allowed_steps": None,
    "meetings.vote_record": "vote.recorded",
    "meetings.meeting_create": "meeting.created",
    "meetings.meeting_update": "meeting.updated",
    "meetings.meeting_cancel": "meeting.cancelled",
    "meetings.meeting_mark_held": "meeting.held",
    "meetings.minutes_save": "meeting.minutes_saved",
    "meetings.attendee_add": "meeting.attendee_added",
    "meetings.attendee_remove": "meeting.attendee_removed",
    "meetings.attendance_mark": "meeting.attendance_marked",
    "meetings.checkin_record": "meeting.checkin",
    "meetings.leave_request": "meeting.leave_requested",
    "meetings.leave_decide": "meeting.leave_decided",
    "meetings.attachment_add": "meeting.attachment_added",
    "meetings.attachment_delete": "meeting.attachment_deleted",
    "meetings.meeting_setting_set": "meeting.setting_set",
}


def test_every_service_is_listed_with_its_audit_row():
    import importlib
    import inspect

    found = set()
    for app in ("recruitment", "meetings"):
        module = importlib.import_module(f"dangjian.{app}.services")
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ == module.__name__ and not name.startswith("_"):
                found.add(f"{app}.{name}")
    assert found == set(AUDITED)


def test_services_write_their_audit_rows(tree, secretary_a, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from dangjian.core.models import AuditEntry

    settings.MEDIA_ROOT = tmp_path
    case = open_case(secretary_a, tree.branch_a)
    record = services.step_record(actor=secretary_a, case=case, data={"step": 1, "date": "2024-03-01"})
    services.attachment_add(
        actor=secretary_a, step=record, kind="application", upload=SimpleUploadedFile("a.pdf", b"%PDF-1.4 x")
    )
    services.case_reveal(actor=secretary_a, case=case, field="id_number")
    services.case_stop(actor=secretary_a, case=case, date=D(2024, 4, 1), reason="本人撤回")
    actions = set(AuditEntry.objects.filter(org=tree.branch_a).values_list("action", flat=True))
    assert {a for k, a in AUDITED.items() if a and k.startswith("recruitment.")} <= actions


def test_vote_defaults_count_only_members_with_a_vote(tree, secretary_a, secretary_b, member_factory):
    """Probationary members have no vote (党章 第七条); full members flowing out (a 活动证, the status stays
    full) keep theirs at home; members of other branches, flowing members hosted here included, are not in
    this branch's register and have no vote here (RULES.md §4)."""
    from dangjian.recruitment.selectors import vote_defaults
    from dangjian.transfers.services import flow_certificate_issue

    member_factory(tree.branch_a)
    member_factory(tree.branch_a, status="probationary", full_date=None)
    out = member_factory(tree.branch_a)
    flow_certificate_issue(actor=secretary_a, member=out, start=dt.date(2025, 1, 1), outside_host_name="外地")
    hosted = member_factory(tree.branch_b)
    flow_certificate_issue(
        actor=secretary_b, member=hosted, start=dt.date(2025, 1, 1), host_org=tree.branch_a
    )
    case = open_case(secretary_a, tree.branch_a)
    assert vote_defaults(case) == {"expected_voting": 2, "full_members_expected": 2}
