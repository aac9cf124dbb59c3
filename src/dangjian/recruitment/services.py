"""Every write of developing members: open a case, record a step, stop a case, attach a document.

``step_record`` judges each step by the rule version in force on that step's date (发展党员工作细则: the
2014 细则, or the 2026 revision from 2026-05-18), records that version's reference on the step, and
does the step's consequences in the same transaction: the votes of steps 15 and 23 through
``meetings.services.vote_record``, the probationary member at step 17 and the full member at step 24
through ``members.services``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from dangjian.core import rulebook
from dangjian.core.audit import audit_log
from dangjian.core.scoping import can, ensure_in_scope
from dangjian.meetings import services as meeting_services
from dangjian.meetings import votes as meeting_votes
from dangjian.meetings.models import VoteKind
from dangjian.members import selectors as member_selectors
from dangjian.members import services as member_services
from dangjian.members.choices import DuesCategory, MemberStatus, Occupation
from dangjian.members.models import Member
from dangjian.orgs.models import Organization
from dangjian.recruitment import rules, steps
from dangjian.recruitment.attachments import ALLOWED, check_upload
from dangjian.recruitment.forms import RecruitmentCaseForm
from dangjian.recruitment.models import (
    AttachmentKind,
    CaseAttachment,
    CaseStatus,
    CaseStep,
    Introducer,
    RecruitmentCase,
)

# Steps that need the name of the person who did them (the talks: 细则 第七条, 第二十二条).
HANDLER_REQUIRED = (2, 16)

_DUES_BY_OCCUPATION = {
    Occupation.STUDENT: DuesCategory.STUDENT,
    Occupation.RETIRED: DuesCategory.RETIREE,
    Occupation.FARMER: DuesCategory.FARMER,
    Occupation.UNEMPLOYED: DuesCategory.UNEMPLOYED,
}


class RuleViolationError(Exception):
    """A step refused by a rule; ``violations`` lists every blocking one (the first is reported)."""

    def __init__(self, violations: list[rules.Violation]) -> None:
        super().__init__(violations[0].message)
        self.violations = violations

    @property
    def first(self) -> rules.Violation:
        return self.violations[0]


# ------------------------------------------------------------------------------------------- cases


def case_open(*, actor: Any, data: dict[str, Any]) -> RecruitmentCase:
    """Open a case for a person who is not yet a member, owned by a branch the actor may add to."""
    form = RecruitmentCaseForm(data, actor=actor)
    if not form.is_valid():
        raise ValidationError({k: [str(e) for e in v] for k, v in form.errors.items()})
    cleaned = form.cleaned_data
    if not can(actor, "add", cleaned["org"]):
        raise PermissionDenied(_("This is outside the part of the organisation tree you manage."))
    with transaction.atomic():
        case = RecruitmentCase(**{k: v for k, v in cleaned.items() if k not in ("id_number", "phone")})
        case.org_path = case.org.path
        case.set_id_number(cleaned["id_number"])
        case.set_phone(cleaned.get("phone") or "")
        case.created_by = actor if getattr(actor, "is_authenticated", False) else None
        case.save()
        audit_log(actor=actor, action="recruitment.case_opened", obj=case)
        ensure_in_scope(actor, case, "change")
    return case


def case_stop(*, actor: Any, case: RecruitmentCase, date: dt.date, reason: str) -> RecruitmentCase:
    """Stop a case before admission (withdrawn, not suitable, moved away); the steps stay as the record."""
    if not can(actor, "change", case.org):
        raise PermissionDenied(_("This is outside the part of the organisation tree you manage."))
    if case.status != CaseStatus.ACTIVE:
        raise ValidationError({"status": _("Only a case in progress can be stopped.")})
    if not reason.strip():
        raise ValidationError({"reason": _("Give the reason for the change.")})
    with transaction.atomic():
        case.status = CaseStatus.STOPPED
        case.closed_reason = reason.strip()
        case.save(update_fields=["status", "closed_reason", "updated_at"])
        audit_log(
            actor=actor, action="recruitment.case_stopped", obj=case, changes={"date": date, "reason": reason}
        )
    return case


def case_reveal(*, actor: Any, case: RecruitmentCase, field: str) -> str:
    """The unmasked ID or phone number, for roles that may reveal; every reveal is audited."""
    if field not in ("id_number", "phone"):
        raise ValidationError({"field": _("Only the ID number or the phone can be revealed.")})
    if not can(actor, "reveal", case.org):
        raise PermissionDenied(_("Your role cannot reveal personal data."))
    value = case.decrypted_id_number() if field == "id_number" else case.decrypted_phone()
    audit_log(actor=actor, action="pii.revealed", obj=case, changes={"field": field})
    return value


# ------------------------------------------------------------------------------------ rule inputs


def _org_info(org: Organization) -> rules.OrgInfo:
    return rules.OrgInfo(id=org.pk, name=org.name, org_type=org.org_type, depth=org.depth, path=org.path)


def _member_info(m: Member, on: dt.date) -> rules.MemberInfo:
    return rules.MemberInfo(
        id=m.pk,
        name=m.name,
        status=m.status,
        full_date=m.full_date,
        id_number_index=m.id_number_index,
        # 留党察看 on the step's date, rights not restored (the rules refuse 停止党籍 by the status).
        under_discipline=member_selectors.under_probation_within_party(m, on),
    )


def _case_state(case: RecruitmentCase, records: list[CaseStep] | None = None) -> rules.CaseState:
    """The case as ``recruitment.rules`` sees it."""
    if records is None:
        records = list(case.steps.order_by("id"))
    return rules.CaseState(
        birth_date=case.birth_date,
        id_number_index=case.id_number_index,
        org=_org_info(case.org),
        records=[
            rules.StepRecord(step=s.step, date=s.date, outcome=s.outcome, fields=s.fields, seq=s.pk)
            for s in records
        ],
        status=case.status,
    )


def _parse_date(value: Any, name: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except (TypeError, ValueError):
        raise ValidationError({name: _("Enter a date as YYYY-MM-DD.")}) from None


def _allowed_org(case: RecruitmentCase, org: Organization) -> bool:
    """Organisations a step may name: those above the case's branch (committees) or below it (groups)."""
    return case.org.path.startswith(org.path) or org.path.startswith(case.org.path)


def _parse_fields(
    *, actor: Any, case: RecruitmentCase, spec: steps.StepSpec, raw: dict[str, Any], on: dt.date
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The step's own fields: (values for the rules, JSON to store). Unknown or malformed → ValidationError."""
    errors: dict[str, list[str]] = {}
    for_rules: dict[str, Any] = {}
    stored: dict[str, Any] = {}
    meeting = None
    if "meeting" in spec.fields and raw.get("meeting") not in (None, "", []):
        # The general meeting named: its attendance record gives the counts (any counts sent are ignored).
        meeting = meeting_votes.case_meeting(actor, case.org, raw["meeting"], on)
        meeting_votes.voting_rights_refresh(meeting)
        basis = meeting_votes.meeting_vote_basis(meeting)
        raw = {
            **raw,
            "expected_voting": basis.expected_voting,
            "present_voting": basis.present_voting,
            "full_members_expected": basis.full_members_expected,
        }
    unknown = set(raw) - set(spec.fields) - set(steps.COMMON_FIELDS)
    for name in sorted(unknown):
        errors[name] = [_("Unknown field for this step.")]
    for name, f in spec.fields.items():
        value = raw.get(name)
        if value in (None, "", []):
            if f.required:
                errors[name] = [_("This field is required.")]
            continue
        try:
            if f.kind in (steps.INT, steps.NUMBER):
                number = float(value) if f.kind == steps.NUMBER else int(value)
                if isinstance(value, bool) or number < 0:
                    raise ValueError
                for_rules[name] = stored[name] = number
            elif f.kind == steps.DATE:
                day = _parse_date(value, name)
                for_rules[name], stored[name] = day, day.isoformat()
            elif f.kind == steps.BOOL:
                for_rules[name] = stored[name] = str(value).lower() in ("1", "true", "yes", "on")
            elif f.kind == steps.CHOICE:
                if value not in f.choices:
                    errors[name] = [_("Choose one of: %(choices)s.") % {"choices": ", ".join(f.choices)}]
                    continue
                for_rules[name] = stored[name] = value
            elif f.kind == steps.STR:
                for_rules[name] = stored[name] = str(value).strip()[:200]
            elif f.kind == steps.MEMBERS:
                ids = [int(v) for v in (value if isinstance(value, list | tuple) else str(value).split(","))]
                found = {m.pk: m for m in Member.objects.restrict(actor, "view").filter(pk__in=ids)}
                if len(found) != len(set(ids)):
                    errors[name] = [_("Unknown member.")]
                    continue
                for_rules[name] = [_member_info(found[i], on) for i in ids]
                stored[name] = [{"id": i, "name": found[i].name} for i in ids]
            elif f.kind == steps.MEETING:
                for_rules[name] = meeting
                stored[name] = {"id": meeting.pk, "name": meeting.title, "date": meeting.date.isoformat()}
            elif f.kind == steps.ORG:
                org = Organization.objects.filter(pk=int(value)).first()
                if org is None or not _allowed_org(case, org):
                    errors[name] = [_("Unknown organization.")]
                    continue
                for_rules[name] = _org_info(org)
                stored[name] = {"id": org.pk, "name": org.name}
        except ValidationError as exc:
            errors.update(exc.message_dict)
        except (TypeError, ValueError):
            errors[name] = [_("Enter a whole number of zero or more.")]
    if errors:
        raise ValidationError(errors)
    return for_rules, stored


# ------------------------------------------------------------------------------------------ steps


def step_record(*, actor: Any, case: RecruitmentCase, data: dict[str, Any]) -> CaseStep:
    """Record one of the 25 steps: checked against the rules in force on its date, in one transaction.

    Raises ``RuleViolationError`` (a rule refuses the step, with its article), ``ValidationError``
    (malformed data) or ``PermissionDenied``.
    """
    if not can(actor, "change", case.org):
        raise PermissionDenied(_("This is outside the part of the organisation tree you manage."))
    try:
        number = int(data.get("step"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValidationError({"step": _("Give the step number, 1 to 25.")}) from None
    if number not in steps.STEPS:
        raise ValidationError({"step": _("Give the step number, 1 to 25.")})
    spec = steps.STEPS[number]
    if not data.get("date"):
        raise ValidationError({"date": _("This field is required.")})
    date = _parse_date(data.get("date"), "date")
    handled_by = str(data.get("handled_by") or "").strip()[:100]
    if number in HANDLER_REQUIRED and not handled_by:
        raise ValidationError({"handled_by": _("Name the person who held the talk.")})
    for_rules, stored = _parse_fields(actor=actor, case=case, spec=spec, raw=data, on=date)

    with transaction.atomic():
        case = RecruitmentCase.objects.select_for_update().select_related("org").get(pk=case.pk)
        r = _rule_on(date, case)
        outcome = _outcome(spec, data, r)
        state = _case_state(case)
        found = rules.check_step(
            state, rules.Proposal(step=number, date=date, outcome=outcome, fields=for_rules), r
        )
        blocking = [v for v in found if v.blocking]
        if blocking:
            raise RuleViolationError(blocking)
        if spec.computed_outcome:
            outcome = "passed" if rules.vote_passes(for_rules, r) else "failed"
        if number == 24:  # the decision approved is the one the latest meeting passed
            decided = state.satisfied(23)
            stored["motion"] = decided.fields.get("motion", "full") if decided else "full"
            if stored["motion"] == "extend" and decided:
                stored["extension_months"] = decided.fields.get("extension_months")
        record = CaseStep.objects.create(
            case=case,
            step=number,
            date=date,
            outcome=outcome,
            handled_by=handled_by,
            fields=stored,
            warnings=[v.as_dict() for v in found if not v.blocking],
            rule_ref=r.ref,
            notes=str(data.get("notes") or "").strip(),
            actor=actor if getattr(actor, "is_authenticated", False) else None,
        )
        if number in steps.VOTE_STEPS:
            record.vote = _record_vote(actor=actor, case=case, record=record, fields=for_rules, r=r)
            record.save(update_fields=["vote"])
        _consequences(actor=actor, case=case, record=record, fields=for_rules, r=r)
        _refresh(case)
        audit_log(
            actor=actor,
            action="recruitment.step_recorded",
            obj=case,
            changes={"step": number, "date": date, "outcome": outcome, "rule": r.ref},
        )
        ensure_in_scope(actor, case, "change")
    return record


def _rule_on(date: dt.date, case: RecruitmentCase) -> Any:
    try:
        return rules.rule_for(date, case.org)
    except rulebook.RuleNotFound:
        raise ValidationError(
            {
                "date": _(
                    "No rule of developing members is in force on that date (the platform's rules start on 2014-06-10)."
                )
            }
        ) from None


def _outcome(spec: steps.StepSpec, data: dict[str, Any], r: Any) -> str:
    if spec.computed_outcome:
        return ""
    given = str(data.get("outcome") or "").strip()
    if not given:
        if spec.number == 8 and r["candidate_committee_agreement_required"]:
            return "agreed"
        return spec.positive[0]
    if given not in spec.outcomes:
        raise ValidationError(
            {"outcome": _("Choose one of: %(choices)s.") % {"choices": ", ".join(spec.outcomes)}}
        )
    return given


def _record_vote(
    *, actor: Any, case: RecruitmentCase, record: CaseStep, fields: dict[str, Any], r: Any
) -> Any:
    kind = VoteKind.ADMISSION
    if record.step == 23:
        kind = {
            "full": VoteKind.FULL_MEMBERSHIP,
            "extend": VoteKind.EXTENSION,
            "cancel": VoteKind.CANCELLATION,
        }[fields["motion"]]
    counts = rules.vote_counts(fields)
    # With the general meeting named, the counts came from its attendance record (_parse_fields) and the
    # vote is linked to it; the recruitment rule (细则) in force on the step's date judges it either way.
    meeting = fields.get("meeting")
    return meeting_services.vote_record(
        actor=actor,
        org=case.org,
        subject=case,
        meeting=meeting,
        title=case.name,
        kind=kind,
        date=record.date,
        expected_voting=counts.expected_voting,
        present_voting=counts.present_voting,
        full_members_expected=counts.full_members_expected,
        yes=counts.yes,
        no=counts.no,
        abstain=counts.abstain,
        written_opinions_yes=counts.written_yes,
        written_opinions_no=counts.written_no,
        candidates=counts.candidates,
        rule_ref=r.ref,
        quorum_more_than=r["quorum_more_than"],
        majority_more_than=r["majority_more_than"],
        candidates_per_vote=r["candidates_per_vote"],
    )


def _consequences(
    *, actor: Any, case: RecruitmentCase, record: CaseStep, fields: dict[str, Any], r: Any
) -> None:
    """What a step changes beyond itself: introducers, the member record, the case's status."""
    if record.step == 9:
        for m in fields["introducers"]:
            Introducer.objects.create(case=case, member_id=m.id, step=record, since=record.date)
    elif record.step == 17:
        if record.outcome == "approved":
            case.member = _admit(actor=actor, case=case)
            case.status = CaseStatus.ADMITTED
        else:
            case.status = CaseStatus.STOPPED
            case.closed_reason = _("Not approved by the higher committee.")
    elif record.step == 24 and record.outcome == "approved":
        motion = record.fields.get("motion", "full")
        member = case.member
        state = _case_state(case)
        if motion == "full" and member is not None:
            # 党章 第七条: 党龄 counts from the day the probation ended, not from the approval.
            end = state.probation_end(r["probation_months"]) or record.date
            member_services.member_change_status(
                actor=actor,
                member=member,
                status=MemberStatus.FULL,
                date=end,
                reason=_("Became a full member (recruitment step 24)."),
            )
            case.status = CaseStatus.FULL
            case.full_date = end
        elif motion == "cancel":
            if member is not None:
                member_services.member_change_status(
                    actor=actor,
                    member=member,
                    status=MemberStatus.LEFT,
                    date=record.date,
                    reason=_("Probationary membership cancelled (recruitment step 24)."),
                )
            case.status = CaseStatus.CANCELLED
            case.closed_reason = _("Probationary membership cancelled.")
        elif motion == "extend":
            case.extensions = state.extensions_used()


def _admit(*, actor: Any, case: RecruitmentCase) -> Member:
    """Step 17: the probationary member, joined on the general meeting's date (细则 第三十一条)."""
    meeting = (
        case.steps.filter(step=15, outcome="passed").order_by("-id").values_list("date", flat=True).first()
    )
    data = {
        "name": case.name,
        "gender": case.gender,
        "ethnicity": case.ethnicity,
        "birth_date": case.birth_date,
        "id_number": case.decrypted_id_number(),
        "phone": case.decrypted_phone(),
        "education": case.education,
        "degree": "none",
        "occupation": case.occupation,
        "work_unit": case.work_unit,
        "address": case.address,
        "join_date": meeting,
        "status": MemberStatus.PROBATIONARY,
        "org": case.org_id,
        "dues_category": _DUES_BY_OCCUPATION.get(case.occupation, DuesCategory.EMPLOYED),
    }
    return member_services.member_create(
        actor=actor, data=data, reason=_("Admitted as a probationary member (recruitment step 17).")
    )


def _refresh(case: RecruitmentCase) -> None:
    """Copy the key dates and the stage from the steps to the case (for worklists and filters)."""
    records = list(case.steps.order_by("id"))
    state = _case_state(case, records)
    done = [n for n in steps.STEPS if state.satisfied(n) is not None]
    case.stage = steps.stage_of(max(done)) if done else 1
    if records:
        case.last_step, case.last_step_date = records[-1].step, records[-1].date
    case.application_date = state.date_of(1)
    case.activist_date = state.date_of(3)
    case.candidate_date = state.date_of(7)
    case.admitted_date = state.date_of(15) if state.satisfied(17) else None
    meeting = state.date_of(15)
    case.probation_end = (
        state.probation_end(rules.rule_for(meeting, case.org)["probation_months"])
        if meeting and state.satisfied(17)
        else None
    )
    case.save()


def next_allowed_steps(case: RecruitmentCase, on: dt.date | None = None) -> list[rules.NextStep]:
    """The steps that may come next, the earliest date each is allowed, and what blocks it on ``on``."""
    return rules.check_prospective(_case_state(case), on or timezone.localdate(), case.org)


# ------------------------------------------------------------------------------------ attachments


def attachment_add(*, actor: Any, step: CaseStep, kind: str, upload: Any) -> CaseAttachment:
    """Attach a scanned document to a step: pdf, jpg, png or docx (checked by content), size-limited."""
    case = step.case
    if not can(actor, "change", case.org):
        raise PermissionDenied(_("This is outside the part of the organisation tree you manage."))
    if kind not in AttachmentKind.values:
        raise ValidationError(
            {"kind": _("Choose one of: %(choices)s.") % {"choices": ", ".join(AttachmentKind.values)}}
        )
    content_type = check_upload(upload)
    name = str(getattr(upload, "name", "") or "file")[-200:]
    with transaction.atomic():
        attachment = CaseAttachment(
            step=step,
            kind=kind,
            original_name=name,
            content_type=content_type,
            size=upload.size,
            uploaded_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        attachment.file.save(f"case{case.pk}-step{step.step}{ALLOWED[content_type]}", upload, save=False)
        attachment.save()
        audit_log(
            actor=actor,
            action="recruitment.attachment_added",
            obj=case,
            changes={"step": step.step, "kind": kind, "name": name, "size": upload.size},
        )
    return attachment
