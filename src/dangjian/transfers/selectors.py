"""Reads of transfers: the four worklists of the national system, per org subtree, and their counts.

- 待办 (todo): incoming transfers to accept / return / hold (the receiving side in scope; a letter out
  of the platform waits for its return slip at the sender), drafts and returned transfers to send again,
  and proposals to confirm.
- 未办结 (pending): sent by us (the sending side in scope) and not yet accepted.
- 即将办理 (coming up): open letters expiring within the window; flowing members near 6 months at a
  fixed place.
- 审批记录 (history): decided transfers, newest first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Max, Q, QuerySet
from django.utils import timezone

from dangjian.core.scoping import path_prefix_q, scope_q
from dangjian.orgs.models import Organization
from dangjian.transfers import rules
from dangjian.transfers.models import (
    CLOSED_STATUSES,
    OPEN_STATUSES,
    FlowCertificate,
    FlowStatus,
    ProposalStatus,
    StatusProposal,
    Transfer,
    TransferKind,
    TransferStatus,
)

WORKLISTS = ("todo", "pending", "coming", "history")


def transfers_for(user: Any, org: Organization | None = None) -> QuerySet[Transfer]:
    qs = Transfer.objects.restrict(user, "view").select_related("member", "from_org", "to_org")
    if org is not None:
        qs = qs.filter(path_prefix_q("from_org_path", org.path) | path_prefix_q("to_org_path", org.path))
    return qs


def _side_q(user: Any, field: str, action: str = "change", org: Organization | None = None) -> Q:
    """Rows whose ``field`` path is in the user's scope for ``action`` (one side of a transfer)."""

    class _Side:
        scope_path_field = field

    q = scope_q(_Side, user, action)  # type: ignore[arg-type]
    q = Q() if q is None else q
    if org is not None:
        q &= path_prefix_q(field, org.path)
    return q & ~Q(**{field: ""})


def _receiver_q(user: Any, org: Organization | None) -> Q:
    incoming = _side_q(user, "to_org_path", org=org) & Q(status__in=OPEN_STATUSES)
    # Out of the platform: the sender records the return slip.
    slips = _side_q(user, "from_org_path", org=org) & Q(kind=TransferKind.OUT, status__in=OPEN_STATUSES)
    return incoming | slips


@dataclass
class Worklists:
    todo: QuerySet[Transfer]
    pending: QuerySet[Transfer]
    coming: QuerySet[Transfer]
    history: QuerySet[Transfer]
    proposals: QuerySet[StatusProposal]
    flowing_due: list[FlowCertificate]
    overdue_approvals: int
    expiring_letters: int

    def counts(self) -> dict[str, int]:
        return {
            "todo": self.todo.count() + self.proposals.count(),
            "pending": self.pending.count(),
            "coming": self.coming.count() + len(self.flowing_due),
            "history": self.history.count(),
        }


def worklists(user: Any, org: Organization | None = None, on: dt.date | None = None) -> Worklists:
    on = on or timezone.localdate()
    r = rules.rule_for(on, org)
    base = transfers_for(user, org)
    todo = base.filter(
        _receiver_q(user, org)
        | (
            _side_q(user, "from_org_path", org=org)
            & Q(status__in=(TransferStatus.DRAFT, TransferStatus.RETURNED))
        )
    ).order_by("valid_until", "id")
    pending = base.filter(
        _side_q(user, "from_org_path", org=org), status__in=OPEN_STATUSES, kind=TransferKind.WITHIN
    ).order_by("valid_until", "id")
    coming = base.filter(
        status__in=OPEN_STATUSES,
        valid_until__gte=on,
        valid_until__lte=on + dt.timedelta(days=int(r["coming_up_days"])),
    ).order_by("valid_until", "id")
    history = base.filter(status__in=CLOSED_STATUSES).order_by("-decided_at", "-updated_at", "-id")
    proposals = StatusProposal.objects.restrict(user, "change").filter(status=ProposalStatus.PROPOSED)
    if org is not None:
        proposals = proposals.filter(path_prefix_q("org_path", org.path))
    overdue_before = on - dt.timedelta(days=int(r["receive_within_days"]))
    overdue = todo.filter(status__in=OPEN_STATUSES, sent_at__date__lt=overdue_before).count()
    expiring = base.filter(
        status__in=OPEN_STATUSES,
        valid_until__gte=on,
        valid_until__lte=on + dt.timedelta(days=int(r["expiring_alert_days"])),
    ).count()
    return Worklists(
        todo=todo,
        pending=pending,
        coming=coming,
        history=history,
        proposals=proposals.select_related("member", "org"),
        flowing_due=flowing_near_fixed_place(user, org, on, window_days=int(r["coming_up_days"])),
        overdue_approvals=overdue,
        expiring_letters=expiring,
    )


def flowing_near_fixed_place(
    user: Any, org: Organization | None, on: dt.date, window_days: int
) -> list[FlowCertificate]:
    """Active certificates at a fixed place whose 6 months fall within the window (or have passed)."""
    qs = FlowCertificate.objects.restrict(user, "view").filter(status=FlowStatus.ACTIVE, fixed_place=True)
    if org is not None:
        qs = qs.filter(path_prefix_q("home_org_path", org.path) | path_prefix_q("host_org_path", org.path))
    result = []
    for cert in qs.select_related("member", "home_org", "host_org").order_by("start", "id"):
        due = rules.fixed_place_due(cert.start, rules.rule_for(on, cert.home_org))
        if due <= on + dt.timedelta(days=window_days):
            cert.transfer_due = due  # type: ignore[attr-defined]
            result.append(cert)
    return result


def foreign_org_search(query: str, limit: int = 20) -> list[dict[str, Any]]:
    """Active organisations of the whole platform by name or code: a transfer may go anywhere. Only the
    name and code are shown (the receiving org may be outside the sender's scope)."""
    from dangjian.orgs.models import BRANCH_TYPES, OrgStatus

    query = query.strip()
    if not query:
        return []
    qs = Organization.objects.filter(status=OrgStatus.ACTIVE, org_type__in=BRANCH_TYPES).filter(
        Q(name__icontains=query) | Q(code__iexact=query)
    )
    return [{"id": o.pk, "name": o.name, "code": o.code} for o in qs.order_by("path")[:limit]]


FLOW_SIDES = ("home", "host")


def flow_certificates_for(user: Any, status: str = "", side: str = "") -> QuerySet[FlowCertificate]:
    """Flow certificates the user sees: those of the home branches in scope, and those hosted by an org in
    scope (the host path). ``side`` keeps one of the two: ``home`` (members of the scope away elsewhere,
    the ones the statistics count as 流动党员) or ``host`` (members of elsewhere hosted in the scope).
    Each row carries ``last_report``, the date of its latest yearly report."""
    qs = (
        FlowCertificate.objects.restrict(user, "view")
        .select_related("member", "home_org", "host_org")
        .annotate(last_report=Max("reports__date"))
    )
    if status:
        qs = qs.filter(status=status)
    if side in FLOW_SIDES:
        qs = qs.filter(_side_q(user, f"{side}_org_path", action="view"))
    return qs.order_by("status", "-start", "-id")
