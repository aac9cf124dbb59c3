"""Reads for the home dashboard: totals, structure flags and committee terms over the user's scope.

Everything is computed in a fixed number of queries whatever the size of the scope: member counts are
grouped by branch path once and rolled up the tree in Python, current committee terms are read once.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone

from dangjian.core import rulebook
from dangjian.core.alerts import matter_summary
from dangjian.core.models import RuleOverride
from dangjian.core.scoping import is_system_admin, path_prefix_q
from dangjian.core.selectors import alerts_for
from dangjian.orgs import rules
from dangjian.orgs.models import CommitteeTerm, Organization, OrgEvent, OrgStatus
from dangjian.orgs.selectors import OFFICER_TITLES, org_stats, top_orgs_for


@dataclass(frozen=True)
class OrgFinding:
    """A structure flag raised on one organisation of the user's scope."""

    org: Organization
    flag: rules.Flag


@dataclass(frozen=True)
class TermDue:
    """A current committee term that ends soon (or has already run out)."""

    org: Organization
    term: CommitteeTerm
    days_left: int

    @property
    def overdue_days(self) -> int:
        return max(0, -self.days_left)


def _sum_stats(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Add the subtree statistics of several disjoint subtrees (a user may hold roles on several)."""
    if len(parts) == 1:
        return parts[0]
    total: dict[str, Any] = {"members": 0, "orgs": 0, "flowing": 0}
    counters: dict[str, Counter] = {}
    weighted = Counter()
    for part in parts:
        for key in ("members", "orgs", "flowing"):
            total[key] += part.get(key, 0)
        for key in ("by_status", "by_gender", "orgs_by_type", "orgs_by_sector", "by_education", "by_age"):
            counters.setdefault(key, Counter()).update(part.get(key, {}))
        for key in ("minority_pct", "higher_education_pct"):
            weighted[key] += part[key] * part["members"]
    total.update({k: dict(v) for k, v in counters.items()})
    n = total["members"]
    female = total.get("by_gender", {}).get("female", 0)
    total["female_pct"] = round(female * 100 / n, 1) if n else 0.0
    for key in ("minority_pct", "higher_education_pct"):
        total[key] = round(weighted[key] / n, 1) if n else 0.0
    return total


def _scope_q(tops: list[Organization], prefix: str = "") -> Q | None:
    """A Q selecting rows under any of the top orgs (None when the scope is the whole tree)."""
    if not tops:
        return Q(pk__in=[])
    q = Q()
    for top in tops:
        q |= path_prefix_q(f"{prefix}path", top.path)
    return q


def dashboard(user: Any, today: dt.date | None = None) -> dict[str, Any]:
    """What the home page shows for the user's part of the tree."""
    from dangjian.members.choices import CURRENT_STATUSES, MemberStatus
    from dangjian.members.models import Member

    today = today or timezone.localdate()
    admin = is_system_admin(user)
    tops = top_orgs_for(user)
    if not tops:
        return {"tops": [], "stats": None}
    stats = _sum_stats([org_stats(top, today=today) for top in tops])

    org_q = None if admin else _scope_q(tops)
    orgs_qs = Organization.objects.filter(status=OrgStatus.ACTIVE)
    if org_q is not None:
        orgs_qs = orgs_qs.filter(org_q)
    orgs = list(orgs_qs.only("id", "path", "depth", "name", "short_name", "org_type", "sector"))

    # Current members per branch path, rolled up to every ancestor (members count through their relation).
    member_q = None if admin else _scope_q(tops, "org_")
    members = Member.objects.filter(status__in=CURRENT_STATUSES)
    if member_q is not None:
        members = members.filter(member_q)
    counts: Counter = Counter()
    full_counts: Counter = Counter()
    for row in (
        members.values("org_path")
        .annotate(n=Count("id"), full=Count("id", filter=Q(status=MemberStatus.FULL)))
        .order_by()
    ):
        path = row["org_path"]
        for depth in range(1, len(path) // Organization.steplen + 1):
            prefix = path[: depth * Organization.steplen]
            counts[prefix] += row["n"]
            full_counts[prefix] += row["full"]

    terms = {
        t.org_id: t
        for t in CommitteeTerm.objects.filter(end_date__isnull=True, org__in=[o.pk for o in orgs])
        .annotate(
            size=Count("positions", filter=Q(positions__end_date__isnull=True)),
            others=Count(
                "positions",
                filter=Q(positions__end_date__isnull=True) & ~Q(positions__title__in=OFFICER_TITLES),
            ),
        )
        .order_by("org_id", "-start_date")
    }
    # Local rule overrides are rare: look them up per organisation only when any exist.
    has_overrides = RuleOverride.objects.filter(key__in=["org.structure", "org.terms"]).exists()
    findings: list[OrgFinding] = []
    due: list[TermDue] = []
    warn = rulebook.rule("org.terms", on=today)["warn_days_before_end"]
    for org in orgs:
        term = terms.get(org.pk)
        size = getattr(term, "size", 0) if term else 0
        for flag in rules.structure_flags(
            org_type=org.org_type,
            members=counts[org.path],
            full_members=full_counts[org.path],
            has_committee=term is not None and size > 1,
            committee_size=size,
            officers_only=not getattr(term, "others", 0),
            on=today,
            org=org if has_overrides else None,
        ):
            findings.append(OrgFinding(org, flag))
        if term is not None:
            left = term.days_left(today)
            if left <= warn:
                due.append(TermDue(org, term, left))
    due.sort(key=lambda d: d.days_left)

    events = OrgEvent.objects.select_related("org", "actor").order_by("-recorded_at", "-id")
    if org_q is not None:
        events = events.filter(_scope_q(tops, "org__"))
    return {
        "tops": tops,
        "stats": stats,
        "branches": sum(1 for o in orgs if o.is_branch),
        "findings": findings,
        "terms_due": due,
        "events": list(events[:8]),
        "warn_days": warn,
        # Open alerts of the whole scope by severity, and the ten most urgent (core/alerts.py); a matter
        # raised for several organisations of the scope (both sides of a transfer) counts once.
        "alerts": matter_summary(alerts_for(user)),
    }
