"""Pages of the bank-statement import (银行流水导入, under /dues/statements/): upload with a downloadable
sample, the review of one import in four tabs (已匹配 / 待确认 / 未匹配 / 已入账) with counts, fixing a
line (member and months), confirming (one transaction) or discarding.

Thin: ``dues.statements`` reads, matches and books; pages show what it decided and pass on the
treasurer's choices. Imports outside the user's scope answer 404; an auditor sees them without buttons.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dangjian.core.scoping import can, is_system_admin, orgs_with, path_prefix_q
from dangjian.core.spreadsheets import XLSX_CONTENT_TYPE
from dangjian.dues import statements
from dangjian.dues import views as dues_views
from dangjian.dues.models import DuesStatement, DuesStatementLine
from dangjian.orgs.models import Organization

Match = DuesStatementLine.Match
Decision = DuesStatementLine.Decision

TABS = (
    (Match.MATCHED, _l("Matched"), "bi-check2-circle"),
    (Match.AMBIGUOUS, _l("To confirm"), "bi-question-circle"),
    (Match.UNMATCHED, _l("Unmatched"), "bi-x-circle"),
    (Match.DUPLICATE, _l("Already booked"), "bi-journal-check"),
)
STATUS_BADGES = {
    DuesStatement.Status.PENDING: "text-bg-warning",
    DuesStatement.Status.CONFIRMED: "text-bg-success",
    DuesStatement.Status.DISCARDED: "text-bg-secondary",
}
DECISION_BADGES = {
    Decision.PENDING: "text-bg-warning",
    Decision.BOOK: "text-bg-success",
    Decision.IGNORE: "text-bg-light border",
}
MAX_MEMBER_CHOICES = 2000


class UploadForm(forms.Form):
    file = forms.FileField(label=_l("Statement file (.xlsx or .csv)"))


def _require_desk(user: Any) -> None:
    if not (is_system_admin(user) or orgs_with(user, "view")):
        raise PermissionDenied(_("These pages are for party workers. Your own dues are on your dues page."))


def mask_account(account: str) -> str:
    """6222020012345678 → 6222****5678: enough to recognise an account, not to copy it."""
    if len(account) <= 8:
        return account
    return f"{account[:4]}****{account[-4:]}"


def _statements_for(user: Any) -> Any:
    return DuesStatement.objects.restrict(user, "view").select_related("org", "uploaded_by", "confirmed_by")


def _with_counts(qs: Any) -> Any:
    return qs.annotate(
        n_lines=Count("lines"),
        n_matched=Count("lines", filter=Q(lines__match=Match.MATCHED)),
        n_ambiguous=Count("lines", filter=Q(lines__match=Match.AMBIGUOUS)),
        n_unmatched=Count("lines", filter=Q(lines__match=Match.UNMATCHED)),
        n_duplicate=Count("lines", filter=Q(lines__match=Match.DUPLICATE)),
        n_booked=Count("lines", filter=Q(lines__payment__isnull=False)),
    )


def _sections(request: HttpRequest, org: Organization | None) -> list[dict[str, Any]]:
    """The dues section's tabs (dues/views.py), once the dues pages are mounted under /dues/."""
    try:
        return dues_views._sections(request.user, "statements", org)
    except NoReverseMatch:
        return []


def _page_context(request: HttpRequest, org: Organization) -> dict[str, Any]:
    tree = dues_views._org_tree(request.user, org, {})
    return {"sections": _sections(request, org), "org": org, "tree": tree, "show_tree": len(tree) > 1}


@login_required
@require_http_methods(["GET", "POST"])
def statement_list(request: HttpRequest) -> HttpResponse:
    """Upload a statement for the organisation chosen in the tree, and the imports of its subtree."""
    _require_desk(request.user)
    org = dues_views._pick_org(request)
    can_upload = can(request.user, "change", org)
    form = UploadForm(request.POST or None, request.FILES or None)
    status, earlier = 200, None
    if request.method == "POST":
        if not can_upload:
            raise PermissionDenied(_("You may view this but not change it."))
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                statement = statements.statement_import(actor=request.user, org=org, file=upload)
            except ValidationError as exc:
                for message in exc.messages:
                    form.add_error("file", message)
                earlier = _earlier_import(request, org, upload)
            else:
                summary = statements.statement_summary(statement)
                messages.success(
                    request,
                    _(
                        "Read %(lines)s lines: %(matched)s matched, %(todo)s to decide. Check them and confirm."
                    )
                    % {
                        "lines": summary["lines"],
                        "matched": summary["matched"],
                        "todo": summary["to_decide"],
                    },
                )
                return redirect("dues_statements:detail", statement.pk)
        status = 400
    recent = list(
        _with_counts(_statements_for(request.user).filter(path_prefix_q("org_path", org.path)))[:30]
    )
    for s in recent:
        s.badge = STATUS_BADGES[s.status]
    context = {
        **_page_context(request, org),
        "form": form,
        "can_upload": can_upload,
        "earlier": earlier,
        "recent": recent,
        "columns": [
            (_("Date"), "交易日期 · 记账日期 · 日期 · 交易时间"),
            (_("Amount"), "金额 · 交易金额 · 贷方金额 · 收入金额（支出金额 / 借贷标志 / 收支）"),
            (_("Payer"), "对方户名 · 付款人 · 对方名称 · 交易对方"),
            (_("Payer account"), "对方账号 · 付款账号"),
            (_("Memo"), "摘要 · 附言 · 用途 · 备注"),
            (_("Reference"), "流水号 · 交易流水号 · 凭证号 · 交易单号"),
        ],
        "max_mb": getattr(settings, "IMPORT_MAX_BYTES", 20 * 1024 * 1024) // 1048576,
        "sample_month": timezone.localdate().replace(day=1),
    }
    return render(request, "dues/statement_list.html", context, status=status)


def _earlier_import(request: HttpRequest, org: Organization, upload: Any) -> DuesStatement | None:
    """The import of the same file the refusal names, to link to it."""
    upload.seek(0)
    digest = hashlib.sha256(upload.read()).hexdigest()
    return _statements_for(request.user).filter(org=org, sha256=digest).first()


@login_required
@require_GET
def statement_sample(request: HttpRequest) -> HttpResponse:
    """A sample statement (xlsx) of the organisation's open bills of a month: the format to expect, and
    something to try the import with."""
    _require_desk(request.user)
    org = dues_views._pick_org(request)
    month = dues_views._month_arg(request.GET.get("month"), timezone.localdate().replace(day=1))
    data = statements.sample_statement(org, month)
    response = HttpResponse(data, content_type=XLSX_CONTENT_TYPE)
    name = f"{_('sample bank statement')}-{month:%Y-%m}.xlsx"
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
    return response


def _visible(request: HttpRequest, pk: int) -> DuesStatement:
    return get_object_or_404(_statements_for(request.user), pk=pk)


def _can_change(user: Any, statement: DuesStatement) -> bool:
    return statement.status == DuesStatement.Status.PENDING and can(user, "change", statement.org)


def _default_tab(lines: list[DuesStatementLine]) -> str:
    for key in (Match.AMBIGUOUS, Match.UNMATCHED):
        if any(line.match == key and line.decision == Decision.PENDING for line in lines):
            return key
    return Match.MATCHED


def _line_rows(statement: DuesStatement, lines: list[DuesStatementLine]) -> list[dict[str, Any]]:
    """What each line would book: its months with what they still owe, and the extra dues left over."""
    pending = statement.status == DuesStatement.Status.PENDING
    bills = (
        statements.open_bills(statement.org, {line.member_id for line in lines if line.member_id})
        if pending
        else {}
    )
    rows = []
    for line in lines:
        open_months = {f"{b.month:%Y-%m}": b.outstanding for b in bills.get(line.member_id, [])}
        months = [
            {"month": m, "due": open_months.get(m), "closed": pending and m not in open_months}
            for m in line.months
        ]
        due = sum((m["due"] or Decimal(0) for m in months), Decimal(0))
        extra = None
        if line.payment_id:
            extra = line.payment.extra_amount
        elif line.amount and line.member_id and pending:
            extra = line.amount - due
        rows.append(
            {
                "line": line,
                "months": months,
                "extra": extra if extra and extra > 0 else None,
                "short": bool(extra is not None and extra < 0),
                "account": mask_account(line.account_no),
                "proxy": bool(line.member_id) and statements.is_proxy(line, line.member),
            }
        )
    return rows


@login_required
@require_GET
def statement_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The review of one import: tabs by match with counts, each line with what it books, the fixes,
    and confirm / discard; after confirmation, what was booked."""
    statement = _visible(request, pk)
    lines = list(statement.lines.select_related("member", "member__org", "payment").order_by("row"))
    summary = statements.statement_summary(statement, lines)
    tab = request.GET.get("tab") or _default_tab(lines)
    if tab not in Match.values:
        tab = Match.MATCHED
    tabs = [
        {
            "key": key,
            "label": label,
            "icon": icon,
            "count": summary[key],
            "todo": sum(1 for line in lines if line.match == key and line.decision == Decision.PENDING),
            "active": key == tab,
        }
        for key, label, icon in TABS
    ]
    context = {
        "statement": statement,
        "sections": _sections(request, statement.org),
        "org": statement.org,
        "summary": summary,
        "tabs": tabs,
        "tab": tab,
        "rows": _line_rows(statement, [line for line in lines if line.match == tab]),
        "can_change": _can_change(request.user, statement),
        "status_badge": STATUS_BADGES[statement.status],
        "decision_badges": DECISION_BADGES,
        "undecided_rows": [line.row for line in lines if line.decision == Decision.PENDING][:12],
    }
    return render(request, "dues/statement_detail.html", context)


def _line(request: HttpRequest, pk: int, line_pk: int) -> tuple[DuesStatement, DuesStatementLine]:
    statement = _visible(request, pk)
    line = get_object_or_404(statement.lines.select_related("member", "member__org"), pk=line_pk)
    return statement, line


def _back(statement: DuesStatement, line: DuesStatementLine) -> str:
    return f"{reverse('dues_statements:detail', args=[statement.pk])}?tab={line.match}#row-{line.row}"


def _line_form_context(
    request: HttpRequest, statement: DuesStatement, line: DuesStatementLine, data: Any, error: str = ""
) -> dict[str, Any]:
    members = list(
        statements.subtree_members(statement.org)
        .select_related("org")
        .order_by("name", "id")[:MAX_MEMBER_CHOICES]
    )
    candidate_ids = [c.get("id") for c in line.candidates]
    by_id = {m.pk: m for m in members}
    raw_member = data.get("member") if data.get("member") is not None else line.member_id
    try:
        member_id = int(raw_member) if raw_member not in (None, "") else None
    except (TypeError, ValueError):
        member_id = None
    if member_id is None and candidate_ids:
        member_id = next((c["id"] for c in line.candidates if c.get("fits")), None)
    member = by_id.get(member_id) if member_id else None
    bills = statements.open_bills(statement.org, [member.pk]).get(member.pk, []) if member else []
    if "months" in data or data.get("months_sent"):
        chosen = set(data.getlist("months")) if hasattr(data, "getlist") else set(data.get("months") or [])
    elif member is not None and member.pk == line.member_id:
        chosen = set(line.months)
    elif member is not None:
        chosen = set(statements.suggest_months(line, member))
    else:
        chosen = set()
    return {
        "statement": statement,
        "line": line,
        "account": mask_account(line.account_no),
        "candidates": [by_id[i] for i in candidate_ids if i in by_id],
        "member_is_candidate": member is not None and member.pk in candidate_ids,
        "members": members,
        "member": member,
        "months": [
            {"value": f"{b.month:%Y-%m}", "due": b.outstanding, "checked": f"{b.month:%Y-%m}" in chosen}
            for b in bills
            if line.paid_on is None or b.month <= line.paid_on.replace(day=1)
        ],
        "error": error,
        "back": _back(statement, line),
    }


@login_required
@require_http_methods(["GET", "POST"])
def statement_line(request: HttpRequest, pk: int, line_pk: int) -> HttpResponse:
    """Fix one line: choose the member (candidates first) and the months, then book it, or ignore it.
    GET from the review page (htmx) answers the form alone, for the dialog; otherwise the whole page."""
    statement, line = _line(request, pk, line_pk)
    if not _can_change(request.user, statement):
        raise PermissionDenied(_("You may view this but not change it."))
    error = ""
    if request.method == "POST":
        decision = request.POST.get("decision", "")
        kwargs: dict[str, Any] = {}
        if request.POST.get("member"):
            kwargs["member"] = request.POST["member"]
        if request.POST.get("months_sent"):
            kwargs["months"] = request.POST.getlist("months")
        try:
            statements.statement_line_set(actor=request.user, line=line, decision=decision, **kwargs)
        except ValidationError as exc:
            error = "；".join(exc.messages)
        else:
            line.refresh_from_db()
            return redirect(_back(statement, line))
        if not kwargs:  # a quick action from the review page: back there with the reason
            messages.error(request, _("Row %(row)s: %(error)s") % {"row": line.row, "error": error})
            return redirect(_back(statement, line))
    data = request.POST if request.method == "POST" else request.GET
    context = _line_form_context(request, statement, line, data, error)
    status = 400 if error else 200
    if request.headers.get("HX-Request") == "true":
        return render(request, "dues/statement_line_form.html", context, status=status)
    context["sections"] = _sections(request, statement.org)
    return render(request, "dues/statement_line.html", context, status=status)


@login_required
@require_POST
def statement_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    statement = _visible(request, pk)
    if not can(request.user, "change", statement.org):
        raise PermissionDenied(_("You may view this but not change it."))
    target = reverse("dues_statements:detail", args=[statement.pk])
    try:
        statements.statement_confirm(actor=request.user, statement=statement)
    except statements.StatementLineRefused as exc:
        messages.error(request, exc.messages[0])
        line = statement.lines.filter(row=exc.row).first()
        return redirect(_back(statement, line) if line else target)
    except ValidationError as exc:
        messages.error(request, "；".join(exc.messages))
        return redirect(target)
    summary = statements.statement_summary(statement)
    messages.success(
        request,
        _("Confirmed: %(count)s payments booked, %(total)s yuan in all.")
        % {"count": summary["booked"], "total": f"{summary['booked_total']:,.2f}"},
    )
    return redirect(f"{target}?tab={Match.MATCHED}")


@login_required
@require_POST
def statement_discard(request: HttpRequest, pk: int) -> HttpResponse:
    statement = _visible(request, pk)
    if not can(request.user, "change", statement.org):
        raise PermissionDenied(_("You may view this but not change it."))
    try:
        statements.statement_discard(
            actor=request.user, statement=statement, reason=request.POST.get("reason", "")
        )
    except ValidationError as exc:
        messages.error(request, "；".join(exc.messages))
        return redirect("dues_statements:detail", statement.pk)
    messages.success(
        request, _("The import “%(name)s” was discarded; nothing was booked.") % {"name": statement.filename}
    )
    return redirect(f"{reverse('dues_statements:list')}?org={statement.org_id}")
