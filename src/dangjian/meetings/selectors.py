"""Reads of organization life: scoped meeting lists, their filters, attendance totals, my meetings.

Attendance totals (the vote rules read them; MEETINGS.md): expected = rows with ``expected=True``;
present = status present; on leave = status leave; absent = expected and status absent — and, once the
meeting is over, expected rows still pending; voting expected = expected with a vote; voting present =
present with a vote.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass
from typing import Any

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from dangjian.core.scoping import path_prefix_q
from dangjian.meetings.models import AttendanceStatus, Attendee, Meeting, MeetingKind, MeetingStatus

# The meeting-list filters shared by the pages, the API and exports (see meeting_filter).
FILTER_KEYS = ("org", "descendants", "kind", "status", "year", "month", "date_from", "date_to", "q")
YEAR_MIN, YEAR_MAX = 1921, 2200
_INT_RE = re.compile(r"[0-9]{1,19}")


@dataclass(frozen=True)
class AttendanceTotals:
    """应到 / 实到 / 请假 / 缺席 / 未签到, and the voting members expected and present."""

    expected: int = 0
    present: int = 0
    leave: int = 0
    absent: int = 0
    pending: int = 0
    voting_expected: int = 0
    voting_present: int = 0

    @property
    def rate(self) -> float:
        """The share of the expected who were present, in percent (0 when nobody is expected)."""
        return round(self.present * 100 / self.expected, 1) if self.expected else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rate": self.rate}


def meeting_end(meeting: Meeting) -> dt.datetime:
    """When the meeting is over: its end, or without one the end of its day (local time)."""
    if meeting.ends_at is not None:
        return meeting.ends_at
    day = timezone.localtime(meeting.starts_at).date() + dt.timedelta(days=1)
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def meeting_is_over(meeting: Meeting, now: dt.datetime | None = None) -> bool:
    return (now or timezone.now()) >= meeting_end(meeting)


def meetings_for(actor: Any, action: str = "view") -> QuerySet[Meeting]:
    """The meetings the actor may see (or act on); a member sees the meetings they are expected at."""
    return Meeting.objects.restrict(actor, action).select_related(
        "org", "venue", "host", "recorder", "lecturer"
    )


def _int(value: Any, lo: int, hi: int) -> int | None:
    text = str(value).strip() if value is not None else ""
    if not _INT_RE.fullmatch(text):
        return None
    number = int(text)
    return number if lo <= number <= hi else None


def _date(value: Any) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        return None


def _values(value: Any, allowed: list[str]) -> list[str]:
    items = [str(v) for v in value] if isinstance(value, list | tuple) else str(value).split(",")
    return [v.strip() for v in items if v.strip() in allowed]


def meeting_filter(qs: QuerySet[Meeting], params: Any, *, actor: Any = None) -> QuerySet[Meeting]:
    """Apply the meeting-list filters (pages, API and exports share them).

    ``org`` (an id or an Organization; with ``descendants``, default true, its whole subtree — a branch with its groups),
    ``kind`` and ``status`` (one or several, comma-separated), ``year`` and ``month``, ``date_from`` and
    ``date_to`` (ISO dates, inclusive), ``q`` (topic, agenda, place). With ``actor``, an ``org`` outside
    what the actor sees gives no rows (the answer does not reveal whether it exists). Values that are
    not what they should be are ignored, except ``org``, which then gives no rows.
    """
    from dangjian.orgs.models import Organization

    org_id = params.get("org")
    if org_id not in (None, ""):
        # An Organization (a page that resolved it already) or its id.
        pk = org_id.pk if isinstance(org_id, Organization) else _int(org_id, 1, 2**62)
        orgs = (
            Organization.objects.restrict(actor, "view") if actor is not None else Organization.objects.all()
        )
        org = orgs.filter(pk=pk).only("path").first() if pk is not None else None
        if org is None:
            return qs.none()
        if str(params.get("descendants", "true")).strip().lower() in ("false", "0", "no"):
            qs = qs.filter(org=org)
        else:
            qs = qs.filter(path_prefix_q("org__path", org.path))
    kinds = _values(params.get("kind") or "", MeetingKind.values)
    if kinds:
        qs = qs.filter(kind__in=kinds)
    statuses = _values(params.get("status") or "", MeetingStatus.values)
    if statuses:
        qs = qs.filter(status__in=statuses)
    year = _int(params.get("year"), YEAR_MIN, YEAR_MAX)
    month = _int(params.get("month"), 1, 12)
    if year is not None:
        qs = qs.filter(date__year=year)
    if month is not None:
        qs = qs.filter(date__month=month)
    date_from = _date(params.get("date_from")) if params.get("date_from") else None
    if date_from is not None:
        qs = qs.filter(date__gte=date_from)
    date_to = _date(params.get("date_to")) if params.get("date_to") else None
    if date_to is not None:
        qs = qs.filter(date__lte=date_to)
    q = str(params.get("q") or "").replace("\x00", "").strip()  # PostgreSQL refuses NUL in a query
    if q:
        qs = qs.filter(Q(title__icontains=q) | Q(agenda__icontains=q) | Q(place__icontains=q))
    return qs


def _conditions(prefix: str) -> dict[str, Q]:
    """The condition of each total on attendee rows (``prefix`` = "attendees__" from the meeting side)."""

    def q(**kw: Any) -> Q:
        return Q(**{f"{prefix}{k}": v for k, v in kw.items()})

    expected = q(expected=True)
    present = expected & q(status=AttendanceStatus.PRESENT)
    return {
        "expected": expected,
        "present": present,
        "leave": expected & q(status=AttendanceStatus.LEAVE),
        "absent": expected & q(status=AttendanceStatus.ABSENT),
        "pending": expected & q(status=AttendanceStatus.PENDING),
        "voting_expected": expected & q(can_vote=True),
        "voting_present": present & q(can_vote=True),
    }


def _over_q(now: dt.datetime) -> Q:
    """Meetings that are over at ``now``, as a condition on the meeting row (see meeting_end)."""
    # Without an end time, a meeting is over once its day has passed (the date is its local start date).
    return Q(ends_at__lte=now) | Q(ends_at__isnull=True, date__lt=timezone.localdate(now))


def attendance_totals(meeting: Meeting, now: dt.datetime | None = None) -> AttendanceTotals:
    """The meeting's totals in one aggregate query (after the meeting, pending rows count as absent)."""
    # Aliased: "expected" is also a field of Attendee.
    aggregated = Attendee.objects.filter(meeting=meeting).aggregate(
        **{f"n_{name}": Count("id", filter=cond) for name, cond in _conditions("").items()}
    )
    counts = {name.removeprefix("n_"): value for name, value in aggregated.items()}
    if meeting_is_over(meeting, now):
        counts["absent"] += counts["pending"]
        counts["pending"] = 0
    return AttendanceTotals(**counts)


def with_totals(qs: QuerySet[Meeting], now: dt.datetime | None = None) -> QuerySet[Meeting]:
    """Annotate each meeting with its totals (``t_expected``, ``t_present`` ... ``t_voting_present``) in
    the same query as the list; ``totals_of(meeting)`` reads them back as ``AttendanceTotals``."""
    over = _over_q(now or timezone.now())
    cond = _conditions("attendees__")
    # Pending rows of a meeting that is over count as absent (the condition on the meeting row).
    cond["absent"] = cond["absent"] | (cond["pending"] & over)
    cond["pending"] = cond["pending"] & ~over
    return qs.annotate(**{f"t_{name}": Count("attendees", filter=c) for name, c in cond.items()})


def totals_of(meeting: Meeting) -> AttendanceTotals:
    """The totals annotated by ``with_totals``, or computed for this one meeting when not annotated."""
    if not hasattr(meeting, "t_expected"):
        return attendance_totals(meeting)
    return AttendanceTotals(
        **{name: getattr(meeting, f"t_{name}") for name in AttendanceTotals.__dataclass_fields__}
    )


def attendees_of(meeting: Meeting, actor: Any = None) -> QuerySet[Attendee]:
    """The meeting's attendee rows in roster order (expected first); with ``actor``, only the rows the
    actor may see (a member sees their own)."""
    qs = Attendee.objects.filter(meeting=meeting)
    if actor is not None:
        qs = qs.restrict(actor, "view")
    return qs.select_related("member", "member__org").order_by("-expected", "role", "member__name", "id")


def my_member(user: Any) -> Any:
    """The register entry of a logged-in user, or None."""
    from dangjian.members.models import Member

    if not getattr(user, "is_authenticated", False):
        return None
    return Member.objects.filter(user=user).select_related("org").first()


def my_meetings(user: Any) -> QuerySet[Meeting]:
    """The meetings the user (through their register entry) is expected at, newest first, each with
    ``my_status``, ``my_leave_status`` and ``my_attendee_id`` (their own attendance row)."""
    member = my_member(user)
    if member is None:
        return Meeting.objects.none()
    mine = Attendee.objects.filter(meeting=OuterRef("pk"), member=member)
    return (
        # A subquery, not a join: with_totals() can then count every attendee of these meetings.
        Meeting.objects.filter(
            pk__in=Attendee.objects.filter(member=member, expected=True).values("meeting_id")
        )
        .select_related("org", "venue", "host", "recorder", "lecturer")
        .annotate(
            my_status=Subquery(mine.values("status")[:1]),
            my_leave_status=Subquery(mine.values("leave_status")[:1]),
            my_attendee_id=Subquery(mine.values("pk")[:1]),
        )
        .order_by("-starts_at", "-id")
    )
