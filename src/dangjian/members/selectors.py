"""Reads of the member register: scoped querysets, filters and subtree statistics."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Q, QuerySet

from dangjian.core.scoping import path_prefix_q
from dangjian.members.choices import CURRENT_STATUSES, HAN, HIGHER_EDUCATION, MemberStatus
from dangjian.members.models import Member

AGE_BANDS = [(0, 30), (31, 35), (36, 45), (46, 55), (56, 60), (61, 70), (71, 200)]
STANDING_BANDS = [(0, 5), (6, 10), (11, 20), (21, 30), (31, 40), (41, 50), (51, 200)]


def current_member_count(org: Any) -> int:
    return Member.objects.in_subtree(org).current().count()


def members_for(actor: Any, action: str = "view") -> QuerySet[Member]:
    return Member.objects.restrict(actor, action).select_related("org", "group")


def member_filter(
    qs: QuerySet[Member], params: dict[str, Any], visible_orgs: QuerySet | None = None
) -> QuerySet[Member]:
    """Apply the member-list filters shared by the page, the API and the export.

    ``org`` (id) with ``descendants`` (default true: the whole subtree), ``status``, ``gender``,
    ``education``, ``age_min``/``age_max``, ``join_year``, ``q`` (name, masked ID, work unit).
    """
    from dangjian.orgs.models import Organization

    org_id = params.get("org")
    if org_id not in (None, ""):
        orgs = visible_orgs if visible_orgs is not None else Organization.objects.all()
        org = orgs.filter(pk=org_id).only("path").first() if str(org_id).isdigit() else None
        if org is None:
            return qs.none()
        if str(params.get("descendants", "true")).lower() in ("false", "0", "no"):
            qs = qs.filter(org=org)
        else:
            qs = qs.filter(path_prefix_q("org_path", org.path))
    for key in ("status", "gender", "education", "ethnicity", "occupation", "dues_category"):
        value = params.get(key)
        if value:
            values = [v for v in str(value).split(",") if v]
            qs = qs.filter(**{f"{key}__in": values})
    today = dt.date.today()
    if str(params.get("age_min", "")).isdigit():
        qs = qs.filter(birth_date__lte=_years_before(today, int(params["age_min"])))
    if str(params.get("age_max", "")).isdigit():
        qs = qs.filter(birth_date__gt=_years_before(today, int(params["age_max"]) + 1))
    if str(params.get("join_year", "")).isdigit():
        qs = qs.filter(join_date__year=int(params["join_year"]))
    q = (params.get("q") or "").strip()
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(work_unit__icontains=q) | Q(id_number_masked__startswith=q))
    return qs


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def subtree_member_stats(path: str, today: dt.date | None = None) -> dict[str, Any]:
    """Aggregates over the current members of a subtree (members counted through their relation)."""
    today = today or dt.date.today()
    base = Member.objects.filter(path_prefix_q("org_path", path))
    current = base.filter(status__in=CURRENT_STATUSES)

    by_status = dict.fromkeys(MemberStatus.values, 0)
    for row in base.values("status").annotate(n=Count("id")).order_by():
        by_status[row["status"]] = row["n"]

    aggregates: dict[str, Any] = {
        "total": Count("id"),
        "female": Count("id", filter=Q(gender="female")),
        "minority": Count("id", filter=~Q(ethnicity=HAN)),
        "higher_education": Count("id", filter=Q(education__in=HIGHER_EDUCATION)),
    }
    for lo, hi in AGE_BANDS:
        aggregates[f"age_{lo}_{hi}"] = Count(
            "id",
            filter=Q(birth_date__gt=_years_before(today, hi + 1), birth_date__lte=_years_before(today, lo)),
        )
    for lo, hi in STANDING_BANDS:
        aggregates[f"standing_{lo}_{hi}"] = Count(
            "id",
            filter=Q(full_date__gt=_years_before(today, hi + 1), full_date__lte=_years_before(today, lo)),
        )
    agg = current.aggregate(**aggregates)
    total = agg["total"]

    def pct(n: int) -> float:
        return round(n * 100 / total, 1) if total else 0.0

    by_education = {
        r["education"]: r["n"] for r in current.values("education").annotate(n=Count("id")).order_by()
    }
    by_ethnicity = dict(
        sorted(
            (
                (r["ethnicity"], r["n"])
                for r in current.values("ethnicity").annotate(n=Count("id")).order_by()
            ),
            key=lambda kv: -kv[1],
        )
    )
    return {
        "members": total,
        "by_status": by_status,
        "by_gender": {"male": total - agg["female"], "female": agg["female"]},
        "female_pct": pct(agg["female"]),
        "minority_pct": pct(agg["minority"]),
        "higher_education_pct": pct(agg["higher_education"]),
        "by_age": {f"{lo}-{hi}" if hi < 200 else f"{lo}+": agg[f"age_{lo}_{hi}"] for lo, hi in AGE_BANDS},
        "by_standing": {
            f"{lo}-{hi}" if hi < 200 else f"{lo}+": agg[f"standing_{lo}_{hi}"] for lo, hi in STANDING_BANDS
        },
        "by_education": by_education,
        "by_ethnicity": by_ethnicity,
    }
