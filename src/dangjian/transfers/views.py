"""Pages of relation transfers: the four worklists, the transfer form, the detail with its timeline and
actions, the printable introduction letter, and flowing members. Thin: selectors read, services write."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.http import require_POST

from dangjian.core.scoping import can, orgs_with
from dangjian.members.choices import CURRENT_STATUSES
from dangjian.members.models import Member
from dangjian.orgs.models import BRANCH_TYPES, Organization, OrgStatus
from dangjian.transfers import rules, selectors, services
from dangjian.transfers.models import (
    OPEN_STATUSES,
    FlowCertificate,
    StatusProposal,
    Transfer,
    TransferKind,
    TransferStatus,
)
from dangjian.transfers.rules import RuleViolationError

TABS = (
    ("todo", _l("To do")),
    ("pending", _l("Not finished")),
    ("coming", _l("Coming up")),
    ("history", _l("Approval history")),
)


def _error_text(exc: Exception) -> str:
    if isinstance(exc, RuleViolationError):
        return f"{exc.violation.message}（{exc.violation.rule_ref}）"
    if isinstance(exc, ValidationError):
        return "；".join(exc.messages)
    return str(exc)


@login_required
def transfer_list(request: HttpRequest) -> HttpResponse:
    tab = request.GET.get("tab", "todo")
    if tab not in selectors.WORKLISTS:
        tab = "todo"
    lists = selectors.worklists(request.user)
    counts = lists.counts()
    rows = getattr(lists, tab)[:200]
    context: dict[str, Any] = {
        "tabs": [{"key": k, "label": label, "count": counts[k], "active": k == tab} for k, label in TABS],
        "tab": tab,
        "rows": rows,
        "proposals": lists.proposals if tab == "todo" else [],
        "flowing_due": lists.flowing_due if tab == "coming" else [],
        "overdue_approvals": lists.overdue_approvals,
        "expiring_letters": lists.expiring_letters,
        "can_add": can(request.user, "change"),
        "today": timezone.localdate(),
    }
    return render(request, "transfers/list.html", context)


def _members_for(user: Any) -> Any:
    return (
        Member.objects.restrict(user, "change")
        .filter(status__in=CURRENT_STATUSES)
        .order_by("org_path", "name")
    )


@login_required
def transfer_create(request: HttpRequest) -> HttpResponse:
    if not can(request.user, "change"):
        raise PermissionDenied
    query = request.GET.get("q", "")
    data = request.POST if request.method == "POST" else request.GET
    error = ""
    if request.method == "POST":
        member = _members_for(request.user).filter(pk=data.get("member") or 0).first()
        to_org = None
        if data.get("to_org"):
            to_org = Organization.objects.filter(
                pk=data["to_org"], status=OrgStatus.ACTIVE, org_type__in=BRANCH_TYPES
            ).first()
        try:
            if member is None:
                raise ValidationError(_("Choose a member of an organisation you manage."))
            transfer = services.transfer_create(
                actor=request.user,
                member=member,
                kind=data.get("kind", ""),
                reason=data.get("reason", ""),
                to_org=to_org,
                outside_org_name=data.get("outside_org_name", ""),
                outside_org_address=data.get("outside_org_address", ""),
                dues_paid_until=data.get("dues_paid_until", ""),
                send=bool(data.get("send")),
            )
        except (ValidationError, RuleViolationError, PermissionDenied) as exc:
            error = _error_text(exc)
        else:
            messages.success(request, _("Transfer %(number)s created.") % {"number": transfer.letter_number})
            return redirect("transfers:detail", transfer.pk)
    context = {
        "members": _members_for(request.user)[:500],
        "kinds": TransferKind.choices,
        "query": query,
        "found": selectors.foreign_org_search(query) if query else [],
        "data": data,
        "error": error,
    }
    return render(request, "transfers/form.html", context, status=400 if error else 200)


def _visible(request: HttpRequest, pk: int) -> Transfer:
    return get_object_or_404(selectors.transfers_for(request.user), pk=pk)


def _actions(user: Any, t: Transfer) -> list[str]:
    sender = t.from_org or t.to_org
    receiver = t.to_org or t.from_org
    found = []
    if t.status in (TransferStatus.DRAFT, TransferStatus.RETURNED) and can(user, "change", sender):
        found.append("send")
    if t.status in OPEN_STATUSES and can(user, "change", receiver):
        found += ["accept", "return"] + (["hold"] if t.status == TransferStatus.SENT else [])
    if t.status not in (TransferStatus.ACCEPTED, TransferStatus.CANCELLED, TransferStatus.EXPIRED) and can(
        user, "change", sender
    ):
        found.append("cancel")
    return found


@login_required
def transfer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    t = _visible(request, pk)
    return render(
        request,
        "transfers/detail.html",
        {"t": t, "events": t.events.select_related("actor"), "actions": _actions(request.user, t)},
    )


_ACTIONS = {
    "send": (services.transfer_send, False),
    "accept": (services.transfer_accept, False),
    "return": (services.transfer_return, True),
    "hold": (services.transfer_hold, True),
    "cancel": (services.transfer_cancel, False),
}


@login_required
@require_POST
def transfer_act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    t = _visible(request, pk)
    if action not in _ACTIONS:
        raise PermissionDenied
    func, needs_reason = _ACTIONS[action]
    kwargs: dict[str, Any] = {}
    if needs_reason or action == "cancel":
        kwargs["reason"] = request.POST.get("reason", "")
    try:
        func(actor=request.user, transfer=t, **kwargs)
    except (ValidationError, RuleViolationError, PermissionDenied) as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, _("Done."))
    if action == "accept" and not selectors.transfers_for(request.user).filter(pk=pk).exists():
        return redirect("transfers:list")
    return redirect("transfers:detail", pk)


@login_required
def transfer_letter(request: HttpRequest, pk: int) -> HttpResponse:
    """The introduction letter (介绍信) with its return slip (回执), on one A4 page for printing."""
    t = _visible(request, pk)
    if t.issued_on is None:
        raise PermissionDenied
    days = (t.valid_until - t.issued_on).days if t.valid_until else None
    return render(request, "transfers/letter.html", {"t": t, "member": t.member, "validity_days": days})


@login_required
def flowing_list(request: HttpRequest) -> HttpResponse:
    certs = FlowCertificate.objects.restrict(request.user, "view").select_related(
        "member", "home_org", "host_org"
    )
    today = timezone.localdate()
    rows = []
    for c in certs[:300]:
        due = rules.fixed_place_due(c.start, rules.rule_for(today, c.home_org))
        rows.append({"c": c, "due": due, "overdue": c.fixed_place and c.status == "active" and due <= today})
    proposals = StatusProposal.objects.restrict(request.user, "view").select_related("member", "org")[:100]
    return render(
        request,
        "transfers/flowing.html",
        {"rows": rows, "proposals": proposals, "tops": orgs_with(request.user, "change"), "today": today},
    )


@login_required
@require_POST
def proposal_decide(request: HttpRequest, pk: int) -> HttpResponse:
    proposal = get_object_or_404(StatusProposal.objects.restrict(request.user, "change"), pk=pk)
    try:
        services.status_proposal_decide(
            actor=request.user,
            proposal=proposal,
            confirm=request.POST.get("decision") == "confirm",
            date=dt.date.today(),
            note=request.POST.get("note", ""),
        )
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, _("Done."))
    return redirect(f"{reverse('transfers:list')}?tab=todo")
