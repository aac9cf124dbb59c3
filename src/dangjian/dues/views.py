"""Pages of party dues (党费): the month's collection of an organisation, a member's dues, arrears,
hardship reductions, remittances up the tree, reports, the branch's dues arrangement, and the member's
phone page (/m/dues/).

Thin: reads go through ``dues.selectors`` and restricted querysets (``restrict(user, action)``), writes
through the dues services (``services``, ``payments``, ``reductions``, ``remittances``), which decide and
refuse; a refusal is shown in the form it came from, with everything typed kept. Objects outside the
user's scope answer 404, like missing ones; a role that may see but not change (auditor) gets the pages
without their buttons, and 403 on the writes. A member (no desk role) sees only their own dues page.
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import Resolver404, resolve, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _l
from django.utils.translation import pgettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from dangjian.core import rulebook
from dangjian.core.ledger import account_balance
from dangjian.core.scoping import can, is_system_admin, orgs_with, path_prefix_q
from dangjian.core.spreadsheets import XLSX_CONTENT_TYPE
from dangjian.dues import (
    documents,
    exports,
    forms,
    payments,
    reductions,
    remittances,
    rules,
    selectors,
    services,
)
from dangjian.dues.documents import how_computed
from dangjian.dues.models import (
    LEDGER,
    BillStatus,
    DuesBill,
    DuesDeclaration,
    DuesOrgSetting,
    DuesPayment,
    DuesReduction,
    DuesRemittance,
    org_account,
)
from dangjian.members.choices import CURRENT_STATUSES
from dangjian.members.models import Member
from dangjian.orgs.models import BRANCH_TYPES, Organization, OrgType
from dangjian.orgs.selectors import top_orgs_for

PAGE_SIZE = 50
OPEN_BILL = (BillStatus.OPEN, BillStatus.PART_PAID)
RULE_KEY = "dues"

# The dues section's own tabs (under the breadcrumb), in the order a treasurer works.
SECTIONS = (
    ("collection", _l("Monthly collection"), "dues:collection", "bi-cash-coin"),
    ("arrears", _l("Arrears"), "dues:arrears", "bi-exclamation-diamond"),
    ("reductions", _l("Hardship reductions"), "dues:reductions", "bi-heart-pulse"),
    ("remittances", _l("Remittances"), "dues:remittances", "bi-box-arrow-up"),
    ("reports", _l("Reports"), "dues:reports", "bi-bar-chart"),
    ("settings", _l("Branch arrangements"), "dues:settings", "bi-sliders"),
)
STATEMENTS_PATH = "/dues/statements/"

BILL_BADGES = {
    BillStatus.OPEN: "text-bg-danger",
    BillStatus.PART_PAID: "text-bg-warning",
    BillStatus.PAID: "text-bg-success",
    BillStatus.WAIVED: "text-bg-secondary",
}


# --- helpers --------------------------------------------------------------------------------------------


def _today() -> dt.date:
    return timezone.localdate()


def _this_month() -> dt.date:
    return _today().replace(day=1)


def _is_officer(user: Any) -> bool:
    """Holds a desk role somewhere (views a subtree), as opposed to a member who sees only themselves."""
    return is_system_admin(user) or bool(orgs_with(user, "view"))


def _require_officer(user: Any) -> None:
    if not _is_officer(user):
        raise PermissionDenied(_("These pages are for party workers. Your own dues are on your dues page."))


def _own_member(user: Any) -> Member | None:
    return Member.objects.restrict(user, "view").filter(user=user).select_related("org").first()


def _visible_member(user: Any, pk: int) -> Member:
    """The member if the user may see them (a member: only themselves); 404 for missing and forbidden."""
    return get_object_or_404(Member.objects.restrict(user, "view").select_related("org", "group"), pk=pk)


def _sees_member(user: Any, member: Member) -> bool:
    """Whether the member's own branch is in the user's view scope (a flowing member paying at the host
    is billed there, but their record stays with the home branch)."""
    return is_system_admin(user) or any(member.org_path.startswith(o.path) for o in orgs_with(user, "view"))


def _collectable_member(user: Any, pk: int) -> Member:
    """A member whose dues the user may see: in their scope, or billed by an organisation in their scope
    (a flowing member who pays at the host). 404 otherwise."""
    member = Member.objects.restrict(user, "view").select_related("org", "group").filter(pk=pk).first()
    if member is None and DuesBill.objects.restrict(user, "view").filter(member_id=pk).exists():
        member = Member.objects.select_related("org", "group").filter(pk=pk).first()
    if member is None:
        raise Http404
    return member


def _pick_org(request: HttpRequest) -> Organization:
    """The organisation in ``?org=`` (404 when outside the scope), else the top of the user's scope."""
    raw = (request.GET.get("org") or "").strip()
    if raw:
        org_id = rules.parse_int(raw)
        if org_id is None:
            raise Http404
        return get_object_or_404(Organization.objects.restrict(request.user, "view"), pk=org_id)
    tops = top_orgs_for(request.user)
    if not tops:
        raise PermissionDenied(_("You do not have a role in any organisation yet."))
    return tops[0]


def _month_arg(value: str | None, default: dt.date) -> dt.date:
    return forms.parse_month(value) or default


def _add_months(month: dt.date, n: int) -> dt.date:
    return rules.add_months(rules.month_start(month), n)


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return fallback


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _statements_url() -> str | None:
    """The bank-statement import pages, once they exist (another part of the dues app provides them)."""
    try:
        resolve(STATEMENTS_PATH)
    except Resolver404:
        return None
    return STATEMENTS_PATH


def _sections(user: Any, active: str, org: Organization | None = None) -> list[dict[str, Any]]:
    query = f"?org={org.pk}" if org is not None else ""
    items = []
    for key, label, url_name, icon in SECTIONS:
        if key == "settings" and not can(user, "change"):
            continue
        items.append(
            {
                "key": key,
                "label": label,
                "url": reverse(url_name) + query,
                "icon": icon,
                "active": key == active,
            }
        )
    statements = _statements_url()
    if statements and can(user, "change"):
        items.append(
            {
                "key": "statements",
                "label": _("Bank statements"),
                "url": statements + query,
                "icon": "bi-bank",
                "active": active == "statements",
            }
        )
    return items


def _org_tree(user: Any, selected: Organization, query: dict[str, str]) -> list[dict[str, Any]]:
    """The left-hand tree: the user's top organisations, opened down to the selected one (groups left
    out: they collect no dues). Read with two queries however large the subtree."""
    tops = top_orgs_for(user)
    open_paths = {t.path for t in tops}
    step = Organization.steplen
    for top in tops:
        if selected.path.startswith(top.path):
            open_paths |= {selected.path[: i * step] for i in range(top.depth, selected.depth + 1)}
    q = Q(pk__in=[])
    for path in open_paths:
        q |= path_prefix_q("path", path) & Q(depth=len(path) // step + 1)
    children = (
        Organization.objects.restrict(user, "view")
        .filter(q)
        .exclude(org_type=OrgType.GROUP)
        .only("id", "name", "short_name", "path", "depth", "numchild", "org_type")
    )
    by_parent: dict[str, list[Organization]] = {}
    for child in children:
        by_parent.setdefault(child.path[:-step], []).append(child)
    extra = urlencode({k: v for k, v in query.items() if v and k != "org"})
    rows: list[dict[str, Any]] = []

    def walk(node: Organization, level: int) -> None:
        is_open = node.path in open_paths
        kids = sorted(by_parent.get(node.path, []), key=lambda o: o.path) if is_open else []
        rows.append(
            {
                "org": node,
                "level": level,
                "open": is_open and bool(kids),
                "has_children": node.numchild > 0 and node.org_type not in BRANCH_TYPES,
                "selected": node.pk == selected.pk,
                "url": f"?org={node.pk}" + (f"&{extra}" if extra else ""),
            }
        )
        for kid in kids:
            walk(kid, level + 1)

    for top in tops:
        walk(top, 0)
    return rows


def _page_context(
    request: HttpRequest, active: str, org: Organization, query: dict[str, str]
) -> dict[str, Any]:
    tree = _org_tree(request.user, org, query)
    return {
        "section": active,
        "sections": _sections(request.user, active, org),
        "org": org,
        "tree": tree,
        "show_tree": len(tree) > 1,
        "can_change_org": can(request.user, "change", org),
        "statements_url": _statements_url(),
    }


def _rule_params(org: Organization | None, on: dt.date) -> dict[str, Any]:
    try:
        return dict(rulebook.rule(RULE_KEY, on=on, org=org).params)
    except Exception:  # noqa: BLE001 - a page still renders before the rule file exists
        return {}


def _error_text(exc: Exception) -> str:
    return "；".join(forms.error_messages(exc))


def _file_response(data: bytes, filename: str, content_type: str) -> FileResponse:
    return FileResponse(io.BytesIO(data), as_attachment=True, filename=filename, content_type=content_type)


# --- 1. the month's collection --------------------------------------------------------------------------


def _month_bills(user: Any, org: Organization, month: dt.date) -> Any:
    """The bills of ``month`` in ``org``'s subtree, as the user may see them, by branch and name."""
    return selectors.bills_for(actor=user, org=org, month=month).order_by(
        "org_path", "member__name", "member_id"
    )


@login_required
def collection(request: HttpRequest) -> HttpResponse:
    """党费收缴: every member's bill of a month in an organisation, with the month's totals."""
    user = request.user
    if not _is_officer(user):
        # A member's dues are on the phone page (their desktop page stays at /dues/members/<id>/).
        if _own_member(user) is not None:
            return redirect("dues_mobile:home")
        raise PermissionDenied
    org = _pick_org(request)
    month = _month_arg(request.GET.get("month"), _this_month())
    status = request.GET.get("status", "")
    q = (request.GET.get("q") or "").strip()
    bills = _month_bills(user, org, month)
    if status == "open":
        bills = bills.filter(status__in=OPEN_BILL)
    elif status == "paid":
        bills = bills.filter(status__in=(BillStatus.PAID, BillStatus.WAIVED))
    if q:
        bills = bills.filter(member__name__contains=q)
    page = Paginator(bills, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        {
            "bill": b,
            "how": how_computed(b),
            "badge": BILL_BADGES.get(b.status, "text-bg-secondary"),
            "open": b.status in OPEN_BILL,
            "can_pay": b.status in OPEN_BILL and can(user, "change", b.org),
            "member_link": _sees_member(user, b.member),
        }
        for b in page.object_list
    ]
    missing = selectors.members_needing_declaration(actor=user, org=org, month=month)
    summary = selectors.summary(actor=user, org=org, period_start=month, period_end=month)
    query = {"org": str(org.pk), "month": forms.month_key(month), "status": status, "q": q}
    params = {k: v for k, v in query.items() if v}
    context = {
        **_page_context(request, "collection", org, query),
        "month": month,
        "month_value": forms.month_key(month),
        "prev_month": forms.month_key(_add_months(month, -1)),
        "next_month": forms.month_key(_add_months(month, 1)) if month < _this_month() else None,
        "status": status,
        "q": q,
        "page": page,
        "rows": rows,
        "page_query": urlencode(params),
        "totals": _totals(summary),
        "missing": list(missing[:30]),
        "missing_count": missing.count(),
        "export_url": reverse("dues:collection_export") + "?" + urlencode(params),
        "can_generate": can(user, "add", org) and month <= _this_month(),
        "here": request.get_full_path(),
    }
    return render(request, "dues/collection.html", context)


def _totals(summary: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers of a ``selectors.summary`` result, with the collection rate in percent."""
    rate = summary.get("collection_rate")
    return {
        "due": summary.get("due", Decimal(0)),
        "paid": summary.get("paid", Decimal(0)),
        "outstanding": summary.get("outstanding", Decimal(0)),
        "rate": None if rate is None else (Decimal(rate) * 100).quantize(Decimal("0.1")),
        "bills": summary.get("bills", 0),
        "paid_bills": summary.get("paid_bills", 0),
        "open_bills": summary.get("open_bills", 0),
        "members": summary.get("members", 0),
    }


@login_required
def collection_export(request: HttpRequest) -> HttpResponse:
    _require_officer(request.user)
    org = _pick_org(request)
    month = _month_arg(request.GET.get("month"), _this_month())
    data = exports.collection_xlsx(
        _month_bills(request.user, org, month), actor=request.user, org=org, month=month
    )
    return _file_response(data, f"党费收缴-{org.display_name}-{month:%Y-%m}.xlsx", XLSX_CONTENT_TYPE)


@login_required
@require_POST
def bills_generate(request: HttpRequest) -> HttpResponse:
    """Generate the month's bills for the organisation now (the monthly job does it on the 1st)."""
    _require_officer(request.user)
    org_id = rules.parse_int(request.POST.get("org"))
    if org_id is None:
        raise Http404
    org = get_object_or_404(Organization.objects.restrict(request.user, "add"), pk=org_id)
    month = forms.parse_month(request.POST.get("month"))
    if month is None or month > _this_month():
        messages.error(request, _("Choose a month up to the current one."))
    else:
        try:
            result = services.bills_generate(month=month, org=org, actor=request.user)
        except (ValidationError, PermissionDenied) as exc:
            messages.error(request, _error_text(exc))
        else:
            messages.success(
                request,
                _("Bills for %(month)s: %(created)s created, %(skipped)s already there or not due.")
                % {"month": forms.month_key(month), "created": result.created, "skipped": result.skipped},
            )
    return redirect(
        reverse("dues:collection") + "?" + urlencode({"org": org.pk, "month": request.POST.get("month", "")})
    )


# --- recording a payment ---------------------------------------------------------------------------------


def _payable(user: Any, member: Member) -> tuple[list[DuesBill], list[dt.date]]:
    """The member's open bills (oldest first), and the months of the current quarter the member may pay
    ahead (only when the collecting branch has agreed to quarterly payment; the service creates them)."""
    bills = list(selectors.bills_for(actor=user, member=member).filter(status__in=OPEN_BILL))
    this_month = _this_month()
    ahead: list[dt.date] = []
    latest = (
        DuesBill.objects.filter(member=member, month__lte=this_month)
        .select_related("org")
        .order_by("-month")
        .first()
    )
    if latest is not None and member.status in CURRENT_STATUSES:
        setting = DuesOrgSetting.objects.filter(org=latest.org).first()
        if setting is not None and setting.quarterly_allowed:
            existing = set(
                DuesBill.objects.filter(member=member, month__gt=this_month).values_list("month", flat=True)
            )
            month = _add_months(this_month, 1)
            quarter_end = dt.date(this_month.year, (this_month.month - 1) // 3 * 3 + 3, 1)
            while month <= quarter_end:
                if month not in existing:
                    ahead.append(month)
                month = _add_months(month, 1)
    return bills, ahead


def _may_collect(user: Any, member: Member, bills: list[DuesBill]) -> bool:
    return can(user, "change", member.org) or any(can(user, "change", b.org) for b in bills)


@login_required
def payment_new(request: HttpRequest, pk: int) -> HttpResponse:
    """Record a payment of one member: several months at once, by proxy, extra dues (also in a dialog)."""
    user = request.user
    member = _collectable_member(user, pk)
    bills, ahead = _payable(user, member)
    if not _may_collect(user, member, bills):
        raise PermissionDenied(_("Your role can view this member's dues but not record payments."))
    keys = [forms.month_key(b.month) for b in bills] + [forms.month_key(m) for m in ahead]
    choices = [(k, k) for k in keys]
    sees_member = _sees_member(user, member)
    fallback = reverse("dues:member", args=[member.pk]) if sees_member else reverse("dues:collection")
    next_url = _safe_next(request, fallback)
    data = request.POST if request.method == "POST" else None
    initial_months = [v for v in request.GET.getlist("month") if v] or (
        [forms.month_key(bills[0].month)] if bills else []
    )
    form = forms.PaymentForm(data, month_choices=choices, initial={"months": initial_months})
    if data is not None and form.is_valid():
        v = form.cleaned_data
        try:
            payment = payments.payment_record(
                actor=user,
                member=member,
                months=form.month_dates(),
                method=v["method"],
                paid_on=v["paid_on"],
                reference=v["reference"],
                extra_amount=v["extra_amount"] or Decimal(0),
                by_proxy=v["by_proxy"],
                proxy_name=v["proxy_name"],
                amount=v["amount"],
            )
        except (ValidationError, PermissionDenied) as exc:
            forms.add_service_error(form, exc)
        else:
            messages.success(
                request,
                _("Payment of %(name)s recorded: %(total)s yuan.")
                % {"name": member.name, "total": f"{payment.total:.2f}"},
            )
            if _is_htmx(request):
                response = HttpResponse(status=204)
                response["HX-Redirect"] = next_url
                return response
            return redirect(next_url)
    ticked = set(form["months"].value() or [])
    month_options = [
        {
            "value": forms.month_key(b.month),
            "month": b.month,
            "amount": f"{b.outstanding:.2f}",
            "ahead": False,
        }
        for b in bills
    ] + [{"value": forms.month_key(m), "month": m, "amount": "", "ahead": True} for m in ahead]
    for option in month_options:
        option["checked"] = option["value"] in ticked
    context = {
        "member": member,
        "form": form,
        "month_options": month_options,
        "next": next_url,
        "sees_member": sees_member,
    }
    template = "dues/_payment_form.html" if _is_htmx(request) else "dues/payment_form.html"
    # htmx swaps only 2xx answers: the dialog shows its errors with 200; the full page answers 400.
    status = 400 if data is not None and not _is_htmx(request) else 200
    return render(request, template, context, status=status)


@login_required
@require_POST
def payment_reverse(request: HttpRequest, pk: int) -> HttpResponse:
    """Reverse a booked payment (with a reason; the ledger keeps both entries)."""
    payment = get_object_or_404(
        DuesPayment.objects.restrict(request.user, "view").select_related("member"), pk=pk
    )
    if not can(request.user, "change", payment.org):
        raise PermissionDenied
    form = forms.ReverseForm(request.POST)
    if not form.is_valid():
        messages.error(request, "；".join(e for errs in form.errors.values() for e in errs))
    else:
        try:
            payments.payment_reverse(actor=request.user, payment=payment, reason=form.cleaned_data["reason"])
        except (ValidationError, PermissionDenied) as exc:
            messages.error(request, _error_text(exc))
        else:
            messages.success(request, _("The payment was reversed; its months are open again."))
    return redirect(_safe_next(request, reverse("dues:member", args=[payment.member_id])))


# --- 2. a member's dues ---------------------------------------------------------------------------------


def _year_arg(value: str | None, default: int) -> int:
    """``?year=``: a year from rules.YEAR_MIN up to next year, else ``default`` (this year)."""
    year = rules.parse_year(value)
    return year if year is not None and year <= default + 1 else default


@login_required
def member_dues(request: HttpRequest, pk: int) -> HttpResponse:
    """A member's dues: how the amount is computed, declarations, bills and payments of a year, what is
    owed, the annual statement. A member may open only their own; officers their subtree's members."""
    user = request.user
    member = _visible_member(user, pk)
    today = _today()
    year = _year_arg(request.GET.get("year"), today.year)
    can_change = can(user, "change", member.org)
    declaration_form = None
    if request.method == "POST":
        if not can_change:
            raise PermissionDenied
        declaration_form = forms.DeclarationForm(request.POST, request.FILES)
        if declaration_form.is_valid():
            v = declaration_form.cleaned_data
            try:
                services.declaration_create(
                    actor=user,
                    member=member,
                    category=v["category"],
                    base=v["base"],
                    chosen_amount=v["chosen_amount"],
                    social_insurance=v["social_insurance"],
                    effective_month=v["effective_month"],
                    pay_at_host=v["pay_at_host"],
                    note=v["note"],
                    attachment=v["attachment"],
                )
            except (ValidationError, PermissionDenied) as exc:
                forms.add_service_error(declaration_form, exc)
            else:
                messages.success(request, _("Declaration saved."))
                return redirect(reverse("dues:member", args=[member.pk]) + f"?year={year}")
    if declaration_form is None:
        declaration_form = forms.DeclarationForm(
            initial={"category": member.dues_category, "effective_month": _this_month()}
        )
    data = selectors.member_dues(actor=user, member=member, year=year)
    declarations = selectors.declarations_for(actor=user, member=member)[:50]
    reductions_qs = (
        DuesReduction.objects.restrict(user, "view").filter(member=member).order_by("-start_month")[:20]
    )
    # The years with bills (the first bill's year to this year), newest first.
    first_bill = selectors.bills_for(actor=user, member=member).values_list("month", flat=True).first()
    first_year = min(first_bill.year if first_bill else today.year, year)
    context = {
        "member": member,
        "year": year,
        "years": list(range(max(today.year, year), first_year - 1, -1)),
        "dues": data,
        "bill_rows": [
            {"bill": b, "how": how_computed(b), "badge": BILL_BADGES.get(b.status, "text-bg-secondary")}
            for b in data.get("bills", [])
        ],
        "explanation": documents.explain(data["computed"], data.get("standard")),
        "category_label": documents.category_label(data["category"]),
        "declarations": declarations,
        "reductions": reductions_qs,
        "can_change": can_change,
        "is_officer": _is_officer(user),
        "declaration_form": declaration_form,
        "show_declaration": request.method == "POST",
        "here": request.get_full_path(),
    }
    return render(request, "dues/member.html", context, status=400 if request.method == "POST" else 200)


@login_required
def declaration_attachment(request: HttpRequest, pk: int) -> FileResponse:
    declaration = get_object_or_404(DuesDeclaration.objects.restrict(request.user, "view"), pk=pk)
    if not declaration.attachment:
        raise Http404
    name = declaration.attachment.name.rsplit("/", 1)[-1]
    return FileResponse(declaration.attachment.open("rb"), as_attachment=True, filename=name)


def _statement(request: HttpRequest, member: Member, year: int, kind: str) -> FileResponse:
    statement = documents.statement_data(actor=request.user, member=member, year=year)
    name = f"党费缴纳明细-{member.name}-{year}"
    if kind == "pdf":
        return _file_response(documents.statement_pdf(statement), f"{name}.pdf", "application/pdf")
    return _file_response(
        documents.statement_docx(statement),
        f"{name}.docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    )


@login_required
def statement_download(request: HttpRequest, pk: int, year: int, kind: str) -> FileResponse:
    """The member's annual dues statement (年度对账单) as docx or PDF."""
    member = _visible_member(request.user, pk)
    if not 1949 <= year <= _today().year:
        raise Http404
    return _statement(request, member, year, kind)


# --- 3. arrears -----------------------------------------------------------------------------------------


ARREARS_LEVELS = (("", _l("All")), ("reminder", _l("Reminder due")), ("alert", _l("Six months or more")))


def _arrears_rows(user: Any, org: Organization, on: dt.date) -> tuple[list[dict[str, Any]], int, int]:
    """The arrears of the subtree with each row's state: "alert" (the consecutive months reach the
    党章 第九条 threshold and no approved reduction covers them: a proposal for the branch, never automatic),
    "reminder" (enough months owed to remind the member), or "" (recently owed)."""
    params = _rule_params(org, on)
    remind = int(params.get("arrears_reminder_months") or 3)
    alert = int(params.get("arrears_alert_months") or 6)
    rows = []
    for row in selectors.arrears(actor=user, org=org, on=on):
        if row["unexcused"] >= alert:  # months under an approved reduction do not count (党章 第九条)
            state, label = "alert", _("Six consecutive months: for the branch to discuss")
        elif row["months_owed"] >= remind:
            state, label = "reminder", _("Reminder sent to the member")
        else:
            state, label = "", _("Recently owed")
        rows.append({**row, "state": state, "state_label": label})
    return rows, remind, alert


@login_required
def arrears(request: HttpRequest) -> HttpResponse:
    """欠缴: members owing dues, months owed and consecutive, with the reminder / alert status."""
    user = request.user
    _require_officer(user)
    org = _pick_org(request)
    today = _today()
    level = request.GET.get("level", "")
    if level not in {k for k, _label in ARREARS_LEVELS}:
        level = ""
    all_rows, remind, alert = _arrears_rows(user, org, today)
    counts = {
        "": len(all_rows),
        "reminder": sum(1 for r in all_rows if r["state"]),
        "alert": sum(1 for r in all_rows if r["state"] == "alert"),
    }
    rows = [
        r for r in all_rows if not level or (r["state"] and (level == "reminder" or r["state"] == "alert"))
    ]
    query = {"org": str(org.pk), "level": level}
    context = {
        **_page_context(request, "arrears", org, query),
        "rows": rows,
        "level": level,
        "levels": [
            {"key": k, "label": label, "count": counts[k], "active": k == level}
            for k, label in ARREARS_LEVELS
        ],
        "remind": remind,
        "alert": alert,
        "total": sum((r["amount"] for r in rows), Decimal(0)),
        "export_url": reverse("dues:arrears_export") + "?" + urlencode({"org": org.pk}),
        "today": today,
        "can_propose": can(user, "change", org),
    }
    return render(request, "dues/arrears.html", context)


@login_required
@require_POST
def arrears_propose(request: HttpRequest, member_id: int) -> HttpResponse:
    """Six consecutive months unpaid without a proper reason (党章 第九条): the officer puts the case to the
    branch as a proposal to treat the member as having left — recorded in the transfers worklist, where
    the branch confirms or rejects it. Nothing changes the member's status here."""
    from dangjian.transfers.services import status_proposal_create

    user = request.user
    _require_officer(user)
    member = get_object_or_404(Member.objects.restrict(user, "change"), pk=member_id)
    today = _today()
    owed = selectors.arrears(actor=user, org=member.org, on=today)
    row = next((r for r in owed if r["member"].pk == member.pk), None)
    back = (
        reverse("dues:arrears")
        + "?"
        + urlencode({"org": request.POST.get("org", member.org_id), "level": "alert"})
    )
    if row is None or not row["months"]:
        messages.error(request, _("This member owes no dues now."))
        return redirect(back)
    months = sorted(row["months"])
    reason = _(
        "Dues unpaid for %(n)s consecutive months (%(first)s to %(last)s) without a proper reason "
        "(Party Constitution, Art. 9; 中组发〔2008〕3号)."
    ) % {"n": row["unexcused"], "first": f"{months[0]:%Y-%m}", "last": f"{months[-1]:%Y-%m}"}
    try:
        status_proposal_create(actor=user, member=member, inactive_since=months[0], reason=reason, on=today)
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(
            request,
            _(
                "Proposal recorded for the branch to decide (relation transfers → flowing members → proposals)."
            ),
        )
    return redirect(back)


@login_required
def arrears_export(request: HttpRequest) -> HttpResponse:
    _require_officer(request.user)
    org = _pick_org(request)
    today = _today()
    rows, _remind, _alert = _arrears_rows(request.user, org, today)
    data = exports.arrears_xlsx(rows, actor=request.user, org=org, on=today)
    return _file_response(data, f"党费欠缴-{org.display_name}-{today:%Y%m%d}.xlsx", XLSX_CONTENT_TYPE)


# --- 4. hardship reductions -----------------------------------------------------------------------------

REDUCTION_TABS = (
    ("todo", _l("To decide")),
    ("open", _l("In progress")),
    ("history", pgettext_lazy("dues", "History")),
)
OPEN_REDUCTIONS = (DuesReduction.Status.PROPOSED, DuesReduction.Status.BRANCH_APPROVED)


def _higher_org(reduction: DuesReduction) -> Organization | None:
    if reduction.higher_org_id:
        return reduction.higher_org
    return Organization.objects.get_parent(reduction.member.org)


def _reduction_step(user: Any, r: DuesReduction) -> str | None:
    """Which approval step the user can take on ``r`` ("branch", "higher") — for the buttons only; the
    service decides (the two steps need two different people)."""
    if r.status == DuesReduction.Status.PROPOSED and can(user, "change", r.member.org):
        return "branch"
    if r.status == DuesReduction.Status.BRANCH_APPROVED and r.branch_decided_by_id != user.pk:
        higher = _higher_org(r)
        if higher is not None and can(user, "change", higher):
            return "higher"
    return None


@login_required
def reduction_list(request: HttpRequest) -> HttpResponse:
    """减免: the two-step approval worklist (the branch, then the next higher committee) and the history."""
    user = request.user
    _require_officer(user)
    org = _pick_org(request)
    tab = request.GET.get("tab", "todo")
    if tab not in {k for k, _label in REDUCTION_TABS}:
        tab = "todo"
    qs = (
        DuesReduction.objects.restrict(user, "view")
        .filter(path_prefix_q("member__org_path", org.path))
        .select_related(
            "member", "member__org", "higher_org", "proposed_by", "branch_decided_by", "higher_decided_by"
        )
        .order_by("-proposed_at", "-id")
    )
    open_rows = list(qs.filter(status__in=OPEN_REDUCTIONS)[:300])
    todo = [r for r in open_rows if _reduction_step(user, r)]
    lists = {
        "todo": todo,
        "open": open_rows,
        "history": list(qs.exclude(status__in=OPEN_REDUCTIONS)[:300]),
    }
    rows = [
        {
            "r": r,
            "step": _reduction_step(user, r),
            "can_withdraw": r.status in OPEN_REDUCTIONS and can(user, "change", r.member.org),
        }
        for r in lists[tab]
    ]
    query = {"org": str(org.pk), "tab": tab}
    context = {
        **_page_context(request, "reductions", org, query),
        "tabs": [
            {"key": k, "label": label, "count": len(lists[k]), "active": k == tab}
            for k, label in REDUCTION_TABS
        ],
        "tab": tab,
        "rows": rows,
        "can_propose": can(user, "change"),
        "here": request.get_full_path(),
    }
    return render(request, "dues/reductions.html", context)


@login_required
def reduction_new(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not can(user, "change"):
        raise PermissionDenied
    members = list(
        Member.objects.restrict(user, "change")
        .filter(status__in=CURRENT_STATUSES)
        .select_related("org")
        .order_by("org_path", "name")[:500]
    )
    preset = rules.parse_int(request.GET.get("member"))
    if preset is not None and all(m.pk != preset for m in members):
        extra = Member.objects.restrict(user, "change").filter(pk=preset).select_related("org").first()
        if extra is None:
            raise Http404
        members.insert(0, extra)
    data = request.POST if request.method == "POST" else None
    form = forms.ReductionForm(
        data,
        members=members,
        initial={"member": preset, "start_month": _this_month(), "end_month": _add_months(_this_month(), 5)},
    )
    if data is not None and form.is_valid():
        v = form.cleaned_data
        member = next(m for m in members if m.pk == v["member"])
        try:
            reductions.reduction_propose(
                actor=user,
                member=member,
                kind=v["kind"],
                start_month=v["start_month"],
                end_month=v["end_month"],
                reason=v["reason"],
                monthly_amount=v["monthly_amount"],
            )
        except (ValidationError, PermissionDenied) as exc:
            forms.add_service_error(form, exc)
        else:
            messages.success(request, _("Proposal recorded: it now awaits the branch's decision."))
            return redirect(reverse("dues:reductions") + "?tab=open")
    return render(
        request, "dues/reduction_form.html", {"form": form}, status=400 if data is not None else 200
    )


@login_required
@require_POST
def reduction_decide(request: HttpRequest, pk: int) -> HttpResponse:
    reduction = get_object_or_404(
        DuesReduction.objects.restrict(request.user, "view").select_related("member", "member__org"), pk=pk
    )
    form = forms.DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "；".join(e for errs in form.errors.values() for e in errs))
    else:
        try:
            reductions.reduction_decide(
                actor=request.user,
                reduction=reduction,
                approve=form.cleaned_data["approve"],
                reason=form.cleaned_data["reason"],
            )
        except (ValidationError, PermissionDenied) as exc:
            messages.error(request, _error_text(exc))
        else:
            messages.success(request, _("Decision recorded."))
    return redirect(_safe_next(request, reverse("dues:reductions")))


@login_required
@require_POST
def reduction_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    reduction = get_object_or_404(DuesReduction.objects.restrict(request.user, "view"), pk=pk)
    try:
        reductions.reduction_withdraw(
            actor=request.user, reduction=reduction, reason=request.POST.get("reason", "")
        )
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, _("The proposal was withdrawn."))
    return redirect(_safe_next(request, reverse("dues:reductions")))


# --- 5. remittances -------------------------------------------------------------------------------------


@login_required
def remittance_list(request: HttpRequest) -> HttpResponse:
    """上缴: what each level passed up, the confirmations awaited, and the trail of a year top to bottom."""
    user = request.user
    _require_officer(user)
    org = _pick_org(request)
    today = _today()
    year = _year_arg(request.GET.get("year"), today.year)
    qs = (
        DuesRemittance.objects.restrict(user, "view")
        .filter(
            path_prefix_q("from_org_path", org.path) | Q(to_org=org),
            period_start__lte=dt.date(year, 12, 1),
            period_end__gte=dt.date(year, 1, 1),
        )
        .select_related("from_org", "to_org", "recorded_by", "confirmed_by")
        .order_by("-remitted_on", "-id")
    )
    rows = [
        {
            "r": r,
            "can_confirm": r.status == DuesRemittance.Status.SENT and can(user, "change", r.to_org),
        }
        for r in qs[:300]
    ]
    trail = selectors.remittance_trail(actor=user, org=org, year=year)
    query = {"org": str(org.pk), "year": str(year)}
    context = {
        **_page_context(request, "remittances", org, query),
        "year": year,
        "years": list(range(today.year, today.year - 6, -1)),
        "rows": rows,
        "awaiting": [row for row in rows if row["can_confirm"]],
        "trail": trail,
        "can_record": bool(_remitting_orgs(user)),
        "here": request.get_full_path(),
    }
    return render(request, "dues/remittances.html", context)


def _remitting_orgs(user: Any) -> list[Organization]:
    """Organisations the user may record a remittance for: in their change scope, with a parent."""
    return list(
        Organization.objects.restrict(user, "change")
        .filter(depth__gt=1)
        .exclude(org_type=OrgType.GROUP)
        .order_by("path")[:300]
    )


@login_required
def remittance_new(request: HttpRequest) -> HttpResponse:
    user = request.user
    orgs = _remitting_orgs(user)
    if not orgs:
        raise PermissionDenied
    preset = request.GET.get("org") or (orgs[0].pk if len(orgs) == 1 else None)
    data = request.POST if request.method == "POST" else None
    today = _today()
    start = dt.date(today.year, 1, 1)
    form = forms.RemittanceForm(
        data,
        orgs=orgs,
        initial={
            "from_org": preset,
            "period_start": start,
            "period_end": _add_months(_this_month(), -1) if today.month > 1 else start,
        },
    )
    if data is not None and form.is_valid():
        v = form.cleaned_data
        from_org = next(o for o in orgs if o.pk == v["from_org"])
        try:
            remittances.remittance_record(
                actor=user,
                from_org=from_org,
                period_start=v["period_start"],
                period_end=v["period_end"],
                amount=v["amount"],
                remitted_on=v["remitted_on"],
                reference=v["reference"],
                central_amount=v["central_amount"],
                note=v["note"],
            )
        except (ValidationError, PermissionDenied) as exc:
            forms.add_service_error(form, exc)
        else:
            messages.success(request, _("Remittance recorded: it awaits the higher level's confirmation."))
            return redirect(reverse("dues:remittances") + f"?org={from_org.pk}")
    balances = [{"org": o, "balance": account_balance(LEDGER, org_account(o.pk))} for o in orgs[:50]]
    return render(
        request,
        "dues/remittance_form.html",
        {"form": form, "balances": balances},
        status=400 if data is not None else 200,
    )


@login_required
@require_POST
def remittance_act(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    remittance = get_object_or_404(DuesRemittance.objects.restrict(request.user, "view"), pk=pk)
    try:
        if action == "confirm":
            remittances.remittance_confirm(actor=request.user, remittance=remittance)
        elif action == "return":
            form = forms.ReturnForm(request.POST)
            if not form.is_valid():
                raise ValidationError(form.errors["reason"])
            remittances.remittance_return(
                actor=request.user, remittance=remittance, reason=form.cleaned_data["reason"]
            )
        else:
            raise Http404
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, _("Done."))
    return redirect(_safe_next(request, reverse("dues:remittances")))


# --- 6. reports -----------------------------------------------------------------------------------------


def _period(request: HttpRequest) -> tuple[dt.date, dt.date]:
    this_month = _this_month()
    start = _month_arg(request.GET.get("from"), dt.date(this_month.year, 1, 1))
    end = _month_arg(request.GET.get("to"), this_month)
    if end < start:
        start, end = end, start
    return start, end


@login_required
def reports(request: HttpRequest) -> HttpResponse:
    """报表: due, paid, outstanding and the collection rate of a subtree and period, by child organisation
    and by category, with a chart and an xlsx export."""
    user = request.user
    _require_officer(user)
    org = _pick_org(request)
    start, end = _period(request)
    summary = selectors.summary(actor=user, org=org, period_start=start, period_end=end)
    # Party groups hold members but collect nothing: a branch's report lists no empty group rows.
    by_org = [
        _report_row(row)
        for row in summary.get("by_org", [])
        if row["bills"] or row.get("org") is None or row["org"].org_type != OrgType.GROUP
    ]
    by_category = [_report_row(row) for row in summary.get("by_category", [])]
    query = {"org": str(org.pk), "from": forms.month_key(start), "to": forms.month_key(end)}
    chart = {
        "id": "by-org",
        "kind": "hbar",
        "title": _("Collection rate"),
        "items": [{"name": r["name"], "value": float(r["rate"] or 0)} for r in by_org if r["bills"]],
    }
    context = {
        **_page_context(request, "reports", org, query),
        "start": start,
        "end": end,
        "start_value": forms.month_key(start),
        "end_value": forms.month_key(end),
        "totals": _totals(summary),
        "by_org": by_org,
        "by_category": by_category,
        "chart_specs": [chart],
        "extra": summary.get("extra"),
        "extra_to_central": summary.get("extra_to_central"),
        "export_url": reverse("dues:reports_export") + "?" + urlencode(query),
    }
    return render(request, "dues/reports.html", context)


def _report_row(row: dict[str, Any]) -> dict[str, Any]:
    rate = row.get("collection_rate")
    return {
        **row,
        "name": row.get("name") or "",
        "rate": None if rate is None else (Decimal(rate) * 100).quantize(Decimal("0.1")),
    }


@login_required
def reports_export(request: HttpRequest) -> HttpResponse:
    _require_officer(request.user)
    org = _pick_org(request)
    start, end = _period(request)
    summary = selectors.summary(actor=request.user, org=org, period_start=start, period_end=end)
    data = exports.report_xlsx(summary, actor=request.user, org=org, period_start=start, period_end=end)
    return _file_response(
        data, f"党费报表-{org.display_name}-{start:%Y%m}-{end:%Y%m}.xlsx", XLSX_CONTENT_TYPE
    )


# --- 7. the branch's dues arrangement -------------------------------------------------------------------


@login_required
def settings_page(request: HttpRequest) -> HttpResponse:
    """收缴设置: whether a branch's members may pay quarterly (with the branch's consent)."""
    user = request.user
    if not can(user, "change"):
        raise PermissionDenied
    branches = list(
        Organization.objects.restrict(user, "change").filter(org_type__in=BRANCH_TYPES).order_by("path")[:300]
    )
    if not branches:
        raise PermissionDenied(_("There is no branch in the part of the tree you manage."))
    raw = request.POST.get("org") if request.method == "POST" else request.GET.get("org")
    selected = branches[0]
    if raw:
        org_id = rules.parse_int(raw)
        if org_id is None:
            raise Http404
        found = next((b for b in branches if b.pk == org_id), None)
        if found is None:
            # An organisation above the branches (the tree's selection): show its first branch.
            above = get_object_or_404(Organization.objects.restrict(user, "view"), pk=org_id)
            found = next((b for b in branches if b.path.startswith(above.path)), None)
            if found is None:
                raise Http404
        selected = found
    settings_by_org = {s.org_id: s for s in DuesOrgSetting.objects.filter(org__in=branches)}
    current = settings_by_org.get(selected.pk)
    data = request.POST if request.method == "POST" else None
    form = forms.OrgSettingForm(
        data,
        initial={
            "quarterly_allowed": current.quarterly_allowed if current else False,
            "decided_on": current.decided_on if current else None,
            "note": current.note if current else "",
        },
    )
    if data is not None and form.is_valid():
        v = form.cleaned_data
        try:
            services.org_setting_set(
                actor=user,
                org=selected,
                quarterly_allowed=v["quarterly_allowed"],
                decided_on=v["decided_on"],
                note=v["note"],
            )
        except (ValidationError, PermissionDenied) as exc:
            forms.add_service_error(form, exc)
        else:
            messages.success(
                request, _("The dues arrangement of %(org)s was saved.") % {"org": selected.name}
            )
            return redirect(reverse("dues:settings") + f"?org={selected.pk}")
    rows = [
        {"org": b, "setting": settings_by_org.get(b.pk), "selected": b.pk == selected.pk} for b in branches
    ]
    context = {
        **_page_context(request, "settings", selected, {"org": str(selected.pk)}),
        "rows": rows,
        "selected": selected,
        "form": form,
    }
    return render(request, "dues/settings.html", context, status=400 if data is not None else 200)


# --- 8. the member's phone page -------------------------------------------------------------------------


@never_cache
@login_required
def mobile_home(request: HttpRequest) -> HttpResponse:
    """我的党费 on the phone: what I owe, what I paid, how my amount is computed, my statement."""
    member = _own_member(request.user)
    if member is None:
        return redirect("mobile:home")
    today = _today()
    year = _year_arg(request.GET.get("year"), today.year)
    data = selectors.member_dues(actor=request.user, member=member, year=year)
    current = next((b for b in data.get("bills", []) if b.month == today.replace(day=1)), None)
    latest = current or next(iter(sorted(data.get("bills", []), key=lambda b: b.month, reverse=True)), None)
    context = {
        "member": member,
        "year": year,
        "years": [today.year, today.year - 1],
        "dues": data,
        "current": current,
        "latest": latest,
        "explanation": documents.explain(data["computed"], data.get("standard")),
        "bands": documents.band_rows(data["computed"], data.get("standard")),
        "tab": "dues",
    }
    return render(request, "dues/mobile/home.html", context)


@never_cache
@login_required
def mobile_statement(request: HttpRequest, year: int) -> FileResponse:
    member = _own_member(request.user)
    if member is None or not 1949 <= year <= _today().year:
        raise Http404
    return _statement(request, member, year, "pdf")
