"""Reads of the organisation tree: scoped lists, subtree statistics, structure flags, committees."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db.models import Count, Q
from django.utils.translation import gettext as _

from dangjian.core import rulebook
from dangjian.core.scoping import is_system_admin, orgs_with, path_prefix_q
from dangjian.orgs import rules
from dangjian.orgs.models import CommitteePosition, CommitteeTerm, Organization, OrgStatus, OrgType

_UNSET = object()
# Positions of a branch without a committee (支部工作条例 第十条: a secretary, optionally a deputy).
OFFICER_TITLES = frozenset({CommitteePosition.Title.SECRETARY, CommitteePosition.Title.DEPUTY_SECRETARY})


def parent_id(org: Organization) -> int | None:
    cached = getattr(org, "_parent_id", _UNSET)
    if cached is not _UNSET:
        return cached  # type: ignore[return-value]
    if org.depth <= 1:
        return None
    parent_path = org.path[: -Organization.steplen]
    return Organization.objects.filter(path=parent_path).values_list("pk", flat=True).first()


def attach_parents(orgs: Iterable[Organization]) -> list[Organization]:
    """Set each org's parent id with one query (for list pages and endpoints)."""
    orgs = list(orgs)
    paths = {o.path[: -Organization.steplen] for o in orgs if o.depth > 1}
    ids = dict(Organization.objects.filter(path__in=paths).values_list("path", "pk")) if paths else {}
    for o in orgs:
        o._parent_id = ids.get(o.path[: -Organization.steplen]) if o.depth > 1 else None
    return orgs


def top_orgs_for(actor: Any) -> list[Organization]:
    """The roots of the subtrees the user may see, for the tree browser."""
    if is_system_admin(actor):
        return list(Organization.objects.get_root_nodes())
    tops = orgs_with(actor, "view")
    if not tops:  # members: their own branch; residents see no organisation (scope_self_q), so none
        visible = Organization.objects.restrict(actor, "view")
        orgs = {ra.org for ra in actor.role_assignments.filter(active=True).select_related("org")}
        allowed = set(visible.filter(pk__in=[o.pk for o in orgs]).values_list("pk", flat=True))
        tops = sorted((o for o in orgs if o.pk in allowed), key=lambda o: o.path)
    return tops


def ancestors(org: Organization) -> list[Organization]:
    paths = [org.path[: i * Organization.steplen] for i in range(1, org.depth)]
    return list(Organization.objects.filter(path__in=paths).order_by("depth")) if paths else []


def org_stats(org: Organization, today: dt.date | None = None) -> dict[str, Any]:
    """Aggregates over the whole subtree (党内统计公报: members counted through their relation)."""
    from dangjian.members.selectors import subtree_member_stats

    group_id = org.pk if org.org_type == OrgType.GROUP else None
    stats = subtree_member_stats(org.path, today=today, group_id=group_id)
    orgs = Organization.objects.filter(path_prefix_q("path", org.path), status=OrgStatus.ACTIVE)
    stats["orgs_by_type"] = {
        r["org_type"]: r["n"] for r in orgs.values("org_type").annotate(n=Count("id")).order_by()
    }
    stats["orgs_by_sector"] = {
        r["sector"]: r["n"] for r in orgs.values("sector").annotate(n=Count("id")).order_by()
    }
    stats["orgs"] = sum(stats["orgs_by_type"].values())
    stats["org"] = {"id": org.pk, "name": org.name, "code": org.code}
    return stats


def current_term(org: Organization) -> CommitteeTerm | None:
    return (
        CommitteeTerm.objects.filter(org=org, end_date__isnull=True)
        .prefetch_related("positions__member")
        .order_by("-start_date")
        .first()
    )


def committee_summary(org: Organization, today: dt.date | None = None) -> dict[str, Any] | None:
    term = current_term(org)
    if term is None:
        return None
    return {
        "term": term.pk,
        "start_date": term.start_date,
        "term_years": term.term_years,
        "planned_end": term.planned_end,
        "days_left": term.days_left(today),
        "rule": term.rule_ref,
        "rule_label": rules.rule_label(term.rule_ref),
        "positions": [
            {
                "title": p.title,
                "title_display": p.get_title_display(),
                "member": p.member_id,
                "name": p.member.name,
            }
            for p in term.positions.all()
            if p.end_date is None
        ],
    }


def secretary_of(org: Organization) -> Any | None:
    """The member holding the secretary position of the org's current committee, if any."""
    pos = (
        CommitteePosition.objects.filter(
            term__org=org,
            term__end_date__isnull=True,
            end_date__isnull=True,
            title=CommitteePosition.Title.SECRETARY,
        )
        .select_related("member")
        .first()
    )
    return pos.member if pos else None


def org_flags(org: Organization, today: dt.date | None = None) -> list[rules.Flag]:
    from dangjian.members.choices import CURRENT_STATUSES, MemberStatus
    from dangjian.members.models import Member

    counts = Member.objects.filter(
        path_prefix_q("org_path", org.path), status__in=CURRENT_STATUSES
    ).aggregate(members=Count("id"), full=Count("id", filter=Q(status=MemberStatus.FULL)))
    term = current_term(org)
    titles = [p.title for p in term.positions.all() if p.end_date is None] if term else []
    size = len(titles)
    flags = rules.structure_flags(
        org_type=org.org_type,
        members=counts["members"],
        full_members=counts["full"],
        has_committee=term is not None and size > 1,
        committee_size=size,
        officers_only=set(titles) <= OFFICER_TITLES,
        on=today,
        org=org,
    )
    if term is not None:
        warn = rulebook.rule("org.terms", on=today, org=org)["warn_days_before_end"]
        left = term.days_left(today)
        if left < 0:
            flags.append(
                rules.Flag(
                    "term_overdue",
                    _("The committee's term ended %(n)d days ago: hold the reelection.") % {"n": -left},
                    term.rule_ref,
                )
            )
        elif left <= warn:
            flags.append(
                rules.Flag(
                    "term_ending",
                    _("The committee's term ends in %(n)d days: prepare the reelection.") % {"n": left},
                    term.rule_ref,
                )
            )
    return flags
