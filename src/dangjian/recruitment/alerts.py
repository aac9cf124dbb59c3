"""Alerts of developing members (found by core.alerts): talk overdue, assessment due, probation ending,
approval overdue. Each alert cites the rule version whose deadline it applies."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any

from django.db.models import Max, Q
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l

from dangjian.core.alerts import AlertSpec, alert_producer
from dangjian.recruitment.models import CaseStatus, RecruitmentCase
from dangjian.recruitment.rules import add_months, rule_for


def _url(case: RecruitmentCase) -> str:
    try:
        return reverse("recruitment:case", args=[case.pk])
    except NoReverseMatch:
        return ""


class _Rules:
    """The rule in force for each case's branch on the day (one lookup per branch, not per case)."""

    def __init__(self, on: dt.date) -> None:
        self.on = on
        self.cache: dict[int, Any] = {}

    def __call__(self, case: RecruitmentCase) -> Any:
        if case.org_id not in self.cache:
            self.cache[case.org_id] = rule_for(self.on, case.org)
        return self.cache[case.org_id]


def _cases(q: Q) -> Iterator[RecruitmentCase]:
    return RecruitmentCase.objects.filter(q).select_related("org").order_by("id").iterator(chunk_size=500)


@alert_producer("recruitment.talk_overdue", label=_l("Talk with an applicant overdue"))
def talk_overdue(on: dt.date) -> Iterable[AlertSpec]:
    """细则 第七条: the talk within a month of the application (overdue: an alert, never a block)."""
    rule = _Rules(on)
    for case in _cases(Q(status=CaseStatus.ACTIVE, last_step=1, application_date__isnull=False)):
        r = rule(case)
        due = add_months(case.application_date, r["talk_within_months"])  # type: ignore[arg-type]
        if on > due + dt.timedelta(days=r["talk_alert_grace_days"]):
            yield AlertSpec(
                key=f"case{case.pk}",
                org=case.org,
                message=_("%(name)s applied on %(applied)s: the talk was due by %(due)s (%(article)s).")
                % {
                    "name": case.name,
                    "applied": case.application_date,
                    "due": due,
                    "article": r["articles"]["talk"],
                },
                severity="warning",
                due_date=due,
                subject=case,
                rule_ref=r.ref,
                url=_url(case),
            )


@alert_producer("recruitment.assessment_due", label=_l("Half-yearly assessment of an activist due"))
def assessment_due(on: dt.date) -> Iterable[AlertSpec]:
    """细则 第十一条: each activist is assessed every half year, until the branch committee's review."""
    rule = _Rules(on)
    qs = RecruitmentCase.objects.filter(
        status=CaseStatus.ACTIVE, activist_date__isnull=False, stage__in=(2, 3)
    ).annotate(last_assessment=Max("steps__date", filter=Q(steps__step=6)))
    for case in qs.select_related("org").order_by("id").iterator(chunk_size=500):
        r = rule(case)
        since = max(d for d in (case.activist_date, case.last_assessment) if d)
        due = add_months(since, r["assessment_interval_months"])
        if on >= due - dt.timedelta(days=30):
            yield AlertSpec(
                key=f"case{case.pk}:{due.isoformat()}",
                org=case.org,
                message=_("%(name)s: the half-yearly assessment is due on %(due)s (%(article)s).")
                % {"name": case.name, "due": due, "article": r["articles"]["assessment"]},
                severity="danger" if on > due else "info",
                due_date=due,
                subject=case,
                rule_ref=r.ref,
                url=_url(case),
            )


@alert_producer("recruitment.probation_ending", label=_l("Probation ending"))
def probation_ending(on: dt.date) -> Iterable[AlertSpec]:
    """细则 第三十一条: the branch decides on full membership when the year (or the extension) is over."""
    rule = _Rules(on)
    horizon = on + dt.timedelta(days=90)  # the widest warning an override allows
    for case in _cases(
        Q(status=CaseStatus.ADMITTED, probation_end__isnull=False, probation_end__lte=horizon)
    ):
        r = rule(case)
        if case.last_step in (23, 24):  # the meeting has decided; the approval alert takes over
            continue
        end = case.probation_end
        if end > on + dt.timedelta(days=r["probation_ending_warn_days"]):  # type: ignore[operator]
            continue
        yield AlertSpec(
            key=f"case{case.pk}:{end}",
            org=case.org,
            message=_(
                "%(name)s: the probation ends on %(end)s; prepare the full-membership decision (%(article)s)."
            )
            % {"name": case.name, "end": end, "article": r["articles"]["probation"]},
            severity="danger" if on > end else "warning",  # type: ignore[operator]
            due_date=end,
            subject=case,
            member=case.member_id,
            rule_ref=r.ref,
            url=_url(case),
        )


@alert_producer("recruitment.approval_overdue", label=_l("Approval by the higher committee overdue"))
def approval_overdue(on: dt.date) -> Iterable[AlertSpec]:
    """细则 第二十四条: admission approved within 3 months of the meeting (never beyond 6);
    细则 第三十四条 (S): the full-membership decision within 3 months."""
    rule = _Rules(on)
    waiting = Q(status=CaseStatus.ACTIVE, last_step__in=(15, 16)) | Q(
        status=CaseStatus.ADMITTED, last_step=23
    )
    qs = RecruitmentCase.objects.filter(waiting).annotate(
        admission_meeting=Max("steps__date", filter=Q(steps__step=15, steps__outcome="passed")),
        full_meeting=Max("steps__date", filter=Q(steps__step=23, steps__outcome="passed")),
    )
    for case in qs.select_related("org").order_by("id").iterator(chunk_size=500):
        r = rule(case)
        admission = case.status == CaseStatus.ACTIVE
        meeting = case.admission_meeting if admission else case.full_meeting
        if meeting is None or (not admission and meeting != case.last_step_date):
            continue  # no passed meeting waiting for approval
        months = r["approval_within_months"] if admission else r["full_approval_within_months"]
        due = add_months(meeting, months)
        if on <= due:
            continue
        limit = add_months(meeting, r["approval_max_months"])
        yield AlertSpec(
            key=f"case{case.pk}:{case.last_step}",
            org=case.org,
            message=_("%(name)s: the higher committee's approval was due by %(due)s (%(article)s).")
            % {
                "name": case.name,
                "due": due,
                "article": r["articles"]["approval_deadline" if admission else "full_approval_deadline"],
            },
            severity="danger" if admission and on > limit - dt.timedelta(days=30) else "warning",
            due_date=due,
            subject=case,
            rule_ref=r.ref,
            url=_url(case),
        )
