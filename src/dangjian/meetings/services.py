"""Writes of organization life (三会一课 and the rest; RULES.md §3).

Every write is a service ``<noun>_<verb>(*, actor, ...)``: permission checked on the meeting's
organisation (core.scoping: secretaries, committee members and org managers change their subtree;
auditors only read; a member asks for leave and checks in only for themself), one transaction, an audit
row, the scope re-checked before commit, and notifications sent once committed.

- Plan and change: ``meeting_create`` (attendees from ``meetings.roster``), ``meeting_update``,
  ``meeting_cancel``, ``meeting_mark_held``; the minutes: ``minutes_save`` (sanitised rich text).
- Attendees and attendance: ``attendee_add`` / ``attendee_remove`` (with a reason), ``attendance_mark``
  (by hand), ``checkin_record`` (the one path of every check-in channel), ``leave_request`` /
  ``leave_decide`` (请假).
- Uploads: ``attachment_add`` / ``attachment_delete``; an organisation's fixed theme party day:
  ``meeting_setting_set``.
- ``vote_record``: one vote (the votes module).
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

import nh3
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from dangjian.core import files
from dangjian.core.audit import audit_log
from dangjian.core.scoping import can, ensure_can, ensure_in_scope
from dangjian.meetings import roster, rules, selectors, tasks
from dangjian.meetings.models import (
    AttendanceChannel,
    AttendanceStatus,
    Attendee,
    LeaveStatus,
    Meeting,
    MeetingAttachment,
    MeetingKind,
    MeetingOrgSetting,
    MeetingStatus,
    Vote,
    VoteKind,
)
from dangjian.members.choices import CURRENT_STATUSES
from dangjian.orgs.models import OrgStatus, OrgType


def vote_record(
    *,
    actor: Any,
    org: Any,
    subject: models.Model | None,
    kind: str,
    date: dt.date,
    expected_voting: int,
    present_voting: int,
    full_members_expected: int,
    yes: int,
    no: int,
    abstain: int,
    written_opinions_yes: int = 0,
    written_opinions_no: int = 0,
    candidates: int = 1,
    rule_ref: str,
    quorum_more_than: float = 0.5,
    majority_more_than: float = 0.5,
    candidates_per_vote: int = 1,
    notes: str = "",
    meeting: Any = None,
    title: str = "",
) -> Vote:
    """Record one vote; ``passed`` is computed by ``meetings.rules`` with the caller's thresholds.

    ``meeting`` is the meeting whose attendance record gave the counts (meetings.votes), ``title`` the
    motion or the candidate (elections: one vote per candidate).

    Inconsistent counts, a missing quorum and several candidates in one vote are refused
    (``ValidationError`` naming the field); a vote that misses the majority is recorded as not passed.
    """
    if kind not in VoteKind.values:
        raise ValidationError({"kind": _("Unknown motion.")})
    if not can(actor, "add", org):
        raise PermissionDenied(_("This is outside the part of the organisation tree you manage."))
    counts = rules.VoteCounts(
        expected_voting=expected_voting,
        present_voting=present_voting,
        full_members_expected=full_members_expected,
        yes=yes,
        no=no,
        abstain=abstain,
        written_yes=written_opinions_yes,
        written_no=written_opinions_no,
        candidates=candidates,
    )
    result = rules.vote_result(
        counts,
        quorum_more_than=quorum_more_than,
        majority_more_than=majority_more_than,
        candidates_per_vote=candidates_per_vote,
    )
    if result.problems:
        errors: dict[str, list[str]] = {}
        for p in result.problems:
            errors.setdefault(p.field or "non_field_errors", []).append(p.message)
        raise ValidationError(errors)
    with transaction.atomic():
        vote = Vote.objects.create(
            org=org,
            subject_type=ContentType.objects.get_for_model(subject) if subject is not None else None,
            subject_id=subject.pk if subject is not None else None,
            kind=kind,
            date=date,
            expected_voting=expected_voting,
            present_voting=present_voting,
            full_members_expected=full_members_expected,
            yes=yes,
            no=no,
            abstain=abstain,
            written_opinions_yes=written_opinions_yes,
            written_opinions_no=written_opinions_no,
            quorum_met=result.quorum_met,
            passed=result.passed,
            rule_ref=rule_ref,
            notes=notes,
            meeting=meeting,
            title=(title or "").strip()[:200],
            recorded_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        audit_log(
            actor=actor,
            action="vote.recorded",
            obj=vote,
            changes={
                "kind": kind,
                "yes": result.yes_total,
                "passed": result.passed,
                "rule": rule_ref,
                "meeting": getattr(meeting, "pk", None),
                "title": (title or "").strip()[:200],
            },
        )
    return vote


# ════════════════════════════════════════════════════════════════════════════════════════════════════
# Meetings: plan, change, cancel, hold; minutes; attendees and attendance; leave; attachments; settings.
# (helper "core"; vote_record above belongs to the votes module.)
# ════════════════════════════════════════════════════════════════════════════════════════════════════

EDITABLE_FIELDS = (
    "kind",
    "org",
    "title",
    "agenda",
    "starts_at",
    "ends_at",
    "place",
    "venue",
    "host",
    "recorder",
    "lecturer",
    "lecturer_name",
    "notes",
    "video",
)
# Minutes are rich text: these tags survive sanitising (nh3), with no attributes but table spans.
MINUTES_TAGS = {
    "p", "br", "strong", "em", "u", "ol", "ul", "li", "h3", "h4", "blockquote",
    "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
MINUTES_ATTRIBUTES = {"td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}}
MINUTES_MAX_CHARS = 200_000
# What each kind of meeting upload may be (checked by content, core/files.py).
ATTACHMENT_KINDS: dict[str, tuple[str, ...]] = {
    MeetingAttachment.Kind.PHOTO: ("jpeg", "png", "webp"),
    MeetingAttachment.Kind.ATTACHMENT: ("pdf", "docx", "xlsx", "jpeg", "png"),
    MeetingAttachment.Kind.FINAL_MINUTES: ("docx", "pdf"),
}
MARKABLE_STATUSES = tuple(AttendanceStatus.values)


def _field_error(field: str, message: str, code: str | None = None) -> ValidationError:
    """``ValidationError({field: message})``; with ``code``, the error carries it both inside
    (``error_dict[field][0].code``) and on the exception itself (``exc.code``), for the channels."""
    exc = ValidationError({field: [ValidationError(message, code=code)]})
    if code:
        exc.code = code
    return exc


def _ensure(actor: Any, action: str, org: Any) -> None:
    ensure_can(actor, action, org)


def _is_self(actor: Any, member: Any) -> bool:
    return bool(getattr(actor, "is_authenticated", False) and member.user_id and member.user_id == actor.pk)


def _user_or_none(actor: Any) -> Any:
    return actor if getattr(actor, "is_authenticated", False) else None


def _refuse_cancelled(meeting: Meeting) -> None:
    if meeting.status == MeetingStatus.CANCELLED:
        raise _field_error("meeting", _("This meeting was cancelled."), "cancelled")


def _in_branch(member: Any, org: Any) -> bool:
    """A member of the organisation's branch (or of a committee's subtree) on the register now."""
    branch = roster.branch_of(org)
    return member.org_path.startswith(branch.path) and member.status in CURRENT_STATUSES


# The years a meeting may be dated in: from the founding of the Party to the end of the tables
# (compliance.MAX_YEAR). Beyond them a date overflows on its way to UTC (year 1, year 9999) or
# breaks the check-in window arithmetic: a 500 before the review.
FIRST_YEAR, LAST_YEAR = 1921, 2100


def _in_years(moment: dt.datetime) -> bool:
    try:
        local = timezone.localtime(moment)
    except (OverflowError, ValueError):
        return False
    return FIRST_YEAR <= local.year <= LAST_YEAR and FIRST_YEAR <= moment.year <= LAST_YEAR


def _years_message() -> str:
    return _("The meeting must be dated between %(first)d and %(last)d.") % {
        "first": FIRST_YEAR,
        "last": LAST_YEAR,
    }


def _validate(values: dict[str, Any], changed: set[str] | None = None) -> dict[str, Any]:
    """Check a meeting's values (create and update share it); the cleaned values, or ValidationError.

    ``changed`` (on update) names the fields given: people and the room are checked only when they
    change, so a host who has since left the branch does not block correcting a meeting's topic."""

    def check(field: str) -> bool:
        return changed is None or field in changed or "org" in changed

    errors: dict[str, list[str]] = {}

    def err(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    org = values["org"]
    if org is None:
        err("org", _("Choose the organisation holding the meeting."))
        raise ValidationError(errors)
    if org.status != OrgStatus.ACTIVE:
        err("org", _("%(org)s is no longer active.") % {"org": org.name})
    try:
        roster.check_kind(org, values["kind"])
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            for m in messages:
                err(field, m)
    title = (values.get("title") or "").strip()
    if not title:
        err("title", _("Give the topic of the meeting."))
    elif len(title) > 200:
        err("title", _("The topic is at most 200 characters."))
    starts_at, ends_at = values.get("starts_at"), values.get("ends_at")
    if not isinstance(starts_at, dt.datetime):
        err("starts_at", _("Give the date and time the meeting starts."))
        starts_at = None
    elif timezone.is_naive(starts_at):
        err("starts_at", _("Give the start time with its time zone."))
        starts_at = None
    elif not _in_years(starts_at):
        err("starts_at", _years_message())
        starts_at = None
    if ends_at is not None:
        if not isinstance(ends_at, dt.datetime) or timezone.is_naive(ends_at):
            err("ends_at", _("Give the end time with its time zone."))
        elif not _in_years(ends_at):
            err("ends_at", _years_message())
        elif starts_at is not None and ends_at <= starts_at:
            err("ends_at", _("A meeting must end after it starts."))
    lecturer, lecturer_name = values.get("lecturer"), (values.get("lecturer_name") or "").strip()
    if values["kind"] == MeetingKind.PARTY_LECTURE and lecturer is None and not lecturer_name:
        err(
            "lecturer", _("A party lecture needs its lecturer: choose a member or write the lecturer's name.")
        )
    branch = roster.branch_of(org)
    for field, label in (
        ("host", _("The host")),
        ("recorder", _("The recorder")),
        ("lecturer", _("The lecturer")),
    ):
        person = values.get(field)
        if person is not None and check(field) and not _in_branch(person, org):
            if field == "lecturer":
                message = _(
                    "%(who)s must be a member of %(branch)s; for a lecturer from elsewhere, write the name instead."
                )
            else:
                message = _("%(who)s must be a member of %(branch)s.")
            err(field, message % {"who": label, "branch": branch.name})
    venue = values.get("venue") if check("venue") else None
    if venue is not None and not (
        org.path.startswith(venue.org.path) or venue.org.path.startswith(roster.branch_of(org).path)
    ):
        err("venue", _("Choose a room of this organisation or of the organisations above it."))
    elif venue is not None and not venue.active:
        err("venue", _("This room is no longer in use."))
    for field, limit in (("place", 200), ("lecturer_name", 50)):
        if len((values.get(field) or "").strip()) > limit:
            err(field, _("At most %(n)d characters.") % {"n": limit})
    if errors:
        raise ValidationError(errors)
    return {
        **values,
        "title": title,
        "lecturer_name": lecturer_name,
        "place": (values.get("place") or "").strip(),
        "agenda": values.get("agenda") or "",
        "notes": values.get("notes") or "",
    }


def _video_room() -> str:
    """A random, unguessable Jitsi room name; "" when no video server is configured."""
    if not getattr(settings, "JITSI_URL", ""):
        return ""
    return f"dangjian-{secrets.token_hex(16)}"


def _attendee_rows(meeting: Meeting, entries: list[roster.RosterEntry]) -> list[Attendee]:
    return [
        Attendee(meeting=meeting, member=e.member, role=e.role, can_vote=e.can_vote, expected=True)
        for e in entries
    ]


def meeting_create(
    *,
    actor: Any,
    org: Any,
    kind: str,
    title: str,
    starts_at: dt.datetime,
    ends_at: dt.datetime | None = None,
    place: str = "",
    venue: Any = None,
    agenda: str = "",
    host: Any = None,
    recorder: Any = None,
    lecturer: Any = None,
    lecturer_name: str = "",
    video: bool = False,
    notes: str = "",
) -> Meeting:
    """Plan a meeting: its expected attendees come from the roster for its kind (meetings.roster), and
    they are notified once it is saved (in-app, and by email where they have an address)."""
    _ensure(actor, "add", org)
    v = _validate(
        {
            "org": org, "kind": kind, "title": title, "starts_at": starts_at, "ends_at": ends_at,
            "place": place, "venue": venue, "agenda": agenda, "host": host, "recorder": recorder,
            "lecturer": lecturer, "lecturer_name": lecturer_name, "notes": notes,
        }
    )  # fmt: skip
    day = timezone.localdate(starts_at)
    entries = roster.expected_attendees(org, kind, day)
    with transaction.atomic():
        meeting = Meeting.objects.create(
            org=org,
            kind=kind,
            title=v["title"],
            agenda=v["agenda"],
            starts_at=starts_at,
            ends_at=ends_at,
            date=day,
            place=v["place"],
            venue=venue,
            host=host,
            recorder=recorder,
            lecturer=lecturer,
            lecturer_name=v["lecturer_name"],
            notes=v["notes"],
            video_room=_video_room() if video else "",
            created_by=_user_or_none(actor),
        )
        Attendee.objects.bulk_create(_attendee_rows(meeting, entries), batch_size=500)
        audit_log(
            actor=actor,
            action="meeting.created",
            obj=meeting,
            changes={
                "kind": kind,
                "title": meeting.title,
                "starts_at": starts_at,
                "expected": len(entries),
                "voting": sum(1 for e in entries if e.can_vote),
            },
        )
        ensure_in_scope(actor, meeting, "add")
        meeting_id = meeting.pk
        transaction.on_commit(lambda: tasks.announce_planned(meeting_id), robust=True)
    return meeting


def _attendance_recorded(meeting: Meeting) -> bool:
    return (
        Attendee.objects.filter(meeting=meeting)
        .filter(~Q(status=AttendanceStatus.PENDING) | ~Q(leave_status=LeaveStatus.NONE))
        .exists()
    )


def meeting_update(*, actor: Any, meeting: Meeting, **fields: Any) -> Meeting:
    """Change a planned or held meeting (not a cancelled one). ``fields`` are among EDITABLE_FIELDS.

    The date follows the start time. Changing the kind or the organisation derives the attendees again,
    and is refused once attendance has been recorded. A new start time is announced to the attendees and
    the reminder is sent again.
    """
    unknown = sorted(set(fields) - set(EDITABLE_FIELDS))
    if unknown:
        raise TypeError(f"meeting_update() got unknown fields: {', '.join(unknown)}")
    _ensure(actor, "change", meeting.org)
    _refuse_cancelled(meeting)
    current = {name: getattr(meeting, name) for name in EDITABLE_FIELDS if name != "video"}
    values = {**current, **{k: v for k, v in fields.items() if k != "video"}}
    given = {k for k, val in fields.items() if val != current.get(k)}
    v = _validate(values, changed=given)
    new_org, new_kind = v["org"], v["kind"]
    regroup = new_org.pk != meeting.org_id or new_kind != meeting.kind
    if new_org.pk != meeting.org_id:
        _ensure(actor, "add", new_org)
    with transaction.atomic():
        meeting = Meeting.objects.select_for_update().get(pk=meeting.pk)
        _refuse_cancelled(meeting)
        if regroup and _attendance_recorded(meeting):
            raise _field_error(
                "kind",
                _(
                    "Attendance has been recorded for this meeting, so its kind and organisation can no "
                    "longer change. Cancel it and plan a new one."
                ),
                "attendance_recorded",
            )
        changes: dict[str, Any] = {}
        for name in current:
            new = v[name]
            if new != getattr(meeting, name):
                changes[name] = new
                setattr(meeting, name, new)
        if "video" in fields:
            if fields["video"] and not meeting.video_room:
                meeting.video_room = _video_room()
            elif not fields["video"] and meeting.video_room:
                meeting.video_room = ""
            changes["video"] = bool(meeting.video_room)
        moved = "starts_at" in changes
        meeting.date = timezone.localdate(meeting.starts_at)
        if moved:
            meeting.reminded_at = None
        meeting.save()
        if regroup:
            meeting.attendees.all().delete()
            entries = roster.expected_attendees(meeting.org, meeting.kind, meeting.date)
            Attendee.objects.bulk_create(_attendee_rows(meeting, entries), batch_size=500)
            changes["expected"] = len(entries)
        audit_log(actor=actor, action="meeting.updated", obj=meeting, changes=changes)
        ensure_in_scope(actor, meeting, "change")
        if moved and meeting.planned_notified_at is not None and meeting.status == MeetingStatus.PLANNED:
            meeting_id, key = meeting.pk, f"{meeting.pk}:{meeting.starts_at.isoformat()}"
            transaction.on_commit(lambda: tasks.announce_change(meeting_id, key), robust=True)
    return meeting


def meeting_cancel(*, actor: Any, meeting: Meeting, reason: str) -> Meeting:
    """Cancel a planned meeting (a reason is required); the attendees are told."""
    _ensure(actor, "change", meeting.org)
    reason = (reason or "").strip()
    if not reason:
        raise _field_error("reason", _("Give the reason for cancelling the meeting."))
    with transaction.atomic():
        meeting = Meeting.objects.select_for_update().get(pk=meeting.pk)
        if meeting.status == MeetingStatus.CANCELLED:
            raise _field_error("meeting", _("This meeting was already cancelled."), "cancelled")
        if meeting.status == MeetingStatus.HELD:
            raise _field_error("meeting", _("This meeting has been held; it cannot be cancelled."), "held")
        meeting.status = MeetingStatus.CANCELLED
        meeting.cancel_reason = reason[:2000]
        meeting.save(update_fields=["status", "cancel_reason", "updated_at"])
        audit_log(
            actor=actor, action="meeting.cancelled", obj=meeting, changes={"reason": meeting.cancel_reason}
        )
        ensure_in_scope(actor, meeting, "change")
        meeting_id = meeting.pk
        transaction.on_commit(lambda: tasks.announce_cancelled(meeting_id), robust=True)
    return meeting


def meeting_mark_held(*, actor: Any, meeting: Meeting, now: dt.datetime | None = None) -> Meeting:
    """Record that a planned meeting took place (only once it has started); held stays held."""
    _ensure(actor, "change", meeting.org)
    now = now or timezone.now()
    _refuse_cancelled(meeting)
    if now < meeting.starts_at:
        raise _field_error("meeting", _("The meeting has not started yet."), "not_started")
    with transaction.atomic():
        meeting = Meeting.objects.select_for_update().get(pk=meeting.pk)
        _refuse_cancelled(meeting)
        from dangjian.meetings.votes import voting_rights_refresh  # votes builds on this module

        voting_rights_refresh(meeting)  # who has a vote follows the register on the meeting's date
        if meeting.status != MeetingStatus.HELD:
            meeting.status = MeetingStatus.HELD
            meeting.save(update_fields=["status", "updated_at"])
            audit_log(actor=actor, action="meeting.held", obj=meeting)
            ensure_in_scope(actor, meeting, "change")
    return meeting


def _minutes_clean(html: str) -> str:
    """Minutes as safe rich text: only the MINUTES_TAGS, no attributes but table spans, no scripts."""
    return nh3.clean(
        html or "", tags=MINUTES_TAGS, attributes=MINUTES_ATTRIBUTES, link_rel=None, strip_comments=True
    ).strip()


def minutes_save(*, actor: Any, meeting: Meeting, html: str) -> Meeting:
    """Save the minutes (会议记录) as sanitised rich text, with who recorded them and when."""
    _ensure(actor, "change", meeting.org)
    _refuse_cancelled(meeting)
    if len(html or "") > MINUTES_MAX_CHARS:
        raise _field_error(
            "html", _("The minutes are too long: at most %(n)d characters.") % {"n": MINUTES_MAX_CHARS}
        )
    clean = _minutes_clean(html)
    with transaction.atomic():
        meeting = Meeting.objects.select_for_update().get(pk=meeting.pk)
        _refuse_cancelled(meeting)
        meeting.minutes = clean
        empty = not nh3.clean(clean, tags=set()).strip()
        meeting.minutes_recorded_at = None if empty else timezone.now()
        meeting.minutes_recorded_by = None if empty else _user_or_none(actor)
        meeting.save(update_fields=["minutes", "minutes_recorded_at", "minutes_recorded_by", "updated_at"])
        audit_log(
            actor=actor,
            action="meeting.minutes_saved",
            obj=meeting,
            changes={"chars": len(clean), "stripped": len(html or "") - len(clean)},
        )
        ensure_in_scope(actor, meeting, "change")
    return meeting


def _reason(reason: str, field: str = "reason") -> str:
    reason = (reason or "").strip()
    if not reason:
        raise _field_error(field, _("Give the reason."))
    return reason[:200]


def attendee_add(*, actor: Any, meeting: Meeting, member: Any, reason: str) -> Attendee:
    """Add someone to the expected attendees, with the reason (a removed row comes back). They have a
    vote only if the roster of the meeting's kind gives them one."""
    _ensure(actor, "change", meeting.org)
    reason = _reason(reason)
    _refuse_cancelled(meeting)
    if member.status not in CURRENT_STATUSES:
        raise _field_error(
            "member", _("%(name)s is not a current member of the Party.") % {"name": member.name}
        )
    entry = next(
        (
            e
            for e in roster.expected_attendees(meeting.org, meeting.kind, meeting.date)
            if e.member.pk == member.pk
        ),
        None,
    )
    with transaction.atomic():
        attendee = Attendee.objects.select_for_update().filter(meeting=meeting, member=member).first()
        if attendee is not None and attendee.expected:
            raise _field_error(
                "member", _("%(name)s is already expected at this meeting.") % {"name": member.name}
            )
        if attendee is None:
            attendee = Attendee(
                meeting=meeting,
                member=member,
                role=entry.role if entry else Attendee.Role.ADDED,
                can_vote=entry.can_vote if entry else False,
            )
        attendee.expected = True
        attendee.adjust_reason = reason
        if attendee.leave_status == LeaveStatus.APPROVED and attendee.status == AttendanceStatus.PENDING:
            # Removed while on approved leave (removal resets the status), then added back: still on
            # leave, not absent (review: counted absent after the meeting).
            attendee.status = AttendanceStatus.LEAVE
        attendee.updated_by = _user_or_none(actor)
        attendee.save()
        audit_log(
            actor=actor,
            action="meeting.attendee_added",
            obj=meeting,
            changes={
                "member": member.pk,
                "name": member.name,
                "reason": reason,
                "can_vote": attendee.can_vote,
            },
        )
        ensure_in_scope(actor, meeting, "change")
    return attendee


def attendee_remove(*, actor: Any, attendee: Attendee, reason: str) -> Attendee:
    """Take someone off the expected attendees, with the reason. The row stays (``expected=False``) so
    the adjustment shows; a removed member who then checks in is refused."""
    meeting = attendee.meeting
    _ensure(actor, "change", meeting.org)
    reason = _reason(reason)
    _refuse_cancelled(meeting)
    with transaction.atomic():
        attendee = Attendee.objects.select_for_update().select_related("member").get(pk=attendee.pk)
        if not attendee.expected:
            raise _field_error(
                "member", _("%(name)s is not expected at this meeting.") % {"name": attendee.member.name}
            )
        if attendee.status == AttendanceStatus.PRESENT:
            raise _field_error(
                "member",
                _("%(name)s has checked in; correct the attendance before removing them.")
                % {"name": attendee.member.name},
            )
        attendee.expected = False
        attendee.adjust_reason = reason
        attendee.status = AttendanceStatus.PENDING
        attendee.updated_by = _user_or_none(actor)
        attendee.save()
        audit_log(
            actor=actor,
            action="meeting.attendee_removed",
            obj=meeting,
            changes={"member": attendee.member_id, "name": attendee.member.name, "reason": reason},
        )
        ensure_in_scope(actor, meeting, "change")
    return attendee


def _mark_held_if_started(meeting: Meeting, at: dt.datetime) -> bool:
    """planned → held once someone is present after the start; True when it changed."""
    if at < meeting.starts_at:
        return False
    changed = Meeting.objects.filter(pk=meeting.pk, status=MeetingStatus.PLANNED).update(
        status=MeetingStatus.HELD, updated_at=timezone.now()
    )
    if changed:
        meeting.status = MeetingStatus.HELD
    return bool(changed)


def attendance_mark(
    *, actor: Any, meeting: Meeting, marks: dict[int, str], now: dt.datetime | None = None
) -> int:
    """The secretary marks attendance by hand (member id → pending / present / leave / absent); the
    number of rows changed. Present and absent only once the meeting has started; leave marked here is
    leave approved by the marker."""
    _ensure(actor, "change", meeting.org)
    _refuse_cancelled(meeting)
    now = now or timezone.now()
    try:
        marks = {int(k): v for k, v in (marks or {}).items()}
    except (TypeError, ValueError) as exc:
        raise _field_error("marks", _("Mark members by their number.")) from exc
    bad = sorted({v for v in marks.values() if v not in MARKABLE_STATUSES})
    if bad:
        raise _field_error(
            "marks", _("Unknown attendance: %(values)s.") % {"values": ", ".join(map(str, bad))}
        )
    if now < meeting.starts_at and any(
        v in (AttendanceStatus.PRESENT, AttendanceStatus.ABSENT) for v in marks.values()
    ):
        raise _field_error(
            "marks", _("Present and absent can be marked once the meeting has started."), "not_started"
        )
    if not marks:
        return 0
    with transaction.atomic():
        rows = {
            a.member_id: a
            for a in Attendee.objects.select_for_update()
            .select_related("member")
            .filter(meeting=meeting, member_id__in=list(marks))
        }
        missing = [pk for pk in marks if pk not in rows or not rows[pk].expected]
        if missing:
            names = [rows[pk].member.name for pk in missing if pk in rows] or [str(pk) for pk in missing]
            raise _field_error(
                "marks",
                _("Not expected at this meeting: %(names)s. Add them first.") % {"names": "、".join(names)},
                "not_expected",
            )
        changed: dict[int, str] = {}
        user = _user_or_none(actor)
        for member_id, status in marks.items():
            a = rows[member_id]
            if a.status == status:
                continue
            a.status = status
            if status == AttendanceStatus.PRESENT:
                a.channel, a.checked_in_at = AttendanceChannel.MANUAL, now
            else:
                a.channel, a.checked_in_at = "", None
            if status == AttendanceStatus.LEAVE and a.leave_status != LeaveStatus.APPROVED:
                a.leave_status, a.leave_decided_by, a.leave_decided_at = LeaveStatus.APPROVED, user, now
            a.updated_by = user
            a.save()
            changed[member_id] = status
        held = any(s == AttendanceStatus.PRESENT for s in changed.values()) and _mark_held_if_started(
            meeting, now
        )
        if changed:
            audit_log(
                actor=actor,
                action="meeting.attendance_marked",
                obj=meeting,
                changes={"marks": changed, "held": held},
            )
        ensure_in_scope(actor, meeting, "change")
    return len(changed)


def checkin_record(
    *,
    meeting: Meeting,
    member: Any,
    channel: str,
    at: dt.datetime | None = None,
    actor: Any = None,
) -> tuple[Attendee, bool]:
    """Record that ``member`` is present: the one path of every channel (QR, video, device, manual).

    Refused (``ValidationError``, its code on ``exc.code``) for a cancelled meeting (``cancelled``) and a
    member who is not expected (``not_expected``; a removed member too). Idempotent: an attendee
    already present is returned with ``created=False``. Once someone is present after the start, a
    planned meeting becomes held. ``actor`` (when given) is the member themself or someone who may
    change the meeting; ``actor=None`` is a trusted channel (a signed device message).
    """
    if channel not in AttendanceChannel.values:
        raise _field_error("channel", _("Unknown check-in channel."), "bad_channel")
    if actor is not None and not _is_self(actor, member) and not can(actor, "change", meeting.org):
        raise PermissionDenied(_("You can only check yourself in."))
    at = at or timezone.now()
    with transaction.atomic():
        meeting = Meeting.objects.get(pk=meeting.pk)  # fresh: a cancellation made meanwhile counts
        _refuse_cancelled(meeting)
        attendee = Attendee.objects.select_for_update().filter(meeting=meeting, member=member).first()
        if attendee is None or not attendee.expected:
            raise _field_error(
                "member",
                _("%(name)s is not expected at this meeting.") % {"name": member.name},
                "not_expected",
            )
        if attendee.status == AttendanceStatus.PRESENT:
            return attendee, False
        attendee.status = AttendanceStatus.PRESENT
        attendee.channel = channel
        attendee.checked_in_at = at
        attendee.updated_by = _user_or_none(actor)
        attendee.save()
        held = _mark_held_if_started(meeting, at)
        audit_log(
            actor=actor,
            action="meeting.checkin",
            obj=meeting,
            changes={"member": member.pk, "channel": channel, "at": at, "held": held},
        )
    return attendee, True


def leave_request(
    *, actor: Any, meeting: Meeting, member: Any, reason: str, now: dt.datetime | None = None
) -> Attendee:
    """Ask for leave (请假) from a meeting: the member themself, or a secretary on their behalf; only
    before the meeting ends. The branch's secretaries are told."""
    if not _is_self(actor, member) and not can(actor, "change", meeting.org):
        raise PermissionDenied(_("You can only ask for leave for yourself."))
    reason = _reason(reason)
    _refuse_cancelled(meeting)
    now = now or timezone.now()
    if now >= selectors.meeting_end(meeting):
        raise _field_error("reason", _("The meeting is over; leave can no longer be asked for."), "over")
    with transaction.atomic():
        attendee = Attendee.objects.select_for_update().filter(meeting=meeting, member=member).first()
        if attendee is None or not attendee.expected:
            raise _field_error(
                "member",
                _("%(name)s is not expected at this meeting.") % {"name": member.name},
                "not_expected",
            )
        if attendee.status == AttendanceStatus.PRESENT:
            raise _field_error(
                "member", _("%(name)s has already checked in.") % {"name": member.name}, "present"
            )
        if attendee.leave_status == LeaveStatus.APPROVED:
            raise _field_error("member", _("Leave has already been approved."), "approved")
        attendee.leave_status = LeaveStatus.REQUESTED
        attendee.leave_reason = reason
        attendee.leave_requested_at = now
        attendee.leave_decided_by, attendee.leave_decided_at, attendee.leave_note = None, None, ""
        attendee.updated_by = _user_or_none(actor)
        attendee.save()
        audit_log(
            actor=actor,
            action="meeting.leave_requested",
            obj=meeting,
            changes={"member": member.pk, "reason": reason, "on_behalf": not _is_self(actor, member)},
        )
        attendee_id = attendee.pk
        transaction.on_commit(lambda: tasks.announce_leave_request(attendee_id), robust=True)
    return attendee


def leave_decide(*, actor: Any, attendee: Attendee, approve: bool, note: str = "") -> Attendee:
    """The secretary (or a committee member) approves or refuses a leave request; approved leave marks
    the attendee on leave. The member is told."""
    meeting = attendee.meeting
    _ensure(actor, "change", meeting.org)
    _refuse_cancelled(meeting)
    note = (note or "").strip()[:200]
    with transaction.atomic():
        attendee = Attendee.objects.select_for_update().select_related("member").get(pk=attendee.pk)
        if attendee.leave_status != LeaveStatus.REQUESTED:
            raise _field_error(
                "approve", _("There is no leave request waiting for a decision."), "no_request"
            )
        now = timezone.now()
        attendee.leave_status = LeaveStatus.APPROVED if approve else LeaveStatus.REFUSED
        attendee.leave_decided_by = _user_or_none(actor)
        attendee.leave_decided_at = now
        attendee.leave_note = note
        if approve and attendee.status != AttendanceStatus.PRESENT:
            attendee.status = AttendanceStatus.LEAVE
        elif not approve and attendee.status == AttendanceStatus.LEAVE:
            attendee.status = AttendanceStatus.PENDING
        attendee.updated_by = _user_or_none(actor)
        attendee.save()
        audit_log(
            actor=actor,
            action="meeting.leave_decided",
            obj=meeting,
            changes={"member": attendee.member_id, "approve": bool(approve), "note": note},
        )
        ensure_in_scope(actor, meeting, "change")
        attendee_id = attendee.pk
        transaction.on_commit(lambda: tasks.announce_leave_decision(attendee_id), robust=True)
    return attendee


def attachment_add(*, actor: Any, meeting: Meeting, upload: Any, kind: str) -> MeetingAttachment:
    """Attach a document, a photo or the final minutes to a meeting (type checked by content: photos
    jpg/png/webp; documents pdf/docx/xlsx/jpg/png; final minutes docx/pdf; size from
    ``settings.ATTACHMENT_MAX_BYTES``)."""
    _ensure(actor, "change", meeting.org)
    _refuse_cancelled(meeting)
    if kind not in ATTACHMENT_KINDS:
        raise _field_error("kind", _("Choose what the file is: an attachment, a photo or the final minutes."))
    content_type = files.check_upload(
        upload, allowed=ATTACHMENT_KINDS[kind], max_bytes=getattr(settings, "ATTACHMENT_MAX_BYTES", None)
    )
    name = str(getattr(upload, "name", "") or "file").replace("\\", "/").rsplit("/", 1)[-1][-200:] or "file"
    with transaction.atomic():
        attachment = MeetingAttachment(
            meeting=meeting,
            kind=kind,
            original_name=name,
            content_type=content_type,
            size=upload.size,
            uploaded_by=_user_or_none(actor),
        )
        stored = f"meeting{meeting.pk}-{kind}-{secrets.token_hex(8)}{files.EXTENSIONS[content_type]}"
        attachment.file.save(stored, upload, save=False)
        attachment.save()
        audit_log(
            actor=actor,
            action="meeting.attachment_added",
            obj=meeting,
            changes={"kind": kind, "name": name, "size": upload.size, "content_type": content_type},
        )
        ensure_in_scope(actor, meeting, "change")
    return attachment


def attachment_delete(*, actor: Any, attachment: MeetingAttachment) -> None:
    """Delete a meeting's upload (the file too, once the deletion is committed)."""
    meeting = attachment.meeting
    _ensure(actor, "change", meeting.org)
    with transaction.atomic():
        storage, path = attachment.file.storage, attachment.file.name
        audit_log(
            actor=actor,
            action="meeting.attachment_deleted",
            obj=meeting,
            changes={"kind": attachment.kind, "name": attachment.original_name},
        )
        attachment.delete()
        if path:
            transaction.on_commit(lambda: storage.delete(path))


def meeting_setting_set(*, actor: Any, org: Any, theme_day: int | None) -> MeetingOrgSetting:
    """Set the organisation's fixed theme party day (day of the month 1–31, or None for no fixed day;
    支部工作条例 第十五条). In a month shorter than the day, it falls on the month's last day."""
    _ensure(actor, "change", org)
    if org.org_type == OrgType.GROUP:
        raise _field_error("org", _("The theme party day is set by the branch, not by a party group."))
    if theme_day is not None and (
        isinstance(theme_day, bool) or not isinstance(theme_day, int) or not 1 <= theme_day <= 31
    ):
        raise _field_error("theme_day", _("The theme party day is a day of the month, 1 to 31."))
    with transaction.atomic():
        setting, _created = MeetingOrgSetting.objects.select_for_update().get_or_create(org=org)
        before = setting.theme_day
        setting.theme_day = theme_day
        setting.updated_by = _user_or_none(actor)
        setting.save()
        audit_log(
            actor=actor, action="meeting.setting_set", obj=org, changes={"theme_day": [before, theme_day]}
        )
        ensure_in_scope(actor, setting, "change")
    return setting
