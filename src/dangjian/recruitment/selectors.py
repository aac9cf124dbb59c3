"""Reads of developing members: scoped case lists, worklists, the funnel, defaults for a vote."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from dangjian.core.scoping import path_prefix_q
from dangjian.members import selectors as member_selectors
from dangjian.orgs.models import Organization
from dangjian.recruitment.models import CaseStatus, CaseStep, RecruitmentCase
from dangjian.recruitment.rules import add_months


def cases_for(actor: Any, action: str = "view") -> QuerySet[RecruitmentCase]:
    return RecruitmentCase.objects.restrict(actor, action).select_related("org")


def case_filter(qs: QuerySet[RecruitmentCase], params: Mapping[str, Any], *, visible_orgs: Any) -> QuerySet:
    """Filters of the case list: ``org`` (with its subtree), ``stage``, ``status``, ``q`` (name), ``worklist``."""
    from rest_framework.exceptions import ValidationError

    org = params.get("org")
    if org:
        if not str(org).isdigit():
            raise ValidationError({"org": [_("Give the id of an organisation.")]})
        top = visible_orgs.filter(pk=int(org)).first()
        if top is None:
            return qs.none()
        qs = qs.filter(path_prefix_q("org_path", top.path))
    stage = params.get("stage")
    if stage:
        if not str(stage).isdigit() or not 1 <= int(stage) <= 5:
            raise ValidationError({"stage": [_("The stage is between 1 and 5.")]})
        qs = qs.filter(stage=int(stage))
    status = params.get("status")
    if status:
        if status not in CaseStatus.values:
            raise ValidationError({"status": [_("Unknown status.")]})
        qs = qs.filter(status=status)
    q = (params.get("q") or "").strip()
    if q:
        qs = qs.filter(name__icontains=q)
    worklist = params.get("worklist")
    if worklist:
        qs = worklist_filter(qs, worklist)
    return qs


def worklist_filter(qs: QuerySet[RecruitmentCase], worklist: str, today: dt.date | None = None) -> QuerySet:
    """``due_this_month``: something falls due by the end of this month; ``overdue``: a deadline has passed.

    Deadlines (发展党员工作细则): the talk a month after the application (细则 第七条), the yearly activist
    period (第十三条, due), the approval 3 months after the general meeting (第二十四条), the end of the
    probation (第三十一条).
    """
    from rest_framework.exceptions import ValidationError

    today = today or timezone.localdate()
    month_end = add_months(today.replace(day=1), 1) - dt.timedelta(days=1)
    talk_pending = Q(status=CaseStatus.ACTIVE, last_step=1)
    approval_pending = Q(status=CaseStatus.ACTIVE, last_step__in=(15, 16))
    on_probation = Q(status=CaseStatus.ADMITTED, probation_end__isnull=False)
    if worklist == "overdue":
        return qs.filter(
            (talk_pending & Q(application_date__lt=add_months(today, -1)))
            | (approval_pending & Q(last_step_date__lt=add_months(today, -3)))
            | (on_probation & Q(probation_end__lt=add_months(today, -1)))
        )
    if worklist == "due_this_month":
        return qs.filter(
            (talk_pending & Q(application_date__lte=add_months(month_end, -1)))
            | (Q(status=CaseStatus.ACTIVE, stage=2, activist_date__lte=add_months(month_end, -12)))
            | (approval_pending & Q(last_step_date__lte=add_months(month_end, -3)))
            | (on_probation & Q(probation_end__lte=month_end))
        )
    raise ValidationError({"worklist": [_("Unknown worklist.")]})


def stage_counts(qs: QuerySet[RecruitmentCase]) -> dict[int, int]:
    """Open cases per stage (the worklist tabs)."""
    rows = (
        qs.filter(status__in=(CaseStatus.ACTIVE, CaseStatus.ADMITTED)).values("stage").annotate(n=Count("id"))
    )
    counts = dict.fromkeys(range(1, 6), 0)
    counts.update({r["stage"]: r["n"] for r in rows})
    return counts


def funnel(qs: QuerySet[RecruitmentCase], year: int) -> list[dict[str, Any]]:
    """The year's funnel: applicants → activists → candidates → probationary → full, by the step dates."""
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    steps = CaseStep.objects.filter(case__in=qs, date__gte=start, date__lte=end)
    counted = dict(
        steps.filter(
            Q(step=1)
            | Q(step=3)
            | Q(step=7)
            | Q(step=17, outcome="approved")
            | Q(step=24, outcome="approved", fields__motion="full")
        )
        .values_list("step")
        .annotate(n=Count("case", distinct=True))
    )
    labels = [
        (1, _("Applicants")),
        (3, _("Activists")),
        (7, _("Candidates")),
        (17, _("Probationary members")),
        (24, _("Full members")),
    ]
    return [{"step": step, "label": label, "count": counted.get(step, 0)} for step, label in labels]


def vote_defaults(case: RecruitmentCase, on: dt.date | None = None) -> dict[str, int]:
    """Suggested counts for a general-meeting vote: the branch's voting members on ``on``.

    One definition for every vote (members.selectors.voting_members): full members whose relation is
    with the branch (not flowing members hosted there), not probationary (党章 第七条), not under 留党察看
    without restored rights (党章 第三十九条).
    """
    return member_selectors.vote_counts_expected(case.org_id, on)


def visible_orgs(actor: Any) -> QuerySet[Organization]:
    return Organization.objects.restrict(actor, "view")
