"""Alerts of organization life (found by core.alerts; refreshed daily).

- ``meetings.period_closing``: a period closes within ``warn_days_before_period_end`` days (10, local
  practice, overridable) and a kind the branch must hold in it is not held yet → an alert at the branch
  (its secretary and committee see it), one per branch, kind and period, citing the article
  (支部工作条例 第十四条至第十六条). It resolves itself once the meeting is recorded as held, and is
  replaced by nothing when the period closes: the compliance table shows the miss in red from then on.
- ``meetings.minutes_missing``: ``minutes_due_days`` (7) days after a meeting (held, or planned and
  past), there are neither minutes nor uploaded final minutes → an alert at the meeting's organisation.
  Meetings older than a year are left alone (the alert asks for minutes while someone still remembers).

Both read the compliance engine and two grouped queries; nothing is read per branch.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db.models import Exists, OuterRef, Q
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from dangjian.core.alerts import AlertSpec, alert_producer
from dangjian.meetings import compliance, rules
from dangjian.meetings.models import Meeting, MeetingAttachment, MeetingKind, MeetingStatus

MINUTES_LOOKBACK_DAYS = 365


def _url(name: str, *args: object, query: str = "") -> str:
    try:
        return reverse(name, args=args) + (f"?{query}" if query else "")
    except NoReverseMatch:
        return ""


def _article(version: object, kind: str) -> str:
    return str((version.params.get("articles") or {}).get(kind, ""))  # type: ignore[attr-defined]


@alert_producer("meetings.period_closing", label=_l("Required meeting not yet held, period closing"))
def period_closing(on: dt.date) -> Iterable[AlertSpec]:
    """支部工作条例 第十四条至第十六条: the period of a required kind ends within the warning days and the
    branch has not held it (for group meetings: some party group has not met)."""
    rows = compliance.all_branches_compliance(on.year, on)
    versions = compliance._Rules()
    labels = compliance.kind_labels()
    for row in rows:
        ctx = None
        for kind, cells in row.cells.items():
            for cell in cells:
                if not (cell.current and cell.status == compliance.NOT_YET and cell.closing_soon):
                    continue
                if ctx is None:
                    ctx = versions.context(row.branch)
                version = versions.at(ctx, cell.period.start)
                left = cell.period.days_left(on)
                values = {
                    "branch": row.branch.name,
                    "kind": labels.get(kind, kind),
                    "period": rules.period_display(cell.period),
                    "end": cell.period.end.isoformat(),
                    "days": left,
                    "article": _article(version, kind),
                }
                if kind == MeetingKind.GROUP_MEETING:
                    values.update(met=cell.count, groups=cell.needed)
                    message = (
                        _(
                            "%(branch)s: %(met)s of %(groups)s party groups have held the %(kind)s of %(period)s; "
                            "the period ends on %(end)s (%(days)s days left). Required by %(article)s."
                        )
                        % values
                    )
                else:
                    message = (
                        _(
                            "%(branch)s has not held the %(kind)s of %(period)s yet; the period ends on %(end)s "
                            "(%(days)s days left). Required by %(article)s."
                        )
                        % values
                    )
                yield AlertSpec(
                    key=f"b{row.branch.pk}:{kind}:{cell.period.label}",
                    org=row.branch,
                    message=message,
                    severity="danger" if left <= 3 else "warning",
                    due_date=cell.period.end,
                    rule_ref=version.ref,
                    url=_url("meetings:create", query=f"org={row.branch.pk}&kind={kind}")
                    or _url("meetings:compliance", query=f"org={row.branch.pk}&year={on.year}"),
                )


@alert_producer("meetings.minutes_missing", label=_l("Meeting minutes missing"))
def minutes_missing(on: dt.date) -> Iterable[AlertSpec]:
    """``minutes_due_days`` after a meeting that was held (or planned and now past) without minutes or
    uploaded final minutes: the recorder should write them while the meeting is fresh."""
    rules_for = compliance._Rules()
    # The shortest allowed delay anywhere (national or a local value) bounds the query; each meeting is
    # then judged by its own organisation's value.
    shortest = min(
        [int(rules_for.at((), on)["minutes_due_days"])]
        + [
            int(r.params["minutes_due_days"])
            for r in rules_for.rows
            if isinstance(r.params, dict) and r.params.get("minutes_due_days") not in (None, "")
        ]
    )
    final = MeetingAttachment.objects.filter(
        meeting=OuterRef("pk"), kind=MeetingAttachment.Kind.FINAL_MINUTES
    )
    qs = (
        Meeting.objects.filter(
            Q(status=MeetingStatus.HELD) | Q(status=MeetingStatus.PLANNED),
            date__lte=on - dt.timedelta(days=shortest),
            date__gte=on - dt.timedelta(days=MINUTES_LOOKBACK_DAYS),
            minutes="",
        )
        .exclude(Exists(final))
        .select_related("org")
        .order_by("date", "id")
    )
    labels = compliance.kind_labels()
    for meeting in qs.iterator(chunk_size=500):
        version = rules_for.at(rules_for.context(meeting.org), meeting.date)
        days = int(version["minutes_due_days"])
        due = meeting.date + dt.timedelta(days=days)
        if on < due:
            continue
        yield AlertSpec(
            key=f"m{meeting.pk}",
            org=meeting.org,
            subject=meeting,
            message=_(
                '%(org)s: the minutes of the %(kind)s "%(title)s" of %(date)s are missing; they were due '
                "within %(days)s days (by %(due)s). Write them on the meeting page or upload the final minutes "
                "(local practice of the platform, adjustable by the organisation department)."
            )
            % {
                "org": meeting.org.name,
                "kind": labels.get(meeting.kind, meeting.kind),
                "title": meeting.title,
                "date": meeting.date.isoformat(),
                "days": days,
                "due": due.isoformat(),
            },
            severity="warning",
            due_date=due,
            rule_ref=version.ref,
            url=_url("meetings:detail", meeting.pk),
        )
