"""Jobs and notices of organization life (found by huey's autodiscovery of ``tasks`` modules).

- Every 30 minutes: the reminder for meetings starting within the rule's ``reminder_hours_before``
  (24 hours, rules/meetings.yaml) not reminded yet, and planned meetings that have started with someone
  present are recorded as held. Both are idempotent (``Meeting.reminded_at``; the status).
- Notices to the attendees (in-app, and an email copy by the job ``meeting_emails_send`` so that a slow
  mail server never holds up a page): when a meeting is planned (``announce_planned``, once:
  ``Meeting.planned_notified_at``), moved, cancelled, before it (the reminder); leave requests to the
  branch's secretaries and their decisions to the member. The services call them once committed.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from dangjian.core.scoping import Role
from dangjian.meetings import roster
from dangjian.meetings.models import Attendee, LeaveStatus, Meeting, MeetingKind, MeetingStatus

log = logging.getLogger(__name__)


def meeting_reminders_send(now: dt.datetime | None = None) -> int:
    """Send the reminder of every planned meeting starting within ``reminder_hours_before`` that has
    not been reminded; the number of meetings reminded. A second run sends nothing."""
    from dangjian.core import rulebook

    now = now or timezone.now()
    hours = int(rulebook.rule("meetings", on=timezone.localdate(now))["reminder_hours_before"])
    due = (
        Meeting.objects.filter(
            status=MeetingStatus.PLANNED,
            reminded_at__isnull=True,
            starts_at__gt=now,
            starts_at__lte=now + dt.timedelta(hours=hours),
        )
        .select_related("org", "venue", "host", "lecturer")
        .order_by("starts_at", "id")
    )
    reminded = 0
    for meeting in due.iterator(chunk_size=200):
        # Claim the meeting first: two workers running at once remind it once.
        if not Meeting.objects.filter(pk=meeting.pk, reminded_at__isnull=True).update(reminded_at=now):
            continue
        try:
            announce_reminder(meeting)
        except Exception:  # one meeting's failure must not stop the others' reminders
            log.exception("meeting reminder failed for meeting %s", meeting.pk)
            Meeting.objects.filter(pk=meeting.pk, reminded_at=now).update(reminded_at=None)
            continue
        reminded += 1
    return reminded


def meetings_mark_started(now: dt.datetime | None = None) -> int:
    """Planned meetings that have started and where someone is present become held; how many."""
    from dangjian.meetings.models import AttendanceStatus

    now = now or timezone.now()
    # Present now, and the meeting has started: someone checked in early and the meeting went ahead.
    ids = set(
        Attendee.objects.filter(
            meeting__status=MeetingStatus.PLANNED,
            meeting__starts_at__lte=now,
            status=AttendanceStatus.PRESENT,
            expected=True,
        ).values_list("meeting_id", flat=True)
    )
    if not ids:
        return 0
    return Meeting.objects.filter(pk__in=ids, status=MeetingStatus.PLANNED).update(
        status=MeetingStatus.HELD, updated_at=now
    )


@db_periodic_task(crontab(minute="*/30"))
def meeting_reminders() -> dict[str, int]:
    """Every 30 minutes: the reminders due, and started meetings recorded as held."""
    return {"reminded": meeting_reminders_send(), "held": meetings_mark_started()}


@db_task()
def meeting_emails_send(user_ids: list[int], subject: str, body: str) -> int:
    """Email a meeting notice to those of ``user_ids`` with an address; the number sent. A mail
    server that is down is logged, not retried (the in-app notification has been sent already)."""
    from django.contrib.auth import get_user_model
    from django.core.mail import get_connection, send_mail

    recipients = list(
        get_user_model()
        .objects.filter(pk__in=user_ids, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if not recipients:
        return 0
    sent = 0
    try:
        connection = get_connection(fail_silently=True)
        for address in recipients:
            sent += send_mail(subject, body, None, [address], connection=connection, fail_silently=True)
    except Exception:  # noqa: BLE001  (an unreachable mail server must not fail the job queue)
        log.exception("meeting notice email failed")
    return sent


def _meeting_url(meeting_id: int) -> str:
    for name in ("mobile_meetings:detail", "meetings:detail"):
        try:
            return reverse(name, args=[meeting_id])
        except NoReverseMatch:
            continue
    return ""


def _when(meeting: Meeting) -> str:
    start = timezone.localtime(meeting.starts_at)
    text = f"{start:%Y-%m-%d %H:%M}"
    if meeting.ends_at is not None:
        end = timezone.localtime(meeting.ends_at)
        text += f"–{end:%H:%M}" if end.date() == start.date() else f" – {end:%Y-%m-%d %H:%M}"
    return text


def meeting_facts(meeting: Meeting) -> str:
    """The lines of a meeting notice: kind and organisation, time, place, host, lecturer."""
    lines = [
        f"{MeetingKind(meeting.kind).label} · {meeting.org.name}",
        _("Time: %(when)s") % {"when": _when(meeting)},
    ]
    place = meeting.place or (meeting.venue.name if meeting.venue_id else "")
    if place:
        lines.append(_("Place: %(place)s") % {"place": place})
    if meeting.host_id:
        lines.append(_("Host: %(name)s") % {"name": meeting.host.name})
    lecturer = meeting.lecturer.name if meeting.lecturer_id else meeting.lecturer_name
    if lecturer:
        lines.append(_("Lecturer: %(name)s") % {"name": lecturer})
    return "\n".join(str(line) for line in lines)


def _recipients(meeting: Meeting, *, skip_leave: bool = False) -> list[int]:
    """The users of the expected attendees with an active login."""
    qs = Attendee.objects.filter(meeting=meeting, expected=True, member__user__isnull=False).filter(
        member__user__is_active=True
    )
    if skip_leave:
        qs = qs.exclude(leave_status=LeaveStatus.APPROVED)
    return list(qs.values_list("member__user_id", flat=True))


def notify_attendees(
    meeting: Meeting, *, kind: str, key: str, title: str, body: str, skip_leave: bool = False
) -> int:
    """Tell the expected attendees, in-app (once per key) and by email (a job); the number notified."""
    from dangjian.core.alerts import NotificationSpec
    from dangjian.core.notifications import notify_many

    users = _recipients(meeting, skip_leave=skip_leave)
    url = _meeting_url(meeting.pk)
    sent = notify_many(
        kind, [NotificationSpec(key=key, user=u, title=title, body=body, url=url) for u in users]
    )
    if users:
        meeting_emails_send(users, str(title), f"{body}\n\n{url}".strip() if url else str(body))
    return sent


def _load(meeting_id: int) -> Meeting | None:
    return Meeting.objects.select_related("org", "venue", "host", "lecturer").filter(pk=meeting_id).first()


def announce_planned(meeting_id: int) -> int:
    """Notify the attendees of a planned meeting (once: ``planned_notified_at``)."""
    with translation.override(settings.LANGUAGE_CODE):
        meeting = _load(meeting_id)
        if meeting is None or meeting.status != MeetingStatus.PLANNED or meeting.planned_notified_at:
            return 0
        claimed = Meeting.objects.filter(pk=meeting_id, planned_notified_at__isnull=True).update(
            planned_notified_at=timezone.now()
        )
        if not claimed:
            return 0
        body = meeting_facts(meeting)
        if meeting.agenda:
            body += "\n" + _("Agenda: %(agenda)s") % {"agenda": meeting.agenda[:500]}
        return notify_attendees(
            meeting,
            kind="meeting_planned",
            key=str(meeting_id),
            title=_("Meeting notice: %(title)s") % {"title": meeting.title},
            body=body,
        )


def announce_change(meeting_id: int, key: str) -> int:
    with translation.override(settings.LANGUAGE_CODE):
        meeting = _load(meeting_id)
        if meeting is None or meeting.status != MeetingStatus.PLANNED:
            return 0
        return notify_attendees(
            meeting,
            kind="meeting_changed",
            key=key,
            title=_("Meeting time changed: %(title)s") % {"title": meeting.title},
            body=meeting_facts(meeting),
            skip_leave=True,
        )


def announce_cancelled(meeting_id: int) -> int:
    with translation.override(settings.LANGUAGE_CODE):
        meeting = _load(meeting_id)
        if meeting is None or meeting.status != MeetingStatus.CANCELLED:
            return 0
        return notify_attendees(
            meeting,
            kind="meeting_cancelled",
            key=str(meeting_id),
            title=_("Meeting cancelled: %(title)s") % {"title": meeting.title},
            body=meeting_facts(meeting) + "\n" + _("Reason: %(reason)s") % {"reason": meeting.cancel_reason},
        )


def announce_reminder(meeting: Meeting) -> int:
    with translation.override(settings.LANGUAGE_CODE):
        return notify_attendees(
            meeting,
            kind="meeting_reminder",
            key=f"{meeting.pk}:{meeting.starts_at.isoformat()}",
            title=_("Meeting reminder: %(title)s") % {"title": meeting.title},
            body=meeting_facts(meeting),
            skip_leave=True,
        )


def announce_leave_request(attendee_id: int) -> int:
    """Tell the secretaries of the meeting's branch that a leave request waits for them."""
    from dangjian.accounts.models import RoleAssignment
    from dangjian.core.notifications import notify

    a = Attendee.objects.select_related("meeting", "meeting__org", "member").filter(pk=attendee_id).first()
    if a is None or a.leave_status != LeaveStatus.REQUESTED:
        return 0
    branch = roster.branch_of(a.meeting.org)
    users = set(
        RoleAssignment.objects.filter(
            org_id__in={a.meeting.org_id, branch.pk}, role=Role.SECRETARY, active=True, user__is_active=True
        ).values_list("user_id", flat=True)
    )
    with translation.override(settings.LANGUAGE_CODE):
        title = _("Leave request: %(name)s, %(title)s") % {"name": a.member.name, "title": a.meeting.title}
        body = _("Reason: %(reason)s") % {"reason": a.leave_reason}
        sent = 0
        for user_id in users:
            if notify(
                user_id,
                title=title,
                body=body,
                url=_meeting_url(a.meeting_id),
                kind="meeting_leave_request",
                key=f"{a.pk}:{a.leave_requested_at.isoformat() if a.leave_requested_at else ''}",
            ):
                sent += 1
    return sent


def announce_leave_decision(attendee_id: int) -> int:
    from dangjian.core.notifications import notify

    a = Attendee.objects.select_related("meeting", "member").filter(pk=attendee_id).first()
    if a is None or not a.member.user_id or a.leave_status not in (LeaveStatus.APPROVED, LeaveStatus.REFUSED):
        return 0
    with translation.override(settings.LANGUAGE_CODE):
        if a.leave_status == LeaveStatus.APPROVED:
            title = _("Leave approved: %(title)s") % {"title": a.meeting.title}
        else:
            title = _("Leave refused: %(title)s") % {"title": a.meeting.title}
        body = _("Note: %(note)s") % {"note": a.leave_note} if a.leave_note else ""
        sent = notify(
            a.member.user_id,
            title=title,
            body=body,
            url=_meeting_url(a.meeting_id),
            kind="meeting_leave_decision",
            key=f"{a.pk}:{a.leave_decided_at.isoformat() if a.leave_decided_at else ''}",
        )
    return 1 if sent else 0


# Registers the "meetings.transcript" job handler (speech to text, long-text analysis) in the worker.
from dangjian.meetings import transcripts as _transcripts  # noqa: E402,F401
