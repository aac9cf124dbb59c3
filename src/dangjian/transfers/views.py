"""Pages of relation transfers: the four worklists, the transfer form, the detail with its timeline and
actions, the printable introduction letter, and flowing members. Thin: selectors read, services write."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.http import require_POST

from dangjian.core.scoping import can, orgs_with
from dangjian.members.choices import CURRENT_STATUSES
from dangjian.members.models import Member
from dangjian.orgs.models import BRANCH_TYPES, Organization, OrgStatus
from dangjian.transfers import forms, letters, rules, selectors, services
from dangjian.transfers.models import (
    OPEN_STATUSES,
    FlowCertificate,
    FlowStatus,
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
def transfer_letter_docx(request: HttpRequest, pk: int) -> FileResponse:
    """The same letter as a Word document (the ID number stays masked, as on the print page)."""
    t = _visible(request, pk)
    if t.issued_on is None:
        raise PermissionDenied
    data = letters.letter_docx(t)
    return FileResponse(
        io.BytesIO(data),
        as_attachment=True,
        filename=f"介绍信-{t.letter_number}.docx",
        content_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    )


def _flow_row(user: Any, c: FlowCertificate, today: dt.date, r: Any = None) -> dict[str, Any]:
    """One certificate as the user may see it. A viewer only on the host side (the host org's secretary)
    sees the member's name and branch, not the certificate's details or reports (``home`` is False)."""
    r = r or rules.rule_for(today, c.home_org)
    active = c.status == FlowStatus.ACTIVE
    due = rules.fixed_place_due(c.start, r)
    report_due = rules.flow_report_due(c.start, c.last_report, r)  # type: ignore[attr-defined]
    return {
        "c": c,
        "home": can(user, "view", c.home_org),
        "due": due,
        "overdue": c.fixed_place and active and due <= today,
        "report_due": report_due,
        "report_overdue": active and report_due < today,
        "can_manage": active and can(user, "change", c.home_org),
        "can_report": active and any(can(user, "change", o) for o in (c.home_org, c.host_org) if o),
    }


FLOW_FILTERS = (("active", _l("Active")), ("ended", _l("Ended")), ("all", _l("All")))
FLOW_SIDE_FILTERS = (
    ("", _l("Both sides")),
    ("home", _l("Flowing out from here")),
    ("host", _l("Hosted here")),
)


@login_required
def flowing_list(request: HttpRequest) -> HttpResponse:
    """流动党员: the certificates of the home branches in scope, and the members hosted by an org in scope.

    The active certificates are the one record of who is flowing: ``?side=home`` lists exactly the
    members the home page and the statistics count as 流动党员."""
    status = request.GET.get("status", "active")
    if status not in {k for k, _label in FLOW_FILTERS}:
        status = "active"
    side = request.GET.get("side", "")
    if side not in selectors.FLOW_SIDES:
        side = ""
    today = timezone.localdate()
    certs = selectors.flow_certificates_for(request.user, "" if status == "all" else status, side)
    certs = list(certs[:300])
    by_org = rules.rules_for_orgs(today, [c.home_org for c in certs])
    rows = [_flow_row(request.user, c, today, by_org[c.home_org_id]) for c in certs]
    proposals = StatusProposal.objects.restrict(request.user, "view").select_related("member", "org")[:100]
    return render(
        request,
        "transfers/flowing.html",
        {
            "rows": rows,
            "filters": [
                {
                    "query": urlencode({"status": k, **({"side": side} if side else {})}),
                    "label": label,
                    "active": k == status,
                }
                for k, label in FLOW_FILTERS
            ],  # fmt: skip
            "sides": [
                {
                    "query": urlencode({"status": status, **({"side": k} if k else {})}),
                    "label": label,
                    "active": k == side,
                }
                for k, label in FLOW_SIDE_FILTERS
            ],  # fmt: skip
            "proposals": proposals,
            "tops": orgs_with(request.user, "change"),
            "today": today,
            "can_issue": can(request.user, "change"),
        },
    )


def _hosts(query: str, selected: str | None) -> list[dict[str, Any]]:
    """Active branches of the whole platform matching ``query`` (name and code only), plus the one already
    chosen, so that a form sent back with an error keeps its choice."""
    found = selectors.foreign_org_search(query) if query.strip() else []
    if selected and selected.isdigit() and all(str(h["id"]) != selected for h in found):
        org = Organization.objects.filter(
            pk=int(selected), status=OrgStatus.ACTIVE, org_type__in=BRANCH_TYPES
        ).first()
        if org is not None:
            found.insert(0, {"id": org.pk, "name": org.name, "code": org.code})
    return found


@login_required
def flowing_issue(request: HttpRequest) -> HttpResponse:
    """Issue a flow certificate (活动证). Searching the host keeps everything typed (one form, two buttons)."""
    if not can(request.user, "change"):
        raise PermissionDenied
    data = request.POST if request.method == "POST" else None
    query = (data or request.GET).get("q", "")
    members = list(_members_for(request.user).select_related("org")[:500])
    hosts = _hosts(query, data.get("host_org") if data else None)
    initial = {"start": timezone.localdate(), "fixed_place": True}
    form = forms.FlowIssueForm(data, members=members, hosts=hosts, initial=initial)
    searching = data is not None and data.get("op") == "search"
    if data is not None and not searching and form.is_valid():
        v = form.cleaned_data
        member = next(m for m in members if m.pk == v["member"])
        host = Organization.objects.filter(pk=v["host_org"]).first() if v["host_org"] else None
        try:
            cert = services.flow_certificate_issue(
                actor=request.user,
                member=member,
                start=v["start"],
                end=v["end"],
                host_org=host,
                outside_host_name=v["outside_host_name"],
                place=v["place"],
                fixed_place=v["fixed_place"],
            )
        except (ValidationError, PermissionDenied) as exc:
            forms.add_service_error(form, exc)
        else:
            messages.success(request, _("Flow certificate %(number)s issued.") % {"number": cert.number})
            return redirect("transfers:flowing_detail", cert.pk)
    if searching:
        form.errors.clear()  # a search is not a submission: no "required" errors yet
    failed = data is not None and not searching
    return render(
        request,
        "transfers/flowing_form.html",
        {"form": form, "query": query, "hosts": hosts, "searched": bool(query.strip())},
        status=400 if failed else 200,
    )


_FLOW_OPS = {
    "renew": forms.FlowRenewForm,
    "end": forms.FlowEndForm,
    "report": forms.FlowReportForm,
}


@login_required
def flowing_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One certificate: its details and reports, and the forms to renew, end it and record a report.

    A form sent back with an error is shown again with what was typed and the error beside the field."""
    today = timezone.localdate()
    cert = get_object_or_404(selectors.flow_certificates_for(request.user), pk=pk)
    row = _flow_row(request.user, cert, today)
    bound: dict[str, Any] = {}
    if request.method == "POST":
        op = request.POST.get("op", "")
        allowed = row["can_report"] if op == "report" else row["can_manage"]
        if op not in _FLOW_OPS or not allowed:
            raise PermissionDenied
        form = _FLOW_OPS[op](request.POST)
        bound[op] = form
        if form.is_valid():
            v = form.cleaned_data
            try:
                if op == "renew":
                    services.flow_certificate_renew(actor=request.user, certificate=cert, end=v["end"])
                elif op == "end":
                    services.flow_certificate_end(
                        actor=request.user, certificate=cert, date=v["date"], reason=v["reason"]
                    )
                else:
                    services.flow_report_add(
                        actor=request.user, certificate=cert, date=v["date"], summary=v["summary"]
                    )
            except (ValidationError, PermissionDenied) as exc:
                forms.add_service_error(form, exc)
            else:
                messages.success(request, _("Done."))
                return redirect("transfers:flowing_detail", cert.pk)
    context = {
        "row": row,
        "c": cert,
        "reports": cert.reports.select_related("actor") if row["home"] else [],
        "renew_form": bound.get("renew") or forms.FlowRenewForm(initial={"end": cert.end}),
        "end_form": bound.get("end") or forms.FlowEndForm(initial={"date": today}),
        "report_form": bound.get("report") or forms.FlowReportForm(initial={"date": today}),
        "open_form": next(iter(bound), ""),
    }
    return render(request, "transfers/flowing_detail.html", context, status=400 if bound else 200)


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
